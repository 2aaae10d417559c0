"""One lifecycle for train, groups of seeds and adapt (issue 24): training.job.Job, driven by fake sessions and loops.

No model trains here: a session is a function of the folder it is handed, a loop an object whose run() raises what
the real loop raises. The commands' own tests (test_training, test_training_groups, test_adapt, test_reliability)
check the same cases end to end.
"""
from __future__ import annotations

import signal
from pathlib import Path

import pytest

from snekner.cli._util import error_line
from snekner.errors import (NonFiniteLoss, OutputExistsError, SneknerError, TrainingFailedError, TrainingInterrupted,
                            TrainingInterruptedError)
from snekner.store.manifests import RunStatus
from snekner.training.job import Job
from snekner.training.loop import TrainingState


def _job(path: Path, **kw) -> Job:
    return Job(command=kw.pop("command", "train"), what=kw.pop("what", "run"), path=path, title=f"run {path.name}",
               source=kw.pop("source", "data/x"), **kw)


def _writes(text: str):
    def session(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model.txt").write_text(text)
        return folder
    return session


def _fails_with(error: Exception):
    def session(folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model.txt").write_text("half")
        raise error
    return session


def test_a_new_job_runs_in_its_folder_and_an_existing_one_is_refused(tmp_path):
    path = tmp_path / "runs" / "A"
    path.parent.mkdir()
    assert _job(path).run(_writes("one")) == path
    with pytest.raises(OutputExistsError, match="run A already exists in .*runs$") as e:
        _job(path).run(_writes("two"))
    assert e.value.what == "run" and (path / "model.txt").read_text() == "one"


def test_overwrite_builds_beside_and_swaps_in_only_when_the_session_returns(tmp_path):
    path = tmp_path / "A"
    _job(path).run(_writes("old"))
    built = _job(path, overwrite=True).run(_writes("new"))
    assert built != path and not built.exists()  # the session wrote a build folder, renamed into place
    assert (path / "model.txt").read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["A"]


@pytest.mark.parametrize("error, expected", [
    (TrainingInterruptedError("interrupted at epoch 1 step 3; checkpoint saved", command="train", source="d", path=Path("x")),
     "interrupted; the new run was discarded and the run A in"),
    (TrainingFailedError("the training loss became nan at step 2 (epoch 1); run A is marked failed", command="train", source="d",
                         path=Path("x")),
     "the training loss became nan at step 2 (epoch 1); run A is marked failed; the new run was discarded and the run A in"),
])
def test_an_overwrite_that_stops_leaves_the_old_job_whole(tmp_path, error, expected):
    path = tmp_path / "A"
    _job(path).run(_writes("old"))
    with pytest.raises(SneknerError) as e:
        _job(path, overwrite=True).run(_fails_with(error))
    assert not isinstance(e.value, TrainingInterruptedError)  # nothing to resume: the build is gone
    assert expected in str(e.value) and "is as it was" in str(e.value)
    assert (path / "model.txt").read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["A"]


def test_an_adapted_model_is_named_by_its_folder_and_only_its_own_temporaries_go(tmp_path):
    user = tmp_path / "mine"
    user.mkdir()
    other = user / ".notes.123.abcdefgh.partial"  # another output's temporary, of a dead process
    other.mkdir()
    job = Job(command="adapt", what="adapted model", path=user / "out", title=str(user / "out"), source="text.txt", owns_parent=False)
    job.run(_writes("one"))
    assert other.exists()  # the folder is the user's: only out's temporaries are snekner's to clear
    with pytest.raises(OutputExistsError, match=f"^{user / 'out'} already exists$"):
        job.run(_writes("two"))
    overwrite = Job(**{**job.__dict__, "overwrite": True})
    with pytest.raises(SneknerError, match="the new model was discarded and .*out is as it was"):
        overwrite.run(_fails_with(overwrite.interrupted("interrupted")))


def test_a_resumed_job_runs_in_place_after_its_dead_sessions_temporaries_are_cleared(tmp_path):
    path = tmp_path / "A"
    _job(path).run(_writes("one"))
    stale = path / "checkpoints" / ".state.json.999999.abcdefgh.partial"  # pid 999999: no such process
    stale.parent.mkdir()
    stale.write_text("{}")
    assert _job(path, resume=True).run(_writes("two")) == path
    assert not stale.exists() and (path / "model.txt").read_text() == "two"


def test_a_worker_that_is_not_the_chief_neither_locks_nor_checks(tmp_path):
    path = tmp_path / "A"
    _job(path).run(_writes("one"))
    assert _job(path, owns_folder=False).run(_writes("two")) == path  # exists, no overwrite: the chief decided


class _Loop:
    """A loop whose run() stops as the real one does: after two steps, with `stop`."""

    class recipe:  # noqa: N801 - stands for the options dataclass
        @staticmethod
        def to_manifest():
            return {"learning_rate": 1e30}

    class task:  # noqa: N801
        loss_name = "masked-LM loss"

    def __init__(self, stop: Exception):
        self.stop = stop

    def run(self, state, callbacks):
        state.step = state.global_step = 2
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL  # SIGTERM ends it as Ctrl-C does
        raise self.stop


class _Manifest:
    status, failures = RunStatus.RUNNING, []


def test_an_interrupted_session_says_how_to_continue_it_for_train_and_adapt_alike(tmp_path):
    for command, source, expected in [("train", "data/x", "`snekner train data/x --name A --runs-dir runs --resume`"),
                                      ("adapt", "text.txt", "`snekner adapt --text text.txt --out runs/A --resume`")]:
        job = _job(Path("runs/A"), command=command, source=source)
        with pytest.raises(TrainingInterruptedError) as e:
            job.train(_Loop(TrainingInterrupted()), TrainingState(), [])
        assert type(e.value) is TrainingInterruptedError and str(e.value) == "interrupted at epoch 1 step 2; checkpoint saved"
        assert error_line(e.value).endswith(f"continue with {expected}")
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # put back


def test_a_nan_marks_the_manifest_failed_and_says_so_for_both_commands(tmp_path):
    saved = []
    manifest = _Manifest()
    job = _job(Path("runs/A"), command="adapt", source="text.txt")
    state = TrainingState(checkpoint="checkpoints/ckpt-1")
    with pytest.raises(TrainingFailedError) as e:
        job.train(_Loop(NonFiniteLoss(float("nan"), 3)), state, [], manifest=manifest, save_manifest=saved.append)
    assert str(e.value) == "the masked-LM loss became nan at step 3 (epoch 1); run A is marked failed, its last checkpoint (step 1) kept"
    assert saved == [manifest] and manifest.status == RunStatus.FAILED
    assert manifest.failures[0]["global_step"] == 3 and manifest.failures[0]["options"] == {"learning_rate": 1e30}
    assert "`snekner adapt --text text.txt --out runs/A --resume --learning-rate 1e-5`" in error_line(e.value)


def test_a_state_written_by_the_loop_before_it_was_typed_still_resumes():
    """checkpoints/state.json of a run killed under the previous snekner (a dict the loop wrote) reads as a TrainingState."""
    old = {"epoch": 1, "step": 5, "global_step": 20, "history": [{"epoch": 1}], "best_f1": 0.5, "best_epoch": 1,
           "best_weights": "checkpoints/best-epoch1.h5", "bad_epochs": 0, "stopped_early": False, "checkpoint": "checkpoints/ckpt-20"}
    state = TrainingState.from_json(old)
    assert (state.epoch, state.step, state.global_step, state.checkpoint_step) == (1, 5, 20, 20)
    assert state.to_json() == old
