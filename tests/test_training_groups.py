"""`snekner train --seeds`: a group of runs, then eval, card and compare of the group; resume of a group; bad seeds."""
from __future__ import annotations

import json
import shutil

import pytest
from cli_helpers import invoke, ok, one_line_error

from snekner.store.evaluations import read_evaluation_file

TRAIN = ("--epochs", 1, "--batch-size", 8, "--learning-rate", 1e-3)


@pytest.fixture(scope="module")
def grouped(tmp_path_factory, sample_dir, tiny_model):
    """Experiment B as a group of two seeds, and B trained once more as a plain run, on the English sample."""
    work = tmp_path_factory.mktemp("groups")
    data = work / "data-b"
    ok("prep", "--dataset", sample_dir, "--lang", "en", "--tagset", "b", "--model", tiny_model, "--max-length", 48, "--out", data)
    out = ok("train", data, "--name", "G", "--runs-dir", work / "runs", "--seeds", "3,5", *TRAIN).output
    assert "trained group" in out
    ok("train", data, "--name", "R", "--runs-dir", work / "runs", "--seed", 3, *TRAIN)
    return work


def test_a_group_is_a_folder_of_normal_runs(grouped):
    group = grouped / "runs" / "G"
    manifest = json.loads((group / "snekner-group.json").read_text())
    assert manifest["kind"] == "snekner.group" and manifest["format_version"] == 1
    assert manifest["seeds"] == [3, 5] and manifest["members"] == ["seed-3", "seed-5"]
    assert "seed" not in manifest["options"] and manifest["options"]["epochs"] == 1
    for seed in (3, 5):
        run = json.loads((group / f"seed-{seed}" / "snekner-run.json").read_text())
        assert run["name"] == f"G/seed-{seed}" and run["status"] == "finished" and run["options"]["seed"] == seed
        assert (group / f"seed-{seed}" / "model" / "tf_model.h5").is_file()
    # seed 3 of the group is the same training as the plain run with --seed 3
    member = json.loads((group / "seed-3" / "snekner-run.json").read_text())
    plain = json.loads((grouped / "runs" / "R" / "snekner-run.json").read_text())
    assert member["best_validation_f1"] == plain["best_validation_f1"]


def test_eval_card_and_compare_take_the_group(grouped):
    runs = grouped / "runs"
    out = ok("eval", "G", "--runs-dir", runs).output
    assert "G/seed-3 on test" in out and "G/seed-5 on test" in out
    summary = out[out.index("group G on test"):].splitlines()
    assert "mean ± sd" in summary[1] and "seed 3" in summary[1] and "seed 5" in summary[1]
    overall = next(line for line in summary if line.startswith("overall")).split()
    f1 = [read_evaluation_file(runs / "G" / f"seed-{seed}" / "eval" / "test.json").overall.f1 for seed in (3, 5)]
    assert overall[1] == f"{(f1[0] + f1[1]) / 2:.4f}" and overall[4:6] == [f"{f1[0]:.4f}", f"{f1[1]:.4f}"]
    ok("eval", "R", "--runs-dir", runs)
    paths = ok("card", "G", "--runs-dir", runs).output.split()
    assert paths[0].endswith("G/README.md") and len(paths) == 3
    card = (runs / "G" / "README.md").read_text()
    assert "seeds 3, 5" in card and "| **overall** |" in card and "F1 mean ± sd" in card
    assert "`epochs` 1" in card and "`learning-rate` 0.001" in card and "`schedule` stable-decay" in card
    data = json.loads(ok("compare", "R", "G", "--runs-dir", runs, "--format", "json").output)
    assert data["seeds"] == {"R": [3], "G": [3, 5]}
    assert set(data["overall"]["G"]["per_seed"]) == {"3", "5"}
    # one member alone is a run
    ok("eval", "G/seed-5", "--runs-dir", runs)


def test_resume_trains_only_the_members_that_have_not_finished(grouped):
    runs = grouped / "runs"
    weights = runs / "G" / "seed-3" / "model" / "tf_model.h5"
    before = weights.stat().st_mtime_ns
    shutil.rmtree(runs / "G" / "seed-5")  # as if the machine stopped before seed 5 started
    one_line_error(invoke("compare", "G", "R", "--runs-dir", runs), "not found")
    out = ok("train", grouped / "data-b", "--name", "G", "--runs-dir", runs, "--resume").output
    assert "trained group" in out
    assert weights.stat().st_mtime_ns == before  # seed 3 untouched
    assert json.loads((runs / "G" / "seed-5" / "snekner-run.json").read_text())["status"] == "finished"
    one_line_error(invoke("train", grouped / "data-b", "--name", "G", "--runs-dir", runs, "--resume", "--seeds", "1,2"),
                   "group G has seeds 3,5, not 1,2")


@pytest.mark.parametrize("seeds, fragment", [("1,x", "not comma-separated integers"), ("1,1", "twice"), (",", "no seeds")])
def test_bad_seeds_are_one_line(grouped, seeds, fragment):
    one_line_error(invoke("train", grouped / "data-b", "--name", "H", "--runs-dir", grouped / "runs", "--seeds", seeds, *TRAIN),
                   fragment, "--seeds")
    assert not (grouped / "runs" / "H").exists()


def test_a_group_name_that_exists_is_refused(grouped):
    one_line_error(invoke("train", grouped / "data-b", "--name", "G", "--runs-dir", grouped / "runs", "--seeds", "1", *TRAIN),
                   "run G already exists")
    one_line_error(invoke("train", grouped / "data-b", "--name", "R", "--runs-dir", grouped / "runs", "--seeds", "1", "--overwrite", *TRAIN),
                   "R in", "is a single run, not a group")


def test_like_replays_a_group_or_a_run(grouped):
    runs, data = grouped / "runs", grouped / "data-b"
    ok("train", data, "--name", "L", "--runs-dir", runs, "--like", "G", "--seeds", "9")
    group = json.loads((runs / "L" / "snekner-group.json").read_text())
    source = json.loads((runs / "G" / "snekner-group.json").read_text())
    assert group["seeds"] == [9] and group["options"] == source["options"]
    ok("train", data, "--name", "L2", "--runs-dir", runs, "--like", "R", "--learning-rate", 2e-3)
    options = json.loads((runs / "L2" / "snekner-run.json").read_text())["options"]
    stored = json.loads((runs / "R" / "snekner-run.json").read_text())["options"]
    assert options == {**stored, "learning_rate": 2e-3}


def test_config_file_sets_options_and_seeds(grouped, tmp_path):
    runs, data = grouped / "runs", grouped / "data-b"
    config = tmp_path / "b.toml"
    config.write_text('[train]\nepochs = 1\nbatch-size = 8\nlearning_rate = 1e-3\nschedule = "linear"\nseeds = [4]\n')
    ok("train", data, "--name", "T", "--runs-dir", runs, "--config", config, "--max-grad-norm", 0.5)
    member = json.loads((runs / "T" / "seed-4" / "snekner-run.json").read_text())["options"]
    assert (member["epochs"], member["batch_size"], member["learning_rate"], member["schedule"], member["max_grad_norm"], member["seed"]) == (
        1, 8, 1e-3, "linear", 0.5, 4)
    bad = tmp_path / "bad.toml"
    bad.write_text("learning-rat = 1e-3\n")
    one_line_error(invoke("train", data, "--name", "U", "--runs-dir", runs, "--config", bad), "unknown option 'learning-rat'")
    bad.write_text("epochs = [\n")
    one_line_error(invoke("train", data, "--name", "U", "--runs-dir", runs, "--config", bad), "is not valid TOML")
    bad.write_text('epochs = "three"\n')
    one_line_error(invoke("train", data, "--name", "U", "--runs-dir", runs, "--config", bad), "epochs")
    one_line_error(invoke("train", data, "--name", "U", "--runs-dir", runs, "--config", tmp_path / "none.toml"), "not found", "--config")
    one_line_error(invoke("train", data, "--name", "U", "--runs-dir", runs, "--config", config, "--like", "R"), "--like and --config both given")
    assert not (runs / "U").exists()
