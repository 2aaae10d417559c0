"""The naive reference: NER prep, training and evaluation written the way the seed project works.

This is deliberately the straightforward Hugging Face recipe, used by benchmarks/benchmark.py as
the baseline that snekner is measured against:

- prep: `load_dataset("json", ...)` over every language's files, `Dataset.filter` and two
  `Dataset.map` calls on single examples (a Python dict lookup per tag, a word_ids loop per
  sentence), then `save_to_disk`;
- training: `model.prepare_tf_dataset(...)` with `DataCollatorForTokenClassification`, then
  Keras `compile` + `fit`;
- evaluation: `transformers.pipeline("token-classification")` called once per sentence.

Only the model loading differs from plain `from_pretrained`: a safetensors-only checkpoint
cannot be loaded into TF without torch with transformers 4.57, so training starts from
`snekner.modeling.models.build_token_classifier` (the same weights snekner starts from).

The functions take no timing decisions: benchmark.py times around them.
"""
from __future__ import annotations

import json
from glob import glob
from pathlib import Path

IGNORE = -100


# -- prep ---------------------------------------------------------------------------------------
def prepare(data_dir: str, lang: str, tagset_path: str, model: str, max_length: int, out: str, limit: int | None = None):
    """Load every language's files, keep `lang`, restrict tags, tokenize + align, save_to_disk."""
    from datasets import DatasetDict, load_dataset
    from transformers import AutoTokenizer

    data_files = {
        "train": sorted(glob(f"{data_dir}/train/train_*.jsonl")),
        "validation": sorted(glob(f"{data_dir}/val/val_*.jsonl")),
        "test": sorted(glob(f"{data_dir}/test/test_*.jsonl")),
    }
    dataset = load_dataset("json", data_files=data_files)

    dataset = dataset.filter(lambda example: example["lang"] == lang)
    if limit is not None:
        dataset = DatasetDict({name: split.select(range(min(limit, len(split)))) for name, split in dataset.items()})

    with open(tagset_path) as f:
        tagset = json.load(f)  # label -> source id, in the order of the new ids
    source_to_new = {source_id: new_id for new_id, source_id in enumerate(tagset.values())}
    outside = source_to_new[tagset["O"]]

    def restrict_tags(example):
        example["ner_tags"] = [source_to_new.get(tag, outside) for tag in example["ner_tags"]]
        return example

    dataset = dataset.map(restrict_tags)

    tokenizer = AutoTokenizer.from_pretrained(model)

    def tokenize_and_align_labels(example):
        tokenized = tokenizer(example["tokens"], truncation=True, is_split_into_words=True, max_length=max_length)
        labels = []
        previous = None
        for word_id in tokenized.word_ids():
            if word_id is None:
                labels.append(IGNORE)
            elif word_id != previous:
                labels.append(example["ner_tags"][word_id])
            else:
                labels.append(IGNORE)
            previous = word_id
        tokenized["labels"] = labels
        return tokenized

    dataset = dataset.map(tokenize_and_align_labels)
    dataset.save_to_disk(out)
    return dataset


# -- training -----------------------------------------------------------------------------------
def labels_of(tagset_path: str) -> list[str]:
    with open(tagset_path) as f:
        return list(json.load(f))


def build_training(prepared_dir: str, n_sentences: int, model: str, tagset_path: str, batch_size: int,
                   learning_rate: float, collate_wrapper=None):
    """Model, tf.data pipeline and compiled optimizer.

    Returns (model, tf_dataset, seconds spent in prepare_tf_dataset + compile, the training rows).
    """
    import time

    import tensorflow as tf
    from datasets import load_from_disk
    from transformers import AutoTokenizer, DataCollatorForTokenClassification

    from snekner.modeling.models import build_token_classifier

    train = load_from_disk(prepared_dir)["train"]
    train = train.select(range(min(n_sentences, len(train))))
    tokenizer = AutoTokenizer.from_pretrained(model)
    model_obj = build_token_classifier(model, labels_of(tagset_path))
    collator = DataCollatorForTokenClassification(tokenizer, return_tensors="np")
    if collate_wrapper is not None:
        collator = collate_wrapper(collator)
    started = time.perf_counter()
    tf_dataset = model_obj.prepare_tf_dataset(train, batch_size=batch_size, shuffle=True, collate_fn=collator)
    model_obj.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=learning_rate))
    return model_obj, tf_dataset, time.perf_counter() - started, train


def fit_one_epoch(model, tf_dataset, callbacks=()):
    return model.fit(tf_dataset, epochs=1, verbose=0, callbacks=list(callbacks))


# -- evaluation ---------------------------------------------------------------------------------
def build_pipeline(model_dir: str):
    from transformers import AutoTokenizer, TFAutoModelForTokenClassification, pipeline

    model = TFAutoModelForTokenClassification.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    # dtype=None: the default "auto" makes transformers 4.57 reach for torch
    return pipeline("token-classification", model=model, tokenizer=tokenizer, framework="tf", dtype=None)


def predict(nlp, sentences: list[list[str]]) -> list[list[dict]]:
    """One pipeline call per sentence, on the sentence text."""
    return [nlp(" ".join(tokens)) for tokens in sentences]


def read_test_sentences(prepared_dir: str, n: int) -> list[list[str]]:
    from datasets import load_from_disk

    test = load_from_disk(prepared_dir)["test"]
    return test.select(range(min(n, len(test))))["tokens"]


if __name__ == "__main__":  # a quick manual run: python benchmarks/reference.py DATA LANG TAGSET MODEL OUT
    import sys

    prepare(*sys.argv[1:5], max_length=128, out=sys.argv[5])
    print("saved", Path(sys.argv[5]).resolve())
