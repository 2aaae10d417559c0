"""The PyTorch side of the TensorFlow-vs-PyTorch comparisons (issue 21): runs in a Python with torch and
transformers 4.57 (never snekner's own environment; see SNEKNER_TORCH_PYTHON in benchmarks/quality.py), and
imports nothing of snekner.

    python torch_side.py trainer --prepared DIR --model DIR --seed 1 --out DIR [--threads 1] [--epochs 1] ...
        Hugging Face's Trainer on a snekner-prepared folder (its input_ids and labels: the first sub-word of each word
        labelled, the others -100), with snekner's recipe: AdamW (eps 1e-8, no weight decay), a constant rate that
        decays linearly to 0 over the last --decay-ratio of the steps, no warm-up, gradients clipped to global norm
        --max-grad-norm, random batches padded to their longest sentence (DataCollatorForTokenClassification).
        Writes result.json (train time, sentences/s, per-step losses) and test-predictions.npy: the predicted label id
        of every sub-word of the test split, flat, in the split's order (the caller scores it at word level with
        snekner's own scorer, as it scores snekner's models).

    python torch_side.py steps --model DIR --batches FILE.npz --seed 1 --out DIR [--prepared DIR] [--no-dropout] ...
        The same step as the Trainer's (loss.backward, clip, AdamW, scheduler) over the given batches in the given
        order, from the given weights (snekner's initial model exported to PyTorch): per-step losses, and with
        --prepared the predictions of its --split (default test) as above.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

IGNORE = -100


def _threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)
    torch.set_num_interop_threads(1)


def _labels(prepared: Path) -> list[str]:
    return json.loads((prepared / "snekner-prepared.json").read_text())["tagset"]["labels"]


def _model(model_dir: str, labels: list[str], dropout: bool):
    from transformers import AutoConfig, AutoModelForTokenClassification

    config = AutoConfig.from_pretrained(model_dir, num_labels=len(labels), id2label=dict(enumerate(labels)),
                                        label2id={l: i for i, l in enumerate(labels)})
    if not dropout:
        for key in ("hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout", "dropout", "attention_dropout",
                    "seq_classif_dropout"):
            if hasattr(config, key):
                setattr(config, key, 0.0)
    return AutoModelForTokenClassification.from_pretrained(model_dir, config=config)


def _optimizer(model, args, total_steps: int):
    """torch AdamW as the Trainer makes it (eps 1e-8, betas 0.9/0.999, no decay) and snekner's schedule as a LambdaLR."""
    import torch

    optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    decay = int(round(total_steps * args.decay_ratio))

    def factor(step: int) -> float:  # snekner's WarmupHoldDecay without warm-up
        return 1.0 if decay == 0 else min(1.0, max(total_steps - step, 0) / decay)

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def split_predictions(model, prepared: Path, split_name: str = "test", batch_size: int = 32) -> np.ndarray:
    """Argmax label of every sub-word of a split, flat in the split's order (sentences run sorted by length, as snekner's)."""
    import datasets
    import torch

    split = datasets.load_from_disk(str(prepared / "data"))[split_name]
    ids = split["input_ids"]
    lengths = np.array([len(x) for x in ids])
    offsets = np.concatenate(([0], np.cumsum(lengths)))
    out = np.zeros(offsets[-1], dtype=np.int32)
    order = np.argsort(lengths, kind="stable")
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            width = int(lengths[rows].max())
            batch = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                batch[r, :lengths[i]] = ids[i]
                mask[r, :lengths[i]] = 1
            logits = model(input_ids=torch.from_numpy(batch), attention_mask=torch.from_numpy(mask)).logits
            pred = logits.argmax(-1).numpy()
            for r, i in enumerate(rows):
                out[offsets[i]:offsets[i + 1]] = pred[r, :lengths[i]]
    return out


def trainer_main(args) -> None:
    import datasets
    import torch
    from transformers import AutoTokenizer, DataCollatorForTokenClassification, Trainer, TrainerCallback, TrainingArguments, set_seed

    _threads(args.threads)
    prepared, out = Path(args.prepared), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    labels = _labels(prepared)
    set_seed(args.seed)  # before the model: the classifier's initialisation (as run_ner does)
    model = _model(args.model, labels, dropout=True)
    tokenizer = AutoTokenizer.from_pretrained(str(prepared / "tokenizer"))
    train = datasets.load_from_disk(str(prepared / "data"))["train"].select_columns(["input_ids", "labels"])
    steps = math.ceil(len(train) / args.batch_size) * args.epochs
    optimizer, scheduler = _optimizer(model, args, steps)
    losses: list[float] = []

    class Losses(TrainerCallback):
        def on_log(self, _args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                losses.append(logs["loss"])

    training_args = TrainingArguments(
        output_dir=str(out / "trainer"), per_device_train_batch_size=args.batch_size, num_train_epochs=args.epochs,
        learning_rate=args.learning_rate, weight_decay=0.0, max_grad_norm=args.max_grad_norm, warmup_steps=0, seed=args.seed,
        logging_strategy="steps", logging_steps=1, save_strategy="no", eval_strategy="no", report_to=[], use_cpu=True,
        dataloader_num_workers=0, disable_tqdm=True)
    trainer = Trainer(model=model, args=training_args, train_dataset=train,
                      data_collator=DataCollatorForTokenClassification(tokenizer), optimizers=(optimizer, scheduler),
                      callbacks=[Losses()])
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    np.save(out / "test-predictions.npy", split_predictions(model, prepared))
    result = {"system": "pytorch-trainer", "train_seconds": seconds, "train_sentences": len(train) * args.epochs,
              "train_sentences_per_s": len(train) * args.epochs / seconds, "steps": steps, "losses": losses,
              "torch": torch.__version__, "threads": torch.get_num_threads()}
    (out / "result.json").write_text(json.dumps(result))


def steps_main(args) -> None:
    import torch
    from transformers import set_seed

    _threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = json.loads((Path(args.model) / "config.json").read_text())
    labels = [config["id2label"][str(i)] for i in range(len(config["id2label"]))]
    set_seed(args.seed)  # the dropout masks (the weights come from the folder)
    model = _model(args.model, labels, dropout=not args.no_dropout)
    batches = np.load(args.batches)
    n = int(batches["count"])
    optimizer, scheduler = _optimizer(model, args, n if args.total_steps is None else args.total_steps)
    model.train()
    losses, norms = [], []
    started = time.perf_counter()
    for i in range(n):
        ids, mask, lab = (torch.from_numpy(batches[f"{k}_{i}"].astype(np.int64)) for k in ("input_ids", "attention_mask", "labels"))
        loss = model(input_ids=ids, attention_mask=mask, labels=lab).loss
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm if args.max_grad_norm else float("inf"))))
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        losses.append(float(loss))
    seconds = time.perf_counter() - started
    result = {"system": "pytorch-steps", "losses": losses, "grad_norms": norms, "train_seconds": seconds}
    if args.prepared:
        np.save(out / f"{args.split}-predictions.npy", split_predictions(model, Path(args.prepared), args.split))
    (out / "result.json").write_text(json.dumps(result))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="mode", required=True)
    for name in ("trainer", "steps"):
        s = sub.add_parser(name)
        s.add_argument("--model", required=True)
        s.add_argument("--seed", type=int, default=1)
        s.add_argument("--out", required=True)
        s.add_argument("--threads", type=int, default=1)
        s.add_argument("--learning-rate", type=float, default=5e-5)
        s.add_argument("--decay-ratio", type=float, default=0.2)
        s.add_argument("--max-grad-norm", type=float, default=1.0)
        s.add_argument("--prepared", required=name == "trainer")
    sub.choices["trainer"].add_argument("--epochs", type=int, default=1)
    sub.choices["trainer"].add_argument("--batch-size", type=int, default=16)
    sub.choices["steps"].add_argument("--batches", required=True)
    sub.choices["steps"].add_argument("--no-dropout", action="store_true")
    sub.choices["steps"].add_argument("--split", default="test", help="the split of --prepared to predict")
    sub.choices["steps"].add_argument("--total-steps", type=int, default=None, help="the schedule's length (default: the batches')")
    args = p.parse_args(argv)
    (trainer_main if args.mode == "trainer" else steps_main)(args)


if __name__ == "__main__":
    main()
