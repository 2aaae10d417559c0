"""Artifacts written by hand for tests that need a run or a prepared folder but no model."""
from __future__ import annotations

from pathlib import Path

from snekner.ner.tagset import Tagset
from snekner.store.evaluations import Evaluation
from snekner.store.evaluations import write_evaluation as store_evaluation
from snekner.store.manifests import Alignment, PreparedManifest, RunManifest, RunStatus, SplitStats, read_run_manifest, write_run_manifest
from snekner.store.runs import Run


def prepared_manifest(labels: list[str], dataset: str = "snekner:sample", **fields) -> PreparedManifest:
    tagset = Tagset(name=fields.pop("tagset_name", "fake"), source_ids={label: i for i, label in enumerate(labels)})
    defaults = dict(dataset=dataset, tagset=tagset, tokenizer="distilbert-base-uncased", max_length=128,
                    alignment=Alignment.FIRST_SUBWORD, splits={"test": SplitStats(sentences=0)})
    return PreparedManifest(**{**defaults, **fields})


def write_run(path: Path, name: str, labels: list[str], status: str = "finished", data: str = "nowhere") -> Path:
    """A run folder holding only its manifest, as `snekner train` writes it."""
    manifest = RunManifest(name=name, status=RunStatus(status), data=data, data_manifest=prepared_manifest(labels),
                           model="distilbert-base-uncased", options={})
    path.mkdir(parents=True, exist_ok=True)
    write_run_manifest(path, manifest)
    return path


def write_evaluation(path: Path, scores: dict, split: str = "test", mode: str = "conlleval") -> Evaluation:
    """PATH/eval/<split>.json of the run folder at `path`, as `snekner eval` writes it (through the store), from the scores
    evaluate.score_predictions (or scoring.score with n_sentences) computed."""
    run = Run(Path(path), read_run_manifest(path))
    evaluation = Evaluation.of_scores(scores, split=split, mode=mode, run=run.name)
    run.eval_path(split).parent.mkdir(parents=True, exist_ok=True)
    store_evaluation(run, split, evaluation)
    return evaluation
