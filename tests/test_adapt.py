"""`snekner adapt`: text sources, whole-word masking, the masked-LM loss, and the command end to end (tiny models).

The command's chain is the point: adapt a model on text, then `prep --model DIR` and `train` take the
folder as they take a hub model.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import invoke, ok, one_line_error

from snekner.data.text import EncodedText, Texts, encode_texts, mask_whole_words, read_texts
from snekner.ner.labels import IGNORE


def _texts_file(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "domain.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# -- text sources ---------------------------------------------------------------------------


def test_read_texts_from_a_file_a_folder_and_a_dataset(tmp_path, sample_dir):
    path = _texts_file(tmp_path, ["Arabidopsis thaliana flowers.", "", "   ", "Measles spreads fast."])
    texts = read_texts(str(path))
    assert (texts.kind, texts.lines, texts.words) == ("text file", ["Arabidopsis thaliana flowers.", "Measles spreads fast."], None)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "b.txt").write_text("second file\n", encoding="utf-8")
    (folder / "a.txt").write_text("first file\n", encoding="utf-8")
    (folder / "notes.md").write_text("not text of the source\n", encoding="utf-8")
    assert read_texts(str(folder)).lines == ["first file", "second file"]
    data = read_texts(str(sample_dir), split="train", lang="en")
    assert data.kind == "dataset" and data.words and all(isinstance(w, str) for w in data.words[0])
    first = json.loads((sample_dir / "train" / "train_en.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert data.words[0] == first["tokens"]
    assert len(read_texts(str(sample_dir), split="train", lang="en", limit=5)) == 5


def test_bad_text_sources_are_one_line_errors(tmp_path, sample_dir):
    from snekner.errors import SneknerError

    with pytest.raises(SneknerError, match="has no text"):
        read_texts(str(_texts_file(tmp_path, ["", "  "])))
    bad = tmp_path / "latin1.txt"
    bad.write_bytes(b"fine line\ncaf\xe9\n")
    with pytest.raises(SneknerError, match=r"line 2 is not UTF-8 \(byte 0xe9 at column 4\)"):
        read_texts(str(bad))
    with pytest.raises(SneknerError, match="not found"):
        read_texts(str(tmp_path / "missing.txt"))
    with pytest.raises(SneknerError, match="has no dev split"):
        read_texts(str(sample_dir), split="dev")


# -- encoding and masking -------------------------------------------------------------------------


def test_long_texts_become_several_sequences_and_words_keep_one_number(tiny_model):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model))
    lines = ["the museum in paris opened " * 6, "short one"]
    encoded = encode_texts(tokenizer, Texts("x", "text file", lines=lines), max_length=12)
    assert encoded.lengths.max() <= 12 and len(encoded) > 2
    offsets = np.concatenate(([0], np.cumsum(encoded.lengths)))
    for i in range(len(encoded)):
        seq = encoded.input_ids[offsets[i]:offsets[i + 1]]
        assert seq[0] == tokenizer.cls_token_id and seq[-1] == tokenizer.sep_token_id
    # the word numbers run on over the cut and across texts, each word's sub-words sharing one
    words = encoded.word_of[encoded.word_of >= 0]
    assert (np.diff(words) >= 0).all() and (np.diff(words) <= 1).all()
    whole = tokenizer(lines[0])["input_ids"][1:-1] + tokenizer(lines[1])["input_ids"][1:-1]
    assert encoded.input_ids[encoded.word_of >= 0].tolist() == whole
    assert encoded.words == len(lines[0].split()) + 2


def test_whole_word_masking_takes_whole_words_at_the_rate_with_bert_80_10_10():
    rng = np.random.default_rng(0)
    # 20,000 words of 1-3 sub-words, in sequences framed by special tokens (word number -1)
    pieces = rng.integers(1, 4, 20_000)
    word_of = np.repeat(np.arange(20_000), pieces)
    ids = rng.integers(10, 1000, len(word_of)).astype(np.int32)
    cuts = np.arange(0, len(word_of), 50)
    ids = np.insert(ids, cuts, 2).astype(np.int32)
    word_of = np.insert(word_of, cuts, -1)
    text = EncodedText(ids, word_of, np.asarray([len(ids)]))
    masked = mask_whole_words(text, 0.15, np.random.default_rng(1), mask_id=4, vocab_size=1000)
    chosen = masked.labels != IGNORE
    assert not chosen[word_of < 0].any()  # special tokens never
    np.testing.assert_array_equal(masked.labels[chosen], ids[chosen])  # labels: the original sub-words
    per_word = np.bincount(word_of[word_of >= 0], weights=chosen[word_of >= 0]) / np.bincount(word_of[word_of >= 0])
    assert set(np.unique(per_word)) <= {0.0, 1.0}  # a word is masked whole or not at all
    assert abs(per_word.mean() - 0.15) < 0.01
    replaced = masked.input_ids[chosen]
    assert abs((replaced == 4).mean() - 0.8) < 0.02
    kept = (replaced == ids[chosen]).mean()
    assert 0.09 < kept < 0.12  # 10% kept, plus the random draws that hit the same token
    np.testing.assert_array_equal(masked.input_ids[~chosen], ids[~chosen])
    again = mask_whole_words(text, 0.15, np.random.default_rng(1), mask_id=4, vocab_size=1000)
    np.testing.assert_array_equal(again.input_ids, masked.input_ids)
    sub = mask_whole_words(text, 0.15, np.random.default_rng(1), mask_id=4, vocab_size=1000, whole_words=False)
    sub_per_word = np.bincount(word_of[word_of >= 0], weights=(sub.labels != IGNORE)[word_of >= 0]) / np.bincount(word_of[word_of >= 0])
    assert ((sub_per_word > 0) & (sub_per_word < 1)).any()


def test_held_out_texts_are_a_seeded_share():
    from snekner.training.adaptation_options import AdaptOptions, held_out

    options = AdaptOptions(validation_share=0.1, max_validation=30)
    held = held_out(200, options)
    assert len(held) == 20 and np.array_equal(held, held_out(200, options))
    assert len(held_out(1000, options)) == 30 and len(held_out(1, options)) == 0 and len(held_out(3, options)) == 1
    assert len(held_out(200, AdaptOptions(validation_share=0))) == 0


@pytest.mark.parametrize("fixture", ["tiny_model", "tiny_cased_model"])
def test_the_masked_positions_head_gives_the_whole_models_loss(fixture, request):
    """The loop runs the head on the masked positions only; its loss must be the full logits' loss."""
    import tensorflow as tf

    from snekner.modeling.models import build_masked_lm
    from snekner.training.tasks import masked_lm_head, masked_lm_loss_sum, masked_loss_sum

    model, head = build_masked_lm(str(request.getfixturevalue(fixture)))
    assert head == "pretrained" and masked_lm_head(model) is not None
    rng = np.random.default_rng(0)
    ids = tf.constant(rng.integers(5, model.config.vocab_size, (3, 9)), tf.int32)
    mask = tf.constant([[1] * 9, [1] * 6 + [0] * 3, [1] * 4 + [0] * 5], tf.int32)
    labels = np.full((3, 9), IGNORE, np.int32)
    labels[0, [1, 4]], labels[1, 2], labels[2, 3] = ids.numpy()[0, [1, 4]], ids.numpy()[1, 2], ids.numpy()[2, 3]
    batch = {"input_ids": ids, "attention_mask": mask, "labels": tf.constant(labels)}
    gathered = masked_lm_loss_sum(model, batch, training=False)
    full = masked_loss_sum(batch["labels"], model(input_ids=ids, attention_mask=mask, training=False).logits)
    np.testing.assert_allclose([float(v) for v in gathered], [float(v) for v in full], rtol=1e-5)
    assert float(gathered[1]) == 4


def test_a_safetensors_encoder_without_a_head_is_adapted_with_a_new_head(tmp_path, tiny_cased_model):
    """A sentence-transformers checkpoint (encoder weights only, PyTorch names, no `bert.` prefix) loads with a random head."""
    from safetensors.numpy import save_file
    from transformers import TFBertModel

    from snekner.modeling.export import pytorch_state
    from snekner.modeling.models import build_masked_lm

    encoder = TFBertModel.from_pretrained(str(tiny_cased_model))
    out = tmp_path / "encoder-only"
    out.mkdir()
    for name in ("config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (tiny_cased_model / name).is_file():
            (out / name).write_bytes((tiny_cased_model / name).read_bytes())
    state = {name.removeprefix("bert."): value for name, value in pytorch_state(encoder).items()}
    assert "embeddings.word_embeddings.weight" in state
    save_file(state, str(out / "model.safetensors"))
    model, head = build_masked_lm(str(out))
    assert head == "new"
    original = {w.name.split("/", 1)[1]: w.numpy() for w in encoder.weights}
    loaded = {w.name.split("/", 1)[1]: w.numpy() for w in model.weights if w.name.split("/")[1] == "bert"}
    assert loaded and all(np.array_equal(loaded[k], original[k]) for k in loaded if k in original)


# -- the command --------------------------------------------------------------------------------------


def adapt_args(text, out, model, *extra):
    return ["adapt", "--text", text, "--out", out, "--model", model, "--batch-size", 8, "--learning-rate", 2e-3, "--max-length", 32,
            "--validation-share", 0.2, *extra]


def test_adapt_then_prep_and_train_take_the_folder(tmp_path, sample_dir, tiny_model):
    out = tmp_path / "adapted"
    result = ok(*adapt_args(sample_dir, out, tiny_model, "--lang", "en", "--epochs", 3))
    assert "held-out perplexity" in result.output and "snekner prep --model" in result.output
    manifest = json.loads((out / "snekner-adapted.json").read_text())
    assert manifest["kind"] == "snekner.adapted-model" and manifest["status"] == "finished" and manifest["head"] == "pretrained"
    assert manifest["text"]["kind"] == "dataset" and manifest["text"]["split"] == "train" and len(manifest["history"]) == 3
    before, after = manifest["validation_before"]["loss"], manifest["history"][-1]["validation_loss"]
    assert after < before - 0.5, (before, after)  # a random model learns the sample's words
    assert math.isclose(manifest["history"][-1]["validation_perplexity"], math.exp(after), rel_tol=1e-9)
    assert not (out / "checkpoints").exists() and (out / "tf_model.h5").is_file() and (out / "vocab.txt").is_file()
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporary folder left behind
    prepared = tmp_path / "prepared"
    ok("prep", "--dataset", sample_dir, "--lang", "en", "--tagset", "b", "--model", out, "--max-length", 48, "--out", prepared)
    ok("train", prepared, "--name", "on-adapted", "--runs-dir", tmp_path / "runs", "--epochs", 1, "--batch-size", 8)
    run = json.loads((tmp_path / "runs" / "on-adapted" / "snekner-run.json").read_text())
    assert run["status"] == "finished" and Path(run["model"]) == out
    # the encoder is the adapted one: the classifier starts from its weights, not the base model's
    from transformers import TFAutoModelForTokenClassification

    adapted = TFAutoModelForTokenClassification.from_pretrained(str(out), num_labels=3, use_safetensors=False)
    base = TFAutoModelForTokenClassification.from_pretrained(str(tiny_model), num_labels=3, use_safetensors=False)
    embeddings = [next(w.numpy() for w in m.weights if "word_embeddings" in w.name) for m in (adapted, base)]
    assert embeddings[0].shape == embeddings[1].shape and not np.allclose(*embeddings)


def test_adapt_refuses_bad_input_in_one_line(tmp_path, sample_dir, tiny_model):
    text = _texts_file(tmp_path, ["the museum opened in paris"] * 20)
    out = tmp_path / "adapted"
    one_line_error(invoke(*adapt_args(text, out, tiny_model, "--mask-rate", 0)), "--mask-rate must be above 0 and below 1")
    one_line_error(invoke(*adapt_args(text, out, tiny_model, "--validation-share", 1.5)), "--validation-share must be")
    one_line_error(invoke(*adapt_args(tmp_path / "nope.txt", out, tiny_model)), "not found")
    one_line_error(invoke(*adapt_args(text, out, tiny_model, "--resume")), "holds no adaptation to resume")
    assert not out.exists()
    ok(*adapt_args(text, out, tiny_model, "--epochs", 1))
    before = (out / "tf_model.h5").read_bytes()
    one_line_error(invoke(*adapt_args(text, out, tiny_model, "--epochs", 1)), "already exists", "--overwrite")
    one_line_error(invoke(*adapt_args(text, out, tiny_model, "--resume")), "has finished; nothing to resume")
    assert (out / "tf_model.h5").read_bytes() == before
    ok(*adapt_args(text, out, tiny_model, "--epochs", 1, "--seed", 3, "--overwrite"))
    assert (out / "tf_model.h5").read_bytes() != before
    assert json.loads((out / "snekner-adapted.json").read_text())["options"]["seed"] == 3


def _snekner(*args, env_extra=None):
    import os

    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "snekner", *map(str, args)], capture_output=True, text=True, env=env, timeout=600)


@pytest.mark.slow
def test_an_interrupted_adaptation_resumes_and_an_unfinished_one_is_no_model(tmp_path, sample_dir, tiny_model):
    """Interrupted (Ctrl-C) in a process of its own; the resume runs in this process, from what that one left."""
    text = _texts_file(tmp_path, [f"the museum number {i} opened in paris" for i in range(60)])
    out = tmp_path / "adapted"
    args = adapt_args(text, out, tiny_model, "--epochs", 2)
    stopped = _snekner(*args, env_extra={"SNEKNER_FAULT": "INT@4"})
    assert stopped.returncode == 2 and "Traceback" not in stopped.stderr, stopped.stderr[-2000:]
    errors = [line for line in stopped.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "interrupted at epoch 1 step 4" in errors[0] and "--resume" in errors[0]
    assert json.loads((out / "snekner-adapted.json").read_text())["status"] == "running"
    refused = invoke("prep", "--dataset", sample_dir, "--lang", "en", "--model", out, "--out", tmp_path / "p")
    one_line_error(refused, "is an adaptation that has not finished (status running)", "--resume")
    one_line_error(invoke(*args, "--resume", "--learning-rate", 1e-4), "--learning-rate 0.0001 differs from the run's 0.002")
    resumed = invoke(*args, "--resume", "--epochs", 3)
    assert resumed.exit_code == 0, resumed.output[-3000:]
    assert "resuming at epoch 1, step 4" in resumed.stderr
    manifest = json.loads((out / "snekner-adapted.json").read_text())
    assert manifest["status"] == "finished" and [h["epoch"] for h in manifest["history"]] == [1, 2, 3]
    assert manifest["history"][0]["resumed_mid_epoch"] and manifest["options"]["epochs"] == 3
