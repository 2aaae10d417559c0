"""Speed benchmark (issue 4): snekner against the naive reference (benchmarks/reference.py).

Usage (from the repository root):

    .venv/bin/python benchmarks/benchmark.py [--data ../shared/data/wikineural] [--lang en]
        [--model DIR] [--train-sentences 800] [--eval-sentences 500] [--batch-size 16]
        [--max-length 128] [--out benchmarks/results/DATE.json]

Both sides run in ONE invocation, on the same machine, data, language, tagset, tokenizer,
model weights and sizes, so the ratios are meaningful even on a shared, noisy machine.
Every phase of every side runs in a fresh subprocess (its own interpreter, RSS and
HF_DATASETS_CACHE directory, so no side profits from cached `map` results), in this order:

  ref-prep, snekner-prep, verify (not timed: both preps must give identical features),
  ref-train, snekner-train, [snekner-train#2, ref-train#2, ...], ref-eval, snekner-eval.

Training runs --train-rounds (default 2) pairs in ABBA order and reports the mean of the rounds,
because other jobs on a shared machine change the load from one phase to the next.

What is measured
----------------
prep   wall clock of the whole prep call (read, filter language, restrict tags, tokenize +
       align, save_to_disk), after `datasets`/`transformers` are imported on both sides.
       Reference: benchmarks/reference.py:prepare. snekner: snekner.data.prepare.prepare.
       Both produce every split of the language; figure = seconds (ratio = ref s / snekner s).
train  one epoch over the first N English training sentences, batch 16, lr 3e-4.
       Reference: build_token_classifier + prepare_tf_dataset(DataCollatorForTokenClassification)
       + Keras compile(Adam) + fit(epochs=1). snekner: snekner.training.loop.train with epochs=1 on a
       copy of its prepared data holding only those N training sentences and NO validation
       split, so Trainer.validate_epoch returns None and no validation runs at all.
       Model loading is excluded on both sides.
       - whole epoch: reference = the model.fit() call; snekner = the epoch's `train_seconds`
         (Trainer.run: from building the tf.data pipeline to the last step). Both include the
         first-step tracing.
       - steady state: from the start of step W+1 to the end of the last step (W =
         --warmup-steps, default 3: the first step traces the step function; snekner before
         a709aec also retraced on the second batch width).
       - sentences per CPU-second over the steady steps (time.process_time of the child, all
         its threads): less sensitive than wall clock to other jobs on a shared machine.
       Step times come from Keras batch callbacks (reference) and from a thin timing wrapper
       around Trainer's compiled step function (snekner; it fetches the loss, which snekner's
       loop does right after anyway).
       tokens: useful = real sub-words (attention_mask sum, [CLS]/[SEP] included, padding
       excluded); padded = batch x padded width, what the model actually computes.
       FLOPs (training, per token of a sequence of length T):
             6 * N_ne + 12 * L * T * d
       N_ne = parameters without the embedding matrices (encoder layers + classifier head),
       L = layers, d = hidden size (PaLM, Chowdhery et al. 2022, appendix B: 6N for the dense
       matmuls forward+backward, 12*L*T*d for QK^T and AV forward+backward).
       padded FLOP/s: summed over padded batches (T = batch width); useful FLOP/s: summed over
       sentences with T = the sentence's own length.
eval   word-tag prediction for the first M English test sentences with the same trained model
       (the snekner run's exported model, loaded with from_pretrained on both sides).
       Reference: transformers.pipeline("token-classification", framework="tf", dtype=None)
       called once per sentence on " ".join(tokens). snekner: snekner.modeling.forward.predict_word_tags
       as evaluation.evaluate_run calls it (batch 64). Timed: the prediction calls only (model
       and pipeline construction excluded). snekner's figure is its first call (tracing
       included, as evaluate_run measures it); a second, warm call is reported too.
rss    peak RSS (ru_maxrss of the child process) of each phase.

Threads: nothing is pinned. TensorFlow uses its default intra/inter-op pools (one thread
per visible core), tokenizers its default Rayon pool. The JSON records the visible cores,
the TF settings, the number of OS threads of each child and the child's CPU seconds, and
the load average around each phase (other jobs may share the machine).
"""
from __future__ import annotations

import argparse
import datetime as dt
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
TARGETS = {"prep": 5.0, "train": 1.5, "eval": 20.0}


def phase_plan(train_rounds: int) -> list[str]:
    """Training rounds alternate ABBA (ref, snekner, snekner, ref, ...) so load drift on a shared
    machine hits both sides alike; round k > 1 is named e.g. "snekner-train#2"."""
    plan = ["ref-prep", "snekner-prep", "verify"]
    for k in range(1, train_rounds + 1):
        pair = ["ref-train", "snekner-train"] if k % 2 else ["snekner-train", "ref-train"]
        plan += [p if k == 1 else f"{p}#{k}" for p in pair]
    return plan + ["ref-eval", "snekner-eval"]


# =============================================================================================
# children: one phase each
# =============================================================================================
def _child_common(result: dict) -> dict:
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


def _import_data_libs():
    import datasets  # noqa: F401
    import pyarrow  # noqa: F401
    import transformers  # noqa: F401
    from transformers import AutoTokenizer  # noqa: F401


def phase_ref_prep(spec: dict) -> dict:
    import reference

    _import_data_libs()
    t0 = time.perf_counter()
    dataset = reference.prepare(spec["data"], spec["lang"], spec["tagset"], spec["model"], spec["max_length"],
                                spec["ref_prep_dir"], spec["prep_limit"])
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "sentences": {k: len(v) for k, v in dataset.items()}}


def phase_snekner_prep(spec: dict) -> dict:
    from snekner.data.prepare import PrepOptions, prepare

    _import_data_libs()
    t0 = time.perf_counter()
    manifest = prepare(PrepOptions(dataset=spec["data"], lang=spec["lang"], tagset=spec["tagset"], model=spec["model"],
                                   max_length=spec["max_length"], limit=spec["prep_limit"]), Path(spec["snekner_prep_dir"]))
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "sentences": {k: v["sentences"] for k, v in manifest["splits"].items()}}


def phase_verify(spec: dict) -> dict:
    """Both preps must yield the same sentences, tags, sub-word ids and labels (not timed)."""
    import datasets

    ref = datasets.load_from_disk(spec["ref_prep_dir"])
    snk = datasets.load_from_disk(str(Path(spec["snekner_prep_dir"]) / "data"))
    out = {}
    for name in sorted(set(ref) | set(snk)):
        if name not in ref or name not in snk:
            out[name] = {"present_in_both": False}
            continue
        r, s = ref[name], snk[name]
        entry = {"present_in_both": True, "rows": [len(r), len(s)]}
        if len(r) == len(s):
            for col in ("tokens", "ner_tags", "input_ids", "labels"):
                entry[f"{col}_mismatched_rows"] = sum(a != b for a, b in zip(r[col], s[col]))
        out[name] = entry
    ok = all(e.get("present_in_both") and e["rows"][0] == e["rows"][1]
             and all(v == 0 for k, v in e.items() if k.endswith("_mismatched_rows")) for e in out.values())
    return {"identical": ok, "splits": out}


def _nonembedding_params(model) -> int:
    return int(sum(int(v.shape.num_elements()) for v in model.trainable_weights if "/embeddings/" not in v.name))


def _model_dims(model) -> dict:
    cfg = model.config
    return {"n_params": int(sum(int(v.shape.num_elements()) for v in model.trainable_weights)),
            "n_params_nonembedding": _nonembedding_params(model),
            "layers": int(cfg.num_hidden_layers), "hidden": int(cfg.hidden_size)}


def phase_ref_train(spec: dict) -> dict:
    import numpy as np

    import reference
    import tensorflow as tf

    tf.keras.utils.set_random_seed(spec["seed"])

    class CountingCollator:
        """Records each collated batch's shape and real sub-words once recording is on."""

        def __init__(self, inner):
            self.inner, self.recording, self.batches = inner, False, []

        def __call__(self, features, **kwargs):
            out = self.inner(features, **kwargs)
            if self.recording:
                mask = out["attention_mask"]
                lengths = np.sum(mask, axis=1)
                self.batches.append([int(mask.shape[0]), int(mask.shape[1]), int(lengths.sum()), int((lengths ** 2).sum())])
            return out

    collators = []

    def wrap(inner):
        collators.append(CountingCollator(inner))
        return collators[0]

    t_load = time.perf_counter()
    model, tf_dataset, prep_tf_seconds, rows = reference.build_training(
        spec["ref_prep_dir"], spec["train_sentences"], spec["model"], spec["tagset"], spec["batch_size"],
        spec["learning_rate"], collate_wrapper=wrap)
    setup_seconds = time.perf_counter() - t_load

    steps: list[list[float]] = []

    class StepTimer(tf.keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            steps.append([time.perf_counter(), None, time.process_time(), None])

        def on_train_batch_end(self, batch, logs=None):  # logs are synced to numpy before this call
            steps[-1][1], steps[-1][3] = time.perf_counter(), time.process_time()

    collators[0].recording = True
    t0 = time.perf_counter()
    history = reference.fit_one_epoch(model, tf_dataset, [StepTimer()])
    fit_seconds = time.perf_counter() - t0
    collators[0].recording = False
    lengths = [len(x) for x in rows["input_ids"]]
    return {
        "fit_seconds": fit_seconds,
        "fit_breakdown_seconds": {
            "before_first_step": steps[0][0] - t0,
            "steps (first step start to last step end)": steps[-1][1] - steps[0][0],
            "after_last_step": fit_seconds - (steps[-1][1] - t0),
        },
        "prepare_tf_dataset_and_compile_seconds": prep_tf_seconds,
        "setup_seconds_including_model_load": setup_seconds,
        "step_times": [[a - t0, b - t0] for a, b, _, _ in steps],
        "step_cpu_times": [[c, d] for _, _, c, d in steps],
        "batches": collators[0].batches,  # [batch, padded width, real sub-words, sum of squared lengths] in step order
        "train_rows": len(rows),
        "train_subwords_total": int(sum(lengths)),
        "loss": [float(x) for x in history.history.get("loss", [])],
        "jit_compile": bool(getattr(model, "_jit_compile", False)),
        "model": _model_dims(model),
    }


def _subset_prepared(src: Path, dst: Path, n: int) -> None:
    """A prepared dataset holding only the first n training sentences and no validation split."""
    import datasets

    from snekner.data.prepare import load_prepared

    prepared = load_prepared(src)
    train = prepared.split("train")
    train = train.select(range(min(n, len(train)))).flatten_indices()
    dst.mkdir(parents=True)
    datasets.DatasetDict({"train": train}).save_to_disk(str(dst / "data"))
    shutil.copytree(src / "tokenizer", dst / "tokenizer")
    manifest = dict(prepared.manifest)
    manifest["splits"] = {"train": {**manifest["splits"]["train"], "sentences": len(train)}}
    manifest["benchmark_subset"] = f"first {len(train)} training sentences of {src}, validation dropped"
    (dst / "snekner-prepared.json").write_text(json.dumps(manifest, indent=2))


def phase_snekner_train(spec: dict) -> dict:
    import numpy as np

    from snekner.training import loop as training
    from snekner.training.loop import TrainOptions, train

    subset = Path(spec["work"]) / f"snekner-train-data-{spec['round']}"
    _subset_prepared(Path(spec["snekner_prep_dir"]), subset, spec["train_sentences"])

    steps: list = []
    trainers: list = []
    epoch_ends: list = []

    def timed(step):
        def run_and_time(batch):
            start, cpu = time.perf_counter(), time.process_time()
            out = step(batch)
            out[0].numpy()  # the loop calls float(loss) right after; fetch it here to time the step
            steps.append((start, time.perf_counter(), batch["input_ids"].shape, batch["attention_mask"], cpu, time.process_time()))
            return out

        return run_and_time

    class TimedTrainer(training.Trainer):
        """Times every compiled training step, whichever attribute the loop calls it through.

        snekner 4559cfc calls `self._train_step` (a tf.function); from a709aec on, `run` wraps the
        plain `_train_step` into `self._compiled_step` (a tf.function with an input signature).
        Only a compiled function is wrapped, never the Python function being traced.
        """

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            trainers.append(self)

        @property
        def _train_step(self):
            raw = self.__dict__.get("_bench_train_step")
            return timed(raw) if hasattr(raw, "get_concrete_function") else raw

        @_train_step.setter
        def _train_step(self, value):
            self.__dict__["_bench_train_step"] = value

        @property
        def _compiled_step(self):
            value = self.__dict__.get("_bench_compiled_step")
            return None if value is None else timed(value)

        @_compiled_step.setter
        def _compiled_step(self, value):
            self.__dict__["_bench_compiled_step"] = value

        def validate_epoch(self):
            # Trainer.run calls this right after it stops the epoch clock: its call time marks the
            # epoch's end (with no validation split it returns None at once)
            epoch_ends.append(time.perf_counter())
            return super().validate_epoch()

    training.Trainer = TimedTrainer
    log_lines: list[str] = []
    options = TrainOptions(epochs=1, batch_size=spec["batch_size"], learning_rate=spec["learning_rate"], seed=spec["seed"])
    t0 = time.perf_counter()
    run = train(subset, f"bench-{spec['round']}", Path(spec["work"]) / "runs", options, log=log_lines.append)
    total_seconds = time.perf_counter() - t0
    epoch = run.manifest["timings"]
    history_path = run.path / "metrics.jsonl"
    history = [json.loads(x) for x in history_path.read_text().splitlines()]
    base = steps[0][0] if steps else 0.0
    batches = []
    for _, _, shape, mask, _, _ in steps:
        lengths = np.sum(mask.numpy(), axis=1)
        batches.append([int(shape[0]), int(shape[1]), int(lengths.sum()), int((lengths ** 2).sum())])
    trainer = trainers[0]
    epoch_seconds = epoch["per_epoch_seconds"][0]
    epoch_start = epoch_ends[0] - epoch_seconds
    return {
        "epoch_train_seconds": epoch_seconds,
        "epoch_breakdown_seconds": {
            "before_first_step (make_dataset, distribute, first fetch)": steps[0][0] - epoch_start,
            "steps (first step start to last step end)": steps[-1][1] - steps[0][0],
            "after_last_step (loop exit: tf.data iterator teardown)": epoch_ends[0] - steps[-1][1],
        },
        "train_call_seconds_total": total_seconds,
        "history": history,
        "step_times": [[a - base, b - base] for a, b, *_ in steps],
        "step_cpu_times": [[c, d] for *_, c, d in steps],
        "step_times_offset_note": "relative to the first step's start (the epoch timer starts earlier, at make_dataset)",
        "batches": batches,
        "train_rows": len(trainer.train_data),
        "train_subwords_total": int(trainer.train_data.lengths.sum()),
        "devices": run.manifest.get("devices"),
        "log": log_lines,
        "model_dir": str(run.model_dir),
        "model": _model_dims(trainer.model),
    }


def phase_ref_eval(spec: dict) -> dict:
    import reference

    sentences = reference.read_test_sentences(spec["ref_prep_dir"], spec["eval_sentences"])
    t_build = time.perf_counter()
    nlp = reference.build_pipeline(spec["trained_model_dir"])
    build_seconds = time.perf_counter() - t_build
    t0 = time.perf_counter()
    outputs = reference.predict(nlp, sentences)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "sentences": len(sentences), "build_seconds": build_seconds,
            "predicted_entity_tokens": sum(len(o) for o in outputs)}


def phase_snekner_eval(spec: dict) -> dict:
    from transformers import AutoTokenizer

    from snekner.data.prepare import load_prepared
    from snekner.modeling.models import load_trained
    from snekner.modeling.forward import gold_word_tags, predict_word_tags
    from snekner.ner.scoring import score

    prepared = load_prepared(Path(spec["snekner_prep_dir"]))
    rows = prepared.split("test")
    rows = rows.select(range(min(spec["eval_sentences"], len(rows))))
    t_build = time.perf_counter()
    model = load_trained(Path(spec["trained_model_dir"]))
    tokenizer = AutoTokenizer.from_pretrained(spec["trained_model_dir"])
    build_seconds = time.perf_counter() - t_build
    t0 = time.perf_counter()
    predicted = predict_word_tags(model, rows, prepared.labels, tokenizer.pad_token_id, spec["eval_batch_size"])
    seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    predict_word_tags(model, rows, prepared.labels, tokenizer.pad_token_id, spec["eval_batch_size"])
    warm_seconds = time.perf_counter() - t1
    scores = score(gold_word_tags(rows, prepared.labels), predicted, types=prepared.tagset.types)
    return {"seconds": seconds, "warm_seconds": warm_seconds, "sentences": len(rows), "build_seconds": build_seconds,
            "f1_on_these_sentences": scores["overall"]["f1"]}


CHILDREN = {
    "ref-prep": phase_ref_prep, "snekner-prep": phase_snekner_prep, "verify": phase_verify,
    "ref-train": phase_ref_train, "snekner-train": phase_snekner_train,
    "ref-eval": phase_ref_eval, "snekner-eval": phase_snekner_eval,
}


def child_main(phase: str, spec_path: str, result_path: str) -> None:
    import snekner  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

    sys.path.insert(0, str(HERE))
    spec = json.loads(Path(spec_path).read_text())
    spec["round"] = int(phase.partition("#")[2] or 1)
    result = CHILDREN[phase.partition("#")[0]](spec)
    Path(result_path).write_text(json.dumps(_child_common(result), indent=2))


# =============================================================================================
# parent: orchestration, figures, table
# =============================================================================================
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
           "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "SNEKNER_CACHE": str(work / "snekner-cache")}
    before = loadavg()
    t0 = time.perf_counter()
    with open(logs / f"{phase}.log", "w") as log:
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--_child", phase, str(spec_path), str(result_path)],
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


def flops_per_token(model: dict, seq_len: float) -> float:
    """Training FLOPs per token of a length-`seq_len` sequence: 6*N_ne + 12*L*T*d (see module doc)."""
    return 6.0 * model["n_params_nonembedding"] + 12.0 * model["layers"] * seq_len * model["hidden"]


def train_figures(res: dict, whole_seconds: float, warmup: int, lengths_by_batch: list[list[int]] | None = None) -> dict:
    """Sentences, tokens and FLOP/s over the whole epoch and over the steady-state steps."""
    model = res["model"]
    batches = res["batches"]
    steps = res["step_times"]
    if len(batches) != len(steps):
        raise SystemExit(f"recorded {len(batches)} batches but {len(steps)} steps")

    def totals(bs):
        sentences = sum(b[0] for b in bs)
        useful = sum(b[2] for b in bs)
        padded = sum(b[0] * b[1] for b in bs)
        flops_padded = sum(b[0] * b[1] * flops_per_token(model, b[1]) for b in bs)
        return sentences, useful, padded, flops_padded

    s_all, u_all, p_all, f_all = totals(batches)
    w = min(warmup, max(len(steps) - 1, 0))
    steady_seconds = steps[-1][1] - steps[w][0] if steps else float("nan")
    cpu = res.get("step_cpu_times")
    steady_cpu = cpu[-1][1] - cpu[w][0] if cpu else None
    s_st, u_st, p_st, f_st = totals(batches[w:])
    # useful FLOPs: each sentence at its own length T_i: sum_i T_i * (6 N_ne + 12 L T_i d)
    def useful_flops(bs):
        return sum(6.0 * model["n_params_nonembedding"] * b[2] + 12.0 * model["layers"] * model["hidden"] * b[3] for b in bs)

    fu_all, fu_st = useful_flops(batches), useful_flops(batches[w:])
    step_durations = [b - a for a, b in steps]
    return {
        "steps": len(steps),
        "sentences": s_all,
        "useful_tokens": u_all,
        "padded_tokens": p_all,
        "padding_overhead": p_all / u_all - 1 if u_all else None,
        "whole_epoch_seconds": whole_seconds,
        "whole_epoch_sentences_per_s": s_all / whole_seconds,
        "whole_epoch_useful_tokens_per_s": u_all / whole_seconds,
        "whole_epoch_padded_tokens_per_s": p_all / whole_seconds,
        "whole_epoch_flops_per_s_padded": f_all / whole_seconds,
        "whole_epoch_flops_per_s_useful": fu_all / whole_seconds,
        "warmup_steps_excluded": w,
        "first_step_seconds": step_durations[0] if step_durations else None,
        "warmup_steps_seconds": [round(x, 4) for x in step_durations[:w]],
        "steady_seconds": steady_seconds,
        "steady_sentences_per_s": s_st / steady_seconds,
        "steady_cpu_seconds": steady_cpu,
        "steady_cpu_per_wall": steady_cpu / steady_seconds if steady_cpu else None,
        "steady_sentences_per_cpu_s": s_st / steady_cpu if steady_cpu else None,
        "steady_useful_tokens_per_s": u_st / steady_seconds,
        "steady_padded_tokens_per_s": p_st / steady_seconds,
        "steady_flops_per_s_padded": f_st / steady_seconds,
        "steady_flops_per_s_useful": fu_st / steady_seconds,
        "median_step_seconds_steady": sorted(step_durations[w:])[len(step_durations[w:]) // 2] if step_durations[w:] else None,
        "flops_total_padded": f_all,
        "flops_total_useful": fu_all,
    }


def mean_figures(rounds: list[dict]) -> dict:
    out = {}
    for key, value in rounds[0].items():
        if isinstance(value, (int, float)) and all(isinstance(r.get(key), (int, float)) for r in rounds):
            out[key] = sum(r[key] for r in rounds) / len(rounds)
        else:
            out[key] = value
    out["rounds"] = rounds
    return out


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


def build_table(r: dict) -> list[list[str]]:
    rows = []

    def add(phase, ref, snk, ratio, unit="", target=None):
        verdict = "" if target is None else ("PASS" if ratio >= target else "MISS")
        rows.append([phase, fmt(ref, unit), fmt(snk, unit), f"{ratio:.2f}x" if ratio is not None else "-",
                     f">= {target:g}x" if target is not None else "", verdict])

    p = r["figures"]["prep"]
    add(f"prep: seconds (lower is better; ratio = ref/snekner), {p['sentences']} sentences",
        p["ref_seconds"], p["snekner_seconds"], p["ref_seconds"] / p["snekner_seconds"], " s", TARGETS["prep"])
    add("prep: sentences/s", p["ref_sentences_per_s"], p["snekner_sentences_per_s"], p["snekner_sentences_per_s"] / p["ref_sentences_per_s"])
    t = r["figures"]["train"]
    ref, snk = t["ref"], t["snekner"]
    add(f"train: sentences/s, whole epoch ({ref['sentences']:.0f} / {snk['sentences']:.0f} sent., mean of {len(snk['rounds'])} rounds)", ref["whole_epoch_sentences_per_s"],
        snk["whole_epoch_sentences_per_s"], snk["whole_epoch_sentences_per_s"] / ref["whole_epoch_sentences_per_s"], "", TARGETS["train"])
    add(f"train: sentences/s, steady state (after {snk['warmup_steps_excluded']:.0f} steps)", ref["steady_sentences_per_s"],
        snk["steady_sentences_per_s"], snk["steady_sentences_per_s"] / ref["steady_sentences_per_s"], "", TARGETS["train"])
    add("train: sentences per CPU-second, steady (load-robust)", ref["steady_sentences_per_cpu_s"],
        snk["steady_sentences_per_cpu_s"], snk["steady_sentences_per_cpu_s"] / ref["steady_sentences_per_cpu_s"])
    add("train: CPU-seconds per wall-second in steady steps", ref["steady_cpu_per_wall"], snk["steady_cpu_per_wall"], None)
    for key, label in (("whole_epoch_useful_tokens_per_s", "train: useful tokens/s, whole epoch"),
                       ("steady_useful_tokens_per_s", "train: useful tokens/s, steady"),
                       ("steady_padded_tokens_per_s", "train: padded tokens/s, steady")):
        add(label, ref[key], snk[key], snk[key] / ref[key])
    for key, label in (("steady_flops_per_s_padded", "train: FLOP/s on padded tokens, steady"),
                       ("steady_flops_per_s_useful", "train: FLOP/s on useful tokens, steady"),
                       ("whole_epoch_flops_per_s_padded", "train: FLOP/s on padded tokens, whole"),
                       ("whole_epoch_flops_per_s_useful", "train: FLOP/s on useful tokens, whole")):
        add(label, ref[key], snk[key], snk[key] / ref[key], "flops")
    add("train: padding overhead (padded/useful - 1)", ref["padding_overhead"], snk["padding_overhead"], None)
    e = r["figures"]["eval"]
    add(f"eval: sentences/s ({e['sentences']} sentences)", e["ref_sentences_per_s"], e["snekner_sentences_per_s"],
        e["snekner_sentences_per_s"] / e["ref_sentences_per_s"], "", TARGETS["eval"])
    add("eval: sentences/s, snekner warm 2nd call", e["ref_sentences_per_s"], e["snekner_warm_sentences_per_s"],
        e["snekner_warm_sentences_per_s"] / e["ref_sentences_per_s"])
    def peak_rss(name):  # the highest over that phase's rounds
        return max(v["peak_rss_mb"] for k, v in r["phases"].items() if k.partition("#")[0] == name)

    for phase in ("prep", "train", "eval"):
        a, b = peak_rss(f"ref-{phase}"), peak_rss(f"snekner-{phase}")
        add(f"{phase}: peak RSS MB (ratio = snekner/ref)", a, b, b / a)
    return rows


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


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Speed benchmark: snekner vs the naive reference (see the module docstring).")
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "wikineural"), help="MultiNERD-layout folder")
    p.add_argument("--lang", default="en")
    p.add_argument("--model", default=None, help="model folder (default: ../shared/tools/pretrained-minilm)")
    p.add_argument("--tagset", default=str(REPO / "tagsets" / "wikineural.json"))
    p.add_argument("--train-sentences", type=int, default=800)
    p.add_argument("--eval-sentences", type=int, default=500)
    p.add_argument("--prep-limit", type=int, default=None, help="sentences per split after the language filter (default: all)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--eval-batch-size", type=int, default=32, help="snekner's prediction batch (evaluate_run's default)")
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--learning-rate", type=float, default=3e-4)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--warmup-steps", type=int, default=3, help="training steps left out of the steady-state figures")
    p.add_argument("--train-rounds", type=int, default=2,
                   help="training phase pairs, run ABBA (ref, snekner, snekner, ref); figures are means over rounds")
    p.add_argument("--out", default=None, help="JSON result (default: benchmarks/results/<UTC date-time>.json)")
    p.add_argument("--keep-work", action="store_true", help="keep the prepared data and the trained model")
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    started_wall = time.perf_counter()
    started = dt.datetime.now(dt.timezone.utc)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    results_dir = HERE / "results"
    out = Path(args.out) if args.out else results_dir / f"{stamp}.json"
    work = results_dir / f"work-{stamp}"
    logs = results_dir / f"logs-{stamp}"
    work.mkdir(parents=True)
    logs.mkdir(parents=True)
    model = args.model or default_model()
    git_at_start = git_info()  # the snekner being measured; compared with the end of the run below
    spec = {
        "data": str(Path(args.data).resolve()), "lang": args.lang, "tagset": str(Path(args.tagset).resolve()),
        "model": str(Path(model).resolve()), "max_length": args.max_length, "prep_limit": args.prep_limit,
        "train_sentences": args.train_sentences, "eval_sentences": args.eval_sentences, "batch_size": args.batch_size,
        "eval_batch_size": args.eval_batch_size, "learning_rate": args.learning_rate, "seed": args.seed,
        "work": str(work), "ref_prep_dir": str(work / "ref-prepared"), "snekner_prep_dir": str(work / "snekner-prepared"),
    }
    print(f"benchmark {stamp}: model {spec['model']}, data {spec['data']} ({args.lang}), "
          f"{os.cpu_count()} CPUs, work dir {work}", flush=True)
    phases: dict = {}
    try:
        for phase in phase_plan(args.train_rounds):
            print(f"  {phase} ...", end="", flush=True)
            if phase == "ref-eval":
                spec["trained_model_dir"] = phases["snekner-train"]["model_dir"]
            phases[phase] = run_child(phase, spec, work, logs)
            res = phases[phase]
            print(f" {res['process_wall_seconds']:.1f} s (process), peak RSS {res['peak_rss_mb']:.0f} MB, "
                  f"load {res['loadavg_before']} -> {res['loadavg_after']}", flush=True)
            if phase == "verify" and not res["identical"]:
                print("  WARNING: the two preps differ: " + json.dumps(res["splits"]), flush=True)
    finally:
        if not args.keep_work:
            shutil.rmtree(work, ignore_errors=True)

    rp, sp = phases["ref-prep"], phases["snekner-prep"]
    n_prep = sum(sp["sentences"].values())
    figures = {
        "prep": {"sentences": n_prep, "ref_sentences_by_split": rp["sentences"], "snekner_sentences_by_split": sp["sentences"],
                 "ref_seconds": rp["seconds"], "snekner_seconds": sp["seconds"],
                 "ref_sentences_per_s": sum(rp["sentences"].values()) / rp["seconds"], "snekner_sentences_per_s": n_prep / sp["seconds"],
                 "speedup": rp["seconds"] / sp["seconds"], "features_identical": phases["verify"]["identical"]},
        "train": {
            "ref": mean_figures([train_figures(phases[p], phases[p]["fit_seconds"], args.warmup_steps)
                                 for p in phases if p.startswith("ref-train")]),
            "snekner": mean_figures([train_figures(phases[p], phases[p]["epoch_train_seconds"], args.warmup_steps)
                                     for p in phases if p.startswith("snekner-train")]),
            "rounds_note": "figures are means over the training rounds; per-round values under 'rounds'",
            "flops_formula": "per token: 6*N_nonembedding + 12*layers*T*hidden; padded: T = batch width; "
                             "useful: T = each sentence's own real length",
            "model": phases["snekner-train"]["model"],
        },
    }
    tr = figures["train"]
    tr["speedup_whole_epoch"] = tr["snekner"]["whole_epoch_sentences_per_s"] / tr["ref"]["whole_epoch_sentences_per_s"]
    tr["speedup_steady"] = tr["snekner"]["steady_sentences_per_s"] / tr["ref"]["steady_sentences_per_s"]
    re_, se = phases["ref-eval"], phases["snekner-eval"]
    figures["eval"] = {"sentences": se["sentences"], "ref_sentences_per_s": re_["sentences"] / re_["seconds"],
                       "snekner_sentences_per_s": se["sentences"] / se["seconds"],
                       "snekner_warm_sentences_per_s": se["sentences"] / se["warm_seconds"],
                       "speedup": (se["sentences"] / se["seconds"]) / (re_["sentences"] / re_["seconds"])}
    result = {
        "date": started.isoformat(timespec="seconds"),
        "command": [sys.executable, *sys.argv],
        "options": vars(args),
        "spec": {k: v for k, v in spec.items() if k not in ("work",)},
        "versions": versions(),
        "snekner_git": {"at_start": git_at_start, "at_end": git_info()},
        "machine": machine(),
        "targets": TARGETS,
        "figures": figures,
        "phases": phases,
    }
    print()
    rows = build_table(result)
    result["table"] = print_table(rows)
    result["verdicts"] = {"prep": figures["prep"]["speedup"] >= TARGETS["prep"],
                          "train_whole_epoch": tr["speedup_whole_epoch"] >= TARGETS["train"],
                          "train_steady": tr["speedup_steady"] >= TARGETS["train"],
                          "eval": figures["eval"]["speedup"] >= TARGETS["eval"]}
    result["total_seconds"] = time.perf_counter() - started_wall
    threads = {ph: phases[ph].get("os_threads_at_end") for ph in phases}
    cpu_use = {ph: round((phases[ph]["cpu_user_seconds"] + phases[ph]["cpu_system_seconds"]) / phases[ph]["process_wall_seconds"], 2)
               for ph in phases}
    result["threads"] = {"os_threads_per_child_at_end": threads, "cpu_seconds_per_wall_second": cpu_use,
                         "note": "no thread pinning: TF and tokenizers use their default pools (one thread per visible core)"}
    if result["snekner_git"]["at_start"] != result["snekner_git"]["at_end"]:
        print("WARNING: the snekner checkout changed during the run; phases may have measured different code")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\n{machine()['cores_available_to_process']} cores visible; CPU-seconds per wall-second by phase: {cpu_use}")
    print(f"training: snekner {phases['snekner-train']['devices']['description'] if phases['snekner-train'].get('devices') else ''}; "
          f"reference Keras jit_compile={phases['ref-train']['jit_compile']}")
    for ph in phases:
        if "-train" not in ph:
            continue
        key = "fit_breakdown_seconds" if ph.startswith("ref") else "epoch_breakdown_seconds"
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in phases[ph][key].items())
        print(f"{ph} whole epoch = {parts}")
    for i, (r, k) in enumerate(zip(tr["ref"]["rounds"], tr["snekner"]["rounds"])):
        print(f"train round {i + 1}: whole-epoch ratio {k['whole_epoch_sentences_per_s'] / r['whole_epoch_sentences_per_s']:.2f}x, "
              f"steady ratio {k['steady_sentences_per_s'] / r['steady_sentences_per_s']:.2f}x "
              f"(ref {r['steady_sentences_per_s']:.1f}, snekner {k['steady_sentences_per_s']:.1f} sentences/s)")
    print(f"features identical: {phases['verify']['identical']}; snekner eval F1 on these sentences "
          f"{phases['snekner-eval']['f1_on_these_sentences']:.3f}")
    print(f"total {result['total_seconds']:.0f} s; wrote {out} (child logs in {logs})")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--_child":
        child_main(*sys.argv[2:5])
    else:
        main()
