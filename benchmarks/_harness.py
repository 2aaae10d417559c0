"""What every speed phase shares: its child process, what the child reports about itself (RSS,
CPU, threads), the load around it, the machine and versions, and the result table."""
from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# children are started through the entry point, which hands `--_child PHASE` to its phase
ENTRY = HERE / "benchmark.py"


def child_common(result: dict) -> dict:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["peak_rss_mb"] = usage.ru_maxrss / 1024.0  # Linux: KiB
    result["cpu_user_seconds"] = usage.ru_utime
    result["cpu_system_seconds"] = usage.ru_stime
    try:
        result["os_threads_at_end"] = len(os.listdir("/proc/self/task"))
    except OSError:
        pass
    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        result["tf_intra_op_threads_setting"] = tf.config.threading.get_intra_op_parallelism_threads()
        result["tf_inter_op_threads_setting"] = tf.config.threading.get_inter_op_parallelism_threads()
    return result


def loadavg() -> list[float] | None:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return None


def run_child(phase: str, spec: dict, work: Path, logs: Path) -> dict:
    spec_path = work / f"spec-{phase}.json"
    result_path = work / f"result-{phase}.json"
    spec_path.write_text(json.dumps(spec))
    cache = work / f"hf-datasets-cache-{phase}"
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)
    env = {**os.environ, "HF_DATASETS_CACHE": str(cache), "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
           # what `snekner` sets for its commands (snekner.cli): oneDNN kernels on both sides
           "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1"),
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "SNEKNER_CACHE": str(work / "snekner-cache")}
    before = loadavg()
    t0 = time.perf_counter()
    with open(logs / f"{phase}.log", "w") as log:
        proc = subprocess.run([sys.executable, str(ENTRY), "--_child", phase, str(spec_path), str(result_path)],
                              stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(REPO))
    wall = time.perf_counter() - t0
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        tail = (logs / f"{phase}.log").read_text().splitlines()[-30:]
        raise SystemExit(f"phase {phase} failed (exit {proc.returncode}); last log lines:\n" + "\n".join(tail))
    result = json.loads(result_path.read_text())
    result["process_wall_seconds"] = wall
    result["loadavg_before"], result["loadavg_after"] = before, loadavg()
    result["rusage_children_maxrss_mb_so_far"] = children.ru_maxrss / 1024.0
    shutil.rmtree(cache, ignore_errors=True)
    return result


def fmt(x: float, unit: str = "") -> str:
    if x is None:
        return "-"
    if unit == "flops":
        return f"{x / 1e9:.2f} GFLOP/s"
    if abs(x) >= 1000:
        return f"{x:,.0f}{unit}"
    if abs(x) >= 100:
        return f"{x:.0f}{unit}"
    if abs(x) >= 10:
        return f"{x:.1f}{unit}"
    return f"{x:.2f}{unit}"


class Table:
    """The result table's rows: figure, reference, snekner, ratio, target and verdict."""

    def __init__(self):
        self.rows: list[list[str]] = []

    def add(self, phase: str, ref, snk, ratio, unit: str = "", target: float | None = None) -> None:
        verdict = "" if target is None else ("PASS" if ratio >= target else "MISS")
        self.rows.append([phase, fmt(ref, unit), fmt(snk, unit), f"{ratio:.2f}x" if ratio is not None else "-",
                          f">= {target:g}x" if target is not None else "", verdict])


def print_table(rows: list[list[str]]) -> str:
    header = ["phase / figure", "reference", "snekner", "ratio", "target", "result"]
    widths = [max(len(str(x[i])) for x in rows + [header]) for i in range(len(header))]
    lines = [" | ".join(h.ljust(w) for h, w in zip(header, widths)), "-+-".join("-" * w for w in widths)]
    lines += [" | ".join(str(c).ljust(w) for c, w in zip(row, widths)) for row in rows]
    text = "\n".join(lines)
    print(text)
    return text


def versions() -> dict:
    out = {"python": platform.python_version()}
    try:
        from importlib.metadata import version

        for name in ("tensorflow", "tf-keras", "transformers", "datasets", "tokenizers", "pyarrow", "numpy", "snekner"):
            try:
                out[name] = version(name)
            except Exception:
                out[name] = None
    except ImportError:
        pass
    return out


def git_info() -> dict:
    def git(*args):
        try:
            return subprocess.run(["git", *args], capture_output=True, text=True, cwd=str(REPO), check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None

    return {"commit": git("rev-parse", "HEAD"), "subject": git("log", "-1", "--format=%s"),
            "snekner_dirty_files": (git("status", "--porcelain", "--", "snekner") or "").splitlines()}


def machine() -> dict:
    info = {"os_cpu_count": os.cpu_count(), "platform": platform.platform()}
    try:
        info["cores_available_to_process"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
        mem = Path("/proc/meminfo").read_text().splitlines()[0]
        info["mem_total"] = mem.split(":", 1)[1].strip()
    except OSError:
        pass
    info["thread_env"] = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS",
                                                          "RAYON_NUM_THREADS", "TOKENIZERS_PARALLELISM")}
    return info


def default_model() -> str:
    tool = REPO.parent / "shared" / "tools" / "pretrained-minilm"
    return subprocess.run([str(tool)], capture_output=True, text=True, check=True).stdout.strip()


def subset_prepared(src: Path, dst: Path, train_sentences: int | None, keep: tuple[str, ...] = ("train",)) -> Path:
    """A copy of a prepared dataset with only the splits in `keep`, its train split cut to the first
    `train_sentences` sentences (None: all), and a manifest that says so."""
    import dataclasses

    import datasets

    from snekner.data.prepare import split_stats
    from snekner.store.atomic import atomic_path
    from snekner.store.manifests import write_prepared_manifest
    from snekner.store.prepared import load_prepared

    prepared = load_prepared(src)
    splits = {name: prepared.split(name) for name in keep}
    if train_sentences is not None:
        splits["train"] = splits["train"].select(range(min(train_sentences, len(splits["train"])))).flatten_indices()
    note = f"benchmark copy of {src}: splits {', '.join(keep)}, the first {len(splits['train'])} training sentences"
    manifest = dataclasses.replace(prepared.manifest, splits={name: split_stats(split) for name, split in splits.items()}, note=note)
    with atomic_path(dst, directory=True) as tmp:
        datasets.DatasetDict(splits).save_to_disk(str(tmp / "data"))
        shutil.copytree(prepared.tokenizer_dir, tmp / "tokenizer")
        write_prepared_manifest(tmp, manifest)
    return dst


def score_flat_predictions(prepared, split_name: str, flat) -> dict:
    """Word-level scores (snekner's scorer, the first sub-word standing for the word) of a split's sub-word predictions
    given flat in the split's order, as benchmarks/torch_side.py writes them: the other framework scored as snekner is."""
    import numpy as np

    from snekner.modeling.forward import gold_word_tags
    from snekner.ner.scoring import score, words_from_subwords

    rows = prepared.split(split_name)
    cuts = np.cumsum([len(x) for x in rows["input_ids"]])[:-1]
    predicted = [words_from_subwords(p, w, len(t), prepared.labels)
                 for p, w, t in zip(np.split(np.asarray(flat), cuts), rows["word_ids"], rows["tokens"])]
    return score(gold_word_tags(rows, prepared.labels), predicted, types=prepared.tagset.types)


def torch_python() -> str:
    """The Python with torch and transformers 4.57 that runs benchmarks/torch_side.py (never snekner's own venv)."""
    python = os.environ.get("SNEKNER_TORCH_PYTHON")
    if not python:
        raise SystemExit("this needs SNEKNER_TORCH_PYTHON: a Python with torch and transformers 4.57, e.g. "
                         "python3 -m venv /work/torchenv && /work/torchenv/bin/pip install torch==2.13.0 'transformers>=4.57,<4.58' "
                         "accelerate 'datasets==5.0.1'")
    return python
