"""Issue 11, bad inputs: each ends in one `error:` line and exit code 2, saying what is wrong and how to fix it.

Damaged data files, out-of-range options, damaged or hand-edited artifacts, and limits of the
model; and no TensorFlow start-up log before the error line of a command that loaded TensorFlow.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
from cli_helpers import invoke, ok, one_line_error, prep_sample
from fakes import write_run

from snekner.store.evaluations import read_evaluation_file
from snekner.training.options import FLOAT_RANGES, TrainOptions

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, sample_dir, tiny_model) -> Path:
    """Prep B on the English sample (max length 48) and train run R for one epoch; returns the work folder."""
    work = tmp_path_factory.mktemp("reliability")
    prep_sample(work / "data", sample_dir, tiny_model)
    ok("train", work / "data", "--name", "R", "--runs-dir", work / "runs", "--epochs", 1, "--batch-size", 8, "--learning-rate", 1e-3)
    return work


def copy_run(trained: Path, tmp_path: Path, name: str = "R") -> Path:
    """A copy of run R under tmp_path/runs, to damage."""
    shutil.copytree(trained / "runs" / "R", tmp_path / "runs" / name)
    return tmp_path / "runs" / name


def write_layout(root: Path, train_lines: list[bytes]) -> Path:
    """A hub-layout folder: train_en.jsonl of the given raw lines, one valid row in val and test."""
    good = json.dumps({"tokens": ["Ann", "sings"], "ner_tags": [1, 0]}).encode()
    for prefix, lines in (("train", train_lines), ("val", [good]), ("test", [good])):
        (root / prefix).mkdir(parents=True)
        (root / prefix / f"{prefix}_en.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
    return root


# ---------------------------------------------------------------- 1, 2: data files

@pytest.mark.parametrize("command", ["prep", "inspect"])
def test_jsonl_that_is_not_utf8_names_its_file_and_line(tmp_path, tiny_model, command):
    good = json.dumps({"tokens": ["Ann", "sings"], "ner_tags": [1, 0]}).encode()
    data = write_layout(tmp_path / "d", [good, good, b'{"tokens": ["Caf\xe9", "x"], "ner_tags": [0, 0]}', good])
    args = (["prep", "--dataset", data, "--tagset", "b", "--model", tiny_model, "--out", tmp_path / "o"] if command == "prep"
            else ["inspect", data])
    one_line_error(invoke(*args), f"{data / 'train' / 'train_en.jsonl'}: line 3 is not UTF-8 (byte 0xe9 at column 17)",
                   "save the file as UTF-8")
    assert not (tmp_path / "o").exists()


def test_a_bad_row_is_named_by_its_line_counting_blank_lines(tmp_path, tiny_model):
    good = json.dumps({"tokens": ["Ann", "sings"], "ner_tags": [1, 0]}).encode()
    bad = json.dumps({"tokens": ["Ann", "sings"], "ner_tags": [1]}).encode()
    data = write_layout(tmp_path / "d", [good, b"", good, b"   ", b"", bad, good])  # row 2 is on line 6
    one_line_error(invoke("prep", "--dataset", data, "--tagset", "b", "--model", tiny_model, "--out", tmp_path / "o"),
                   "split train row 2 of train_en.jsonl", "train_en.jsonl line 6)", "2 tokens but 1 ner_tags")


# ---------------------------------------------------------------- 3, 4: options

def test_every_float_option_has_a_range():
    floats = {f.name for f in fields(TrainOptions) if f.type in ("float", float)}
    assert floats == {name for name, _, _ in FLOAT_RANGES}


@pytest.mark.parametrize("flag, value, requirement", [
    ("--learning-rate", "inf", "a positive finite number"),
    ("--learning-rate", "nan", "a positive finite number"),
    ("--learning-rate", "0", "a positive finite number"),
    ("--warmup-ratio", "nan", "at least 0 and below 1"),
    ("--warmup-ratio", "1", "at least 0 and below 1"),
    ("--weight-decay", "nan", "0 (off) or a positive finite number"),
    ("--weight-decay", "inf", "0 (off) or a positive finite number"),
    ("--weight-decay", "-0.1", "0 (off) or a positive finite number"),
    ("--decay-ratio", "nan", "between 0 and 1"),
    ("--decay-ratio", "-inf", "between 0 and 1"),
    ("--max-grad-norm", "inf", "0 (off) or a positive finite number"),
    ("--max-grad-norm", "nan", "0 (off) or a positive finite number"),
    ("--oversample", "nan", "0 (off) or a share below 1 such as 0.05"),
    ("--oversample", "inf", "0 (off) or a share below 1 such as 0.05"),
])
def test_train_float_options_are_finite_and_in_range(tmp_path, flag, value, requirement):
    """Checked at the boundary, before any data loads (the prepared folder does not even exist)."""
    shown = repr(float(value))
    one_line_error(invoke("train", tmp_path / "nowhere", "--name", "X", "--runs-dir", tmp_path / "runs", flag, value),
                   f"{flag} must be {requirement}, not {shown}")
    assert not (tmp_path / "runs").exists()


def test_a_config_file_cannot_bring_an_infinite_learning_rate(tmp_path):
    (tmp_path / "c.toml").write_text("learning-rate = inf\n")
    one_line_error(invoke("train", tmp_path / "nowhere", "--name", "X", "--runs-dir", tmp_path / "runs", "--config", tmp_path / "c.toml"),
                   f"--learning-rate must be a positive finite number, not {math.inf!r}")


@pytest.mark.parametrize("args, fragment", [
    (["eval", "R", "--batch-size", "0"], "--batch-size must be at least 1, not 0"),
    (["eval", "R", "--batch-size", "-3"], "--batch-size must be at least 1, not -3"),
    (["predict", "R", "Ann sings", "--batch-size", "0"], "--batch-size must be at least 1, not 0"),
    (["train", "{tmp}/nowhere", "--name", "X", "--epochs", "0"], "--epochs must be at least 1, not 0"),
    (["train", "{tmp}/nowhere", "--name", "X", "--batch-size", "0"], "--batch-size must be at least 1, not 0"),
    (["train", "{tmp}/nowhere", "--name", "X", "--eval-batch-size", "0"], "--eval-batch-size must be at least 1, not 0"),
    (["train", "{tmp}/nowhere", "--name", "X", "--checkpoint-every", "-1"], "--checkpoint-every must be 0 (off) or more, not -1"),
])
def test_int_options_that_must_be_positive_are_checked_first(tmp_path, args, fragment):
    """The run has no model and the data does not exist: the option is checked before either is needed."""
    write_run(tmp_path / "runs" / "R", "R", LABELS)
    one_line_error(invoke(*[a.format(tmp=tmp_path) for a in args], "--runs-dir", tmp_path / "runs"), fragment)


# ---------------------------------------------------------------- 5, 6: damaged runs

@pytest.mark.parametrize("command", ["eval", "predict"])
@pytest.mark.parametrize("damage, fragments", [
    ("truncated", ["the model weights {model}/tf_model.h5 of run R cannot be read (the file is truncated or damaged)"]),
    ("empty", ["the model weights {model}/tf_model.h5 of run R cannot be read"]),
    ("no weights", ["the model folder {model} of run R has no tf_model.h5"]),
    ("no model", ["run R has no model in {model}"]),
])
def test_a_damaged_or_missing_model_is_one_line(trained, tmp_path, command, damage, fragments):
    run = copy_run(trained, tmp_path)
    weights = run / "model" / "tf_model.h5"
    if damage == "truncated":
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    elif damage == "empty":
        weights.write_bytes(b"")
    elif damage == "no weights":
        weights.unlink()
    else:
        shutil.rmtree(run / "model")
    args = ["Ann sings"] if command == "predict" else []
    fragments = [f.format(model=run / "model") for f in fragments]
    one_line_error(invoke(command, "R", *args, "--runs-dir", tmp_path / "runs"), *fragments, "restore it from a backup",
                   "snekner train ... --name R --overwrite")


# ---------------------------------------------------------------- 7, 8: tagsets and prepared manifests

@pytest.mark.parametrize("source_id", [10**20, 5_000_000_000, -1, 1.5, "1"])
def test_a_tagset_id_outside_the_source_ids_is_one_line(tmp_path, tiny_model, sample_dir, source_id):
    (tmp_path / "t.json").write_text(json.dumps({"O": 0, "B-PER": source_id, "I-PER": 2}))
    one_line_error(invoke("prep", "--dataset", sample_dir, "--tagset", tmp_path / "t.json", "--model", tiny_model, "--out", tmp_path / "o"),
                   f"'B-PER' has id {source_id!r}", "ids must be non-negative integers from the source dataset, below 10000")


def _drop_dis(tagset: dict) -> None:
    """B-DIS and I-DIS removed, as a hand edit would: the data still holds their ids."""
    for label in ("B-DIS", "I-DIS"):
        del tagset["source_ids"][label]
    tagset["labels"] = list(tagset["source_ids"])
    del tagset["types"], tagset["source_to_new"]


def _not_bio(tagset: dict) -> None:
    tagset["source_ids"] = {("E-" + k[2:] if k.startswith("B-") else k): v for k, v in tagset["source_ids"].items()}
    tagset["labels"] = list(tagset["source_ids"])


@pytest.mark.parametrize("edit, fragments", [
    (lambda t: t["labels"].reverse(), ["lists labels that differ from its tagset's source_ids"]),
    (lambda t: t["labels"].pop(), ["lists labels that differ from its tagset's source_ids"]),
    (_drop_dis, ["split train of prepared dataset", "has label id 10 in ner_tags, but its manifest snekner-prepared.json lists 9 labels"]),
    (_not_bio, ["holds an invalid tagset (tagset b: label 'E-PER' is not BIO)"]),
    (lambda t: t["source_ids"].update({"B-PER": 10**20}), ["holds an invalid tagset (tagset b: 'B-PER' has id 100000000000000000000)"]),
])
def test_hand_edited_labels_of_a_prepared_manifest_are_one_line_at_load(trained, tmp_path, edit, fragments):
    data = tmp_path / "data"
    shutil.copytree(trained / "data", data)
    manifest = json.loads((data / "snekner-prepared.json").read_text())
    edit(manifest["tagset"])
    (data / "snekner-prepared.json").write_text(json.dumps(manifest))
    for args in (["inspect", data], ["train", data, "--name", "X", "--runs-dir", tmp_path / "runs"]):
        one_line_error(invoke(*args), *fragments, "make it again with `snekner prep ... --overwrite`")
    assert not (tmp_path / "runs" / "X").exists()


# ---------------------------------------------------------------- 9, 10: the model's positions, the window

def test_prep_refuses_a_max_length_beyond_the_models_positions(tmp_path, sample_dir, tiny_model):
    one_line_error(invoke("prep", "--dataset", sample_dir, "--tagset", "b", "--model", tiny_model, "--max-length", 129, "--out", tmp_path / "o"),
                   "--max-length must be at most the model's 128 positions, not 129")
    assert not (tmp_path / "o").exists()


def test_train_refuses_data_longer_than_another_models_positions(trained, tmp_path, tiny_model):
    shorter = tmp_path / "shorter-model"
    shutil.copytree(tiny_model, shorter)
    config = json.loads((shorter / "config.json").read_text())
    (shorter / "config.json").write_text(json.dumps({**config, "max_position_embeddings": 32}))
    one_line_error(invoke("train", trained / "data", "--name", "X", "--runs-dir", tmp_path / "runs", "--model", shorter),
                   "was prepared with max length 48, more than the 32 positions of model", "--model")
    assert not (tmp_path / "runs" / "X").exists()


@pytest.mark.parametrize("args, fragment", [
    (["--stride", "46"], "--stride must be from 0 to 45: fewer words than a window holds (46 sub-words: max length 48 less 2 special tokens), not 46"),
    (["--stride", "1000", "--max-length", "8"], "--stride must be from 0 to 5"),
    (["--stride", "-1"], "--stride must be from 0 to 45"),
])
def test_predict_refuses_a_stride_as_long_as_the_window(trained, args, fragment):
    one_line_error(invoke("predict", "R", "Ann sings", "--runs-dir", trained / "runs", *args), fragment)


# ---------------------------------------------------------------- 11: no TensorFlow log before the error line

def test_an_error_after_tensorflow_loads_is_the_only_line_on_stderr(trained, tmp_path):
    """In a fresh process, as a user runs it: TensorFlow's start-up log (which TF_CPP_MIN_LOG_LEVEL
    does not reach) must not come before the error line."""
    run = copy_run(trained, tmp_path)
    weights = run / "model" / "tf_model.h5"
    weights.write_bytes(weights.read_bytes()[:2000])
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP_")}
    done = subprocess.run([sys.executable, "-m", "snekner", "eval", "R", "--runs-dir", str(tmp_path / "runs")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [f"error: the model weights {weights} of run R cannot be read (the file is truncated or damaged); "
                                        "restore it from a backup, or train the run again with `snekner train ... --name R --overwrite`"]


# ---------------------------------------------------------------- issue 26, 1: nothing from a folder runs

EVIL_MODULE = '''import pathlib
pathlib.Path({marker!r}).write_text("the folder's code ran")
from transformers import PretrainedConfig, PreTrainedTokenizerFast


class EvilConfig(PretrainedConfig):
    model_type = "snekner-evil"


class EvilTokenizer(PreTrainedTokenizerFast):
    pass
'''


def make_evil(folder: Path, marker: Path, module: str, config: bool = True) -> Path:
    """Make a model (or tokenizer) folder name code of its own: `auto_map` in tokenizer_config.json (and, `config`, in
    config.json, with a model type transformers does not know), naming MODULE.py, whose import writes `marker`. Unknown
    classes are what make transformers ask "run the custom code? [y/N]" on standard input instead of using its own."""
    (folder / f"{module}.py").write_text(EVIL_MODULE.format(marker=str(marker)), encoding="utf-8")
    tok = json.loads((folder / "tokenizer_config.json").read_text())
    tok.update(tokenizer_class="EvilTokenizer", auto_map={"AutoTokenizer": [f"{module}.EvilTokenizer", None]})
    (folder / "tokenizer_config.json").write_text(json.dumps(tok))
    if config:
        cfg = json.loads((folder / "config.json").read_text())
        cfg.update(model_type="snekner-evil", auto_map={"AutoConfig": f"{module}.EvilConfig"})
        (folder / "config.json").write_text(json.dumps(cfg))
    return folder


@pytest.fixture
def evil(trained, tiny_model, tmp_path) -> dict:
    """A model folder, a prepared folder and a run R whose tokenizer and config name code that leaves a marker file. The
    module has a name of its own in each test: Python imports a module once per process, and each test must see its own."""
    marker = tmp_path / "MARKER"
    module = f"evil_{abs(hash(str(tmp_path))):x}"
    model = make_evil(Path(shutil.copytree(tiny_model, tmp_path / "model")), marker, module)
    data = Path(shutil.copytree(trained / "data", tmp_path / "data"))
    make_evil(data / "tokenizer", marker, module, config=False)
    run = Path(shutil.copytree(trained / "runs" / "R", tmp_path / "runs" / "R"))
    make_evil(run / "model", marker, module)
    (tmp_path / "text.txt").write_text("Ann sings in Paris.\nBo walks to Rome.\n" * 20, encoding="utf-8")
    return {"root": tmp_path, "marker": marker, "model": model, "data": data, "runs": tmp_path / "runs", "good_data": trained / "data"}


EVIL_COMMANDS = {
    "prep --model": lambda e, s: ["prep", "--dataset", s, "--lang", "en", "--tagset", "b", "--model", e["model"], "--out", e["root"] / "o"],
    "train --model": lambda e, s: ["train", e["good_data"], "--name", "X", "--runs-dir", e["root"] / "r2", "--model", e["model"], "--epochs", 1],
    "train (prepared)": lambda e, s: ["train", e["data"], "--name", "Y", "--runs-dir", e["root"] / "r2", "--epochs", 1],
    "adapt --model": lambda e, s: ["adapt", "--text", e["root"] / "text.txt", "--model", e["model"], "--out", e["root"] / "a", "--epochs", 1],
    "inspect (prepared)": lambda e, s: ["inspect", e["data"]],
    "eval": lambda e, s: ["eval", "R", "--runs-dir", e["runs"], "--data", e["good_data"]],
    "predict": lambda e, s: ["predict", "R", "Ann sings in Paris", "--runs-dir", e["runs"]],
    "export": lambda e, s: ["export", "R", "--format", "pytorch", "--out", e["root"] / "x", "--runs-dir", e["runs"]],
    "push": lambda e, s: ["push", "R", "--repo", "me/evil", "--runs-dir", e["runs"]],
}


@pytest.mark.parametrize("command", list(EVIL_COMMANDS))
def test_no_command_runs_code_from_a_folder_even_when_stdin_says_yes(evil, sample_dir, command, monkeypatch):
    """Before: transformers asked "Do you wish to run the custom code? [y/N]" on standard input, and "y" imported evil.py."""
    monkeypatch.setenv("HF_TOKEN", "hf_fake_token_for_tests")  # push gets as far as loading the model, never to the network
    result = invoke(*EVIL_COMMANDS[command](evil, sample_dir), input="y\ny\ny\n")
    assert not evil["marker"].exists(), f"{command}: the folder's code ran"
    line = one_line_error(result, "asks to run code of its own (auto_map in", "snekner never runs code from a model, run or data folder")
    assert ".EvilTokenizer" in line, line
    for made in ("o", "a", "x", "r2/X", "r2/Y"):
        assert not (evil["root"] / made).exists(), made


def test_every_transformers_load_passes_trust_remote_code_false():
    """Every from_pretrained / from_config call of transformers' Auto classes in snekner says trust_remote_code=False,
    so that no default of transformers (nor its prompt) decides."""
    import ast

    package = Path(__file__).resolve().parents[1] / "snekner"
    missing = []
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("from_pretrained", "from_config")
                    and not any(k.arg == "trust_remote_code" and isinstance(k.value, ast.Constant) and k.value.value is False
                                for k in node.keywords)):
                missing.append(f"{path.relative_to(package.parent)}:{node.lineno}")
    assert not missing, missing


def test_a_legacy_auto_map_list_is_refused_too(tmp_path):
    from snekner.errors import RemoteCodeError
    from snekner.modeling.models import check_no_remote_code

    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"auto_map": ["evil.Slow", "evil.Fast"]}))
    with pytest.raises(RemoteCodeError, match="tokenizer_config.json: evil.Slow, evil.Fast"):
        check_no_remote_code(tmp_path)
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"auto_map": {}}))
    assert check_no_remote_code(tmp_path) == tmp_path  # an empty map names nothing


# ---------------------------------------------------------------- issue 26, 2 and 5: names, folders, file systems

@pytest.mark.parametrize("name", [".keep.4194300.x.partial", ".R.lock", ".hidden"])
def test_run_names_snekner_keeps_for_its_own_files_are_refused(trained, tmp_path, name):
    """Before: `train --name '.keep.4194300.x.partial'` trained, and the next train in that runs folder deleted the run as
    a dead process's temporary. As git refuses names starting with a dot, snekner refuses them for runs."""
    runs = tmp_path / "runs"
    one_line_error(invoke("train", trained / "data", "--name", name, "--runs-dir", runs, "--epochs", 1, "--batch-size", 8),
                   f"run name {name!r} starts with a dot", "--name")
    assert not (runs / name).exists()


@pytest.mark.parametrize("out", [".d.lock", ".d.4194300.abcdefgh.partial"])
def test_output_folders_named_as_snekners_own_files_are_refused(sample_dir, tiny_model, tmp_path, out):
    one_line_error(invoke("prep", "--dataset", sample_dir, "--lang", "en", "--tagset", "b", "--model", tiny_model, "--out", tmp_path / out),
                   "is a name snekner keeps for its own temporary and lock files", "--out")
    assert list(tmp_path.iterdir()) == []


def test_clean_up_removes_only_what_snekner_wrote(trained, tmp_path):
    """A finished run in a folder named like a temporary (an older snekner let one be trained) survives the next train; so
    does a file of another program that looks alike, but whose random part is not tempfile's eight characters."""
    runs = tmp_path / "runs"
    kept = Path(shutil.copytree(trained / "runs" / "R", runs / ".keep.4194300.x.partial"))
    other = runs / ".notes.4194300.x1.partial"
    other.write_text("mine")
    ok("train", trained / "data", "--name", "T", "--runs-dir", runs, "--epochs", 1, "--batch-size", 8, "--learning-rate", 1e-3)
    assert (kept / "model" / "tf_model.h5").is_file() and other.read_text() == "mine"


def test_a_run_name_too_long_for_its_temporaries_is_one_line(trained, tmp_path):
    """Before: a traceback ("File name too long") from the lock file .NAME.lock."""
    name = "n" * 250
    one_line_error(invoke("train", trained / "data", "--name", name, "--runs-dir", tmp_path / "runs"),
                   "is 250 bytes long; a name may have at most 200", "--name")
    one_line_error(invoke("train", trained / "data", "--name", "é" * 101, "--runs-dir", tmp_path / "runs"), "is 202 bytes long")


@pytest.mark.parametrize("command", ["train", "search", "eval"])
def test_a_runs_dir_that_is_a_file_is_one_line(trained, tmp_path, command):
    runs = tmp_path / "runs"
    runs.write_text("not a folder")
    args = {"train": ["train", trained / "data", "--name", "X"], "search": ["search", trained / "data", "--trials", 1],
            "eval": ["eval", "R"]}[command]
    line = one_line_error(invoke(*args, "--runs-dir", runs))
    assert str(runs) in line, line
    assert runs.read_text() == "not a folder"


def test_a_run_whose_lock_name_is_taken_by_a_folder_is_one_line(trained, tmp_path):
    """Before: after a run named `.X.lock` was trained, training X failed with a traceback (IsADirectoryError)."""
    runs = tmp_path / "runs"
    (runs / ".X.lock").mkdir(parents=True)
    one_line_error(invoke("train", trained / "data", "--name", "X", "--runs-dir", runs, "--epochs", 1),
                   f"cannot write {runs / 'X'}: {runs / '.X.lock'} is a folder, where snekner writes a file of its own")
    assert not (runs / "X").exists()


@pytest.mark.parametrize("command", ["train", "eval"])
def test_a_read_only_file_system_is_one_line(trained, tmp_path, monkeypatch, command):
    """EROFS on the run's lock file, as a read-only mount gives it (faked: the tests do not mount file systems)."""
    import errno

    runs = tmp_path / "runs"
    shutil.copytree(trained / "runs" / "R", runs / "R")
    real_open = os.open

    def read_only(path, flags, *args, **kwargs):
        if str(path).endswith(".lock") and flags & os.O_CREAT:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    args = ["train", trained / "data", "--name", "X", "--epochs", 1] if command == "train" else ["eval", "R"]
    one_line_error(invoke(*args, "--runs-dir", runs), f"cannot write {runs / ('X' if command == 'train' else 'R')}: Read-only file system",
                   "write somewhere you may")


# ---------------------------------------------------------------- issue 26, 3: a run is scored on the data it was trained on

def test_eval_refuses_data_prepared_again_since_training_unless_told(tmp_path, sample_dir, tiny_model):
    """Before: after `prep --overwrite` of the run's prepared folder from other data (German instead of English), `eval`
    scored the new data without a word, and the card went on saying English."""
    data, runs = tmp_path / "data", tmp_path / "runs"
    prep_sample(data, sample_dir, tiny_model)
    ok("train", data, "--name", "R", "--runs-dir", runs, "--epochs", 1, "--batch-size", 8, "--learning-rate", 1e-3)
    ok("eval", "R", "--runs-dir", runs)  # the data it was trained on: scored
    ok("prep", "--dataset", sample_dir, "--lang", "de", "--tagset", "b", "--model", tiny_model, "--max-length", 48, "--out", data, "--overwrite")
    line = one_line_error(invoke("eval", "R", "--runs-dir", runs),
                          f"the prepared data at {data} has changed since run R was trained on it (splits test, train, validation",
                          f"to score the run on it anyway, pass --data {data}")
    assert "Traceback" not in line
    ok("eval", "R", "--runs-dir", runs, "--data", data)  # told: scored, and the card says on what
    ok("card", "R", "--runs-dir", runs)
    assert f"These scores are on prepared data other than the data the model was trained on: `{data.resolve()}`" in \
        (runs / "R" / "README.md").read_text()
    # a resume on the replaced data is refused as well
    manifest = json.loads((runs / "R" / "snekner-run.json").read_text())
    (runs / "R" / "snekner-run.json").write_text(json.dumps({**manifest, "status": "running"}))
    one_line_error(invoke("train", data, "--name", "R", "--runs-dir", runs, "--resume"), "has changed since run R started training on it")
    # a run from a snekner that recorded no fingerprint: scored, and said so
    del manifest["data_fingerprint"]
    (runs / "R" / "snekner-run.json").write_text(json.dumps(manifest))
    result = ok("eval", "R", "--runs-dir", runs)
    assert "warning: run R does not record a fingerprint of its data" in result.output


# ---------------------------------------------------------------- issue 26, 6: smaller wrong results

def test_prep_and_eval_say_how_many_words_the_max_length_cuts(tmp_path, sample_dir, tiny_model):
    """Words beyond --max-length count as O in eval (as designed); before, neither prep nor eval said how many there were."""
    data, runs = tmp_path / "data", tmp_path / "runs"
    result = ok("prep", "--dataset", sample_dir, "--lang", "en", "--tagset", "b", "--model", tiny_model, "--max-length", 8, "--out", data)
    splits = json.loads((data / "snekner-prepared.json").read_text())["splits"]
    words, sentences = (sum(s[key] for s in splits.values()) for key in ("truncated_words", "truncated_sentences"))
    assert words > sentences > 0
    assert f"warning: max length 8 cuts {words} words in {sentences} sentences (train {splits['train']['truncated_words']} in " \
           f"{splits['train']['truncated_sentences']}, " in result.output and "eval predicts O for them" in result.output
    ok("train", data, "--name", "R", "--runs-dir", runs, "--epochs", 1, "--batch-size", 8, "--learning-rate", 1e-3)
    result = ok("eval", "R", "--runs-dir", runs)
    test = splits["test"]
    assert (f"{test['truncated_words']} words in {test['truncated_sentences']} sentences of test lie beyond max length 8 (no sub-word) "
            "and count as predicted O") in result.output
    scores = read_evaluation_file(runs / "R" / "eval" / "test.json")
    assert (scores.cut_words, scores.cut_sentences) == (test["truncated_words"], test["truncated_sentences"])


def test_like_a_run_that_has_not_finished_says_so(tmp_path):
    """Before: `train --like` of a failed or unfinished run copied its recipe without a word."""
    runs = tmp_path / "runs"
    failed = write_run(runs / "F", "F", LABELS, status="failed")
    manifest = json.loads((failed / "snekner-run.json").read_text())
    manifest["failures"] = [{"epoch": 1, "global_step": 2, "reason": "loss nan", "options": {}}]
    (failed / "snekner-run.json").write_text(json.dumps(manifest))
    write_run(runs / "U", "U", LABELS, status="running")
    write_run(runs / "G" / "seed-1", "G/seed-1", LABELS)
    from snekner.store.manifests import GroupManifest, write_group_manifest

    write_group_manifest(runs / "G", GroupManifest(name="G", data="d", seeds=[1, 2], members=["seed-1", "seed-2"], options={}))
    for like, warning in (("F", "warning: --like F: run F has not finished (status: failed, at step 2: loss nan); its options are taken"),
                          ("U", "warning: --like U: run U has not finished (status: running)"),
                          ("G", "warning: --like G: group G has runs that have not finished: G/seed-2 (not started)")):
        result = invoke("train", tmp_path / "nowhere", "--name", "X", "--runs-dir", runs, "--like", like)
        assert warning in result.output, result.output
        one_line_error(result, "nowhere")  # and then it goes on as before (here: to the missing data)
    assert "warning" not in invoke("train", tmp_path / "nowhere", "--name", "X", "--runs-dir", runs, "--like", "G/seed-1").output
