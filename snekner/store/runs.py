"""Run directories: where a trained model, its metrics and its evaluations live.

runs/NAME/
  snekner-run.json   the RunManifest: options, data manifest (labels), versions, timings, status
  metrics.jsonl      one line per finished epoch (validation scores)
  model/             save_pretrained: weights, config with label maps, tokenizer
  eval/<split>.json  scores written by `snekner eval`
  checkpoints/       while training (removed when the run finishes)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from snekner.errors import RunNotFinishedError, RunNotFoundError
from snekner.store.manifests import RUN_MANIFEST, RunManifest, read_run_manifest

DEFAULT_RUNS_DIR = "runs"


@dataclass
class Run:
    path: Path
    manifest: RunManifest

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def labels(self) -> list[str]:
        return self.manifest.labels

    @property
    def model_dir(self) -> Path:
        return self.path / "model"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    def eval_path(self, split: str) -> Path:
        return self.path / "eval" / f"{split}.json"

    def predictions_path(self, split: str) -> Path:
        return self.path / "eval" / f"{split}.predictions.jsonl"


def run_path(spec: str, runs_dir: str | Path = DEFAULT_RUNS_DIR) -> Path:
    path = Path(spec).expanduser()
    if (path / RUN_MANIFEST).is_file() or "/" in spec:
        return path
    return Path(runs_dir) / spec


def list_runs(runs_dir: str | Path = DEFAULT_RUNS_DIR) -> list[str]:
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / RUN_MANIFEST).is_file())


def open_run(spec: str, runs_dir: str | Path = DEFAULT_RUNS_DIR, finished: bool = True) -> Run:
    path = run_path(spec, runs_dir)
    if not path.exists():
        known = list_runs(runs_dir)
        raise RunNotFoundError(f"run {spec} not found (runs in {runs_dir}: {', '.join(known) or 'none'})",
                               spec=spec, runs_dir=Path(runs_dir), known=known)
    run = Run(path, read_run_manifest(path))
    if finished and not run.manifest.is_finished:
        raise RunNotFinishedError(f"run {spec} has not finished (status: {run.manifest.status.value})", run=run)
    return run
