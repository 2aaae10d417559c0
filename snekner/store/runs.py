"""Run directories: where a trained model, its metrics and its evaluations live.

runs/NAME/
  snekner-run.json   manifest: options, data manifest, versions, timings, status
  metrics.jsonl      one line per finished epoch (validation scores)
  model/             save_pretrained: weights, config with label maps, tokenizer
  eval/<split>.json  scores written by `snekner eval`
  checkpoints/       while training (removed when the run finishes)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from snekner.store.artifacts import RUN_KIND, RUN_MANIFEST, load_manifest
from snekner.errors import SneknerError

DEFAULT_RUNS_DIR = "runs"
RUN_FIX = "pass a run name under --runs-dir or a run folder made by `snekner train`"


@dataclass
class Run:
    path: Path
    manifest: dict

    @property
    def name(self) -> str:
        return self.manifest.get("name", self.path.name)

    @property
    def model_dir(self) -> Path:
        return self.path / "model"

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
        known = ", ".join(list_runs(runs_dir)) or "none"
        raise SneknerError(f"run {spec} not found (runs in {runs_dir}: {known}); train it with `snekner train PREPARED --name {Path(spec).name}`")
    manifest = load_manifest(path, RUN_MANIFEST, RUN_KIND, "run", RUN_FIX)
    run = Run(path, manifest)
    if finished and manifest.get("status") != "finished":
        raise SneknerError(
            f"run {spec} has not finished (status: {manifest.get('status')}); "
            f"continue it with `snekner train {manifest.get('data', 'PREPARED')} --name {run.name} --resume`"
        )
    return run
