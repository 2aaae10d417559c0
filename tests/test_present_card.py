"""Model cards of fake run folders (no training), `snekner card`, and pushing without a reachable hub."""
from __future__ import annotations

import dataclasses
import html
import json
import re
from pathlib import Path

import pytest
from cli_helpers import one_line_error
from fakes import write_evaluation
from typer.testing import CliRunner

from snekner.present.card import render_card, write_card
from snekner.cli import app
from snekner.errors import SneknerError
from snekner.evaluation.evaluate import score_predictions
from snekner.store.evaluations import read_evaluation, read_evaluation_file
from snekner.store.evaluations import write_evaluation as store_evaluation
from snekner.store.runs import open_run

runner = CliRunner()
FAKE_TOKEN = "hf_testsecret123"
LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
TYPES = ["PER", "ORG", "LOC"]
GOLD = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "O"], ["O", "B-PER", "O"], ["B-LOC", "I-LOC", "O"]]
PRED = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "I-ORG", "O"], ["O", "B-PER", "O"], ["B-LOC", "I-LOC", "O"]]


def data_manifest(dataset="Babelscape/multinerd", resolved="hf://datasets/Babelscape/multinerd", lang="en",
                  tokenizer="distilbert-base-uncased") -> dict:
    return {
        "kind": "snekner.prepared", "format_version": 1, "dataset": dataset, "dataset_resolved": resolved,
        "dataset_layout": "per-language files", "lang": lang, "languages_in_source": ["de", "en"], "limit": None,
        "tagset": {"name": "b", "path": None, "labels": LABELS, "types": TYPES,
                   "source_ids": {label: i for i, label in enumerate(LABELS)}, "source_to_new": {}},
        "tokenizer": tokenizer, "max_length": 128, "alignment": "first-subword",
        "splits": {"train": {"sentences": 120, "words": 1500}, "validation": {"sentences": 40, "words": 480},
                   "test": {"sentences": 4, "words": 13}},
    }


def make_run(runs: Path, name="R", model="distilbert-base-uncased", status="finished", evaluate=True, langs=None, **data) -> Path:
    """A run folder as `snekner train` leaves it (manifest keys as training.py writes them), minus the weights."""
    path = runs / name
    (path / "model").mkdir(parents=True)
    (path / "model" / "config.json").write_text(json.dumps({"id2label": dict(enumerate(LABELS))}))
    manifest = {
        "kind": "snekner.run", "format_version": 1, "name": name, "status": status, "created": "2025-01-01T00:00:00+00:00",
        "data": str(runs.parent / "data"), "data_manifest": data_manifest(**data), "model": model, "labels": LABELS,
        "options": {"model": None, "epochs": 3, "batch_size": 16, "learning_rate": 5e-05, "weight_decay": 0.0,
                    "warmup_ratio": 0.1, "seed": 42, "early_stopping_patience": 0, "eval_batch_size": 64,
                    "mixed_precision": None, "xla": None, "strategy": "auto", "checkpoint_every": 0, "tensorboard": False},
        "devices": {"description": "CPU"}, "epochs_run": 3, "stopped_early": False, "best_epoch": 2, "best_validation_f1": 0.8125,
    }
    (path / "snekner-run.json").write_text(json.dumps(manifest))
    if evaluate:
        write_evaluation(path, score_predictions(GOLD, PRED, langs, "conlleval", TYPES))
    return path


def split_card(text: str) -> tuple[str, str]:
    match = re.match(r"^---\n(.*?)\n---\n(.*)$", text, re.S)
    assert match, text[:200]
    return match.group(1), match.group(2)


def test_card_front_matter_and_tables(tmp_path):
    path = make_run(tmp_path / "runs")
    run = open_run("R", tmp_path / "runs")
    evaluation = read_evaluation_file(path / "eval" / "test.json")
    front, body = split_card(render_card(run))
    # written by huggingface_hub's ModelCardData (PyYAML: plain scalars; snekner's own writer quoted every string)
    assert "language: en" in front and "license: cc-by-nc-sa-4.0" in front
    assert "base_model: distilbert-base-uncased" in front
    yaml = pytest.importorskip("yaml")
    meta = yaml.safe_load(front)
    assert meta["language"] == "en"
    assert meta["license"] == "cc-by-nc-sa-4.0"
    assert meta["library_name"] == "transformers"
    assert meta["tags"] == ["token-classification", "ner", "snekner", "tensorflow"]
    assert meta["base_model"] == "distilbert-base-uncased"
    assert meta["datasets"] == ["Babelscape/multinerd"]
    [entry] = meta["model-index"]
    assert entry["name"] == "R"
    [result] = entry["results"]
    assert result["task"] == {"type": "token-classification", "name": "Named Entity Recognition"}
    assert result["dataset"]["type"] == "Babelscape/multinerd" and result["dataset"]["split"] == "test"
    metrics = {m["type"]: m["value"] for m in result["metrics"]}
    o = evaluation.overall
    assert metrics == {"precision": o.precision, "recall": o.recall, "f1": o.f1, "accuracy": o.accuracy}
    assert [m["name"] for m in result["metrics"]] == ["Precision (conlleval)", "Recall (conlleval)", "F1 (conlleval)", "Word accuracy"]
    # the per-type table carries the eval JSON's numbers
    assert "| type | precision | recall | F1 | support |" in body
    for typ, v in evaluation.per_type.items():
        assert f"| {typ} | {v.precision:.4f} | {v.recall:.4f} | {v.f1:.4f} | {v.support} |" in body
    assert f"| **overall** | {o.precision:.4f} | {o.recall:.4f} | {o.f1:.4f} | {o.support} |" in body
    # data sizes, labels, hyperparameters, loading
    assert "| train | 120 | 1500 |" in body and "| test | 4 | 13 |" in body
    assert "`B-LOC`" in body and "PER, ORG, LOC" in body
    assert "| learning_rate | 5e-05 |" in body and "| warmup_ratio | 0.1 |" in body and "| best_epoch | 2 |" in body
    assert "| model | `distilbert-base-uncased` |" in body  # the option's default, resolved
    assert "| best_validation_f1 | 0.8125 |" in body and "| xla | auto |" in body
    assert "TFAutoModelForTokenClassification.from_pretrained" in body and '"R/model"' in body and str(tmp_path) not in body


def test_card_shows_scores_per_language(tmp_path):
    path = make_run(tmp_path / "runs", langs=["en", "de", "en", "de"], lang=None)
    by_lang = read_evaluation_file(path / "eval" / "test.json").per_language
    _, body = split_card(render_card(open_run("R", tmp_path / "runs")))
    assert "Per language:" in body
    for lang, v in by_lang.items():
        o = v.overall
        assert f"| {lang} | {v.n_sentences} | {o.precision:.4f} | {o.recall:.4f} | {o.f1:.4f} | {o.support} |" in body
    # en is sentences 0 and 2: both PERs found, the LOC tagged ORG -> tp 2, fp 1, fn 1
    assert by_lang["en"].overall.f1 == pytest.approx(2 / 3)


def test_card_metadata_reads_back_as_the_hub_reads_it(tmp_path):
    """The front matter is huggingface_hub's: ModelCard.load gives back the evaluation as EvalResults, and values a
    hand-written YAML writer gets wrong (a language code YAML 1.1 reads as a boolean, tiny floats) read back as written."""
    from huggingface_hub import ModelCard

    make_run(tmp_path / "runs", lang="no")  # Norwegian: unquoted, YAML 1.1 reads `no` as false
    run = open_run("R", tmp_path / "runs")
    evaluation = read_evaluation(run, "test")
    evaluation.overall = dataclasses.replace(evaluation.overall, precision=1e-05)  # PyYAML reads an unquoted 1e-05 as a string
    store_evaluation(run, "test", evaluation)
    card = ModelCard.load(write_card(run))
    assert card.data.language == "no" and card.data.license == "cc-by-nc-sa-4.0"
    results = {r.metric_type: r for r in card.data.eval_results}
    o = evaluation.overall
    assert {k: r.metric_value for k, r in results.items()} == {"precision": 1e-05, "recall": o.recall, "f1": o.f1, "accuracy": o.accuracy}
    assert {(r.task_type, r.dataset_type, r.dataset_split, r.dataset_config) for r in results.values()} == {
        ("token-classification", "Babelscape/multinerd", "test", "no")}
    assert card.data.model_name == "R"


def test_card_without_test_eval_says_how_to_get_one(tmp_path):
    make_run(tmp_path / "runs", evaluate=False)
    front, body = split_card(render_card(open_run("R", tmp_path / "runs")))
    assert "model-index" not in front
    assert "No test evaluation yet" in body and "`snekner eval R`" in body
    yaml = pytest.importorskip("yaml")
    assert yaml.safe_load(front)["library_name"] == "transformers"


def test_card_of_local_model_and_data(tmp_path):
    data = tmp_path / "mydata"
    data.mkdir()
    (data / "README.md").write_text("---\nlicense: cc-by-4.0\nlanguage: [en, de]\n---\n# my data\n")
    base = tmp_path / "my-model"
    base.mkdir()
    make_run(tmp_path / "runs", model=str(base), dataset=str(data), resolved=str(data), lang=None, tokenizer=str(base))
    card = render_card(open_run("R", tmp_path / "runs"))
    assert str(tmp_path) not in card  # issue 22: no path of the machine that trained it, in a card meant to be shared
    front, body = split_card(card)
    yaml = pytest.importorskip("yaml")
    meta = yaml.safe_load(front)
    assert "base_model" not in meta and "datasets" not in meta  # local paths are no hub ids
    assert meta["license"] == "cc-by-4.0"  # from the local dataset's own card
    assert meta["language"] == ["de", "en"]  # every language of the source was kept
    assert meta["model-index"][0]["results"][0]["dataset"]["type"] == "mydata"
    assert "a local model (`my-model`, a folder on the machine that trained it)" in body and "tokenizer: `my-model`" in body


def test_card_of_sample_data_has_no_license(tmp_path):
    make_run(tmp_path / "runs", dataset="snekner:sample", resolved=str(tmp_path / "cache"))
    front, body = split_card(render_card(open_run("R", tmp_path / "runs")))
    assert "license" not in front and "datasets" not in front
    assert "snekner sample data" in body


def test_card_command_writes_both_copies(tmp_path):
    path = make_run(tmp_path / "runs")
    result = runner.invoke(app, ["card", "R", "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(path / "README.md")
    text = (path / "README.md").read_text()
    assert text.startswith("---\n") and text == (path / "model" / "README.md").read_text()
    assert not [p for p in path.rglob("*.tmp")]


@pytest.mark.parametrize("setup, fragments", [
    (lambda runs: make_run(runs, status="running"), ["has not finished", "--resume"]),
    (lambda runs: runs.mkdir(), ["run R not found", "snekner train"]),
])
def test_card_command_bad_run_is_one_line(tmp_path, setup, fragments):
    setup(tmp_path / "runs")
    result = runner.invoke(app, ["card", "R", "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in result.output
    assert all(f in errors[0] for f in fragments), errors[0]


def test_write_card_needs_the_model_folder(tmp_path):
    path = make_run(tmp_path / "runs")
    (path / "model" / "config.json").unlink()
    (path / "model").rmdir()
    with pytest.raises(SneknerError, match="no model folder"):
        write_card(open_run("R", tmp_path / "runs"))


# -- pushing --------------------------------------------------------------------------------------
@pytest.fixture
def no_dotenv(tmp_path, monkeypatch):
    """Run in an empty folder (no .env) with HF_TOKEN unset and no saved login (`hf auth login`'s token file)."""
    import huggingface_hub.constants

    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "hf-home" / "token"))
    return work



@pytest.fixture
def no_weights_to_export(monkeypatch):
    """The fake runs have no weights: the PyTorch export a push makes (tests/test_export.py) writes a stand-in."""
    def write_hub_folder(run, folder):
        (folder / "model.safetensors").write_bytes(b"stand-in")
        return 0.0

    monkeypatch.setattr("snekner.hub.write_hub_folder", write_hub_folder)


def fake_training(monkeypatch, run_path: Path):
    """`snekner train` returns this finished run without training (the push is what is tested)."""
    def train(prepared, **kwargs):
        return open_run(str(run_path))

    monkeypatch.setattr("snekner.api.train", train)


@pytest.mark.parametrize("index, token, pushes", [(0, True, True), (1, True, False), (1, False, False)],
                         ids=["chief", "other-worker", "other-worker-without-token"])
def test_only_the_chief_writes_the_card_and_pushes(no_dotenv, no_weights_to_export, tmp_path, monkeypatch, index, token, pushes):
    """In a multi-worker cluster every machine runs the same `snekner train --push-to-hub`; only the chief
    (worker 0 here) has the model, so only it writes the card and pushes, and only it needs a token."""
    import huggingface_hub

    calls = []
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", lambda self, repo_id, **k: calls.append(("create", repo_id)) or f"https://hub/{repo_id}")
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", lambda self, **k: calls.append(("upload", k["repo_id"])))
    if token:
        monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    cluster = {"worker": ["10.0.0.1:12345", "10.0.0.2:12345"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
    path = make_run(tmp_path / "runs")
    fake_training(monkeypatch, path)
    result = runner.invoke(app, ["train", str(tmp_path / "data"), "--name", "R", "--runs-dir", str(tmp_path / "runs"), "--push-to-hub", "me/ner"])
    assert result.exit_code == 0, result.output
    assert calls == ([("create", "me/ner"), ("upload", "me/ner")] if pushes else [])
    assert (path / "README.md").exists() == pushes and (path / "model" / "README.md").exists() == pushes


def test_push_without_token_fails_before_training(no_dotenv, tmp_path, monkeypatch):
    def train(*a, **k):
        raise AssertionError("trained although the push could not happen")

    monkeypatch.setattr("snekner.api.train", train)
    result = runner.invoke(app, ["train", str(tmp_path / "data"), "--name", "R", "--runs-dir", str(tmp_path / "runs"), "--push-to-hub", "me/ner"])
    one_line_error(result, "no Hugging Face token", "HF_TOKEN", ".env")
    from snekner.hub import push_run

    path = make_run(tmp_path / "runs")
    with pytest.raises(SneknerError, match="no Hugging Face token"):
        push_run(open_run("R", tmp_path / "runs"), "me/ner")
    assert not (path / "README.md").exists()


def test_token_from_dotenv_is_found(no_dotenv, monkeypatch):
    from snekner.hub import require_token

    (no_dotenv / ".env").write_text(f"HF_TOKEN={FAKE_TOKEN}\n")
    monkeypatch.setenv("HF_TOKEN", "")  # set but empty: .env does not override it, and empty counts as no token
    with pytest.raises(SneknerError):
        require_token()
    monkeypatch.delenv("HF_TOKEN")
    assert require_token() == FAKE_TOKEN


def test_token_from_hf_auth_login(no_dotenv, tmp_path, monkeypatch):
    """No HF_TOKEN anywhere: the token `hf auth login` saved is used (huggingface_hub.get_token), and HF_TOKEN wins over it."""
    import huggingface_hub
    import huggingface_hub.constants

    from snekner.hub import require_token

    saved = Path(huggingface_hub.constants.HF_TOKEN_PATH)
    saved.parent.mkdir(parents=True)
    saved.write_text(FAKE_TOKEN + "\n")  # as `hf auth login` leaves it
    assert require_token() == FAKE_TOKEN
    monkeypatch.setenv("HF_TOKEN", "hf_fromenvironment")
    assert require_token() == "hf_fromenvironment"
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: "hf_fromgettoken")  # whatever else get_token knows (a Colab secret)
    assert require_token() == "hf_fromgettoken"


def _files_containing(root: Path, needle: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


def test_push_to_unreachable_hub_is_one_line_and_never_shows_the_token(no_dotenv, no_weights_to_export, tmp_path, monkeypatch, caplog, capfd):
    import huggingface_hub.constants
    from huggingface_hub.utils import reset_sessions

    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # conftest turns offline mode on
    reset_sessions()
    try:
        path = make_run(tmp_path / "runs")
        fake_training(monkeypatch, path)
        result = runner.invoke(app, ["train", str(tmp_path / "data"), "--name", "R", "--runs-dir", str(tmp_path / "runs"), "--push-to-hub", "me/ner"])
    finally:
        reset_sessions()
    line = one_line_error(result, "could not push R to me/ner", "check the network")
    assert "127.0.0.1" in line  # it did try the endpoint from HF_ENDPOINT
    assert FAKE_TOKEN not in result.output
    assert FAKE_TOKEN not in caplog.text
    captured = capfd.readouterr()
    assert FAKE_TOKEN not in captured.out + captured.err
    # the card was written before the push, into the folder that would be uploaded
    assert (path / "model" / "README.md").read_text().startswith("---\n")
    assert "# me/ner" in (path / "README.md").read_text()
    assert _files_containing(tmp_path / "runs", FAKE_TOKEN) == []


def test_hub_error_text_is_scrubbed_of_the_token(no_dotenv, no_weights_to_export, tmp_path, monkeypatch):
    import huggingface_hub

    from snekner.hub import push_run

    def create_repo(self, repo_id, **kwargs):
        raise RuntimeError(f"401 Unauthorized for token {FAKE_TOKEN}\nsecond line {FAKE_TOKEN}")

    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", create_repo)
    make_run(tmp_path / "runs")
    with pytest.raises(SneknerError) as info:
        push_run(open_run("R", tmp_path / "runs"), "me/ner")
    message = str(info.value)
    assert FAKE_TOKEN not in message and "***" in message and "\n" not in message


HOSTILE_TYPE = "<img src=x onerror=alert(1)>"


def test_card_text_from_the_run_shows_as_text_never_as_html_or_links(tmp_path):
    """Issue 26: type names, label names, a dataset or run name went into README.md as they were, and `push` uploads it:
    a type `<img src=x onerror=alert(1)>` was an image with a script on the hub's page."""
    markdown_it = pytest.importorskip("markdown_it")
    path = make_run(tmp_path / "runs", name="R_*bold*", dataset=str(tmp_path / "[click](javascript:alert(1))"), resolved=None)
    manifest = json.loads((path / "snekner-run.json").read_text())
    labels = ["O", f"B-{HOSTILE_TYPE}", f"I-{HOSTILE_TYPE}", "B-A|B", "I-A|B"]
    manifest["labels"] = labels
    manifest["data_manifest"]["tagset"].update(labels=labels, types=[HOSTILE_TYPE, "A|B"], source_ids={lb: i for i, lb in enumerate(labels)})
    manifest["options"]["model"] = "`` <b>x</b>"
    (path / "snekner-run.json").write_text(json.dumps(manifest))
    gold = [[f"B-{HOSTILE_TYPE}", "O", "B-A|B"]]
    write_evaluation(path, score_predictions(gold, gold, None, "conlleval", [HOSTILE_TYPE, "A|B"]))
    _, body = split_card(render_card(open_run("R_*bold*", tmp_path / "runs")))
    page = markdown_it.MarkdownIt("commonmark").enable("table").render(body)
    assert "<img" not in page and "<b>" not in page and 'href="javascript' not in page and "<em>" not in page
    shown = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert f"Entity types: {HOSTILE_TYPE}, A|B." in shown
    assert "[click](javascript:alert(1))" in shown and "R_*bold*" in shown and "`` <b>x</b>" in shown
    for table in re.findall(r"<table>.*?</table>", page, re.S):  # a | in a name splits no cell
        columns = len(re.findall(r"<th[ >]", table))
        assert all(row.count("<td") == columns for row in re.findall(r"<tr>(.*?)</tr>", table, re.S) if "<td" in row), table
