"""How snekner's commands scale with the data: wall time and peak memory at 1x, 10x and 100x.

Run by hand, not in CI (100x takes an hour or more on one core and ~10 GB of disk):

    python benchmarks/scale.py run --label after --sizes 1,10,100
    python benchmarks/scale.py table --label after [--before before]

The unit (1x) is the size the issue names, 23,187 sentences (WikiNEuRal English's train+val+test), drawn
from all nine languages of the shared WikiNEuRal data (../shared/data/wikineural): the first 1/9 of
every split file, so "all languages" and "one language" both mean something. A corpus of Nx is N copies
of it in the hub layout (train|val|test/<split>_<lang>.jsonl). Copy k > 0 varies about a third of the
longer words (a suffix made from k, chosen by a hash of the word and k), so the distinct-word count grows
with the corpus as it does in real text instead of staying that of 1x.

Measured, each as a child process (wall time; peak RSS of the largest process in it, its children
included): inspect and prep (all languages and English alone), the first 500 training steps (steps/s
between step 50 and 500), eval and predict on the corpus' test split, compare --bootstrap 1000 of two runs.
Training, eval, predict and compare use a tiny random BERT (2 layers, width 32) with MiniLM's vocabulary,
built here, so the figures are snekner's pipeline, not the encoder's arithmetic: a real model at 100x takes
days on a CPU. The two runs compared are trained on 300 sentences of 1x; eval is given each corpus with
--data. A command whose process tree passes --memory-limit (12 GiB) is stopped and recorded with the RSS it
had reached; one not run is projected linearly from the 1x and 10x figures.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED = Path(os.environ.get("SNEKNER_SHARED") or REPO.parent / "shared")
UNIT_PARTS = 9  # 1x: the first 1/9 of every file of the nine languages (~23k sentences)
TRAIN_STEPS = 500
BATCH = 16
TIMED_FROM_STEP = 50  # the first steps trace and warm up; steps/s is measured after them
GIB = 1024 ** 3

COMMANDS = ["inspect (all)", "inspect (en)", "prep (all)", "prep (en)", "train 500 steps", "eval", "predict", "compare --bootstrap 1000"]


# ---------------------------------------------------------------- corpora

def _suffix(k: int) -> str:
    letters = ""
    while True:
        letters = "qxzjkvwy"[k % 8] + letters
        k //= 8
        if k == 0:
            return letters


def _base_rows(source: Path) -> dict[str, list[tuple[str, list, list]]]:
    """{relative file: [(line without tokens, tokens, crc of each token)]} of the unit corpus."""
    rows = {}
    for path in sorted(source.glob("*/*.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines()
        keep = lines[:-(-len(lines) // UNIT_PARTS)]
        parsed = []
        for line in keep:
            obj = json.loads(line)
            tokens = obj["tokens"]
            parsed.append((obj, tokens, [zlib.crc32(t.encode()) if len(t) > 3 and t.isalpha() else -1 for t in tokens]))
        rows[str(path.relative_to(source))] = parsed
    return rows


def build_corpus(root: Path, size: int, base: dict) -> Path:
    out = root / f"corpus-{size}x"
    if (out / ".complete").is_file():
        return out
    shutil.rmtree(out, ignore_errors=True)
    for rel, parsed in base.items():
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "w", encoding="utf-8") as f:
            for k in range(size):
                suffix = _suffix(k)
                for obj, tokens, crcs in parsed:
                    if k:
                        obj = {**obj, "tokens": [t + suffix if c >= 0 and (c + k) % 3 == 0 else t for t, c in zip(tokens, crcs)]}
                    f.write(json.dumps(obj, ensure_ascii=False) + "\n")
    test = root / f"test-{size}x.jsonl"  # predict's input: the test split's token lists, all languages
    with open(test, "w", encoding="utf-8") as f:
        for path in sorted((out / "test").glob("*.jsonl")):
            with open(path, encoding="utf-8") as src:
                shutil.copyfileobj(src, f)
    (out / ".complete").write_text("")
    return out


def count_sentences(corpus: Path, lang: str | None = None, split: str | None = None) -> int:
    n = 0
    for path in corpus.glob(f"{split or '*'}/*_{lang or '*'}.jsonl"):
        with open(path, "rb") as f:
            n += sum(buf.count(b"\n") for buf in iter(lambda: f.read(1 << 24), b""))
    return n


# ---------------------------------------------------------------- the tiny model and its runs

def build_tiny_model(root: Path) -> Path:
    out = root / "tiny-bert-minilm-vocab"
    if (out / "tf_model.h5").is_file():
        return out
    import snekner  # noqa: F401  (TF_USE_LEGACY_KERAS)
    import tensorflow as tf
    from transformers import AutoTokenizer, BertConfig, TFBertForMaskedLM

    minilm = subprocess.run([str(SHARED / "tools" / "pretrained-minilm")], capture_output=True, text=True, check=True).stdout.strip()
    tokenizer = AutoTokenizer.from_pretrained(minilm)
    tokenizer.save_pretrained(str(out))
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512)
    tf.keras.utils.set_random_seed(0)
    model = TFBertForMaskedLM(config)
    model(model.dummy_inputs)
    model.save_pretrained(str(out))
    return out


# ---------------------------------------------------------------- measuring a child

def _tree_rss(pid: int) -> int:
    """Bytes resident in `pid` and its descendants (summed, for the memory guard)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except (OSError, ValueError):
            pass
    return total


def measure(argv: list[str], log: Path, memory_limit: int, env: dict, cwd: Path) -> dict:
    """Run argv in a wrapper process whose RUSAGE_CHILDREN peak is the command's (its children included)."""
    wrapper = ("import resource, subprocess, sys, json, time; t = time.perf_counter(); rc = subprocess.call(sys.argv[2:]); "
               "s = time.perf_counter() - t; r = resource.getrusage(resource.RUSAGE_CHILDREN); "
               "open(sys.argv[1], 'w').write(json.dumps({'rc': rc, 'seconds': s, 'peak_rss_bytes': r.ru_maxrss * 1024}))")
    result_path = log.with_suffix(".result.json")
    result_path.unlink(missing_ok=True)
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-c", wrapper, str(result_path), *argv], stdout=out, stderr=subprocess.STDOUT, env=env,
                                cwd=str(cwd), start_new_session=True)
        killed = {"rss": 0}

        def guard():
            while proc.poll() is None:
                rss = _tree_rss(proc.pid)
                if rss > memory_limit:
                    killed["rss"] = rss
                    os.killpg(proc.pid, signal.SIGKILL)
                    return
                time.sleep(0.25)

        watcher = threading.Thread(target=guard, daemon=True)
        watcher.start()
        proc.wait()
        watcher.join()
    if killed["rss"]:
        return {"status": "killed", "peak_rss_bytes": killed["rss"]}
    result = json.loads(result_path.read_text())
    result["status"] = "ok" if result["rc"] == 0 else f"failed (exit {result['rc']}, see {log})"
    return result


# ---------------------------------------------------------------- the child that trains 500 steps

def train_steps_child(prepared: str, runs_dir: str, model: str, result_path: str) -> None:
    """Train on `prepared` and stop after TRAIN_STEPS steps, writing the steps/s after TIMED_FROM_STEP."""
    from snekner.training.callbacks import Callback
    from snekner.training.options import TrainOptions
    from snekner.training.train import train

    class StopAfter(Callback):
        def on_step_end(self, state, loss_sum, label_count):
            step = state.global_step
            if step == TIMED_FROM_STEP:
                self.t0 = time.perf_counter()
            if step == TRAIN_STEPS:
                seconds = time.perf_counter() - self.t0
                steps_per_second = (TRAIN_STEPS - TIMED_FROM_STEP) / seconds
                # the copies' varied words have more sub-words (45 a sentence at 1x, 52 at 100x), so a step costs more
                # as the corpus grows for a reason that is not its size: sub-words/s (steps/s x batch x the train split's
                # mean sub-words a sentence) is the figure that compares
                Path(result_path).write_text(json.dumps({"steps_per_second": steps_per_second,
                                                         "subwords_per_sentence": subwords_per_sentence,
                                                         "subwords_per_second": steps_per_second * BATCH * subwords_per_sentence,
                                                         "since_start_seconds": time.perf_counter() - STARTED}))
                os._exit(0)  # the rest of the epoch is not measured

    stats = json.loads((Path(prepared) / "snekner-prepared.json").read_text())["splits"]["train"]
    subwords_per_sentence = stats["subwords"] / stats["sentences"]
    options = TrainOptions(model=model, epochs=1, batch_size=BATCH, seed=0)
    train(Path(prepared), "steps", Path(runs_dir), options, overwrite=True, callbacks=[StopAfter()])


STARTED = time.perf_counter()


# ---------------------------------------------------------------- the benchmark

class Bench:
    def __init__(self, args):
        self.root = Path(args.data_dir)
        self.label = args.label
        self.results_path = self.root / f"results-{self.label}.json"
        self.results = json.loads(self.results_path.read_text()) if self.results_path.is_file() else {}
        self.memory_limit = int(args.memory_limit * GIB)
        self.logs = self.root / f"logs-{self.label}"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.work = self.root / f"work-{self.label}"
        self.work.mkdir(parents=True, exist_ok=True)
        self.redo = set(args.redo.split(",")) if args.redo else set()
        self.only = set(args.only.split(",")) if args.only else None
        self.env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                    "TF_CPP_MIN_LOG_LEVEL": "2", "HF_DATASETS_CACHE": str(self.work / "hf-datasets-cache"),
                    "SNEKNER_CACHE": str(self.work / "snekner-cache")}
        self.snekner = [sys.executable, "-m", "snekner"]

    def save(self):
        tmp = self.results_path.with_suffix(".partial")
        tmp.write_text(json.dumps(self.results, indent=1))
        tmp.replace(self.results_path)

    def record(self, command: str, size: int, sentences: int, argv: list[str], extra_file: Path | None = None) -> dict | None:
        key = f"{command} @ {size}x"
        if key in self.results and self.results[key].get("status") == "ok" and command not in self.redo:
            return self.results[key]
        if self.only is not None and command not in self.only:
            return self.results.get(key)
        slug = "".join(c if c.isalnum() else "-" for c in key)
        print(f"[{time.strftime('%H:%M:%S')}] {key}: {sentences} sentences ...", flush=True)
        result = measure(argv, self.logs / f"{slug}.log", self.memory_limit, self.env, self.root)
        result.update(command=command, size=size, sentences=sentences)
        if extra_file is not None and extra_file.is_file():
            result.update(json.loads(extra_file.read_text()))
        self.results[key] = result
        self.save()
        print(f"    {result['status']}: {result.get('seconds', 0):.1f} s, peak RSS {result['peak_rss_bytes'] / GIB:.2f} GiB", flush=True)
        return result

    def runs(self, model: Path, corpus_1x: Path) -> Path:
        """Two finished runs A and B (seeds 1, 2) of the tiny model, trained on 300 sentences of 1x."""
        runs = self.work / "runs"
        if (runs / "B" / "model").is_dir():
            return runs
        small = self.work / "prep-small"
        env = self.env
        subprocess.run([*self.snekner, "prep", "--dataset", str(corpus_1x), "--tagset", "wikineural", "--model", str(model), "--limit", "300",
                        "--out", str(small), "--overwrite"], check=True, env=env, cwd=self.root)
        for name, seed in (("A", 1), ("B", 2)):
            subprocess.run([*self.snekner, "train", str(small), "--name", name, "--runs-dir", str(runs), "--epochs", "1", "--seed", str(seed),
                            "--overwrite"], check=True, env=env, cwd=self.root)
        return runs

    def size(self, size: int, corpus: Path, model: Path, runs: Path):
        sn = self.snekner
        total, en = count_sentences(corpus), count_sentences(corpus, "en")
        self.record("inspect (all)", size, total, [*sn, "inspect", str(corpus), "--tagset", "wikineural"])
        self.record("inspect (en)", size, en, [*sn, "inspect", str(corpus), "--tagset", "wikineural", "--lang", "en"])
        prepared = self.work / f"prep-all-{size}x"
        prepared_en = self.work / f"prep-en-{size}x"
        prep = [*sn, "prep", "--dataset", str(corpus), "--tagset", "wikineural", "--model", str(model), "--overwrite"]
        self.record("prep (all)", size, total, [*prep, "--out", str(prepared)])
        self.record("prep (en)", size, en, [*prep, "--lang", "en", "--out", str(prepared_en)])
        shutil.rmtree(prepared_en, ignore_errors=True)
        if not (prepared / "snekner-prepared.json").is_file():
            print(f"    no prepared {size}x data: training, eval, predict and compare at {size}x skipped", flush=True)
            return
        steps = self.work / f"steps-{size}x.json"
        steps.unlink(missing_ok=True)
        self.record("train 500 steps", size, count_sentences(corpus, split="train"),
                    [sys.executable, str(Path(__file__).resolve()), "_train_steps", str(prepared), str(self.work / "steps-runs"),
                     str(model), str(steps)], extra_file=steps)
        shutil.rmtree(self.work / "steps-runs", ignore_errors=True)
        tests = count_sentences(corpus, split="test")
        eval_args = ["--runs-dir", str(runs), "--data", str(prepared), "--split", "test"]
        self.record("eval", size, tests, [*sn, "eval", "A", *eval_args])
        key = f"compare --bootstrap 1000 @ {size}x"
        if self.only is None or "compare --bootstrap 1000" in self.only:
            if not (key in self.results and self.results[key].get("status") == "ok") or "compare --bootstrap 1000" in self.redo:
                ok = self.results.get(f"eval @ {size}x", {}).get("status") == "ok"
                ok = ok and subprocess.run([*sn, "eval", "B", *eval_args], env=self.env, cwd=self.root, stdout=subprocess.DEVNULL).returncode == 0
                if ok:
                    self.record("compare --bootstrap 1000", size, tests, [*sn, "compare", "A", "B", "--runs-dir", str(runs), "--bootstrap", "1000"])
        out = self.work / f"predict-{size}x.jsonl"
        self.record("predict", size, tests, [*sn, "predict", "A", "--runs-dir", str(runs), "--input", str(self.root / f"test-{size}x.jsonl"),
                                             "--format", "jsonl", "--out", str(out)])
        out.unlink(missing_ok=True)


def run(args):
    bench = Bench(args)
    root = bench.root
    root.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"[{time.strftime('%H:%M:%S')}] building corpora {sizes} under {root}", flush=True)
    base = _base_rows(SHARED / "data" / "wikineural")
    corpora = {s: build_corpus(root, s, base) for s in sizes}
    del base
    which = subprocess.run([sys.executable, "-c", "import snekner; print(snekner.__file__)"], env=bench.env, cwd=root,
                           capture_output=True, text=True).stdout.strip()
    print(f"measuring the snekner at {which}", flush=True)
    model = build_tiny_model(root)
    runs = bench.runs(model, build_corpus(root, 1, _base_rows(SHARED / "data" / "wikineural")) if 1 not in corpora else corpora[1])
    for s in sizes:
        bench.size(s, corpora[s], model, runs)
    print(table(bench.results, args.label))


# ---------------------------------------------------------------- the table

def _projected(results: dict, command: str, size: int, field: str) -> float | None:
    one, ten = results.get(f"{command} @ 1x"), results.get(f"{command} @ 10x")
    if not one or not ten or one.get("status") != "ok" or ten.get("status") != "ok":
        return None
    return ten[field] + (ten[field] - one[field]) * (size - 10) / 9


def table(results: dict, label: str, before: dict | None = None) -> str:
    head = (f"snekner scale benchmark ({label}); train/eval/predict/compare use a tiny random BERT (2 layers, width 32, MiniLM's "
            f"vocabulary), so they time snekner's pipeline, not an encoder; one CPU core")
    # time/sentence against 1x includes each command's start-up (imports, model load), which 1x pays on few
    # sentences; against 10x it is closer to the cost of one more sentence
    rows = [["command", "size", "sentences", "time", "time/sentence", "vs 1x", "vs 10x", "peak RSS", "note"]]

    def per_sentence(r: dict | None) -> float | None:
        return r["seconds"] / max(r["sentences"], 1) if r and r.get("status") == "ok" else None

    for command in COMMANDS:
        sizes = sorted({r["size"] for r in results.values() if r["command"] == command})
        bases = [per_sentence(results.get(f"{command} @ {b}x")) for b in (1, 10)]
        for size in sizes:
            r = results[f"{command} @ {size}x"]
            note = ""
            if r["status"] == "ok":
                per = per_sentence(r)
                ratios = [f"{per / b:.2f}" if b else "" for b in bases]
                cells = [f"{r['seconds']:.1f} s", f"{per * 1e6:.1f} us", *ratios, f"{r['peak_rss_bytes'] / GIB:.2f} GiB"]
                if "steps_per_second" in r:
                    note = f"{r['steps_per_second']:.1f} steps/s (steps {TIMED_FROM_STEP}-{TRAIN_STEPS})"
                    if "subwords_per_second" in r:
                        note += f", {r['subwords_per_second'] / 1000:.1f}k sub-words/s ({r['subwords_per_sentence']:.1f} a sentence)"
                    cells[1] = cells[2] = cells[3] = "-"
            elif r["status"] == "killed":
                projected = _projected(results, command, size, "peak_rss_bytes")
                cells = ["-", "-", "-", "-", f"> {r['peak_rss_bytes'] / GIB:.1f} GiB"]
                note = "stopped at the memory limit" + (f"; projected {projected / GIB:.1f} GiB from 1x/10x" if projected else "")
            else:
                cells, note = ["-", "-", "-", "-", "-"], r["status"]
            if before is not None:
                b = before.get(f"{command} @ {size}x")
                if b and b.get("status") == "ok":
                    note = (note + "; " if note else "") + f"before: {b['seconds']:.1f} s, {b['peak_rss_bytes'] / GIB:.2f} GiB"
                elif b:
                    note = (note + "; " if note else "") + f"before: {b['status']} at {b['peak_rss_bytes'] / GIB:.1f} GiB"
            rows.append([command, f"{size}x", f"{r['sentences']:,}", *cells, note])
        if 100 not in sizes and _projected(results, command, 100, "peak_rss_bytes") is not None:
            projected = _projected(results, command, 100, "peak_rss_bytes")
            rows.append([command, "100x", "-", "-", "-", "-", "-", "-", f"not run: projected {projected / GIB:.1f} GiB from 1x/10x"])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [head, ""]
    for n, row in enumerate(rows):
        lines.append("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "_train_steps":
        train_steps_child(*sys.argv[2:6])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="action", required=True)
    for name in ("run", "table"):
        p = sub.add_parser(name)
        p.add_argument("--data-dir", default=os.environ.get("SNEKNER_SCALE_DIR", "/work/scale-data"),
                       help="where corpora, prepared data, runs and results go (not the repo: 100x is ~10 GB)")
        p.add_argument("--label", default="run", help="results are kept per label (e.g. before, after)")
        if name == "run":
            p.add_argument("--sizes", default="1,10,100")
            p.add_argument("--memory-limit", type=float, default=12.0, help="GiB: a command whose processes pass it is stopped")
            p.add_argument("--redo", default="", help="commands to measure again although measured (comma-separated names)")
            p.add_argument("--only", default="", help="measure only these commands (comma-separated names)")
        else:
            p.add_argument("--before", default=None, help="label of earlier results shown beside these")
    args = parser.parse_args()
    if args.action == "run":
        run(args)
    else:
        root = Path(args.data_dir)
        results = json.loads((root / f"results-{args.label}.json").read_text())
        before = json.loads((root / f"results-{args.before}.json").read_text()) if args.before else None
        print(table(results, args.label, before))


if __name__ == "__main__":
    main()
