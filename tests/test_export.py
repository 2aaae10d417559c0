"""`snekner export`: PyTorch weights, a TF SavedModel and ONNX, each loaded back and compared with the run's logits;
and the PyTorch weights that `push` uploads beside the TF ones."""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import invoke, ok, one_line_error, prep_sample
from fakes import write_run

from snekner.errors import ExtraNotInstalledError
from snekner.modeling.export import CHECK_SENTENCES, TOLERANCE, ExportFormat, check_format_available
from snekner.modeling.models import load_run_model, load_tokenizer, save_model
from snekner.store.runs import open_run

SENTENCES = ["Angela Merkel met Emmanuel Macron in Berlin .", "Paris", "The United Nations has its seat in New York ."]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, sample_dir, tiny_model) -> Path:
    """One tiny DistilBERT run, R, trained for one epoch through the CLI."""
    work = tmp_path_factory.mktemp("export")
    data = prep_sample(work / "data", sample_dir, tiny_model)
    ok("train", data, "--name", "R", "--runs-dir", work / "runs", "--epochs", 1, "--batch-size", 8, "--learning-rate", 1e-3)
    return work / "runs"


@pytest.fixture(scope="module")
def run_model(runs):
    run = open_run("R", runs)
    return run, load_run_model(run), load_tokenizer(str(run.model_dir))


def batch(tokenizer, sentences=SENTENCES) -> dict:
    encoded = tokenizer(sentences, padding=True, return_tensors="np")
    return {k: encoded[k].astype(np.int64) for k in ("input_ids", "attention_mask")}


def reference_logits(model, inputs: dict) -> np.ndarray:
    return model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], training=False).logits.numpy()


def max_diff(expected, got, mask) -> float:
    keep = mask.astype(bool)
    return float(np.abs(expected[keep] - got[keep]).max())


def printed_difference(output: str) -> float:
    match = re.search(r"max abs logit difference (\S+) on (\d+) sentences", output)
    assert match, output
    assert int(match.group(2)) == len(CHECK_SENTENCES)
    return float(match.group(1))


def export(runs, fmt, out, *extra, run="R"):
    result = ok("export", run, "--format", fmt, "--out", out, "--runs-dir", runs, *extra)
    assert printed_difference(result.output) <= TOLERANCE
    return result


# -- pytorch ------------------------------------------------------------------------------------------
def test_pytorch_export_has_pytorch_names_layouts_and_labels(runs, run_model, tmp_path):
    from safetensors import safe_open

    run, model, tokenizer = run_model
    out = tmp_path / "pt"
    export(runs, "pytorch", out)
    assert {"model.safetensors", "config.json", "tokenizer.json", "vocab.txt"} <= {p.name for p in out.iterdir()}
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["DistilBertForTokenClassification"]
    assert config["id2label"] == {str(i): label for i, label in enumerate(run.labels)}
    assert config["label2id"] == {label: i for i, label in enumerate(run.labels)}
    tf_weights = {w.name.split("/", 1)[1].removesuffix(":0"): w.numpy() for w in model.weights}
    with safe_open(str(out / "model.safetensors"), "numpy") as f:
        assert f.metadata() == {"format": "pt"}
        state = {k: f.get_tensor(k) for k in f.keys()}
    assert len(state) == len(tf_weights)
    # a TF Dense kernel is [in, out], a torch Linear weight [out, in]
    q = "transformer/layer_._0/attention/q_lin"
    np.testing.assert_array_equal(state["distilbert.transformer.layer.0.attention.q_lin.weight"], tf_weights[f"distilbert/{q}/kernel"].T)
    np.testing.assert_array_equal(state["distilbert.transformer.layer.1.ffn.lin1.weight"],
                                  tf_weights["distilbert/transformer/layer_._1/ffn/lin1/kernel"].T)
    np.testing.assert_array_equal(state["distilbert.embeddings.word_embeddings.weight"], tf_weights["distilbert/embeddings/word_embeddings/weight"])
    np.testing.assert_array_equal(state["distilbert.embeddings.LayerNorm.weight"], tf_weights["distilbert/embeddings/LayerNorm/gamma"])
    assert state["classifier.weight"].shape == (len(run.labels), model.config.dim)


def test_pytorch_export_loads_back_with_the_runs_logits(run_model, runs, tmp_path):
    from snekner.modeling.models import load_pytorch_classifier

    _, model, tokenizer = run_model
    out = tmp_path / "pt"
    export(runs, "pytorch", out)
    inputs = batch(tokenizer)
    loaded = load_pytorch_classifier(out)
    assert max_diff(reference_logits(model, inputs), reference_logits(loaded, inputs), inputs["attention_mask"]) <= TOLERANCE


TORCH_CHECK = """
import json, sys
import numpy as np, torch
from transformers import AutoModelForTokenClassification, AutoTokenizer
folder, sentences = sys.argv[1], json.loads(sys.argv[2])
model = AutoModelForTokenClassification.from_pretrained(folder).eval()
enc = AutoTokenizer.from_pretrained(folder)(sentences, padding=True, return_tensors="pt")
with torch.no_grad():
    logits = model(**{k: enc[k] for k in ("input_ids", "attention_mask")}).logits.numpy()
print(json.dumps({"class": type(model).__name__, "logits": logits.tolist(), "label1": model.config.id2label[1]}))
"""


def torch_logits(folder: Path, sentences) -> dict:
    python = os.environ.get("SNEKNER_TORCH_PYTHON")
    if not python:
        pytest.skip("SNEKNER_TORCH_PYTHON (a Python with torch and transformers) is not set")
    out = subprocess.run([python, "-c", TORCH_CHECK, str(folder), json.dumps(sentences)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_pytorch_export_loads_in_pytorch(run_model, runs, tmp_path):
    """In real PyTorch transformers, when a Python with torch is named (torch stays out of snekner's install)."""
    run, model, tokenizer = run_model
    out = tmp_path / "pt"
    export(runs, "pytorch", out)
    got = torch_logits(out, SENTENCES)
    assert got["class"] == "DistilBertForTokenClassification" and got["label1"] == run.labels[1]
    inputs = batch(tokenizer)
    assert max_diff(reference_logits(model, inputs), np.array(got["logits"]), inputs["attention_mask"]) <= TOLERANCE


# -- savedmodel and onnx ------------------------------------------------------------------------------
def test_savedmodel_export_serves_logits(run_model, runs, tmp_path):
    import tensorflow as tf

    run, model, tokenizer = run_model
    out = tmp_path / "sm"
    export(runs, "savedmodel", out)
    serve = tf.saved_model.load(str(out)).signatures["serving_default"]
    assert set(serve.structured_input_signature[1]) == {"input_ids", "attention_mask"}
    assert set(serve.structured_outputs) == {"logits"}
    inputs = batch(tokenizer)
    got = serve(input_ids=tf.constant(inputs["input_ids"]), attention_mask=tf.constant(inputs["attention_mask"]))["logits"].numpy()
    assert max_diff(reference_logits(model, inputs), got, inputs["attention_mask"]) <= TOLERANCE
    assert json.loads((out / "config.json").read_text())["id2label"]["1"] == run.labels[1]
    assert (out / "tokenizer.json").is_file()


def test_onnx_export_runs_in_onnxruntime(run_model, runs, tmp_path):
    pytest.importorskip("tf2onnx")
    onnxruntime = pytest.importorskip("onnxruntime")
    _, model, tokenizer = run_model
    out = tmp_path / "onnx"
    export(runs, "onnx", out)
    session = onnxruntime.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input_ids", "attention_mask"]
    assert [o.name for o in session.get_outputs()] == ["logits"]
    inputs = batch(tokenizer)
    got = session.run(["logits"], inputs)[0]
    assert max_diff(reference_logits(model, inputs), got, inputs["attention_mask"]) <= TOLERANCE


def test_onnx_without_the_extra_is_one_line(runs, tmp_path, monkeypatch):
    """The library names the option field (format), the command line its flag (--format)."""
    import sys

    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # import fails as if not installed
    with pytest.raises(ExtraNotInstalledError) as refused:
        check_format_available(ExportFormat.ONNX)
    assert str(refused.value).startswith("format onnx needs tf2onnx and onnxruntime (tf2onnx is not installed)")
    assert "--format" not in str(refused.value) and "snekner[onnx]" in str(refused.value)
    one_line_error(invoke("export", "R", "--format", "onnx", "--out", tmp_path / "o", "--runs-dir", runs),
                   "--format onnx needs tf2onnx and onnxruntime", "snekner[onnx]")
    assert not (tmp_path / "o").exists()


# -- writing and bad input ----------------------------------------------------------------------------
def test_existing_out_needs_overwrite_and_is_replaced_whole(runs, tmp_path):
    out = tmp_path / "pt"
    out.mkdir()
    (out / "old.txt").write_text("old")
    one_line_error(invoke("export", "R", "--format", "pytorch", "--out", out, "--runs-dir", runs), f"export {out} already exists", "--overwrite")
    assert (out / "old.txt").is_file()
    export(runs, "pytorch", out, "--overwrite")
    assert not (out / "old.txt").exists() and (out / "model.safetensors").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["pt"]  # no temporary folder left beside it


def test_logits_that_differ_fail_and_write_nothing(runs, tmp_path, monkeypatch):
    from snekner.modeling import export as export_module

    real = export_module.pytorch_state

    def off_by_a_bit(model):
        state = real(model)
        state["classifier.bias"] = state["classifier.bias"] + 0.01
        return state

    monkeypatch.setattr(export_module, "pytorch_state", off_by_a_bit)
    out = tmp_path / "pt"
    line = one_line_error(invoke("export", "R", "--format", "pytorch", "--out", out, "--runs-dir", runs), "differ from the run's by up to 0.01",
                          "nothing was written")
    assert "more than 0.0001" in line
    assert list(tmp_path.iterdir()) == []


def modes(folder: Path) -> dict[str, int]:
    """Permission bits of every file and folder under `folder` (itself included), by path relative to it."""
    import stat

    return {str(p.relative_to(folder)): stat.S_IMODE(p.stat().st_mode) for p in [folder, *folder.rglob("*")]}


@pytest.mark.parametrize("umask", [0o022, 0o077], ids=["umask-022", "umask-077"])
def test_every_file_a_command_writes_takes_the_umask_mode(umask, runs, sample_dir, tiny_model, tmp_path):
    """Prepared data, a run (trained, evaluated, with its card) and its exports: files 0o666 & ~umask, folders 0o777 & ~umask,
    model.safetensors included (safetensors writes 0600 by itself)."""
    old = os.umask(umask)
    try:
        data = prep_sample(tmp_path / "data", sample_dir, tiny_model)
        ok("train", data, "--name", "U", "--runs-dir", tmp_path / "runs", "--epochs", 1, "--batch-size", 8, "--tensorboard")
        ok("eval", "U", "--runs-dir", tmp_path / "runs")
        ok("card", "U", "--runs-dir", tmp_path / "runs")
        for fmt in ("pytorch", "savedmodel"):
            export(tmp_path / "runs", fmt, tmp_path / fmt, run="U")
    finally:
        os.umask(old)
    for folder in (data, tmp_path / "runs" / "U", tmp_path / "pytorch", tmp_path / "savedmodel"):
        found = modes(folder)
        wrong = {path: oct(mode) for path, mode in found.items()
                 if mode != (0o777 if (folder / path).is_dir() else 0o666) & ~umask}
        assert not wrong, f"{folder.name}: {wrong}"
    assert "model.safetensors" in modes(tmp_path / "pytorch")


@pytest.mark.parametrize("args, fragments", [
    (["R", "--format", "tflite"], ["'tflite' is not one of", "pytorch", "savedmodel", "onnx"]),
    (["R"], ["Missing option '--format'"]),
    (["nope", "--format", "pytorch"], ["run nope not found"]),
    (["R", "--format", "pytorch", "--out", "{file}"], ["is a file"]),
    (["R", "--format", "pytorch", "--out", "{runs}/R/pt"], ["is inside run R"]),
    (["Fake", "--format", "pytorch"], ["has no tf_model.h5"]),
], ids=["format", "no-format", "no-run", "out-is-file", "out-inside-run", "no-weights"])
def test_bad_input_is_one_line(runs, tmp_path, args, fragments):
    file = tmp_path / "a-file"
    file.write_text("x")
    fake = write_run(runs / "Fake", "Fake", ["O", "B-PER", "I-PER"])
    (fake / "model").mkdir(exist_ok=True)
    (fake / "model" / "config.json").write_text(json.dumps({"model_type": "distilbert"}))
    args = [a.format(file=file, runs=runs) for a in args]
    if "--out" not in args:
        args += ["--out", tmp_path / "out"]
    one_line_error(invoke("export", *args, "--runs-dir", runs), *fragments)
    assert not (tmp_path / "out").exists() and not (runs / "R" / "pt").exists()


# -- push ---------------------------------------------------------------------------------------------
def test_push_uploads_pytorch_weights_beside_the_tf_ones(runs, run_model, tmp_path, monkeypatch):
    import shutil

    import huggingface_hub

    from snekner.modeling.models import build_token_classifier

    uploaded = tmp_path / "uploaded"
    monkeypatch.setenv("HF_TOKEN", "hf_fake_token_for_tests")
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", lambda self, repo_id, **k: f"https://hub/{repo_id}")
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", lambda self, folder_path, **k: shutil.copytree(folder_path, uploaded))
    run, model, tokenizer = run_model
    before = sorted(p.name for p in run.model_dir.iterdir())
    ok("push", "R", "--repo", "me/ner", "--runs-dir", runs)
    names = {p.name for p in uploaded.iterdir()}
    assert {"model.safetensors", "tf_model.h5", "config.json", "tokenizer.json", "README.md"} <= names
    assert json.loads((uploaded / "config.json").read_text())["architectures"] == ["DistilBertForTokenClassification"]
    card = (uploaded / "README.md").read_text()
    assert 'pipeline("token-classification", model="me/ner"' in card and "use_safetensors=False" in card
    # the run's own folders are as they were: no PyTorch weights in RUN/model, no temporary folder in RUN
    assert sorted(p.name for p in run.model_dir.iterdir()) == sorted({*before, "README.md"})
    assert not [p for p in run.path.iterdir() if p.name.endswith(".partial")]
    # TensorFlow users of such a repo: snekner (fine-tuning from it) and the card's from_pretrained(..., use_safetensors=False)
    from transformers import TFAutoModelForTokenClassification

    inputs = batch(tokenizer)
    expected = reference_logits(model, inputs)
    again = TFAutoModelForTokenClassification.from_pretrained(str(uploaded), use_safetensors=False)
    assert max_diff(expected, reference_logits(again, inputs), inputs["attention_mask"]) == 0
    assert build_token_classifier(str(uploaded), run.labels).config.num_labels == len(run.labels)


# -- the real MiniLM (BERT) ---------------------------------------------------------------------------
@pytest.mark.shared
@pytest.mark.slow
def test_minilm_pytorch_export_keeps_the_pretrained_pytorch_weights(minilm, tmp_path):
    """A BERT run folder from the real all-MiniLM-L6-v2 (its encoder as loaded, a new head): the export's encoder
    weights are the pretrained PyTorch checkpoint's own, under the same names (plus `bert.`) and in the same layout."""
    from safetensors import safe_open

    from snekner.modeling.models import build_token_classifier, load_pytorch_classifier

    labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    runs = tmp_path / "runs"
    path = write_run(runs / "M", "M", labels)
    model = build_token_classifier(str(minilm), labels)
    tokenizer = load_tokenizer(str(minilm))
    save_model(model, tokenizer, path / "model")
    out = tmp_path / "pt"
    result = export(runs, "pytorch", out, run="M")
    print(result.output)
    assert json.loads((out / "config.json").read_text())["architectures"] == ["BertForTokenClassification"]
    with safe_open(str(minilm / "model.safetensors"), "numpy") as f:
        pretrained = {k: f.get_tensor(k) for k in f.keys() if not k.startswith("pooler.") and k != "embeddings.position_ids"}
    with safe_open(str(out / "model.safetensors"), "numpy") as f:
        exported = {k: f.get_tensor(k) for k in f.keys()}
    assert set(exported) == {f"bert.{k}" for k in pretrained} | {"classifier.weight", "classifier.bias"}
    for key, value in pretrained.items():
        np.testing.assert_allclose(exported[f"bert.{key}"], value, rtol=0, atol=0, err_msg=key)
    inputs = batch(tokenizer)
    expected = reference_logits(model, inputs)
    assert max_diff(expected, reference_logits(load_pytorch_classifier(out), inputs), inputs["attention_mask"]) <= TOLERANCE
    if os.environ.get("SNEKNER_TORCH_PYTHON"):
        got = torch_logits(out, SENTENCES)
        assert got["class"] == "BertForTokenClassification"
        difference = max_diff(expected, np.array(got["logits"]), inputs["attention_mask"])
        print(f"PyTorch logits differ from TensorFlow's by up to {difference:.3g}")
        assert difference <= TOLERANCE


def test_no_path_of_this_machine_in_the_run_model_or_an_export(runs, tiny_model, tmp_path):
    """Issue 22: transformers records the folder a model was loaded from (config.json's _name_or_path, the tokenizer's
    name_or_path); a run's model/ (what push uploads) and an export named the base model by its absolute path."""
    export(runs, "pytorch", tmp_path / "pt")
    for folder in (runs / "R" / "model", tmp_path / "pt"):
        for name in ("config.json", "tokenizer_config.json"):
            text = (folder / name).read_text()
            assert str(tiny_model) not in text and str(runs.parent) not in text and str(tmp_path) not in text, (folder, name)
    assert json.loads((tmp_path / "pt" / "config.json").read_text())["_name_or_path"] == "model"
