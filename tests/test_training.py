"""Training: the input pipeline, interruption and resume, precision/XLA and tf.distribute on CPU.

Multi-device and fault tests run `snekner train` in subprocesses: TensorFlow's device layout
is fixed once per process, and a SIGKILL must hit a real process.
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
from cli_helpers import prep_sample
from typer.testing import CliRunner

from snekner.cli import app
from snekner.modeling.batches import EncodedSplit, batches_per_epoch, make_dataset, pad_multiple, training_order

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
    assert pad_multiple(gpu=True, xla=False) == pad_multiple(gpu=False, xla=True) == 8


@pytest.fixture(scope="module")
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

    resumed = snekner(*train_args(prepared, runs, "K", "--resume"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
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
    again = snekner(*train_args(prepared, runs, "K", "--resume"))
    assert again.returncode == 2 and "already finished" in again.stderr


def test_ctrl_c_writes_a_checkpoint_and_resumes(prepared, tmp_path):
    runs = tmp_path / "runs"
    stopped = snekner(*train_args(prepared, runs, "C", "--epochs", 2), env={"SNEKNER_FAULT": "INT@7"})
    assert stopped.returncode == 2, stopped.stderr[-2000:]
    error_lines = [line for line in stopped.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "interrupted at epoch 1 step 7" in error_lines[0] and "--resume" in error_lines[0]
    assert "Traceback" not in stopped.stderr
    state = json.loads((runs / "C" / "checkpoints" / "state.json").read_text())
    assert (state["epoch"], state["step"]) == (0, 7)
    resumed = snekner(*train_args(prepared, runs, "C", "--resume"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert [m["epoch"] for m in metrics(runs / "C")] == [1, 2]


def final_loss(run: Path) -> float:
    return metrics(run)[-1]["train_loss"]


def test_mirrored_strategy_over_two_cpu_devices_matches_one_device(prepared, tmp_path):
    runs = tmp_path / "runs"
    one = snekner(*train_args(prepared, runs, "one", "--epochs", 2, "--strategy", "one"))
    assert one.returncode == 0, one.stderr[-3000:]
    two = snekner(*train_args(prepared, runs, "two", "--epochs", 2, "--strategy", "mirrored"), env={"SNEKNER_CPU_DEVICES": "2"})
    assert two.returncode == 0, two.stderr[-3000:]
    devices = json.loads((runs / "two" / "snekner-run.json").read_text())["devices"]
    assert devices["strategy"] == "mirrored" and devices["replicas"] == 2
    a, b = final_loss(runs / "one"), final_loss(runs / "two")
    first = metrics(runs / "one")[0]["train_loss"]
    assert a < first  # it learned
    assert abs(a - b) < 0.15 * a, (a, b)


def test_mixed_precision_and_xla_on_cpu(prepared, tmp_path):
    runs = tmp_path / "runs"
    result = snekner(*train_args(prepared, runs, "mp", "--epochs", 1, "--mixed-precision", "--xla"))
    assert result.returncode == 0, result.stderr[-3000:]
    devices = json.loads((runs / "mp" / "snekner-run.json").read_text())["devices"]
    assert devices["precision"] == "mixed_bfloat16" and devices["xla"] is True
    assert "precision mixed_bfloat16; XLA on" in result.stderr
    loss = final_loss(runs / "mp")
    assert np.isfinite(loss) and loss < 3.0
    scored = runner.invoke(app, ["eval", "mp", "--runs-dir", str(runs)])
    assert scored.exit_code == 0, scored.output


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
