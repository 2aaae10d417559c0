"""No run lost, no silent failure (issue 11): locks, atomic --overwrite, NaN losses, full disks, stale
temporary files, file modes, `snekner push`, and a kill -9 at every write boundary of prep, train and eval.

Bad option values and damaged inputs (one-line errors) are in test_reliability_inputs.py.

The kills at the write boundaries are one test per rename (parametrized), each killing the command just before and
just after it, so that pytest-xdist's workers share them out; each command's renames are counted by a test of its own.
The prepared data and the finished runs they start from are session fixtures: built once per worker, copied per test.
"""
from __future__ import annotations

import errno
import io
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import invoke, ok, one_line_error, prep_sample

from snekner.store.locks import hold, holder

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")  # session: the slow tests below are shared out to the workers one by one
def prepared(tmp_path_factory, sample_dir, tiny_model) -> Path:
    return prep_sample(tmp_path_factory.mktemp("reliability") / "data", sample_dir, tiny_model)


def train_args(prepared: Path, runs: Path, name: str, *extra) -> list:
    return ["train", prepared, "--name", name, "--runs-dir", runs, "--epochs", 1, "--batch-size", 8, "--learning-rate", 1e-3, *extra]


def snekner(*args, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snekner", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr[-3000:]
    return lines[0]


def status(run: Path) -> str:
    return json.loads((run / "snekner-run.json").read_text())["status"]


def partials(folder: Path) -> list[str]:
    return sorted(p.name for p in Path(folder).rglob("*.partial"))


@pytest.fixture(scope="session")
def finished(prepared, tmp_path_factory) -> Path:
    """A finished, evaluated run R (copied by tests that change it)."""
    runs = tmp_path_factory.mktemp("finished") / "runs"
    ok(*train_args(prepared, runs, "R"))
    ok("eval", "R", "--runs-dir", runs)
    return runs / "R"


def copy_run(run: Path, runs: Path) -> Path:
    import shutil

    shutil.copytree(run, runs / run.name)
    return runs / run.name


# -- locks: two writers of one name, readers of a run being written ---------------------------------
class LockHolder:
    """Another process holding an artifact's lock, as a running `snekner train` or `prep` would."""

    def __init__(self, target: Path, doing: str = "train", shared: bool = False):
        code = ("import sys, time; from snekner.store.locks import hold\n"
                f"with hold({str(target)!r}, 'run', {doing!r}, shared={shared}):\n"
                "    print('held', flush=True); time.sleep(600)\n")
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "held"

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


def test_a_second_writer_of_a_run_fails_at_once_naming_the_holder(prepared, finished, tmp_path):
    runs = tmp_path / "runs"
    run = copy_run(finished, runs)
    other = LockHolder(run)
    try:
        for args in (train_args(prepared, runs, "R", "--overwrite"), train_args(prepared, runs, "R", "--resume"),
                     train_args(prepared, runs, "R", "--seeds", "1,2", "--overwrite")):
            line = one_line_error(invoke(*args), f"run {run} is in use by another snekner command (train (pid {other.proc.pid}))")
            assert "wait for it to finish" in line
        # eval writes into the run: it may not while the run is being replaced
        one_line_error(invoke("eval", "R", "--runs-dir", runs), "in use", str(other.proc.pid))
    finally:
        other.kill()
    assert status(run) == "finished" and (run / "model").is_dir()
    # the holder died (kill -9 included): its lock went with it
    ok("eval", "R", "--runs-dir", runs)
    assert not (runs / ".R.lock").exists()  # the last holder removes the lock file


def test_readers_of_a_run_being_trained_say_so_instead_of_resume(prepared, finished, tmp_path):
    runs = tmp_path / "runs"
    run = copy_run(finished, runs)
    manifest = json.loads((run / "snekner-run.json").read_text())
    (run / "snekner-run.json").write_text(json.dumps({**manifest, "status": "running"}))
    other = LockHolder(run)
    try:
        for args in (["eval", "R"], ["compare", "R", "R"], ["card", "R"], ["predict", "R", "Paris"]):
            line = one_line_error(invoke(*args, "--runs-dir", runs), f"run R is being trained right now, by train (pid {other.proc.pid})")
            assert "--resume" not in line and "wait for it to finish" in line
    finally:
        other.kill()
    line = one_line_error(invoke("eval", "R", "--runs-dir", runs), "run R has not finished (status: running)")
    assert "--resume" in line


def test_readers_of_a_group_being_trained_say_so(finished, tmp_path):
    import shutil

    from snekner.store.manifests import GroupManifest, write_group_manifest

    group = tmp_path / "runs" / "G"
    shutil.copytree(finished, group / "seed-1")  # seed 2 has not started yet
    write_group_manifest(group, GroupManifest(name="G", data="d", seeds=[1, 2], members=["seed-1", "seed-2"], options={}))
    other = LockHolder(group)
    try:
        line = one_line_error(invoke("eval", "G", "--runs-dir", tmp_path / "runs"), f"group G is being trained right now, by train (pid {other.proc.pid})")
        assert "wait for it to finish" in line
    finally:
        other.kill()
    one_line_error(invoke("eval", "G", "--runs-dir", tmp_path / "runs"), "seed-2 not found")


def test_a_second_prep_of_one_folder_fails_at_once(sample_dir, tiny_model, tmp_path):
    out = tmp_path / "data"
    other = LockHolder(out, doing="prep")
    try:
        line = one_line_error(invoke("prep", "--dataset", sample_dir, "--lang", "en", "--tagset", "b", "--model", tiny_model, "--out", out),
                              f"prepared dataset {out} is in use by another snekner command (prep (pid {other.proc.pid}))")
        assert "--out" in line
    finally:
        other.kill()
    assert not out.exists()


def test_locks_are_shared_between_readers_and_reentrant_in_one_process(tmp_path):
    target = tmp_path / "R"
    reader = LockHolder(target, doing="eval", shared=True)
    try:
        with hold(target, "run", "eval", shared=True):  # two readers at once
            pass
        with pytest.raises(Exception, match="in use by another snekner command \\(eval, card or push\\)"):
            with hold(target, "run", "train"):
                pass
        assert holder(target) is None  # readers are not writers
    finally:
        reader.kill()
    with hold(target, "run", "train"), hold(target, "run", "train"):  # a group holds it, then its member's train() again
        assert holder(target) is None  # this process's own lock is not someone else's
    assert not (tmp_path / ".R.lock").exists()


@pytest.mark.slow
def test_two_trains_of_one_name_started_together(prepared, tmp_path):
    """The issue's case: two `snekner train --name X` a moment apart. One trains; the other fails at once in one
    line naming the first, whichever started first, and the run left is whole."""
    runs = tmp_path / "runs"
    cmd = [sys.executable, "-m", "snekner", *map(str, train_args(prepared, runs, "X", "--epochs", 2))]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while holder(runs / "X") is None and first.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-3000:]
    assert second.returncode == 2
    assert f"run {runs / 'X'} is in use by another snekner command (train (pid {first.pid}))" in error_line(second.stderr)
    assert status(runs / "X") == "finished" and (runs / "X" / "model").is_dir()


# -- --overwrite replaces whole -----------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("fault", ["KILL@1", "INT@2"])
def test_an_overwrite_that_dies_leaves_the_old_run_whole(prepared, finished, tmp_path, fault):
    runs = tmp_path / "runs"
    run = copy_run(finished, runs)
    before = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()}
    died = snekner(*train_args(prepared, runs, "R", "--overwrite", "--seed", 9), env={"SNEKNER_FAULT": fault})
    if fault.startswith("KILL"):
        assert died.returncode == -9
    else:
        line = error_line(died.stderr)
        assert "interrupted; the new run was discarded and the run R" in line and "is as it was" in line
    after = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()}
    assert after == before  # model, eval and metrics, byte for byte
    ok("eval", "R", "--runs-dir", runs)
    ok(*train_args(prepared, runs, "R", "--overwrite", "--seed", 9))  # the killed build is cleaned up by the next writer
    assert json.loads((run / "snekner-run.json").read_text())["options"]["seed"] == 9
    assert not (run / "eval").exists() and partials(runs) == []


# -- numbers: a loss that turns NaN or infinite -------------------------------------------------------
def test_a_diverging_run_stops_marked_failed_and_resumes_with_a_lower_rate(prepared, tmp_path):
    """--learning-rate 1e30 is finite and positive, so it passes the option checks; the weights blow up after
    one step. Before: the run trained on, was marked finished with NaN weights, and eval tagged everything O."""
    runs = tmp_path / "runs"
    result = invoke(*train_args(prepared, runs, "N", "--learning-rate", 1e30, "--epochs", 2))
    line = one_line_error(result, "the training loss became", "at step 2 (epoch 1)", "run N is marked failed")
    assert "--resume --learning-rate" in line
    manifest = json.loads((runs / "N" / "snekner-run.json").read_text())
    assert manifest["status"] == "failed" and manifest["failures"][0]["global_step"] == 2
    assert not (runs / "N" / "model").exists()
    refused = one_line_error(invoke("eval", "N", "--runs-dir", runs), "has not finished (status: failed)")
    assert "--learning-rate" in refused
    # no checkpoint was written before the failure, so the resume starts over, now with a rate that trains
    ok(*train_args(prepared, runs, "N", "--resume", "--learning-rate", 1e-3, "--epochs", 2))
    manifest = json.loads((runs / "N" / "snekner-run.json").read_text())
    assert manifest["status"] == "finished" and manifest["options"]["learning_rate"] == 1e-3
    assert len(manifest["failures"]) == 1 and manifest["failures"][0]["options"]["learning_rate"] == 1e30


def test_a_nan_after_a_checkpoint_keeps_that_checkpoint(prepared, tmp_path, monkeypatch):
    """The loss turns NaN in epoch 2: the run keeps epoch 1's checkpoint, and resumes from it."""
    import tensorflow as tf

    from snekner.training import tasks

    poison = tf.Variable(1.0)
    real = tasks.masked_loss_sum

    def poisoned(labels, logits, weights=None):
        loss_sum, count = real(labels, logits, weights)
        return loss_sum * poison, count

    class PoisonAt:
        def on_step_end(self, state, loss, count):
            if state.global_step == 17:  # 15 steps per epoch: 2 into epoch 2
                poison.assign(float("nan"))

    monkeypatch.setattr(tasks, "masked_loss_sum", poisoned)
    from snekner.errors import TrainingFailedError
    from snekner.training.options import TrainOptions
    from snekner.training.train import train

    runs = tmp_path / "runs"
    with pytest.raises(TrainingFailedError, match="loss became nan at step 18 \\(epoch 2\\).*last checkpoint \\(step 15\\) kept"):
        train(prepared, "P", runs, TrainOptions(epochs=2, batch_size=8, learning_rate=1e-3), callbacks=[_AllHooks(PoisonAt())])
    state = json.loads((runs / "P" / "checkpoints" / "state.json").read_text())
    assert (state["epoch"], state["global_step"]) == (1, 15)
    poison.assign(1.0)
    run = train(prepared, "P", runs, TrainOptions(epochs=2, batch_size=8, learning_rate=1e-3), resume=True)
    assert run.manifest.is_finished and run.manifest.epochs_run == 2


class _AllHooks:
    """A callback with every hook (snekner.training.callbacks.Callback's), forwarding on_step_end."""

    def __init__(self, inner):
        from snekner.training.callbacks import Callback

        self.base, self.inner = Callback(), inner

    def __getattr__(self, name):
        return getattr(self.inner, name, None) or getattr(self.base, name)


# -- a full disk --------------------------------------------------------------------------------------
def _disk_full(path_of):
    def fail(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path_of(*args)))
    return fail


class _FullFile(io.StringIO):
    """A file open for writing on a full disk: every write fails with ENOSPC."""

    def __init__(self, path):
        super().__init__()
        self.path = path

    def write(self, text):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))


def test_a_full_disk_is_one_line_and_takes_back_what_the_command_wrote(prepared, finished, sample_dir, tiny_model, tmp_path, monkeypatch):
    from snekner.data import prepare
    from snekner.evaluation import evaluate
    from snekner.training import tasks

    # prep: nothing of the new folder remains
    monkeypatch.setattr(prepare, "write_prepared_manifest", _disk_full(lambda d, m: Path(d) / "snekner-prepared.json"))
    result = invoke("prep", "--dataset", sample_dir, "--lang", "en", "--tagset", "b", "--model", tiny_model, "--out", tmp_path / "d")
    one_line_error(result, "no space left on the device writing", "snekner-prepared.json", "free some space")
    assert list(tmp_path.iterdir()) == []
    # train: a new run is removed whole (its checkpoints would fill the disk again)
    runs = tmp_path / "runs"
    monkeypatch.setattr(tasks, "save_model", _disk_full(lambda model, tok, d: Path(d) / "tf_model.h5"))
    result = invoke(*train_args(prepared, runs, "F"))
    one_line_error(result, "no space left on the device writing", "tf_model.h5", f"removed what it had written ({runs / 'F'})")
    assert not (runs / "F").exists() and partials(runs) == []
    # eval: the run keeps its old scores
    run = copy_run(finished, runs)
    scores = (run / "eval" / "test.json").read_bytes()
    # the predictions are written part by part into their temporary file: the disk fills at the first write
    monkeypatch.setattr(evaluate, "open", lambda path, *args, **kwargs: _FullFile(path), raising=False)
    one_line_error(invoke("eval", "R", "--runs-dir", runs), "no space left on the device writing", "test.predictions.jsonl")
    assert (run / "eval" / "test.json").read_bytes() == scores and partials(run) == []


# -- temporary files of dead processes; file modes ----------------------------------------------------
def test_stale_partials_of_dead_processes_are_removed_and_live_ones_kept(sample_dir, tiny_model, tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        stale = tmp_path / f".d.{dead.pid}.abc12345.partial"
        (stale / "data").mkdir(parents=True)
        kept = tmp_path / f".d.{alive.pid}.def45678.partial"
        kept.mkdir()
        other = tmp_path / ".notes.partial.txt"  # not snekner's naming: never touched
        other.write_text("mine")
        ok("prep", "--dataset", sample_dir, "--lang", "en", "--tagset", "b", "--model", tiny_model, "--out", tmp_path / "d")
        assert not stale.exists() and kept.exists() and other.exists()
    finally:
        alive.kill()
        alive.wait()


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_files_and_folders_get_the_modes_the_umask_gives(tmp_path, umask):
    """Before: manifests and eval JSON were 0600 and prepared folders 0700 whatever the umask (mkstemp's modes)."""
    from snekner.store.atomic import atomic_path, write_json

    previous = os.umask(umask)
    try:
        write_json(tmp_path / "x.json", {})
        with atomic_path(tmp_path / "folder", directory=True) as tmp:
            (tmp / "f").write_text("")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "x.json").stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE((tmp_path / "folder").stat().st_mode) == 0o777 & ~umask


def test_artifacts_made_by_commands_follow_the_umask(prepared, finished):
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(prepared.stat().st_mode) == 0o777 & ~umask
    for path in (prepared / "snekner-prepared.json", finished / "snekner-run.json", finished / "eval" / "test.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path


# -- snekner push -------------------------------------------------------------------------------------
def test_push_retries_a_finished_run_alone(finished, tmp_path, monkeypatch):
    import huggingface_hub

    calls = []
    monkeypatch.setenv("HF_TOKEN", "hf_fake_token_for_tests")
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo",
                        lambda self, repo_id, **k: calls.append(("create", repo_id, k.get("private"))) or f"https://hub/{repo_id}")

    def upload(self, **k):
        if len(calls) == 1:
            raise RuntimeError("503 Service Unavailable")
        calls.append(("upload", k["repo_id"]))

    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload)
    runs = tmp_path / "runs"
    copy_run(finished, runs)
    line = one_line_error(invoke("push", "R", "--repo", "me/ner", "--private", "--runs-dir", runs), "could not push R to me/ner",
                          "503 Service Unavailable")
    assert f"retry with `snekner push R --repo me/ner --runs-dir {runs}`" in line
    result = ok("push", "R", "--repo", "me/ner", "--private", "--runs-dir", runs)
    assert "pushed R" in result.output and calls[-2:] == [("create", "me/ner", True), ("upload", "me/ner")]
    assert (runs / "R" / "model" / "README.md").is_file()
    one_line_error(invoke("push", "nope", "--repo", "me/ner", "--runs-dir", runs), "run nope not found")


# -- kill -9 at every write boundary ------------------------------------------------------------------
# How many renames each command makes (store.atomic: every artifact appears by one). A test below counts them, running
# the command to its end; the kill tests take one rename each, killing just before it and just after it.
PREP_RENAMES = 2  # the prepared manifest in the temporary folder, the folder
TRAIN_RENAMES = 6  # manifest (running), best-epoch weights, checkpoint state, metrics, model folder, manifest (finished)
OVERWRITE_RENAMES = 7  # the same six in the new run's temporary folder, then the exchange with the old run
EVAL_RENAMES = 2  # predictions, scores


def killed_at(n: int, when: str, *args, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(HERE / "kill_at_rename.py"), str(n), when, *map(str, args)], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=300)


def boundaries(*args) -> int:
    """How many renames the command makes when nothing kills it (it runs for real once)."""
    done = killed_at(0, "none", *args)
    assert done.returncode == 0, done.stderr[-3000:]
    return int(done.stderr.rsplit("renames: ", 1)[1].split()[0])


def killed_around(n: int, *args, before_each=lambda: None):
    """Kill the command just before, then just after, its n-th rename (`before_each` runs before each kill); yields
    where, after each kill."""
    for when in ("before", "after"):
        before_each()
        died = killed_at(n, when, *args)
        assert died.returncode == -signal.SIGKILL, died.stderr[-3000:]
        yield f"killed {when} rename {n}"


def prep_args(sample_dir: Path, tiny_model: Path, out: Path) -> list:
    return ["prep", "--dataset", sample_dir, "--lang", "en", "--tagset", "b", "--model", tiny_model, "--out", out, "--overwrite"]


@pytest.mark.slow
@pytest.mark.parametrize("command, renames", [("prep", PREP_RENAMES), ("train", TRAIN_RENAMES), ("train --overwrite", OVERWRITE_RENAMES),
                                              ("eval", EVAL_RENAMES)])
def test_the_kill_tests_reach_every_write_boundary(command, renames, request, tmp_path):
    """The kill tests below kill each command at each of its renames: if a command writes once more (or less), this
    fails, and its count above wants changing so that the kills reach the new boundary."""
    runs = tmp_path / "runs"
    if command == "prep":
        args = prep_args(request.getfixturevalue("sample_dir"), request.getfixturevalue("tiny_model"), tmp_path / "d")
    elif command == "eval":
        copy_run(request.getfixturevalue("finished"), runs)
        args = ["eval", "R", "--runs-dir", runs, "--strict"]
    else:
        if "--overwrite" in command:
            copy_run(request.getfixturevalue("finished_t"), runs)
        args = train_args(request.getfixturevalue("prepared"), runs, "T", *command.split()[1:])
    assert boundaries(*args) == renames, f"{command} makes another number of renames now: change its count above"


@pytest.mark.slow
@pytest.mark.parametrize("n", range(1, PREP_RENAMES + 1))
def test_kill_at_every_write_boundary_of_prep(sample_dir, tiny_model, tmp_path, n):
    from snekner.store.prepared import load_prepared

    out = tmp_path / "d"
    args = prep_args(sample_dir, tiny_model, out)
    ok(*args)  # the prepared folder the killed prep --overwrite replaces
    for where in killed_around(n, *args):
        assert load_prepared(out).manifest.splits["train"].sentences > 0, where  # the old folder or the new one, whole
        ok(*args)  # and the next prep takes over what the killed one left
        assert partials(tmp_path) == [], where


def whole_run(runs: Path, where: str) -> None:
    """Run T is finished, with its model, and predicts."""
    from snekner.store.runs import open_run

    run = open_run("T", runs)
    assert (run.model_dir / "config.json").is_file(), where  # finished means it has its model
    ok("predict", "T", "Paris is big", "--runs-dir", runs)


@pytest.mark.slow
@pytest.mark.parametrize("n", range(1, TRAIN_RENAMES + 1))
def test_kill_at_every_write_boundary_of_train(prepared, tmp_path, n):
    """A new run, killed anywhere: it is absent, or unfinished and resumable, or finished whole."""
    import shutil

    runs = tmp_path / "runs"
    args = train_args(prepared, runs, "T")
    for where in killed_around(n, *args, before_each=lambda: shutil.rmtree(runs / "T", ignore_errors=True)):
        where = f"new run, {where} of {TRAIN_RENAMES}"
        if not (runs / "T" / "snekner-run.json").is_file():
            ok(*args, "--overwrite")  # nothing a command would take for a run: start again
        elif status(runs / "T") != "finished":
            ok(*args, "--resume")
        whole_run(runs, where)


@pytest.fixture(scope="session")
def finished_t(prepared, tmp_path_factory) -> Path:
    """Run T, trained with train_args: what a killed `train --overwrite` replaces (copied by each test)."""
    runs = tmp_path_factory.mktemp("finished-t") / "runs"
    ok(*train_args(prepared, runs, "T"))
    return runs / "T"


@pytest.mark.slow
@pytest.mark.parametrize("n", range(1, OVERWRITE_RENAMES + 1))
def test_kill_at_every_write_boundary_of_train_overwrite(prepared, finished_t, tmp_path, n):
    """An overwrite, killed anywhere: the finished run is there whole (the old one, or the new one)."""
    runs = tmp_path / "runs"
    copy_run(finished_t, runs)
    args = train_args(prepared, runs, "T", "--overwrite")
    for where in killed_around(n, *args):
        whole_run(runs, f"overwrite, {where} of {OVERWRITE_RENAMES}")
    ok(*args)
    assert partials(runs) == []  # the next writer removed what the killed ones left


@pytest.mark.slow
@pytest.mark.parametrize("n", range(1, EVAL_RENAMES + 1))
def test_kill_at_every_write_boundary_of_eval(finished, tmp_path, n):
    from snekner.errors import MissingEvaluationError
    from snekner.evaluation.bootstrap import load_predictions
    from snekner.store.evaluations import read_evaluation_file
    from snekner.store.runs import open_run

    runs = tmp_path / "runs"
    copy_run(finished, runs)
    args = ["eval", "R", "--runs-dir", runs, "--strict"]
    ok(*args)  # the scores and predictions the killed eval replaces
    for where in killed_around(n, *args):
        run = open_run("R", runs)
        scores = read_evaluation_file(run.eval_path("test"))  # old or new, whole
        try:
            load_predictions(run, "test")
        except MissingEvaluationError as e:  # new predictions, old scores: caught, said in one line
            assert "is not the predictions its scores" in str(e), where
        ok(*args)
        assert read_evaluation_file(run.eval_path("test")).mode == "strict" and scores.mode in ("strict", "conlleval")
        assert partials(runs) == [], where


def test_only_a_failed_run_may_resume_with_another_rate():
    from snekner.errors import ResumeOptionError
    from snekner.training.options import TrainOptions, resume_options

    stored = TrainOptions(learning_rate=1e-3, max_grad_norm=0.0).to_manifest()
    given = TrainOptions(learning_rate=1e-5, max_grad_norm=1.0, batch_size=4)
    with pytest.raises(ResumeOptionError, match="learning_rate 1e-05 differs"):
        resume_options(stored, given, {"learning_rate"}, run_model="m")
    steadier = resume_options(stored, given, {"learning_rate", "max_grad_norm"}, run_model="m", after_failure=True)
    assert (steadier.learning_rate, steadier.max_grad_norm) == (1e-5, 1.0)
    with pytest.raises(ResumeOptionError, match="batch_size 4 differs"):  # the batches already trained on stay what they were
        resume_options(stored, given, {"batch_size"}, run_model="m", after_failure=True)


def test_tensorflows_full_disk_names_the_checkpoint():
    """Seen on a full 400 kB tmpfs: TensorFlow reports ENOSPC as a ResourceExhaustedError naming its temporary file."""
    import tensorflow as tf

    from snekner.errors import DiskFullError
    from snekner.store.atomic import disk_full_is_an_error

    message = ("{{function_node __wrapped__SaveV2_dtypes_120_device_/job:localhost/replica:0/task:0/device:CPU:0}} /mnt/full/runs/T/"
               "checkpoints/ckpt-15_temp/part-00000-of-00001.data-00000-of-00001.tempstate1756; No space left on device [Op:SaveV2]")
    with pytest.raises(DiskFullError, match="writing /mnt/full/runs/T/checkpoints/ckpt-15;"):
        with disk_full_is_an_error():
            raise tf.errors.ResourceExhaustedError(None, None, message)
    with pytest.raises(tf.errors.ResourceExhaustedError):  # out of memory is not a full disk
        with disk_full_is_an_error():
            raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")


# -- predict --out stopped half-way (issue 26) ----------------------------------------------------------
SLOW_PREDICT = """
import time
from snekner.cli import predict
real = predict.format_pieces

def one_piece_then_wait(predictions, fmt):  # the first sentence is written to the temporary file, then it waits
    for piece in real(predictions, fmt):
        yield piece
        print("writing", flush=True)
        time.sleep(600)

predict.format_pieces = one_piece_then_wait
from snekner.cli import app
app({args!r}, prog_name="snekner")
"""


@pytest.mark.slow
def test_predict_out_stopped_leaves_no_temporary_file(finished, tmp_path):
    """Before: `predict --out` stopped by SIGTERM (a scheduler's or `kill`'s stop) left its .partial file, which no
    later command removed (the README said they do)."""
    runs = tmp_path / "runs"
    copy_run(finished, runs)
    out = tmp_path / "out" / "o.jsonl"
    out.parent.mkdir()
    (tmp_path / "in.txt").write_text("Ann sings in Paris.\nBo walks to Rome.\n", encoding="utf-8")
    args = ["predict", "R", "--input", str(tmp_path / "in.txt"), "--format", "jsonl", "--out", str(out), "--runs-dir", str(runs)]

    def stopped(sig: int) -> subprocess.CompletedProcess:
        proc = subprocess.Popen([sys.executable, "-c", SLOW_PREDICT.format(args=args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        assert proc.stdout.readline().strip() == "writing", proc.stderr.read()[-3000:]
        assert len(partials(out.parent)) == 1  # being written
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=120)
        return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)

    done = stopped(signal.SIGTERM)  # as Ctrl-C: the temporary file goes, nothing is written
    assert done.returncode == 130 and "interrupted; nothing was written" in error_line(done.stderr)
    assert partials(out.parent) == [] and not out.exists()
    assert stopped(signal.SIGKILL).returncode == -signal.SIGKILL  # no clean-up runs: its temporary file stays
    assert len(partials(out.parent)) == 1
    other = out.parent / ".other.jsonl.4194300.abcdefgh.partial"  # a temporary of another output: not this command's to remove
    other.write_text("")
    ok(*args)  # the next predict --out there removes it
    assert partials(out.parent) == [other.name] and len(out.read_text().splitlines()) == 2
