"""Does snekner's training step learn what the plain recipe learns? (issue 8, item 1; PyTorch: issue 21)

Usage (from the repository root):

    .venv/bin/python benchmarks/step_reference.py [--train-sentences 4000] [--steps 40] [--seed 1]
        [--data ../shared/data/wikineural] [--model DIR]
    SNEKNER_TORCH_PYTHON=/path/to/torch/python .venv/bin/python benchmarks/step_reference.py --reference pytorch \
        [--steps 200] [--seeds 1,2,3,4,5]

--reference pytorch compares snekner's step with Hugging Face's PyTorch Trainer's step instead (the same
model class in PyTorch, torch.optim.AdamW, clip_grad_norm_, snekner's schedule as a LambdaLR: what
benchmarks/torch_side.py runs), with snekner's default recipe and random batches: snekner's initial model
(pretrained encoder and its freshly initialised classifier) is exported to PyTorch
(snekner.modeling.export.write_pytorch), and both sides train from those weights on the same batches in the
same order. Part 1 (dropout off) compares the per-step losses; part 2 (dropout on) trains one epoch per seed and
compares validation F1, whose only difference left is each framework's own dropout masks.

Two models start from the same pretrained weights and the same classifier initialisation and
see IDENTICAL batches (snekner's own batch order and padding):

- snekner: `snekner.training.loop.TrainingLoop`'s compiled step (fused AdamW with dense embedding
  gradients, the loss summed over labelled sub-words and divided by their count in the batch,
  traced once without autograph);
- plain: what a Keras user writes without any speed work: the model's own loss (`labels=`),
  `transformers.create_optimizer` (AdamWeightDecay, sparse embedding gradients), a tf.function
  per step.

Both use linear decay to 0, no warm-up, no clipping, batch 16, learning rate 5e-5, the first
sub-word of each word labelled (the recipe of issue 8's table). Part 1 turns dropout off and
prints the two loss curves' largest difference over the first --steps steps: equal up to float
rounding means the step computes the same update. Part 2 trains one epoch over the first
--train-sentences English sentences with dropout, then scores both models on the validation split
(word level, conlleval): equal F1 means the loop itself learns as much per step as the plain one.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from _harness import REPO, default_model, score_flat_predictions, subset_prepared, torch_python

RECIPE = {"schedule": "linear", "max_grad_norm": 0.0, "batching": "bucketed", "batch_size": 16, "learning_rate": 5e-5, "epochs": 1}
# against PyTorch: snekner's defaults (stable-decay 0.2, clip 1.0) on random batches, as the Trainer batches
PYTORCH_RECIPE = {"batching": "random", "batch_size": 16, "learning_rate": 5e-5, "epochs": 1}


def _no_dropout(model_dir: str, work: Path) -> str:
    """A copy of the model folder whose config turns every dropout off."""
    import json
    import shutil

    out = work / "model-no-dropout"
    if not out.is_dir():
        shutil.copytree(model_dir, out)
        config = json.loads((out / "config.json").read_text())
        config.update({k: 0.0 for k in ("hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout",
                                        "dropout", "attention_dropout", "seq_classif_dropout")})
        (out / "config.json").write_text(json.dumps(config))
    return str(out)


def snekner_side(prepared, model_dir: str, seed: int, work: Path, recipe: dict = RECIPE):
    """snekner's training loop, its batches (materialised, so that the plain side sees the same ones) and its compiled step."""
    import tensorflow as tf

    from snekner.modeling.devices import setup_devices
    from snekner.training.loop import TrainingLoop, TrainingState
    from snekner.training.options import TrainOptions
    from snekner.training.tasks import TokenClassification

    options = TrainOptions(seed=seed, **recipe)
    trainer = TrainingLoop(TokenClassification(prepared, options, log=lambda m: None), folder=work / "run", recipe=options,
                           setup=setup_devices("one", False, False), log=lambda m: None)
    tf.keras.utils.set_random_seed(seed)
    trainer.build(model_dir)
    _, dataset = trainer._epoch_batches(TrainingState())
    step = trainer._compile_step(dataset)
    batches = [{k: v for k, v in b.items()} for b in dataset]

    def run(batch):
        loss_sum, count = step(batch)
        return float(loss_sum) / max(float(count), 1.0)

    return trainer, batches, run, trainer.steps_per_epoch


def plain_side(prepared, model_dir: str, seed: int, total_steps: int):
    import tensorflow as tf
    from transformers import create_optimizer

    from snekner.modeling.models import build_token_classifier

    tf.keras.utils.set_random_seed(seed)
    model = build_token_classifier(model_dir, prepared.labels, seed=seed)  # the head snekner's trainer draws
    optimizer, _ = create_optimizer(RECIPE["learning_rate"], total_steps, 0, adam_epsilon=1e-8, weight_decay_rate=0.0)

    @tf.function(reduce_retracing=True)
    def step(input_ids, attention_mask, labels):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(model(input_ids=input_ids, attention_mask=attention_mask, labels=labels, training=True).loss)
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    return model, lambda b: float(step(b["input_ids"], b["attention_mask"], b["labels"]))


def save_batches(batches: list[dict], path: Path) -> Path:
    """The batches as numpy arrays in one .npz (what torch_side.py steps reads)."""
    import numpy as np

    arrays = {"count": np.array(len(batches))}
    for i, batch in enumerate(batches):
        for key in ("input_ids", "attention_mask", "labels"):
            arrays[f"{key}_{i}"] = batch[key].numpy()
    np.savez(path, **arrays)
    return path


def pytorch_steps(trainer, batches: list[dict], work: Path, seed: int, total: int, dropout: bool, split: str | None = None) -> dict:
    """Hugging Face's PyTorch step (benchmarks/torch_side.py steps) from the trainer's current weights, which must be
    its initial ones, over `batches`: its per-step losses, and with `split` that split's predictions (flat)."""
    import json
    import subprocess

    import numpy as np

    from snekner.modeling.export import write_pytorch

    work.mkdir(parents=True, exist_ok=True)
    initial = work / "initial-pytorch"
    if initial.exists():
        import shutil

        shutil.rmtree(initial)
    initial.mkdir()
    write_pytorch(trainer.model, trainer.task.tokenizer, initial)
    options = trainer.recipe
    command = [torch_python(), str(REPO / "benchmarks" / "torch_side.py"), "steps", "--model", str(initial),
               "--batches", str(save_batches(batches, work / "batches.npz")), "--seed", str(seed), "--out", str(work / "pytorch"),
               "--threads", os.environ.get("TF_NUM_INTRAOP_THREADS", str(os.cpu_count())), "--total-steps", str(total),
               "--learning-rate", str(options.learning_rate), "--decay-ratio", str(options.decay_ratio),
               "--max-grad-norm", str(options.max_grad_norm)]
    if not dropout:
        command.append("--no-dropout")
    if split:
        command += ["--prepared", str(trainer.task.prepared.path), "--split", split]
    subprocess.run(command, check=True)
    result = json.loads((work / "pytorch" / "result.json").read_text())
    if split:
        result["predictions"] = np.load(work / "pytorch" / f"{split}-predictions.npy")
    return result


def pytorch_main(args, prepared, model: str, work: Path) -> None:
    """Part 1 and 2 against Hugging Face's PyTorch step (see the module docstring)."""
    import numpy as np

    print(f"part 1: dropout off, snekner's initial weights exported to PyTorch, the same random batches, first {args.steps} steps",
          flush=True)
    quiet = _no_dropout(model, work)
    trainer, batches, ours, total = snekner_side(prepared, quiet, args.seed, work / "pt-part1", PYTORCH_RECIPE)
    batches = batches[:args.steps]
    theirs = pytorch_steps(trainer, batches, work / "pt-part1", args.seed, total, dropout=False)
    ours_losses = [ours(b) for b in batches]
    diffs = np.abs(np.array(ours_losses) - np.array(theirs["losses"]))
    for step in sorted({1, 10, 50, 100, 200, len(batches)} & set(range(1, len(batches) + 1))):
        print(f"  step {step:4d}: snekner {ours_losses[step - 1]:.6f}, pytorch {theirs['losses'][step - 1]:.6f}, "
              f"|difference| {diffs[step - 1]:.2e}; pytorch's gradient norm before clipping {theirs['grad_norms'][step - 1]:.3f}")
    worst = int(diffs.argmax())
    print(f"  largest difference: {diffs[worst]:.2e} at step {worst + 1} ({diffs[worst] / theirs['losses'][worst]:.2e} relative); "
          f"mean over the steps {diffs.mean():.2e}")

    seeds = [int(x) for x in args.seeds.split(",")]
    print(f"part 2: dropout on, one epoch over the first {len(prepared.split('train'))} sentences, the same initial weights and "
          f"random batches on both sides, then validation F1; seeds {seeds}", flush=True)
    f1 = {"snekner": [], "pytorch": []}
    for seed in seeds:
        trainer, batches, snekner_run, total = snekner_side(prepared, model, seed, work / f"pt-part2-{seed}", PYTORCH_RECIPE)
        theirs = pytorch_steps(trainer, batches, work / f"pt-part2-{seed}", seed, total, dropout=True, split="validation")
        started = time.perf_counter()
        losses = [snekner_run(b) for b in batches]
        seconds = time.perf_counter() - started
        ours_f1 = validation_f1(trainer.model, prepared)["f1"]
        theirs_f1 = score_flat_predictions(prepared, "validation", theirs["predictions"])["overall"]["f1"]
        f1["snekner"].append(ours_f1)
        f1["pytorch"].append(theirs_f1)
        print(f"  seed {seed}: validation F1 snekner {ours_f1:.4f} ({seconds:.0f} s), pytorch {theirs_f1:.4f} ({theirs['train_seconds']:.0f} s); "
              f"mean loss of the last 50 steps {np.mean(losses[-50:]):.4f} vs {np.mean(theirs['losses'][-50:]):.4f}", flush=True)
    for name, values in f1.items():
        print(f"  {name}: validation F1 {np.mean(values):.4f} ± {np.std(values, ddof=1) if len(values) > 1 else 0:.4f} over {len(values)} seeds")
    d = np.array(f1["snekner"]) - np.array(f1["pytorch"])
    print(f"  paired difference snekner - pytorch: {d.mean():+.4f} ± {d.std(ddof=1) if len(d) > 1 else 0:.4f} "
          f"({', '.join(f'{x:+.4f}' for x in d)})")


def validation_f1(model, prepared) -> dict:
    from transformers import AutoTokenizer

    from snekner.modeling.forward import gold_word_tags, predict_word_tags
    from snekner.ner.scoring import score

    rows = prepared.split("validation")
    pad = AutoTokenizer.from_pretrained(str(prepared.tokenizer_dir)).pad_token_id
    scores = score(gold_word_tags(rows, prepared.labels), predict_word_tags(model, rows, prepared.labels, pad), types=prepared.tagset.types)
    return {"f1": scores["overall"]["f1"], **{t: v["f1"] for t, v in scores["per_type"].items()}}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "wikineural"))
    p.add_argument("--model", default=None, help="model folder (default: ../shared/tools/pretrained-minilm)")
    p.add_argument("--train-sentences", type=int, default=4000)
    p.add_argument("--steps", type=int, default=40, help="steps compared with dropout off")
    p.add_argument("--seed", type=int, default=1, help="seed of part 1")
    p.add_argument("--seeds", default="1,2,3", help="seeds of part 2 (initialisation, dropout and data order)")
    p.add_argument("--work", default=str(REPO / "benchmarks" / "results" / "step-reference"))
    p.add_argument("--reference", choices=("plain", "pytorch"), default="plain",
                   help="plain: a plain Keras loop; pytorch: Hugging Face's PyTorch step (needs SNEKNER_TORCH_PYTHON)")
    args = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import datasets

    import snekner  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
    from snekner.data.prepare import PrepOptions, prepare
    from snekner.store.prepared import load_prepared

    datasets.disable_progress_bars()
    model = args.model or default_model()
    work = Path(args.work)
    full, cut = work / "prepared", work / f"prepared-train{args.train_sentences}"
    if not full.is_dir():
        prepare(PrepOptions(dataset=args.data, lang="en", tagset=str(REPO / "tagsets" / "wikineural.json"), model=model), full)
    if not cut.is_dir():
        subset_prepared(full, cut, args.train_sentences, keep=("train", "validation"))
    prepared = load_prepared(cut)
    if args.reference == "pytorch":
        pytorch_main(args, prepared, model, work)
        return

    print(f"part 1: dropout off, identical initial weights and batches, first {args.steps} steps", flush=True)
    quiet = _no_dropout(model, work)
    _, batches, ours, total = snekner_side(prepared, quiet, args.seed, work / "part1")
    _, theirs = plain_side(prepared, quiet, args.seed, total)
    ours_losses = [ours(b) for b in batches[:args.steps]]
    theirs_losses = [theirs(b) for b in batches[:args.steps]]
    diffs = [abs(a - b) for a, b in zip(ours_losses, theirs_losses)]
    worst = max(range(len(diffs)), key=diffs.__getitem__)
    print(f"  loss at step 1: snekner {ours_losses[0]:.6f}, plain {theirs_losses[0]:.6f}; at step {args.steps}: "
          f"{ours_losses[-1]:.6f} vs {theirs_losses[-1]:.6f}")
    print(f"  largest difference: {diffs[worst]:.2e} at step {worst + 1} ({diffs[worst] / theirs_losses[worst]:.2e} relative)")

    seeds = [int(x) for x in args.seeds.split(",")]
    print(f"part 2: dropout on, one epoch over the first {len(prepared.split('train'))} sentences, the same batches on both sides, "
          f"then validation F1; seeds {seeds}", flush=True)
    differences = []
    for seed in seeds:
        results = {}
        trainer, batches, snekner_run, total = snekner_side(prepared, model, seed, work / f"part2-{seed}")
        snekner_model = trainer.model
        for name in ("snekner", "plain"):
            trained, run = (snekner_model, snekner_run) if name == "snekner" else plain_side(prepared, model, seed, total)
            started = time.perf_counter()
            losses = [run(b) for b in batches]
            seconds = time.perf_counter() - started
            results[name] = validation_f1(trained, prepared)
            f1 = ", ".join(f"{k} {v:.4f}" for k, v in results[name].items())
            print(f"  seed {seed} {name:8s} mean loss of the last 50 steps {sum(losses[-50:]) / len(losses[-50:]):.4f}; "
                  f"{seconds:.0f} s; validation {f1}", flush=True)
        differences.append(results["snekner"]["f1"] - results["plain"]["f1"])
    mean = sum(differences) / len(differences)
    spread = (sum((d - mean) ** 2 for d in differences) / max(len(differences) - 1, 1)) ** 0.5
    print(f"  F1 difference snekner - plain: mean {mean:+.4f}, sd {spread:.4f} over {len(differences)} seeds "
          f"({', '.join(f'{d:+.4f}' for d in differences)})")


if __name__ == "__main__":
    main()
