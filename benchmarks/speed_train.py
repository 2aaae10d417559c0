"""Speed of training: one epoch on each side, step by step.

train  one epoch over the first N English training sentences, batch 16, lr 3e-4.
       Reference: build_token_classifier + prepare_tf_dataset(DataCollatorForTokenClassification)
       + Keras compile(Adam) + fit(epochs=1). snekner: snekner.training.train.train with epochs=1
       on a copy of its prepared data holding only those N training sentences and NO validation
       split, so the task's validation returns None and no validation runs at all.
       Model loading is excluded on both sides.
       - whole epoch: reference = the model.fit() call; snekner = the epoch's `train_seconds`
         (TrainingLoop.run: from building the tf.data pipeline to the last step). Both include the
         first-step tracing.
       - steady state: from the start of step W+1 to the end of the last step (W =
         --warmup-steps, default 3: the first step traces the step function; snekner before
         a709aec also retraced on the second batch width).
       - sentences per CPU-second over the steady steps (time.process_time of the child, all
         its threads): less sensitive than wall clock to other jobs on a shared machine.
       Step times come from Keras batch callbacks (reference) and from a snekner training
       callback, SneknerStepTimer below, passed to train(callbacks=...): each step from just
       before the compiled step function to the end of the step, the loss fetched.
       tokens: useful = real sub-words (attention_mask sum, [CLS]/[SEP] included, padding
       excluded); padded = batch x padded width, what the model actually computes.
       FLOPs (training, per token of a sequence of length T):
             6 * N_ne + 12 * L * T * d
       N_ne = parameters without the embedding matrices (encoder layers + classifier head),
       L = layers, d = hidden size (PaLM, Chowdhery et al. 2022, appendix B: 6N for the dense
       matmuls forward+backward, 12*L*T*d for QK^T and AV forward+backward).
       padded FLOP/s: summed over padded batches (T = batch width); useful FLOP/s: summed over
       sentences with T = the sentence's own length.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from _harness import subset_prepared

from snekner.training.callbacks import Callback


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


class SneknerStepTimer(Callback):
    """Wall and CPU clock of every step, from just before the compiled step function to the end
    of the step (the loop has fetched its loss by then), with each batch's shape and attention
    mask, and each epoch's start and end.

    The epoch ends at its start plus the loop's own `train_seconds`: the clock of `whole epoch`.
    The masks are kept as tensors and summed after training, not in a step.
    """

    def __init__(self):
        self.steps: list = []  # (start, end, input_ids shape, attention mask, CPU start, CPU end)
        self.epoch_starts: list[float] = []
        self.epoch_ends: list[float] = []

    def on_train_begin(self, loop, state):
        self.trainer = loop

    def on_epoch_begin(self, state):
        self.epoch_starts.append(time.perf_counter())

    def on_step_begin(self, state, batch):
        self.batch, self.cpu_started, self.started = batch, time.process_time(), time.perf_counter()

    def on_step_end(self, state, loss_sum, label_count):
        ended, cpu_ended = time.perf_counter(), time.process_time()
        self.steps.append((self.started, ended, self.batch["input_ids"].shape, self.batch["attention_mask"], self.cpu_started, cpu_ended))

    def on_epoch_end(self, state, entry, scores):
        self.epoch_ends.append(self.epoch_starts[-1] + entry["train_seconds"])


def phase_snekner_train(spec: dict) -> dict:
    import numpy as np

    from snekner.training.options import TrainOptions
    from snekner.training.train import train

    subset = Path(spec["work"]) / f"snekner-train-data-{spec['round']}"
    subset_prepared(Path(spec["snekner_prep_dir"]), subset, spec["train_sentences"])
    timer = SneknerStepTimer()
    log_lines: list[str] = []
    options = TrainOptions(epochs=1, batch_size=spec["batch_size"], learning_rate=spec["learning_rate"], seed=spec["seed"])
    t0 = time.perf_counter()
    run = train(subset, f"bench-{spec['round']}", Path(spec["work"]) / "runs", options, log=log_lines.append, callbacks=[timer])
    total_seconds = time.perf_counter() - t0
    epoch = run.manifest.timings
    history_path = run.path / "metrics.jsonl"
    history = [json.loads(x) for x in history_path.read_text().splitlines()]
    steps = timer.steps
    base = steps[0][0] if steps else 0.0
    batches = []
    for _, _, shape, mask, _, _ in steps:
        lengths = np.sum(mask.numpy(), axis=1)
        batches.append([int(shape[0]), int(shape[1]), int(lengths.sum()), int((lengths ** 2).sum())])
    trainer = timer.trainer
    return {
        "epoch_train_seconds": epoch["per_epoch_seconds"][0],
        "epoch_breakdown_seconds": {
            "before_first_step (make_dataset, distribute, first fetch)": steps[0][0] - timer.epoch_starts[0],
            "steps (first step start to last step end)": steps[-1][1] - steps[0][0],
            "after_last_step (loop exit: tf.data iterator teardown)": timer.epoch_ends[0] - steps[-1][1],
        },
        "train_call_seconds_total": total_seconds,
        "history": history,
        "step_times": [[a - base, b - base] for a, b, *_ in steps],
        "step_cpu_times": [[c, d] for *_, c, d in steps],
        "step_times_offset_note": "relative to the first step's start (the epoch timer starts earlier, at make_dataset)",
        "batches": batches,
        "train_rows": len(trainer.task.train_data),
        "train_subwords_total": int(trainer.task.train_data.lengths.sum()),
        "devices": run.manifest.devices,
        "log": log_lines,
        "model_dir": str(run.model_dir),
        "model": _model_dims(trainer.model),
    }


def flops_per_token(model: dict, seq_len: float) -> float:
    """Training FLOPs per token of a length-`seq_len` sequence: 6*N_ne + 12*L*T*d (see module doc)."""
    return 6.0 * model["n_params_nonembedding"] + 12.0 * model["layers"] * seq_len * model["hidden"]


def train_figures(res: dict, whole_seconds: float, warmup: int) -> dict:
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


def training_figures(phases: dict, warmup: int) -> dict:
    """Both sides' figures, each the mean over its rounds, and the speed-ups."""
    figures = {
        "ref": mean_figures([train_figures(phases[p], phases[p]["fit_seconds"], warmup)
                             for p in phases if p.startswith("ref-train")]),
        "snekner": mean_figures([train_figures(phases[p], phases[p]["epoch_train_seconds"], warmup)
                                 for p in phases if p.startswith("snekner-train")]),
        "rounds_note": "figures are means over the training rounds; per-round values under 'rounds'",
        "flops_formula": "per token: 6*N_nonembedding + 12*layers*T*hidden; padded: T = batch width; "
                         "useful: T = each sentence's own real length",
        "model": phases["snekner-train"]["model"],
    }
    figures["speedup_whole_epoch"] = figures["snekner"]["whole_epoch_sentences_per_s"] / figures["ref"]["whole_epoch_sentences_per_s"]
    figures["speedup_steady"] = figures["snekner"]["steady_sentences_per_s"] / figures["ref"]["steady_sentences_per_s"]
    return figures


def add_train_rows(table, t: dict, target: float) -> None:
    ref, snk = t["ref"], t["snekner"]
    table.add(f"train: sentences/s, whole epoch ({ref['sentences']:.0f} / {snk['sentences']:.0f} sent., mean of {len(snk['rounds'])} rounds)",
              ref["whole_epoch_sentences_per_s"], snk["whole_epoch_sentences_per_s"],
              snk["whole_epoch_sentences_per_s"] / ref["whole_epoch_sentences_per_s"], "", target)
    table.add(f"train: sentences/s, steady state (after {snk['warmup_steps_excluded']:.0f} steps)", ref["steady_sentences_per_s"],
              snk["steady_sentences_per_s"], snk["steady_sentences_per_s"] / ref["steady_sentences_per_s"], "", target)
    table.add("train: sentences per CPU-second, steady (load-robust)", ref["steady_sentences_per_cpu_s"],
              snk["steady_sentences_per_cpu_s"], snk["steady_sentences_per_cpu_s"] / ref["steady_sentences_per_cpu_s"])
    table.add("train: CPU-seconds per wall-second in steady steps", ref["steady_cpu_per_wall"], snk["steady_cpu_per_wall"], None)
    for key, label in (("whole_epoch_useful_tokens_per_s", "train: useful tokens/s, whole epoch"),
                       ("steady_useful_tokens_per_s", "train: useful tokens/s, steady"),
                       ("steady_padded_tokens_per_s", "train: padded tokens/s, steady")):
        table.add(label, ref[key], snk[key], snk[key] / ref[key])
    for key, label in (("steady_flops_per_s_padded", "train: FLOP/s on padded tokens, steady"),
                       ("steady_flops_per_s_useful", "train: FLOP/s on useful tokens, steady"),
                       ("whole_epoch_flops_per_s_padded", "train: FLOP/s on padded tokens, whole"),
                       ("whole_epoch_flops_per_s_useful", "train: FLOP/s on useful tokens, whole")):
        table.add(label, ref[key], snk[key], snk[key] / ref[key], "flops")
    table.add("train: padding overhead (padded/useful - 1)", ref["padding_overhead"], snk["padding_overhead"], None)


def print_train_details(phases: dict, t: dict) -> None:
    """Where each epoch's time went, and each round's ratios."""
    print(f"training: snekner {phases['snekner-train']['devices']['description'] if phases['snekner-train'].get('devices') else ''}; "
          f"reference Keras jit_compile={phases['ref-train']['jit_compile']}")
    for ph in phases:
        if "-train" not in ph:
            continue
        key = "fit_breakdown_seconds" if ph.startswith("ref") else "epoch_breakdown_seconds"
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in phases[ph][key].items())
        print(f"{ph} whole epoch = {parts}")
    for i, (r, k) in enumerate(zip(t["ref"]["rounds"], t["snekner"]["rounds"])):
        print(f"train round {i + 1}: whole-epoch ratio {k['whole_epoch_sentences_per_s'] / r['whole_epoch_sentences_per_s']:.2f}x, "
              f"steady ratio {k['steady_sentences_per_s'] / r['steady_sentences_per_s']:.2f}x "
              f"(ref {r['steady_sentences_per_s']:.1f}, snekner {k['steady_sentences_per_s']:.1f} sentences/s)")
