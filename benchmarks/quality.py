"""Quality at equal budget (issues 8 and 21): test F1 of training recipes on the same data, steps and seeds.

Usage (from the repository root):

    .venv/bin/python benchmarks/quality.py equal-budget   # snekner's defaults against the seed-style recipe
    .venv/bin/python benchmarks/quality.py ablation       # one recipe choice at a time, from snekner's old defaults
    SNEKNER_TORCH_PYTHON=/path/to/python .venv/bin/python benchmarks/quality.py versus-pytorch   # against HF's PyTorch Trainer
        [--condition wikineural|fragments|pieces] [--sizes 4000,all] [--epochs 1,3] [--seeds 1,2,3]
        [--variants NAME,...] [--jobs 2] [--data DIR] [--lang en] [--model DIR] [--out FILE.jsonl]

versus-pytorch trains snekner's defaults (--variants adds others: defaults-bucketed, defaults-random, and the
`-tf-init` variants, which keep TensorFlow's own draw of the new head) and Hugging Face's PyTorch
Trainer given snekner's recipe (benchmarks/torch_side.py, run by SNEKNER_TORCH_PYTHON: a Python with torch
and transformers 4.57, never snekner's own environment) on the same prepared sentences, and scores all of
them with snekner's scorer; the table gives each one's test F1 (mean ± sd over seeds), training
sentences/s and the padding share of its batches. --condition picks the data (benchmarks/conditions.py):
English WikiNEuRal as it is, or with short lines that are a kind of their own mixed in.

Every cell (recipe, training sentences, epochs, seed) trains one model from the same pretrained
weights (../shared/tools/pretrained-minilm by default) on the first N English WikiNEuRal training
sentences (`all`: every one), batch 16, learning rate 5e-5, max length 128, and scores it at word
level (conlleval, the first sub-word's prediction stands for the word) on the whole test split,
with snekner's own scorer for every recipe. A cell runs in a fresh process; results are appended
to the JSON-lines file as they finish, and cells already there are skipped, so an interrupted run
continues where it stopped. The table printed at the end gives, per recipe and budget, the mean
and standard deviation over seeds of test F1, the mean per-type F1, and training sentences/s.

--jobs 2 runs two cells at once, each on one core (TF_NUM_INTRAOP_THREADS=1): the F1 does not
depend on it, and the speeds of different recipes stay comparable (all per core); for speed on the
whole machine, see benchmarks/benchmark.py.

Recipes:
  seed-style   what the study's seed project did with TF: HF's token-classification notebook recipe.
               Every sub-word labelled with its word's tag, `model.prepare_tf_dataset` with
               `DataCollatorForTokenClassification` (random batches), Keras `compile` with
               transformers' `AdamWeightDecay` at a constant rate (weight decay 0.01), `fit`; the model's
               own loss. No validation, the last epoch's model.
  defaults     `snekner prep` + `snekner train` with today's defaults.
  old-defaults snekner before issue 8: first sub-word only, linear decay to 0, no clipping, bucketed.
  proposed     clip the gradient at global norm 1, constant rate then a linear decay to 0 over the last
               20% of the steps (stable-decay), every sub-word labelled, bucketed batches.
  proposed-X   proposed with one choice X changed (see VARIANTS): the ablation.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _harness import score_flat_predictions, subset_prepared, torch_python
from conditions import CONDITIONS, dataset_for

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
LEARNING_RATE = 5e-5
BATCH_SIZE = 16
MAX_LENGTH = 128

# name -> (alignment of the prepared data, TrainOptions fields); "defaults" takes TrainOptions() and prep's default
OLD = {"schedule": "linear", "max_grad_norm": 0.0, "batching": "bucketed"}
NEW = {"schedule": "stable-decay", "decay_ratio": 0.2, "max_grad_norm": 1.0, "batching": "bucketed"}
VARIANTS: dict[str, tuple[str | None, dict]] = {
    "seed-style": ("all", {}),  # trained by the reference code below, not by snekner
    "defaults": (None, {}),
    "old-defaults": ("first", OLD),
    "proposed": ("all", NEW),
    "proposed-no-clip": ("all", {**NEW, "max_grad_norm": 0.0}),
    "proposed-first-subword": ("first", NEW),
    "proposed-linear": ("all", {**NEW, "schedule": "linear"}),
    "proposed-constant": ("all", {**NEW, "schedule": "constant"}),
    "proposed-warmup": ("all", {**NEW, "warmup_ratio": 0.1}),
    "proposed-random-batches": ("all", {**NEW, "batching": "random"}),
    "defaults-random": (None, {"batching": "random"}),
    "float32": (None, {"mixed_precision": False}),  # issue 23: today's defaults in float32, and with the dense layers'
    "bfloat16": (None, {"mixed_precision": True}),  # products in bfloat16 (training, and the test predictions too)
    "defaults-balanced": (None, {"batching": "balanced"}),
    "defaults-bucketed": (None, {"batching": "bucketed"}),
    # the classification head as TensorFlow's classes draw it (a normal truncated at 2 sd) instead of as PyTorch's do
    "defaults-bucketed-tf-init": (None, {"batching": "bucketed"}),
    "defaults-random-tf-init": (None, {"batching": "random"}),
    "defaults-balanced-tf-init": (None, {"batching": "balanced"}),
    "pytorch-trainer": ("first", {}),  # Hugging Face's PyTorch Trainer with snekner's recipe (benchmarks/torch_side.py)
}
PRESETS = {
    "equal-budget": ["seed-style", "defaults"],
    "versus-pytorch": ["defaults", "pytorch-trainer"],
    "precision": ["float32", "bfloat16"],
    "ablation": ["seed-style", "old-defaults", "proposed", "proposed-no-clip", "proposed-first-subword", "proposed-linear",
                 "proposed-constant", "proposed-warmup", "proposed-random-batches"],
}


# =============================================================================================
# children: one cell each
# =============================================================================================
def prepared_dir(work: Path, alignment: str) -> Path:
    return work / f"prepared-{alignment}"


def subset(work: Path, alignment: str, size: int | None) -> Path:
    """The prepared data with the first `size` training sentences (None: all), the test split, and no
    validation split: every recipe is scored on its last epoch's model, as the seed project did."""
    dst = work / f"prepared-{alignment}-train{size or 'all'}"
    if not dst.is_dir():
        try:
            subset_prepared(prepared_dir(work, alignment), dst, size, keep=("train", "test"))
        except OSError:  # another job made it first
            pass
    return dst


def test_scores(model, prepared) -> dict:
    from transformers import AutoTokenizer

    from snekner.modeling.forward import gold_word_tags, predict_word_tags
    from snekner.ner.scoring import score

    tokenizer = AutoTokenizer.from_pretrained(str(prepared.path / "tokenizer"))
    rows = prepared.split("test")
    predicted = predict_word_tags(model, rows, prepared.labels, tokenizer.pad_token_id, batch_size=32)
    scores = score(gold_word_tags(rows, prepared.labels), predicted, types=prepared.tagset.types)
    return {"f1": scores["overall"]["f1"], "precision": scores["overall"]["precision"], "recall": scores["overall"]["recall"],
            "per_type_f1": {t: v["f1"] for t, v in scores["per_type"].items()}, "sentences": len(rows)}


def padding_share(lengths, batches) -> float:
    """The share of padding in the sub-word slots of an epoch's batches (EpochBatches; each padded to its longest sentence)."""
    rows = [batches.order[a:b] for a, b in zip(batches.starts[:-1], batches.starts[1:])]
    slots = sum(int(lengths[r].max()) * len(r) for r in rows)
    return 1.0 - float(lengths[batches.order].sum()) / slots


def trained_model(directory: Path, bfloat16: bool | None):
    """A trained model as eval would run it: frozen for prediction, its dense layers multiplying in bfloat16 with
    --mixed-precision (None: as eval's default on this machine)."""
    from snekner.modeling.models import load_trained
    from snekner.modeling.precision import for_prediction

    return for_prediction(load_trained(directory), bfloat16)[0]


def cell_snekner(cell: dict, work: Path) -> dict:
    from snekner.store.prepared import load_prepared
    from snekner.training.options import TrainOptions
    from snekner.training.train import train

    alignment, changes = VARIANTS[cell["variant"]]
    if cell["variant"].endswith("-tf-init"):  # before issue 21: TensorFlow's own draw of the new head
        import snekner.modeling.models as models

        models.draw_head = lambda model, seed: None
    data = subset(work, alignment or default_alignment(), cell["size"])
    options = TrainOptions(epochs=cell["epochs"], batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE, seed=cell["seed"], **changes)
    name = f"{cell['variant']}-{cell['size']}-{cell['epochs']}-{cell['seed']}".replace("+", "_")
    run = train(data, name, work / "runs", options, overwrite=True)
    history = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    seconds = sum(h["train_seconds"] for h in history)
    sentences = len(load_prepared(data).split("train")) * cell["epochs"]
    result = {"options": options.to_manifest(),
              "alignment": alignment or default_alignment(), "train_seconds": seconds, "train_sentences_per_s": sentences / seconds,
              "train_loss_per_epoch": [h["train_loss"] for h in history],
              "test": test_scores(trained_model(run.model_dir, options.mixed_precision), load_prepared(data))}
    import numpy as np

    from snekner.modeling.batches import epoch_batches

    lengths = np.array([len(x) for x in load_prepared(data).split("train")["input_ids"]])
    batches = epoch_batches(lengths, BATCH_SIZE, cell["seed"], 0, options.batching.value)
    result["padding_share"] = padding_share(lengths, batches)
    shutil.rmtree(run.path, ignore_errors=True)
    return result


def cell_pytorch_trainer(cell: dict, work: Path) -> dict:
    """HF's PyTorch Trainer with snekner's recipe on the same prepared sentences, in a Python of its own, its test
    predictions scored here with snekner's scorer (word level, first sub-word), as every other cell's."""
    import numpy as np

    from snekner.modeling.batches import epoch_batches
    from snekner.store.prepared import load_prepared
    from snekner.training.options import TrainOptions

    data = subset(work, "first", cell["size"])
    out = work / "torch" / "-".join(map(str, cell_key(cell)))
    threads = os.environ.get("TF_NUM_INTRAOP_THREADS", str(os.cpu_count()))
    options = TrainOptions()
    subprocess.run([torch_python(), str(HERE / "torch_side.py"), "trainer", "--prepared", str(data), "--model", cell["model"],
                    "--seed", str(cell["seed"]), "--out", str(out), "--threads", threads, "--epochs", str(cell["epochs"]),
                    "--batch-size", str(BATCH_SIZE), "--learning-rate", str(LEARNING_RATE), "--decay-ratio", str(options.decay_ratio),
                    "--max-grad-norm", str(options.max_grad_norm)], check=True)
    result = json.loads((out / "result.json").read_text())
    prepared = load_prepared(data)
    scores = score_flat_predictions(prepared, "test", np.load(out / "test-predictions.npy"))
    lengths = np.array([len(x) for x in prepared.split("train")["input_ids"]])
    shutil.rmtree(out / "trainer", ignore_errors=True)
    return {"train_seconds": result["train_seconds"], "train_sentences_per_s": result["train_sentences_per_s"],
            "train_loss_per_step": result["losses"], "torch": result["torch"], "threads": result["threads"],
            "padding_share": padding_share(lengths, epoch_batches(lengths, BATCH_SIZE, cell["seed"], 0, "random")),
            "test": {"f1": scores["overall"]["f1"], "precision": scores["overall"]["precision"], "recall": scores["overall"]["recall"],
                     "per_type_f1": {t: v["f1"] for t, v in scores["per_type"].items()},
                     "sentences": len(prepared.split("test"))}}


def default_alignment() -> str:
    from snekner.data.prepare import PrepOptions

    return "all" if PrepOptions.label_all_tokens else "first"


def seed_style_labels(split):
    """Every sub-word gets its word's tag (HF's notebook with label_all_tokens=True: B-X repeated), specials -100."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    table = split.data.table
    word_ids = table.column("word_ids").combine_chunks()
    tags = table.column("ner_tags").combine_chunks()
    flat_words = pc.list_flatten(word_ids).to_numpy(zero_copy_only=False)
    row = pc.list_parent_indices(word_ids).to_numpy(zero_copy_only=False)
    tag_offsets = tags.offsets.to_numpy(zero_copy_only=False)
    flat_tags = pc.list_flatten(tags).to_numpy(zero_copy_only=False)
    labels = np.where(flat_words >= 0, flat_tags[tag_offsets[row] + np.maximum(flat_words, 0)], -100)
    return pa.ListArray.from_arrays(word_ids.offsets, pa.array(labels.astype(np.int64)))


def cell_seed_style(cell: dict, work: Path) -> dict:
    import datasets
    import tensorflow as tf
    from transformers import AdamWeightDecay, AutoTokenizer, DataCollatorForTokenClassification

    from snekner.store.prepared import load_prepared
    from snekner.modeling.models import build_token_classifier

    data = subset(work, "first", cell["size"])
    prepared = load_prepared(data)
    tf.keras.utils.set_random_seed(cell["seed"])
    tokenizer = AutoTokenizer.from_pretrained(str(data / "tokenizer"))
    train_split = prepared.split("train")
    table = train_split.data.table
    table = table.set_column(table.schema.get_field_index("labels"), "labels", seed_style_labels(train_split))
    rows = datasets.Dataset(table.select(["input_ids", "labels"]))
    model = build_token_classifier(cell["model"], prepared.labels)
    collator = DataCollatorForTokenClassification(tokenizer, return_tensors="np")
    tf_train = model.prepare_tf_dataset(rows, batch_size=BATCH_SIZE, shuffle=True, collate_fn=collator)
    model.compile(optimizer=AdamWeightDecay(learning_rate=LEARNING_RATE, weight_decay_rate=0.01))
    t0 = time.perf_counter()
    model.fit(tf_train, epochs=cell["epochs"], verbose=0)
    seconds = time.perf_counter() - t0
    return {"alignment": "all (B-X repeated)", "train_seconds": seconds, "train_sentences_per_s": len(rows) * cell["epochs"] / seconds,
            "test": test_scores(model, prepared)}


def child_main(cell_json: str, work: str, out: str) -> None:
    import snekner  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)

    cell = json.loads(cell_json)
    started = time.perf_counter()
    run = {"seed-style": cell_seed_style, "pytorch-trainer": cell_pytorch_trainer}.get(cell["variant"], cell_snekner)
    result = {**cell, **run(cell, Path(work)), "wall_seconds": time.perf_counter() - started}
    with open(out, "a") as f:  # one short line per append: atomic enough between two jobs
        f.write(json.dumps(result) + "\n")


# =============================================================================================
# parent: cells, jobs, table
# =============================================================================================
def default_model() -> str:
    tool = REPO.parent / "shared" / "tools" / "pretrained-minilm"
    return subprocess.run([str(tool)], capture_output=True, text=True, check=True).stdout.strip()


def prepare_all(args, work: Path, alignments: set[str]) -> None:
    from snekner.data.prepare import PrepOptions, prepare

    for alignment in sorted(alignments):
        out = prepared_dir(work, alignment)
        if not out.is_dir():
            prepare(PrepOptions(dataset=args.data, lang=args.lang, tagset=args.tagset, model=args.model, max_length=MAX_LENGTH,
                                label_all_tokens=alignment == "all"), out)


def cell_key(cell: dict) -> tuple:
    return cell["variant"], cell["size"], cell["epochs"], cell["seed"]


def done_cells(out: Path) -> dict:
    found = {}
    if out.is_file():
        for line in out.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                found[cell_key(r)] = r
    return found


def run_cells(cells: list[dict], work: Path, out: Path, jobs: int) -> None:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1")}  # as `snekner` runs
    if jobs > 1:
        env.update(TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1", RAYON_NUM_THREADS="1")
    running: list[tuple[subprocess.Popen, dict, object]] = []
    pending = list(cells)
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    while pending or running:
        while pending and len(running) < jobs:
            cell = pending.pop(0)
            log = open(logs / ("-".join(map(str, cell_key(cell))).replace("+", "_") + ".log"), "w")
            proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--_child", json.dumps(cell), str(work), str(out)],
                                    stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(REPO))
            running.append((proc, cell, log))
            print(f"  started {cell_key(cell)}", flush=True)
        time.sleep(2)
        for item in list(running):
            proc, cell, log = item
            if proc.poll() is not None:
                log.close()
                running.remove(item)
                status = "done" if proc.returncode == 0 else f"FAILED (exit {proc.returncode}, log {log.name})"
                print(f"  {status} {cell_key(cell)}", flush=True)


def mean_sd(values: list[float]) -> str:
    if not values:
        return "-"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {sd:.3f}"


def table(results: dict, variants: list[str], sizes: list, epochs: list[int], full_size: int | None) -> str:
    from tabulate import tabulate

    lines = []
    types = None
    for size in sizes:
        for ep in epochs:
            label = f"{size if size is not None else f'all ({full_size})'} sentences, {ep} epoch{'s' if ep > 1 else ''}"
            body = []
            for v in variants:
                cells = [r for k, r in results.items() if k[0] == v and k[1] == size and k[2] == ep]
                if not cells:
                    continue
                types = types or list(cells[0]["test"]["per_type_f1"])
                f1 = [c["test"]["f1"] for c in cells]
                per_type = [f"{statistics.mean(c['test']['per_type_f1'][t] for c in cells):.3f}" for t in types]
                speed = statistics.mean(c["train_sentences_per_s"] for c in cells)
                padding = [c["padding_share"] for c in cells if "padding_share" in c]
                body.append([v, len(cells), mean_sd(f1), *per_type, f"{speed:.1f}",
                             f"{statistics.mean(padding):.0%}" if padding else "-"])
            if body:
                lines.append(f"\n{label} (test F1 mean ± sd over seeds; per type: mean)")
                lines.append(tabulate(body, headers=["recipe", "seeds", "test F1", *(types or []), "train sentences/s", "padding"],
                                      tablefmt="github", disable_numparse=True))
    return "\n".join(lines)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Test F1 of training recipes at equal budget (see the module docstring).")
    p.add_argument("preset", choices=sorted(PRESETS), help="which recipes to run")
    p.add_argument("--variants", default=None, help=f"comma-separated recipes instead of the preset's ({', '.join(VARIANTS)})")
    p.add_argument("--sizes", default="4000,all", help="training sentences per cell, comma-separated ('all': the whole split)")
    p.add_argument("--epochs", default="1,3")
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--jobs", type=int, default=2, help="cells at once (each on one core when more than 1)")
    p.add_argument("--condition", default="wikineural", choices=CONDITIONS,
                   help="the data (benchmarks/conditions.py): English WikiNEuRal, or it with short entity-dense lines mixed in")
    p.add_argument("--data", default=None, help="a dataset folder instead of the condition's")
    p.add_argument("--lang", default="en")
    p.add_argument("--tagset", default=str(REPO / "tagsets" / "wikineural.json"))
    p.add_argument("--model", default=None, help="model folder (default: ../shared/tools/pretrained-minilm)")
    p.add_argument("--work", default=None, help="prepared data and scratch runs, kept between calls "
                   "(default: benchmarks/results/quality-work[-CONDITION])")
    p.add_argument("--out", default=None, help="results, JSON lines (default: benchmarks/results/quality-<preset>[-CONDITION].jsonl)")
    p.add_argument("--table-only", action="store_true", help="print the table of the results already in --out; run nothing")
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    import datasets

    import snekner  # noqa: F401

    datasets.disable_progress_bars()

    args.model = args.model or default_model()
    variants = args.variants.split(",") if args.variants else PRESETS[args.preset]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown recipe(s) {', '.join(unknown)}; known: {', '.join(VARIANTS)}")
    sizes = [None if s == "all" else int(s) for s in args.sizes.split(",")]
    epochs = [int(e) for e in args.epochs.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    suffix = "" if args.condition == "wikineural" else f"-{args.condition}"
    work = Path(args.work) if args.work else HERE / "results" / f"quality-work{suffix}"
    work.mkdir(parents=True, exist_ok=True)
    args.data = args.data or str(dataset_for(args.condition, work))
    out = Path(args.out) if args.out else HERE / "results" / f"quality-{args.preset}{suffix}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.table_only:
        from snekner.store.prepared import load_prepared

        full = len(load_prepared(prepared_dir(work, "first")).split("train")) if prepared_dir(work, "first").is_dir() else None
        print(table(done_cells(out), variants, sizes, epochs, full))
        return
    alignments = {VARIANTS[v][0] or default_alignment() for v in variants} | {"first"}
    prepare_all(args, work, alignments)
    done = done_cells(out)
    # cheapest budgets first, so that an interrupted run has whole tables for them
    budgets = sorted(((size, ep) for size in sizes for ep in epochs), key=lambda b: (b[0] or 10**9) * b[1])
    cells = [{"variant": v, "size": size, "epochs": ep, "seed": seed, "model": args.model, "data": args.data, "lang": args.lang}
             for size, ep in budgets for seed in seeds for v in variants]
    todo = [c for c in cells if cell_key(c) not in done]
    print(f"quality {args.preset}: {len(cells)} cells, {len(cells) - len(todo)} already in {out}, {len(todo)} to run "
          f"({args.jobs} at a time); model {args.model}", flush=True)
    started = time.perf_counter()
    run_cells(todo, work, out, args.jobs)
    results = done_cells(out)
    from snekner.store.prepared import load_prepared

    full = len(load_prepared(prepared_dir(work, "first")).split("train"))
    print(table(results, variants, sizes, epochs, full))
    print(f"\n{len(todo)} cells run in {time.perf_counter() - started:.0f} s; results in {out}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--_child":
        child_main(*sys.argv[2:5])
    else:
        main()
