"""`snekner search`: Optuna trials as runs, one study shared by processes, interrupted trials marked FAIL, one-line errors."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import invoke, ok, one_line_error, prep_sample
from snekner.store.runs import open_run
from snekner.training.search import SPACE, read_space

pytestmark = pytest.mark.slow

# small and quick on the tiny model: 1-2 epochs, large rates (a random 2-layer model learns little otherwise)
SPACE_FILE = """
learning-rate = { low = 1e-4, high = 1e-2, log = true }
batch-size = [8, 16]
epochs = { low = 1, high = 2 }
"""


# session fixtures: the module is slow, so its tests are shared out to the xdist workers one by one (tests/conftest.py)
@pytest.fixture(scope="session")
def prepared(tmp_path_factory, sample_dir, tiny_model) -> Path:
    return prep_sample(tmp_path_factory.mktemp("search") / "data", sample_dir, tiny_model)


@pytest.fixture(scope="session")
def space_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("space") / "space.toml"
    path.write_text(SPACE_FILE, encoding="utf-8")
    return path


def load(study: str, storage: str):
    import optuna

    return optuna.load_study(study_name=study, storage=storage)


def snekner(*args, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "snekner", *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, **(env or {})})


def test_a_search_gives_complete_trials_and_the_best_is_a_run(prepared, space_file, tmp_path):
    runs = tmp_path / "runs"
    out = ok("search", prepared, "--trials", 2, "--study", "S", "--runs-dir", runs, "--space", space_file, "--plot", tmp_path / "h.png").output
    assert "study S (2 trials" in out and "best: trial" in out and "learning-rate" in out
    assert (tmp_path / "h.png").stat().st_size > 0
    study = load("S", f"sqlite:///{(runs / 'S' / 'optuna.db').resolve()}")
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    best = open_run(study.best_trial.user_attrs["run"], runs)  # S/trial-N: a normal run
    assert best.manifest.name == f"S/trial-{study.best_trial.number}"
    assert best.manifest.best_validation_f1 == pytest.approx(study.best_value)
    assert best.manifest.options["batch_size"] == study.best_trial.params["batch_size"]
    ok("eval", best.manifest.name, "--runs-dir", runs)
    # a second call joins the study: trial 2 follows trials 0 and 1
    out = ok("search", prepared, "--trials", 1, "--study", "S", "--runs-dir", runs, "--space", space_file, "--seed", 1).output
    assert "study S (3 trials" in out
    assert len(load("S", f"sqlite:///{(runs / 'S' / 'optuna.db').resolve()}").trials) == 3


def test_two_processes_share_one_study(prepared, space_file, tmp_path):
    storage = f"sqlite:///{tmp_path / 'search.db'}"
    procs = [snekner("search", prepared, "--trials", 2, "--study", "duo", "--storage", storage, "--runs-dir", tmp_path / "runs",
                     "--space", space_file, "--seed", seed) for seed in (1, 2)]
    outputs = [p.communicate(timeout=900) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-3000:]
    trials = load("duo", storage).trials
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]
    assert all(t.state.name in ("COMPLETE", "PRUNED") for t in trials)
    by_process = {}
    for t in trials:
        by_process.setdefault(t.user_attrs["process"], []).append(t.number)
    assert len(by_process) == 2 and all(len(numbers) == 2 for numbers in by_process.values()), by_process
    runs = {t.user_attrs["run"] for t in trials}
    assert runs == {f"duo/trial-{n}" for n in range(4)}
    for t in trials:
        if t.state.name == "COMPLETE":
            open_run(t.user_attrs["run"], tmp_path / "runs")


def test_an_interrupted_trial_is_marked_failed(prepared, space_file, tmp_path):
    storage = f"sqlite:///{tmp_path / 'search.db'}"
    proc = snekner("search", prepared, "--trials", 2, "--study", "cut", "--storage", storage, "--runs-dir", tmp_path / "runs",
                   "--space", space_file, env={"SNEKNER_FAULT": "INT@3"})
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 2, err[-3000:]
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err[-3000:]
    assert "interrupted; trial 0 of study cut is marked failed" in lines[0]
    assert [t.state.name for t in load("cut", storage).trials] == ["FAIL"]


def test_bad_input_is_one_line(prepared, tmp_path):
    one_line_error(invoke("search", prepared, "--trials", 0, "--runs-dir", tmp_path), "--trials must be at least 1")
    one_line_error(invoke("search", prepared, "--trials", 1, "--storage", "nonsense://x", "--runs-dir", tmp_path),
                   "cannot open study search in storage 'nonsense://x'", "--storage")
    for text, fragment in [("learning-rate = [", "is not valid TOML"),
                           ("learning-rate = { low = 0.0, high = 1e-3, log = true }", "low must be above 0"),
                           ("epochs = { low = 1.5, high = 3 }", "searched over integers"),
                           ("batch-size = [0, 8]", "batch-size must be at least 1, not 0"),
                           ("speed = 3", "unknown option 'speed'")]:
        bad = tmp_path / "bad.toml"
        bad.write_text(text, encoding="utf-8")
        one_line_error(invoke("search", prepared, "--trials", 1, "--space", bad, "--runs-dir", tmp_path), fragment)
    one_line_error(invoke("search", prepared, "--trials", 1, "--space", tmp_path / "none.toml"), "not found", "--space")
    one_line_error(invoke("search", prepared, "--trials", 1, "--plot", tmp_path / "h.gif"), "--plot")


def test_a_space_file_overrides_and_fixes(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text('[search]\nbatch-size = [16, 32]\nweight-decay = 0.01\nschedule = "linear"\n', encoding="utf-8")
    space, fixed = read_space(path)
    assert space["batch_size"].values == (16, 32) and space["learning_rate"] == SPACE["learning_rate"]
    assert "weight_decay" not in space and fixed == {"weight_decay": 0.01, "schedule": "linear"}


def test_each_epoch_is_reported_and_a_pruned_trial_stops():
    from snekner.training.search import ReportToTrial

    class Trial:
        def __init__(self, prune_at):
            self.reports, self.prune_at = [], prune_at

        def report(self, value, step):
            self.reports.append((step, value))

        def should_prune(self):
            return self.reports[-1][0] == self.prune_at

    class Pruned(Exception):
        pass

    trial = Trial(prune_at=2)
    callback = ReportToTrial(trial, Pruned)
    callback.on_epoch_end({}, {"epoch": 1}, {"overall": {"f1": 0.5}})
    callback.on_epoch_end({}, {"epoch": 1}, None)  # no validation split: nothing to report
    with pytest.raises(Pruned, match="pruned at epoch 2"):
        callback.on_epoch_end({}, {"epoch": 2}, {"overall": {"f1": 0.4}})
    assert trial.reports == [(1, 0.5), (2, 0.4)]


def test_a_search_run_again_explores_new_values(prepared, tmp_path, monkeypatch):
    """Issue 26: each rerun of a search against the same study sampled trial 0's values again (the sampler restarted from
    the same seed). Trials are faked here (no training): only what the sampler proposes matters."""
    from types import SimpleNamespace

    from snekner.training import search as search_module

    def fake_train(prepared_path, name, runs_dir, options, **kwargs):
        return SimpleNamespace(manifest=SimpleNamespace(best_validation_f1=0.5))

    monkeypatch.setattr(search_module, "train", fake_train)
    storage = f"sqlite:///{tmp_path / 'search.db'}"
    for _ in range(3):
        ok("search", prepared, "--trials", 1, "--study", "again", "--storage", storage, "--runs-dir", tmp_path / "runs", "--seed", 3)
    params = [t.params for t in load("again", storage).trials]
    assert len(params) == 3 and params[0] != params[1] and params[1] != params[2] and params[0] != params[2], params
    # a new study with that seed still starts where the first run did: the seed reproduces
    ok("search", prepared, "--trials", 1, "--study", "fresh", "--storage", storage, "--runs-dir", tmp_path / "runs", "--seed", 3)
    assert load("fresh", storage).trials[0].params == params[0]
