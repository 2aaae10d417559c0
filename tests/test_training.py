"""Training: the input pipeline, interruption and resume, precision/XLA and tf.distribute on CPU.

Multi-device and fault tests run `snekner train` in subprocesses: TensorFlow's device layout
is fixed once per process, and a SIGKILL must hit a real process. What follows a fault (the resume) runs in this
process, through the CLI: it reads only what the killed process left on disk. Those tests are marked slow.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import invoke, prep_sample
from typer.testing import CliRunner

from snekner.cli import app
from snekner.modeling.batches import EncodedSplit, batches_per_epoch, epoch_batches, make_dataset, pad_multiple, training_order

runner = CliRunner()


def test_training_order_is_a_seeded_bucketed_permutation():
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 60, size=1000)
    order = training_order(lengths, batch_size=16, seed=7, epoch=0, window=10)
    assert sorted(order.tolist()) == list(range(1000))
    np.testing.assert_array_equal(order, training_order(lengths, 16, 7, 0, window=10))
    assert not np.array_equal(order, training_order(lengths, 16, 7, 1, window=10))
    assert not np.array_equal(order, training_order(lengths, 16, 8, 0, window=10))
    # bucketed: sentences in a batch are much closer in length than random batches are
    batches = order[: 62 * 16].reshape(62, 16)
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    random_spread = np.mean([np.ptp(lengths[b]) for b in rng.permutation(1000)[: 62 * 16].reshape(62, 16)])
    assert spread < random_spread / 4
    assert batches_per_epoch(1000, 16) == 63


def test_random_batching_is_a_plain_seeded_permutation():
    lengths = np.random.default_rng(0).integers(3, 60, size=500)
    order = training_order(lengths, batch_size=16, seed=7, epoch=2, bucketed=False)
    np.testing.assert_array_equal(order, np.random.default_rng([7, 2]).permutation(500))


def _batch_sums(lengths, batches):
    return np.array([lengths[batches.order[a:b]].sum() for a, b in zip(batches.starts[:-1], batches.starts[1:])])


def test_balanced_batches_hold_about_equal_subwords():
    """balanced: as many batches as bucketed, similar lengths together, but sub-words rather than sentences equal per batch,
    so that a batch of short sentences holds more of them (the loss weighs every labelled sub-word about alike)."""
    rng = np.random.default_rng(0)
    lengths = np.concatenate([rng.integers(3, 8, size=400), rng.integers(20, 120, size=600)])  # short lines and sentences
    balanced = epoch_batches(lengths, batch_size=16, seed=7, epoch=0, batching="balanced", window=10)
    bucketed = epoch_batches(lengths, batch_size=16, seed=7, epoch=0, batching="bucketed", window=10)
    assert sorted(balanced.order.tolist()) == list(range(1000))
    assert len(balanced) == len(bucketed) == batches_per_epoch(1000, 16)
    assert (np.diff(balanced.starts) >= 1).all()
    sums, bucketed_sums = _batch_sums(lengths, balanced), _batch_sums(lengths, bucketed)
    assert sums.std() / sums.mean() < 0.25 < bucketed_sums.std() / bucketed_sums.mean()
    sizes = np.diff(balanced.starts)
    assert sizes.max() > 16 * 3 and sizes.min() < 16  # many short sentences a batch, few long ones
    # similar lengths together: each batch's spread well below a random batch's
    spread = np.mean([np.ptp(lengths[balanced.order[a:b]]) for a, b in zip(balanced.starts[:-1], balanced.starts[1:])])
    assert spread < np.mean([np.ptp(lengths[b]) for b in rng.permutation(1000)[:992].reshape(62, 16)]) / 4
    again = epoch_batches(lengths, 16, 7, 0, "balanced", window=10)
    np.testing.assert_array_equal(balanced.order, again.order)
    np.testing.assert_array_equal(balanced.starts, again.starts)
    assert not np.array_equal(balanced.order, epoch_batches(lengths, 16, 7, 1, "balanced", window=10).order)
    np.testing.assert_array_equal(balanced.sentences_from(3), balanced.order[balanced.starts[3]:])
    repeated = epoch_batches(lengths, 16, 7, 0, "balanced", window=10, repeats=np.full(1000, 2))
    assert np.bincount(repeated.order).tolist() == [2] * 1000 and len(repeated) == batches_per_epoch(2000, 16)


def test_fixed_batchings_are_training_order_cut_every_batch_size():
    lengths = np.random.default_rng(1).integers(3, 60, size=100)
    for batching in ("bucketed", "random"):
        batches = epoch_batches(lengths, 16, 7, 2, batching)
        np.testing.assert_array_equal(batches.order, training_order(lengths, 16, 7, 2, bucketed=batching == "bucketed"))
        assert batches.starts.tolist() == [0, 16, 32, 48, 64, 80, 96, 100]


def test_options_of_an_older_run_keep_its_recipe():
    """A manifest written before an option existed resumes with what that run did, not today's default."""
    from snekner.training.options import Batching, Schedule, TrainOptions

    old = {"model": None, "epochs": 3, "batch_size": 16, "learning_rate": 5e-5, "weight_decay": 0.0, "warmup_ratio": 0.0, "seed": 42}
    options = TrainOptions.from_manifest(old)
    assert (options.schedule, options.max_grad_norm, options.batching) == (Schedule.LINEAR, 0.0, Batching.BUCKETED)
    assert options.decay_steps(100) is None
    again = TrainOptions.from_manifest(TrainOptions(schedule="stable-decay", decay_ratio=0.25).to_manifest())
    again.validate()
    assert again.schedule is Schedule.STABLE_DECAY and again.decay_steps(100) == 25
    assert TrainOptions(schedule=Schedule.CONSTANT).decay_steps(100) == 0


def test_batches_are_padded_to_a_multiple_of_eight():
    lengths = np.array([3, 9, 5, 17])
    ids = np.arange(1, lengths.sum() + 1, dtype=np.int32)
    labels = np.where(ids % 2 == 0, 1, -100).astype(np.int32)
    data = EncodedSplit(ids, labels, lengths, pad_id=0)
    batches = list(make_dataset(data, np.array([0, 1, 2, 3]), batch_size=2))
    first, second = batches
    assert first["input_ids"].shape == (2, 16) and second["input_ids"].shape == (2, 24)
    np.testing.assert_array_equal(first["input_ids"][0, :3], [1, 2, 3])
    assert first["input_ids"][0, 3:].numpy().tolist() == [0] * 13
    assert first["attention_mask"].numpy().sum(axis=1).tolist() == [3, 9]
    assert (first["labels"].numpy()[0, 3:] == -100).all()
    labelled = int((first["labels"].numpy() != -100).sum())
    assert first["n_labels"].numpy().tolist() == [labelled, labelled]
    skipped = list(make_dataset(data, np.array([0, 1, 2, 3]), batch_size=2, skip_batches=1))
    np.testing.assert_array_equal(skipped[0]["index"], [2, 3])
    # on a CPU without XLA a batch is as wide as its longest sentence
    exact = list(make_dataset(data, np.array([0, 1, 2, 3]), batch_size=2, multiple=pad_multiple(gpu=False, xla=False)))
    assert [b["input_ids"].shape[1] for b in exact] == [9, 17]


def test_batches_of_varied_sizes_come_as_given():
    from snekner.modeling.batches import EpochBatches

    lengths = np.array([3, 9, 5, 17, 4])
    ids = np.arange(1, lengths.sum() + 1, dtype=np.int32)
    data = EncodedSplit(ids, np.where(ids % 2 == 0, 1, -100).astype(np.int32), lengths, pad_id=0)
    plan = EpochBatches(np.array([4, 0, 2, 3, 1]), np.array([0, 3, 4, 5]))
    batches = list(make_dataset(data, plan, batch_size=2, multiple=1))
    assert [b["index"].numpy().tolist() for b in batches] == [[4, 0, 2], [3], [1]]
    assert [tuple(b["input_ids"].shape) for b in batches] == [(3, 5), (1, 17), (1, 9)]
    assert [b["index"].numpy().tolist() for b in make_dataset(data, plan, batch_size=2, skip_batches=2)] == [[1]]
    assert pad_multiple(gpu=True, xla=False) == pad_multiple(gpu=False, xla=True) == 8


@pytest.fixture(scope="session")  # session: the slow tests are shared out to the workers one by one
def prepared(tmp_path_factory, sample_dir, tiny_model) -> Path:
    out = tmp_path_factory.mktemp("train") / "data"
    return prep_sample(out, sample_dir, tiny_model)


def snekner(*args, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "snekner", *map(str, args)], capture_output=True, text=True, env=full_env, timeout=timeout)


def metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def train_args(prepared: Path, runs: Path, name: str, *extra) -> list:
    return ["train", prepared, "--name", name, "--runs-dir", runs, "--batch-size", 8, "--learning-rate", 1e-3, "--seed", 3, *extra]


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume(prepared, tmp_path):
    """Killed in the middle of epoch 2 (15 steps per epoch), resumed: every epoch once, nothing lost."""
    runs = tmp_path / "runs"
    killed = snekner(*train_args(prepared, runs, "K", "--epochs", 3, "--checkpoint-every", 4), env={"SNEKNER_FAULT": "KILL@21"})
    assert killed.returncode == -9, killed.stderr[-2000:]
    run = runs / "K"
    assert json.loads((run / "snekner-run.json").read_text())["status"] == "running"
    before = metrics(run)
    assert [m["epoch"] for m in before] == [1]
    state = json.loads((run / "checkpoints" / "state.json").read_text())
    assert (state["epoch"], state["step"], state["global_step"]) == (1, 5, 20)
    # a killed run is not something eval accepts
    refused = runner.invoke(app, ["eval", "K", "--runs-dir", str(runs)])
    assert refused.exit_code == 2 and "has not finished" in refused.output and "--resume" in refused.output

    resumed = invoke(*train_args(prepared, runs, "K", "--resume"))
    assert resumed.exit_code == 0, resumed.output[-3000:]
    assert "resuming at epoch 2, step 5" in resumed.stderr
    after = metrics(run)
    assert [m["epoch"] for m in after] == [1, 2, 3]
    assert after[0] == before[0]
    assert after[1]["resumed_mid_epoch"] and not after[2]["resumed_mid_epoch"]
    assert after[2]["global_step"] == 45
    manifest = json.loads((run / "snekner-run.json").read_text())
    assert manifest["status"] == "finished" and manifest["epochs_run"] == 3
    scored = runner.invoke(app, ["eval", "K", "--runs-dir", str(runs)])
    assert scored.exit_code == 0, scored.output
    again = invoke(*train_args(prepared, runs, "K", "--resume"))
    assert again.exit_code == 2 and "already finished" in again.stderr


@pytest.mark.slow
def test_ctrl_c_writes_a_checkpoint_and_resumes(prepared, tmp_path):
    runs = tmp_path / "runs"
    stopped = snekner(*train_args(prepared, runs, "C", "--epochs", 2), env={"SNEKNER_FAULT": "INT@7"})
    assert stopped.returncode == 2, stopped.stderr[-2000:]
    error_lines = [line for line in stopped.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "interrupted at epoch 1 step 7" in error_lines[0] and "--resume" in error_lines[0]
    assert "Traceback" not in stopped.stderr
    state = json.loads((runs / "C" / "checkpoints" / "state.json").read_text())
    assert (state["epoch"], state["step"]) == (0, 7)
    resumed = invoke(*train_args(prepared, runs, "C", "--resume"))
    assert resumed.exit_code == 0, resumed.output[-3000:]
    assert [m["epoch"] for m in metrics(runs / "C")] == [1, 2]


@pytest.mark.slow
def test_resume_refuses_a_changed_recipe_and_honours_more_epochs(prepared, tmp_path):
    """--resume continues the stored recipe: an option given with another value is one line and changes
    nothing; what may change mid-run (more epochs, checkpointing) is honoured and recorded in the manifest."""
    from cli_helpers import one_line_error

    runs = tmp_path / "runs"
    stopped = snekner(*train_args(prepared, runs, "R", "--epochs", 1), env={"SNEKNER_FAULT": "INT@4"})
    assert stopped.returncode == 2, stopped.stderr[-2000:]
    run = runs / "R"
    before = {name: (run / name).read_text() for name in ("snekner-run.json", "checkpoints/state.json")}
    resume = ["train", prepared, "--name", "R", "--runs-dir", runs, "--resume"]
    one_line_error(invoke(*resume, "--learning-rate", 3e-5),
                   "--learning-rate 3e-05 differs from the run's 0.001; --resume continues with the stored options "
                   "(drop --learning-rate, or train a new run)")
    one_line_error(invoke(*resume, "--schedule", "linear", "--epochs", 2), "--schedule linear differs from the run's stable-decay")
    assert {name: (run / name).read_text() for name in before} == before

    # the stored values given again are no change; more epochs and another checkpoint interval are taken
    resumed = invoke(*resume, "--learning-rate", 1e-3, "--seed", 3, "--epochs", 2, "--checkpoint-every", 5)
    assert resumed.exit_code == 0, resumed.output[-3000:]
    assert "resuming at epoch 1, step 4" in resumed.stderr
    assert [m["epoch"] for m in metrics(run)] == [1, 2]
    options = json.loads((run / "snekner-run.json").read_text())["options"]
    assert (options["epochs"], options["checkpoint_every"], options["learning_rate"], options["batch_size"]) == (2, 5, 1e-3, 8)


def test_resume_options_keep_the_recipe_and_take_what_may_change():
    from snekner.errors import ResumeOptionError
    from snekner.training.options import TrainOptions, resume_options

    stored = TrainOptions(epochs=2, learning_rate=1e-3, seed=3).to_manifest()
    given = TrainOptions(model="m", epochs=4, learning_rate=1e-3, seed=7, tensorboard=True, early_stopping_patience=2)
    options = resume_options(stored, given, {"model", "epochs", "learning_rate", "tensorboard", "early_stopping_patience"}, run_model="m")
    assert (options.model, options.epochs, options.learning_rate, options.seed) == (None, 4, 1e-3, 3)  # seed 7 was not given
    assert (options.tensorboard, options.early_stopping_patience) == (True, 2)
    assert resume_options(stored, given, set(), run_model="m") == TrainOptions.from_manifest(stored)
    with pytest.raises(ResumeOptionError) as refused:
        resume_options(stored, given, {"seed"}, run_model="m")
    assert str(refused.value) == "seed 7 differs from the run's 3; resume continues with the stored options (drop seed, or train a new run)"
    with pytest.raises(ResumeOptionError, match="model other differs from the run's m"):
        resume_options(stored, TrainOptions(model="other"), {"model"}, run_model="m")
    with pytest.raises(ResumeOptionError, match="epochs 1 is fewer than the run's 2; resume can add epochs, not remove them"):
        resume_options(stored, TrainOptions(epochs=1), {"epochs"}, run_model="m")


def final_loss(run: Path) -> float:
    return metrics(run)[-1]["train_loss"]


@pytest.mark.slow
def test_mirrored_strategy_over_two_cpu_devices_matches_one_device(prepared, tmp_path):
    runs = tmp_path / "runs"
    one = invoke(*train_args(prepared, runs, "one", "--epochs", 2, "--strategy", "one"))  # this process has one CPU device
    assert one.exit_code == 0, one.output[-3000:]
    two = snekner(*train_args(prepared, runs, "two", "--epochs", 2, "--strategy", "mirrored"), env={"SNEKNER_CPU_DEVICES": "2"})
    assert two.returncode == 0, two.stderr[-3000:]
    devices = json.loads((runs / "two" / "snekner-run.json").read_text())["devices"]
    assert devices["strategy"] == "mirrored" and devices["replicas"] == 2
    a, b = final_loss(runs / "one"), final_loss(runs / "two")
    first = metrics(runs / "one")[0]["train_loss"]
    assert a < first  # it learned
    assert abs(a - b) < 0.15 * a, (a, b)


@pytest.mark.slow
def test_mixed_precision_and_xla_on_cpu(prepared, tmp_path):
    runs = tmp_path / "runs"  # in a process of its own: the precision policy is Keras's global setting
    result = snekner(*train_args(prepared, runs, "mp", "--epochs", 1, "--mixed-precision", "--xla"))
    assert result.returncode == 0, result.stderr[-3000:]
    devices = json.loads((runs / "mp" / "snekner-run.json").read_text())["devices"]
    assert devices["precision"] == "bfloat16_matmuls" and devices["xla"] is True  # on a CPU: the dense layers' products
    assert "precision bfloat16_matmuls; XLA on" in result.stderr
    loss = final_loss(runs / "mp")
    assert np.isfinite(loss) and loss < 3.0
    scored = runner.invoke(app, ["eval", "mp", "--runs-dir", str(runs)])
    assert scored.exit_code == 0, scored.output


# the tests that run a two-worker cluster on localhost: one after another (in one xdist group), so that no two pick
# the same free ports
CLUSTER = pytest.mark.xdist_group("tf-cluster-on-localhost")


def _free_ports(n: int) -> list[int]:
    sockets, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in sockets:
            s.close()
    return ports


@pytest.mark.slow
@CLUSTER
def test_two_worker_multiworker_run_on_localhost(prepared, tmp_path):
    try:
        ports = _free_ports(2)
    except OSError as e:
        pytest.skip(f"cannot bind 127.0.0.1 ports: {e}")
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    runs = tmp_path / "runs"
    procs = []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        args = [sys.executable, "-m", "snekner", *map(str, train_args(prepared, runs, "mw", "--epochs", 1, "--strategy", "multiworker"))]
        procs.append(subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = []
    try:
        for p in procs:
            outputs.append(p.communicate(timeout=300))
    finally:
        for p in procs:
            p.kill()
    for p, (_, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-3000:]
    manifest = json.loads((runs / "mw" / "snekner-run.json").read_text())
    assert manifest["devices"]["strategy"] == "multiworker" and manifest["devices"]["replicas"] == 2
    assert [m["epoch"] for m in metrics(runs / "mw")] == [1]
    assert sorted(p.name for p in (runs / "mw" / "model").iterdir() if p.suffix == ".h5") == ["tf_model.h5"]
    assert sorted(p.name for p in runs.iterdir()) == ["mw"]


@pytest.mark.slow
@CLUSTER
def test_two_workers_resume_without_a_shared_run_folder(prepared, tmp_path):
    """Only the chief writes the run folder, so a resumed worker must get the recipe, the resume point and the
    weights from the chief, not from files of its own: here each worker has its own runs folder and temp folder.

    Both are interrupted after global step 20 (epoch 2, step 5 of 15) and resumed with `--resume` alone; the
    stored recipe has 2 epochs, the worker's command line today's default of 3."""
    try:
        ports = _free_ports(2)
    except OSError as e:
        pytest.skip(f"cannot bind 127.0.0.1 ports: {e}")
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}

    def workers(*extra, fault: str | None = None) -> list[tuple[int, str]]:
        procs = []
        for index in range(2):
            (tmp_path / f"tmp{index}").mkdir(exist_ok=True)
            env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
                   "TMPDIR": str(tmp_path / f"tmp{index}")}
            if fault:
                env["SNEKNER_FAULT"] = fault
            args = ["train", prepared, "--name", "mw", "--runs-dir", tmp_path / f"runs{index}", "--strategy", "multiworker", *extra]
            procs.append(subprocess.Popen([sys.executable, "-m", "snekner", *map(str, args)], env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        try:
            return [(p.wait(timeout=300), p.communicate()[1]) for p in procs]
        finally:
            for p in procs:
                p.kill()

    common = ("--batch-size", 8, "--learning-rate", 1e-3, "--seed", 3)
    stopped = workers(*common, "--epochs", 2, fault="INT@20")
    assert [code for code, _ in stopped] == [2, 2], stopped[1][1][-3000:]
    state = json.loads((tmp_path / "runs0" / "mw" / "checkpoints" / "state.json").read_text())
    assert (state["epoch"], state["step"], state["global_step"]) == (1, 5, 20)

    resumed = workers("--resume")
    for code, err in resumed:
        assert code == 0, err[-3000:]
        assert "resuming at epoch 2, step 5 (global step 20)" in err, err[-3000:]
    assert [m["epoch"] for m in metrics(tmp_path / "runs0" / "mw")] == [1, 2]
    assert json.loads((tmp_path / "runs0" / "mw" / "snekner-run.json").read_text())["status"] == "finished"
    assert not (tmp_path / "runs1").exists()  # the worker wrote no run folder of its own
    assert not list((tmp_path / "tmp1").glob("snekner-worker-*"))  # nor left its scratch checkpoints behind


BROADCAST_SCRIPT = """
import json
import snekner  # sets TF_USE_LEGACY_KERAS before TensorFlow loads
import tensorflow as tf
from snekner.modeling.devices import setup_devices, text_from_chief, values_from_chief

setup = setup_devices("multiworker")
mine = "chief" if setup.is_chief else "worker"
text = text_from_chief(setup, json.dumps({"from": mine, "words": "Zürich " * (3 if setup.is_chief else 1)}))
with setup.strategy.scope():
    weights, step = tf.Variable(tf.zeros([2, 3])), tf.Variable(0, dtype=tf.int64)
weights.assign(tf.fill([2, 3], 2.5 if setup.is_chief else -1.0))  # as a restored checkpoint would, on one worker
step.assign(41 if setup.is_chief else 0)
values_from_chief(setup, [weights, step])
print(json.dumps({"me": mine, "text": json.loads(text), "weights": weights.numpy().tolist(), "step": int(step.numpy())}))
"""


@pytest.mark.slow
@CLUSTER
def test_workers_get_the_chiefs_text_and_variable_values(tmp_path):
    """modeling.devices.text_from_chief and values_from_chief: what the chief holds, every worker ends with."""
    try:
        ports = _free_ports(2)
    except OSError as e:
        pytest.skip(f"cannot bind 127.0.0.1 ports: {e}")
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = [subprocess.Popen([sys.executable, "-c", BROADCAST_SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})})
             for i in range(2)]
    try:
        outputs = [p.communicate(timeout=200) for p in procs]
    finally:
        for p in procs:
            p.kill()
    seen = []
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-3000:]
        seen.append(json.loads(out.strip().splitlines()[-1]))
    assert [s["me"] for s in seen] == ["chief", "worker"]
    for s in seen:
        assert s["text"] == {"from": "chief", "words": "Zürich " * 3}
        assert s["weights"] == [[2.5] * 3] * 2 and s["step"] == 41


def _scalars(directory: Path) -> dict[str, dict[int, float]]:
    """Every scalar in a TensorBoard log folder: {tag: {step: value}}, read back with TensorFlow's event reader."""
    import tensorflow as tf

    found: dict[str, dict[int, float]] = {}
    for path in sorted(directory.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                number = float(tf.make_ndarray(value.tensor)) if value.HasField("tensor") else value.simple_value
                found.setdefault(value.tag, {})[event.step] = number
    return found


def test_tensorboard_gets_per_type_validation_f1_and_the_learning_rate(prepared, tmp_path):
    runs = tmp_path / "runs"
    result = runner.invoke(app, [str(a) for a in train_args(prepared, runs, "TB", "--epochs", 2, "--warmup-ratio", 0.5, "--schedule", "linear",
                                                                   "--tensorboard")])
    assert result.exit_code == 0, result.output
    scalars = _scalars(runs / "TB" / "tensorboard")
    history = metrics(runs / "TB")
    types = json.loads((prepared / "snekner-prepared.json").read_text())["tagset"]["types"]
    for typ in types:
        assert scalars[f"validation_f1/{typ}"] == pytest.approx({h["epoch"]: h["validation_per_type_f1"][typ] for h in history})
    assert scalars["validation/f1"] == pytest.approx({h["epoch"]: h["validation"]["f1"] for h in history})
    rates = scalars["train/learning_rate"]
    total = history[-1]["global_step"]
    assert sorted(rates) == list(range(1, total + 1)) and sorted(scalars["train/loss"]) == list(range(1, total + 1))
    warmup = int(total * 0.5)
    # step s was taken at the rate of the schedule at s - 1: a linear warm-up from 0 to the peak, then a linear decay to 0
    for step, rate in rates.items():
        expected = 1e-3 * (step - 1) / warmup if step - 1 < warmup else 1e-3 * (total - step + 1) / (total - warmup)
        assert rate == pytest.approx(expected, rel=1e-5, abs=1e-9), step
