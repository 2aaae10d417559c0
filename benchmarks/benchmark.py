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
prep   see benchmarks/speed_prep.py
train  see benchmarks/speed_train.py
eval   see benchmarks/speed_eval.py
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
import shutil
import sys
import time
from pathlib import Path

from _harness import HERE, REPO, Table, child_common, default_model, git_info, machine, print_table, run_child, versions
from speed_eval import add_eval_rows, eval_figures, phase_ref_eval, phase_snekner_eval
from speed_prep import add_prep_rows, phase_ref_prep, phase_snekner_prep, phase_verify, prep_figures
from speed_train import add_train_rows, phase_ref_train, phase_snekner_train, print_train_details, training_figures

TARGETS = {"prep": 5.0, "train": 1.5, "eval": 20.0}
CHILDREN = {
    "ref-prep": phase_ref_prep, "snekner-prep": phase_snekner_prep, "verify": phase_verify,
    "ref-train": phase_ref_train, "snekner-train": phase_snekner_train,
    "ref-eval": phase_ref_eval, "snekner-eval": phase_snekner_eval,
}


def phase_plan(train_rounds: int) -> list[str]:
    """Training rounds alternate ABBA (ref, snekner, snekner, ref, ...) so load drift on a shared
    machine hits both sides alike; round k > 1 is named e.g. "snekner-train#2"."""
    plan = ["ref-prep", "snekner-prep", "verify"]
    for k in range(1, train_rounds + 1):
        pair = ["ref-train", "snekner-train"] if k % 2 else ["snekner-train", "ref-train"]
        plan += [p if k == 1 else f"{p}#{k}" for p in pair]
    return plan + ["ref-eval", "snekner-eval"]


def child_main(phase: str, spec_path: str, result_path: str) -> None:
    import snekner  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

    spec = json.loads(Path(spec_path).read_text())
    spec["round"] = int(phase.partition("#")[2] or 1)
    result = CHILDREN[phase.partition("#")[0]](spec)
    Path(result_path).write_text(json.dumps(child_common(result), indent=2))


def build_table(r: dict) -> list[list[str]]:
    table = Table()
    add_prep_rows(table, r["figures"]["prep"], TARGETS["prep"])
    add_train_rows(table, r["figures"]["train"], TARGETS["train"])
    add_eval_rows(table, r["figures"]["eval"], TARGETS["eval"])

    def peak_rss(name):  # the highest over that phase's rounds
        return max(v["peak_rss_mb"] for k, v in r["phases"].items() if k.partition("#")[0] == name)

    for phase in ("prep", "train", "eval"):
        a, b = peak_rss(f"ref-{phase}"), peak_rss(f"snekner-{phase}")
        table.add(f"{phase}: peak RSS MB (ratio = snekner/ref)", a, b, b / a)
    return table.rows


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

    figures = {"prep": prep_figures(phases), "train": training_figures(phases, args.warmup_steps), "eval": eval_figures(phases)}
    tr = figures["train"]
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
    print_train_details(phases, tr)
    print(f"features identical: {phases['verify']['identical']}; snekner eval F1 on these sentences "
          f"{phases['snekner-eval']['f1_on_these_sentences']:.3f}")
    print(f"total {result['total_seconds']:.0f} s; wrote {out} (child logs in {logs})")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--_child":
        child_main(*sys.argv[2:5])
    else:
        main()
