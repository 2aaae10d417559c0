"""float32 against bfloat16 matrix multiplies (issue 23): training, eval and predict, in one run, and where a step's time goes.

Usage (from the repository root):

    .venv/bin/python benchmarks/precision.py [--train-sentences 4000] [--threads 1] [--rounds 1]
        [--data ../shared/data/wikineural] [--lang en] [--model DIR] [--profile] [--onnx] [--out FILE.json]

Every phase runs in a fresh process, float32 and bfloat16 alternating (ABBA over --rounds), on the same prepared data:

  peak     one thread's matrix-multiply rate in float32 and in bfloat16 (oneDNN; AMX tiles for bfloat16), on a
           large product (2048 x 2048 x 2048) and on one of a training step's own shape (560 x 384 x 1536): the
           core peak the FLOP/s below are set against.
  train    one epoch over the first --train-sentences English training sentences, snekner's defaults but for the
           precision (`mixed_precision` False or True), no validation split. Steady sentences/s and FLOP/s on
           useful tokens over the steps after the first 3, as benchmarks/speed_train.py counts them.
  eval     `snekner eval` of the run just trained on the whole test split, in the same precision (the predictions'
           sentences/s as the eval JSON records them, and test F1).
  predict  `snekner.load(run)` tagging the test sentences' words (raw tokens: no word splitting), sentences/s.
           Both run once more for the float32 run through the model's own Keras layers (`float32_keras_layers`):
           prediction as it was before it fused each dense layer with its bias and GELU (freeze_for_prediction),
           the float32 baseline the issue measured. Fused float32 is the like-for-like baseline of bfloat16.
  profile  (--profile) a TensorFlow profiler trace of training steps 20-40 on one thread, for float32, bfloat16 matmuls
           and Keras' `mixed_bfloat16` policy (everything in bfloat16; what --mixed-precision meant before issue 23),
           and milliseconds a step per kind of op: the table in the README. Then the same for the forward pass over
           the test split (float32 through Keras' layers, fused float32, fused bfloat16), per 1,000 sentences.
  onnx     (--onnx) ONNX Runtime, float32, on the float32 run exported with `snekner export --format onnx`: the
           forward pass alone over eval's batches (no scoring), against eval's sentences/s.

--threads 1 (the default) runs each phase on one core (TF_NUM_INTRAOP_THREADS=1, TF_NUM_INTEROP_THREADS=1), as
benchmarks/quality.py does: ops add up, and other jobs matter less; --threads 0 leaves TensorFlow's defaults (every
core). FLOPs: training 6 N + 12 L T d a token, prediction 2 N + 4 L T d (N: parameters without embeddings, L layers,
T the sentence's own sub-words, d hidden size; see benchmarks/speed_train.py).
"""
from __future__ import annotations

import argparse
import collections
import datetime as dt
import glob
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
PRECISIONS = {"float32": False, "bfloat16": True}
KERAS = "float32_keras_layers"  # float32 prediction through the unfused Keras layers, as before the fusion
PROFILE_STEPS = (20, 40)  # global steps traced: after the first traces, before the epoch's end


# ============================================================================================= children
def child_peak(spec: dict) -> dict:
    import tensorflow as tf

    out = {}
    for name, (m, k, n) in {"large": (2048, 2048, 2048), "step": (560, 384, 1536)}.items():
        for dtype in (tf.float32, tf.bfloat16):
            a = tf.cast(tf.random.normal([m, k]), dtype)
            b = tf.cast(tf.random.normal([k, n]), dtype)
            product = tf.function(lambda a, b: tf.matmul(a, b))
            product(a, b).numpy()
            repeats, started = 0, time.perf_counter()
            while time.perf_counter() - started < 2.0:
                result = product(a, b)
                repeats += 1
            result.numpy()
            seconds = (time.perf_counter() - started) / repeats
            out[f"{name}_{dtype.name}_gflops"] = 2 * m * k * n / seconds / 1e9
    return out


def _train(spec: dict, callbacks=()):
    from snekner.training.options import TrainOptions
    from snekner.training.train import train

    options = TrainOptions(epochs=1, seed=spec["seed"], mixed_precision=spec["mixed_precision"])
    return train(Path(spec["data"]), spec["name"], Path(spec["runs"]), options, overwrite=True, callbacks=list(callbacks))


def child_train(spec: dict) -> dict:
    from speed_train import SneknerStepTimer, _model_dims, train_figures

    import numpy as np

    timer = SneknerStepTimer()
    run = _train(spec, [timer])
    batches = []
    for _, _, shape, mask, _, _ in timer.steps:
        lengths = np.sum(mask.numpy(), axis=1)
        batches.append([int(shape[0]), int(shape[1]), int(lengths.sum()), int((lengths ** 2).sum())])
    steps = timer.steps
    res = {"batches": batches, "model": _model_dims(timer.trainer.model), "step_times": [[a - steps[0][0], b - steps[0][0]] for a, b, *_ in steps],
           "step_cpu_times": [[c, d] for *_, c, d in steps]}
    figures = train_figures(res, run.manifest.timings["per_epoch_seconds"][0], warmup=3)
    return {"figures": figures, "model": res["model"], "precision": run.manifest.devices["precision"], "run": str(run.path)}


def _test_tokens(spec: dict) -> dict:
    """The test split's sub-words: their sum and the sum of their squares over sentences (for the FLOPs)."""
    from snekner.store.prepared import load_prepared

    lengths = [len(ids) for ids in load_prepared(Path(spec["data"])).split("test")["input_ids"]]
    return {"tokens": sum(lengths), "tokens_squared": sum(n * n for n in lengths)}


def _keras_layers_as_built(spec: dict) -> None:
    """For spec["keras_layers"]: prediction through the model's own Keras layers, as before prediction fused its dense
    layers (freeze_for_prediction a no-op): the float32 baseline of the issue's measurement."""
    if spec.get("keras_layers"):
        from snekner.modeling import precision

        precision.freeze_for_prediction = lambda model, bfloat16: 0


def child_eval(spec: dict) -> dict:
    from snekner import api

    _keras_layers_as_built(spec)

    evaluation = api.evaluate(spec["run"], runs_dir=spec["runs"], mixed_precision=spec["mixed_precision"], log=lambda m: None)
    return {"f1": evaluation.overall.f1, "sentences_per_s": evaluation.sentences_per_second, "seconds": evaluation.prediction_seconds,
            "precision": evaluation.precision, "sentences": evaluation.n_sentences, **_test_tokens(spec)}


def child_predict(spec: dict) -> dict:
    from snekner import api
    from snekner.store.prepared import load_prepared

    _keras_layers_as_built(spec)
    tagger = api.load(spec["run"], runs_dir=spec["runs"], mixed_precision=spec["mixed_precision"])
    words = load_prepared(Path(spec["data"])).split("test")["tokens"]
    tagger(tokens=words[:200])  # traced once, before the clock
    started = time.perf_counter()
    tagged = tagger(tokens=words)
    seconds = time.perf_counter() - started
    return {"sentences_per_s": len(words) / seconds, "seconds": seconds, "sentences": len(words), "entities": sum(len(e) for e in tagged),
            "precision": tagger.precision, **_test_tokens(spec)}


def child_onnx(spec: dict) -> dict:
    """ONNX Runtime (float32, its default graph optimisations, --threads threads) on `snekner export --format onnx`'s
    model: the forward pass over the test sentences in eval's order and batches (sorted by length, 32 a batch)."""
    import numpy as np
    import onnxruntime as ort

    from snekner import api
    from snekner.modeling.batches import evaluation_order
    from snekner.modeling.export import ONNX_FILE
    from snekner.store.prepared import load_prepared

    folder = Path(spec["runs"]).parent / f"onnx-{Path(spec['run']).name}"
    if not (folder / ONNX_FILE).is_file():
        api.export(spec["run"], out=folder, format="onnx", overwrite=True)
    options = ort.SessionOptions()
    options.intra_op_num_threads = spec["threads"] or 0
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(folder / ONNX_FILE), options, providers=["CPUExecutionProvider"])
    rows = load_prepared(Path(spec["data"])).split("test")["input_ids"]
    lengths = np.array([len(r) for r in rows])
    order = evaluation_order(lengths)
    batches = []
    for start in range(0, len(order), 32):
        index = order[start:start + 32]
        width = int(lengths[index].max())
        ids = np.zeros((len(index), width), np.int64)
        for row, i in enumerate(index):
            ids[row, :lengths[i]] = rows[i]
        mask = (np.arange(width)[None, :] < lengths[index][:, None]).astype(np.int64)
        batches.append({"input_ids": ids, "attention_mask": mask})
    session.run(None, batches[0])
    started = time.perf_counter()
    for batch in batches:
        session.run(None, batch)
    seconds = time.perf_counter() - started
    return {"sentences_per_s": len(rows) / seconds, "seconds": seconds, "onnxruntime": ort.__version__}


def child_profile(spec: dict) -> dict:
    import tensorflow as tf

    from snekner.training.callbacks import Callback

    if spec["policy"] == "keras_mixed_bfloat16":  # what --mixed-precision did on a CPU before issue 23
        import snekner.modeling.devices as devices

        devices.pick_precision = lambda *args, **kwargs: "mixed_bfloat16"

    class Trace(Callback):
        def on_step_begin(self, state, batch):
            if state.global_step == PROFILE_STEPS[0]:
                tf.profiler.experimental.start(spec["trace"])

        def on_step_end(self, state, loss_sum, label_count):
            if state.global_step == PROFILE_STEPS[1]:
                tf.profiler.experimental.stop()

    _train(spec, [Trace()])
    return {"breakdown": op_breakdown(spec["trace"]), "steps": PROFILE_STEPS[1] - PROFILE_STEPS[0]}


def child_profile_predict(spec: dict) -> dict:
    """A profiler trace of the forward pass over the test split (eval's batches, after a first pass that traces it), for
    one of PREDICTION_POLICIES, on the same float32-trained run."""
    import tensorflow as tf

    from snekner.modeling.batches import EncodedSplit
    from snekner.modeling.forward import flat_subword_predictions
    from snekner.modeling.models import load_trained
    from snekner.modeling.precision import for_prediction
    from snekner.store.prepared import load_prepared

    _keras_layers_as_built({"keras_layers": spec["policy"] == KERAS})
    model, _ = for_prediction(load_trained(Path(spec["run"]) / "model"), spec["policy"] == "bfloat16_matmuls")
    data = EncodedSplit.from_split(load_prepared(Path(spec["data"])).split("test"), 0, with_labels=False)
    flat_subword_predictions(model, data)
    tf.profiler.experimental.start(spec["trace"])
    flat_subword_predictions(model, data)
    tf.profiler.experimental.stop()
    return {"breakdown": op_breakdown(spec["trace"]), "sentences": len(data)}


# what kind of work an op is, by its name (TensorFlow's scopes) and type; the first match counts
KINDS = (
    ("dense products", lambda name, op: op in ("_MklMatMul", "MatMul", "_MklFusedMatMul", "_MklNativeFusedMatMul")),
    ("attention products", lambda name, op: "BatchMatMul" in op),
    ("casts to and from bfloat16", lambda name, op: op == "Cast"),
    ("optimizer and clipping", lambda name, op: op in ("ResourceApplyAdam", "ResourceApplyAdamWithAmsgrad", "L2Loss")
     or "clip" in name.lower() or "global_norm" in name or "Adam" in name),
    ("GELU", lambda name, op: "Gelu" in name or "gelu" in name or op in ("Erf", "Erfc")),
    ("dropout", lambda name, op: "dropout" in name.lower() or op in ("RandomUniform", "StatelessRandomUniformV2")),
    ("layer norm", lambda name, op: "LayerNorm" in name or "layer_norm" in name.lower()),
    ("softmax and masks", lambda name, op: "Softmax" in op or "attention" in name.lower()),
    ("bias adds", lambda name, op: op.startswith("BiasAdd")),
    ("embeddings", lambda name, op: "embeddings" in name),
    ("loss", lambda name, op: "loss" in name.lower() or "sparse" in name.lower()),
)


def op_breakdown(trace_dir: str) -> dict:
    """Seconds of op execution per kind (KINDS, "other") in a profiler trace's TensorFlow compute threads."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    space.ParseFromString(Path(glob.glob(f"{trace_dir}/plugins/profile/*/*.xplane.pb")[0]).read_bytes())
    host = next(p for p in space.planes if p.name == "/host:CPU")
    seconds: collections.Counter = collections.Counter()
    for line in host.lines:
        if not line.name.startswith("tf_Compute"):
            continue
        for event in line.events:
            full = host.event_metadata[event.metadata_id].name
            if ":" not in full or full.startswith("ExecutorState"):  # the executor's own events (around the ops), not ops
                continue
            name, op = full.rsplit(":", 1)
            kind = next((k for k, test in KINDS if test(name, op)), "other")
            seconds[kind] += event.duration_ps / 1e12
    return dict(seconds)


CHILDREN = {"peak": child_peak, "train": child_train, "eval": child_eval, "predict": child_predict, "profile": child_profile,
            "profile_predict": child_profile_predict, "onnx": child_onnx}
PREDICTION_POLICIES = (KERAS, "float32", "bfloat16_matmuls")


# ============================================================================================= parent
def run_child(kind: str, spec: dict, work: Path, threads: int) -> dict:
    spec_path, out_path = work / f"spec-{kind}-{spec.get('tag', '')}.json", work / f"out-{kind}-{spec.get('tag', '')}.json"
    spec_path.write_text(json.dumps(spec))
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "HF_DATASETS_OFFLINE": "1", "HF_DATASETS_CACHE": str(work / "hf-cache")}
    if threads:
        env.update(TF_NUM_INTRAOP_THREADS=str(threads), TF_NUM_INTEROP_THREADS="1")
    started = time.perf_counter()
    with open(work / f"{kind}-{spec.get('tag', '')}.log", "w") as log:
        proc = subprocess.run([sys.executable, __file__, "--_child", kind, str(spec_path), str(out_path)], stdout=log, stderr=subprocess.STDOUT,
                              env=env, cwd=str(REPO))
    if proc.returncode:
        raise SystemExit(f"{kind} ({spec.get('tag')}) failed; see {log.name}")
    result = json.loads(out_path.read_text())
    result["process_seconds"] = time.perf_counter() - started
    return result


def prepared_data(args, work: Path, sentences: int) -> Path:
    """The prepared data of --lang: its first `sentences` training sentences and the test split (no validation)."""
    from _harness import subset_prepared

    from snekner import api

    full = work / f"prepared-{args.lang}"
    if not full.is_dir():
        api.prep(args.data, out=full, lang=args.lang, model=args.model, tagset=str(REPO / "tagsets" / "wikineural.json"), log=lambda m: None)
    subset = work / f"prepared-{args.lang}-train{sentences}"
    if not subset.is_dir():
        subset_prepared(full, subset, sentences, keep=("train", "test"))
    return subset


def ratio(results: dict, phase: str, key: str) -> float:
    return results["bfloat16"][phase][key] / results["float32"][phase][key]


def mean_rounds(rounds: list[dict]) -> dict:
    """Each precision's figures averaged over the rounds."""
    out: dict = {}
    for precision in (*PRECISIONS, KERAS):
        out[precision] = {}
        for phase in ("train", "eval", "predict") if precision in PRECISIONS else ("eval", "predict"):
            values = [r[precision][phase] for r in rounds]
            flat = {k: v for k, v in (values[0]["figures"] if phase == "train" else values[0]).items() if isinstance(v, (int, float))}
            out[precision][phase] = {k: sum((v["figures"] if phase == "train" else v)[k] for v in values) / len(values) for k in flat}
    return out


def breakdown_table(profile: dict, per: str, scale) -> str:
    """Per kind of op (rows, by the first profile's time) and profile (columns): milliseconds `per` one (scale(p): how
    many of them a profile p covers), with their sum."""
    from tabulate import tabulate

    first = next(iter(profile.values()))["breakdown"]
    kinds = sorted({k for p in profile.values() for k in p["breakdown"]}, key=lambda k: -first.get(k, 0))
    ms = {name: {k: 1000 * p["breakdown"].get(k, 0) / scale(p) for k in kinds} for name, p in profile.items()}
    table = [[k, *(f"{ms[name][k]:.1f}" for name in profile)] for k in kinds]
    table.append(["all ops", *(f"{sum(ms[name].values()):.1f}" for name in profile)])
    return f"ms {per}:\n" + tabulate(table, headers=["", *profile], tablefmt="github")


def report(results: dict, peak: dict, model: dict, profile: dict | None, prediction_profile: dict) -> str:
    from tabulate import tabulate

    f, b = results["float32"], results["bfloat16"]
    gf = lambda x: f"{x / 1e9:.0f}"  # noqa: E731
    rows = [
        ["train: steady sentences/s", f"{f['train']['steady_sentences_per_s']:.1f}", f"{b['train']['steady_sentences_per_s']:.1f}",
         f"{ratio(results, 'train', 'steady_sentences_per_s'):.2f}x"],
        ["train: whole epoch sentences/s", f"{f['train']['whole_epoch_sentences_per_s']:.1f}", f"{b['train']['whole_epoch_sentences_per_s']:.1f}",
         f"{ratio(results, 'train', 'whole_epoch_sentences_per_s'):.2f}x"],
        ["train: GFLOP/s on useful tokens", gf(f["train"]["steady_flops_per_s_useful"]), gf(b["train"]["steady_flops_per_s_useful"]), ""],
        ["train: share of the core's measured peak", f"{f['train']['steady_flops_per_s_useful'] / 1e9 / peak['large_float32_gflops']:.0%}",
         f"{b['train']['steady_flops_per_s_useful'] / 1e9 / peak['large_bfloat16_gflops']:.0%}", ""],
        ["eval: sentences/s", f"{f['eval']['sentences_per_s']:.0f}", f"{b['eval']['sentences_per_s']:.0f}",
         f"{ratio(results, 'eval', 'sentences_per_s'):.2f}x"],
        ["eval: test F1", f"{f['eval']['f1']:.5f}", f"{b['eval']['f1']:.5f}", f"{b['eval']['f1'] - f['eval']['f1']:+.5f}"],
        ["predict: sentences/s", f"{f['predict']['sentences_per_s']:.0f}", f"{b['predict']['sentences_per_s']:.0f}",
         f"{ratio(results, 'predict', 'sentences_per_s'):.2f}x"],
        ["matmul peak GFLOP/s (2048^3)", f"{peak['large_float32_gflops']:.0f}", f"{peak['large_bfloat16_gflops']:.0f}",
         f"{peak['large_bfloat16_gflops'] / peak['large_float32_gflops']:.2f}x"],
        ["matmul GFLOP/s at a step's shape (560x384x1536)", f"{peak['step_float32_gflops']:.0f}", f"{peak['step_bfloat16_gflops']:.0f}",
         f"{peak['step_bfloat16_gflops'] / peak['step_float32_gflops']:.2f}x"],
    ]
    k = results[KERAS]
    for phase in ("eval", "predict"):  # the float32 baseline: the same float32 model through unfused Keras layers
        rows.insert(-2, [f"{phase}: sentences/s, float32 through Keras' own layers", f"{k[phase]['sentences_per_s']:.0f}", "",
                         f"{b[phase]['sentences_per_s'] / k[phase]['sentences_per_s']:.2f}x"])
    rows.insert(-2, ["eval: test F1, float32 through Keras' own layers", f"{k['eval']['f1']:.5f}", "", f"{f['eval']['f1'] - k['eval']['f1']:+.5f} (fused float32 - it)"])
    for phase in ("eval", "predict"):  # forward FLOPs on useful tokens: 2 N + 4 L T d a token
        flops = [(2 * model["n_params_nonembedding"] * r[phase]["tokens"] + 4 * model["layers"] * model["hidden"] * r[phase]["tokens_squared"])
                 / r[phase]["seconds"] for r in (f, b)]
        rows.insert(-2, [f"{phase}: GFLOP/s on useful tokens (share of peak)", f"{gf(flops[0])} ({flops[0] / 1e9 / peak['large_float32_gflops']:.0%})",
                         f"{gf(flops[1])} ({flops[1] / 1e9 / peak['large_bfloat16_gflops']:.0%})", ""])
    text = tabulate(rows, headers=["", "float32", "bfloat16 matmuls", "ratio"], tablefmt="github")
    if profile:
        text += "\n\n" + breakdown_table(profile, "a training step, one thread (profiler, steps {}-{})".format(*PROFILE_STEPS),
                                          lambda p: p["steps"])
    if prediction_profile:
        text += "\n\n" + breakdown_table(prediction_profile, "per 1,000 test sentences' forward pass, one thread (profiler; "
                                          "dense products include the bias and GELU fused into them)", lambda p: p["sentences"] / 1000)
    return text


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "wikineural"))
    p.add_argument("--lang", default="en")
    p.add_argument("--model", default=None, help="model folder (default: ../shared/tools/pretrained-minilm)")
    p.add_argument("--train-sentences", type=int, default=4000)
    p.add_argument("--threads", type=int, default=1, help="TensorFlow threads per phase (0: its default, every core)")
    p.add_argument("--rounds", type=int, default=1, help="float32/bfloat16 pairs, ABBA")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--profile", action="store_true", help="also the per-op profile of a training step (float32, bfloat16, Keras mixed_bfloat16)")
    p.add_argument("--onnx", action="store_true", help="also ONNX Runtime on the exported model (needs the onnx extra)")
    p.add_argument("--work", default=str(REPO / "benchmarks" / "results" / "precision-work"))
    p.add_argument("--out", default=None)
    p.add_argument("--_child", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._child:
        kind, spec, out = args._child
        Path(out).write_text(json.dumps(CHILDREN[kind](json.loads(Path(spec).read_text()))))
        return
    if args.model is None:
        from _harness import default_model

        args.model = default_model()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    train_data = prepared_data(args, work, args.train_sentences)
    runs = work / "runs"
    peak = run_child("peak", {"tag": "peak"}, work, 1)
    rounds = []
    for r in range(args.rounds):
        order = list(PRECISIONS) if r % 2 == 0 else list(reversed(PRECISIONS))
        result: dict = {}
        for precision in order:
            spec = {"tag": f"{precision}-{r}", "data": str(train_data), "runs": str(runs), "seed": args.seed,
                    "name": f"{precision}-{r}", "mixed_precision": PRECISIONS[precision]}
            trained = run_child("train", spec, work, args.threads)
            spec["run"] = trained["run"]
            result[precision] = {"train": trained, "eval": run_child("eval", spec, work, args.threads),
                                 "predict": run_child("predict", spec, work, args.threads)}
            if precision == "float32":  # the same model through its unfused Keras layers: prediction before it was fused
                keras = {**spec, "tag": f"keras-{r}", "keras_layers": True}
                result[KERAS] = {"eval": run_child("eval", keras, work, args.threads), "predict": run_child("predict", keras, work, args.threads)}
            print(f"round {r + 1}: {precision} trained ({trained['precision']}), "
                  f"{trained['figures']['steady_sentences_per_s']:.1f} sentences/s", flush=True)
        rounds.append(result)
    profile, prediction_profile = None, {}
    if args.profile:
        profile = {}
        for policy in ("float32", "bfloat16_matmuls", "keras_mixed_bfloat16"):
            trace = work / f"trace-{policy}"
            shutil.rmtree(trace, ignore_errors=True)
            spec = {"tag": f"profile-{policy}", "data": str(prepared_data(args, work, 800)), "runs": str(runs), "seed": args.seed,
                    "name": f"profile-{policy}", "mixed_precision": policy == "bfloat16_matmuls", "policy": policy, "trace": str(trace)}
            profile[policy] = run_child("profile", spec, work, 1)
        for policy in PREDICTION_POLICIES:
            trace = work / f"trace-predict-{policy}"
            shutil.rmtree(trace, ignore_errors=True)
            spec = {"tag": f"predict-{policy}", "data": str(train_data), "run": rounds[0]["float32"]["train"]["run"], "policy": policy,
                    "trace": str(trace)}
            prediction_profile[policy] = run_child("profile_predict", spec, work, 1)
    results = mean_rounds(rounds)
    text = report(results, peak, rounds[0]["float32"]["train"]["model"], profile, prediction_profile)
    onnx = None
    if args.onnx:
        spec = {"tag": "onnx", "data": str(train_data), "runs": str(runs), "run": rounds[0]["float32"]["train"]["run"], "threads": args.threads}
        onnx = run_child("onnx", spec, work, args.threads)
        text += (f"\n\nONNX Runtime {onnx['onnxruntime']} (float32) on the exported float32 run, eval's batches: "
                 f"{onnx['sentences_per_s']:.0f} sentences/s ({onnx['sentences_per_s'] / results['float32']['eval']['sentences_per_s']:.2f}x "
                 f"TensorFlow float32, {onnx['sentences_per_s'] / results['bfloat16']['eval']['sentences_per_s']:.2f}x bfloat16 matmuls)")
    print(text)
    out = Path(args.out) if args.out else REPO / "benchmarks" / "results" / f"precision-{dt.datetime.now():%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps({"args": {k: v for k, v in vars(args).items() if k != "_child"}, "peak": peak, "rounds": rounds,
                               "mean": results, "profile": profile, "prediction_profile": prediction_profile, "onnx": onnx, "table": text}, indent=1))
    print(f"\nwritten: {out}")


if __name__ == "__main__":
    main()
