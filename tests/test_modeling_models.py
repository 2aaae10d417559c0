"""Loading encoders into TF token classifiers, including safetensors-only PyTorch checkpoints."""
from __future__ import annotations

import json

import numpy as np
import pytest

from cli_helpers import invoke, one_line_error

from snekner.errors import AdaptationNotFinishedError, SneknerError
from snekner.modeling.models import build_token_classifier, load_tokenizer, resolve_model_dir
from snekner.store.manifests import AdaptedModelManifest, RunStatus, write_adapted_manifest

LABELS = ["O", "B-PER", "I-PER"]


def _pytorch_state_dict(tf_model) -> dict:
    """The PyTorch-format state dict of a TF model, made with transformers' own name mapping."""
    from transformers.modeling_tf_pytorch_utils import convert_tf_weight_name_to_pt_weight_name

    state = {}
    for weight in tf_model.weights:
        name, transpose = convert_tf_weight_name_to_pt_weight_name(weight.name, start_prefix_to_remove="", tf_weight_shape=weight.shape)
        array = weight.numpy()
        if transpose.name == "SIMPLE":
            array = array.T
        elif transpose.name != "NO":
            raise AssertionError(f"unexpected transpose {transpose} for {name}")
        state[name] = np.ascontiguousarray(array)
    return state


@pytest.fixture(scope="module")
def safetensors_only(tmp_path_factory, tiny_model):
    """The tiny model re-saved the way many hub repos ship: config, tokenizer and model.safetensors only."""
    from safetensors.numpy import save_file
    from transformers import TFDistilBertModel

    out = tmp_path_factory.mktemp("safetensors-only")
    base = TFDistilBertModel.from_pretrained(str(tiny_model))
    state = _pytorch_state_dict(base)
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    for name in ("config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (out / name).write_bytes((tiny_model / name).read_bytes())
    return out, base, state


def test_safetensors_only_checkpoint_loads_every_encoder_weight(safetensors_only):
    folder, base, state = safetensors_only
    model = build_token_classifier(str(folder), LABELS)
    assert model.config.num_labels == 3 and model.config.id2label[1] == "B-PER"
    embeddings = [w for w in model.weights if "word_embeddings" in w.name][0].numpy()
    np.testing.assert_array_equal(embeddings, state["distilbert.embeddings.word_embeddings.weight"])
    ids = np.array([[2, 7, 8, 9, 3]], dtype=np.int32)
    expected = base(input_ids=ids).last_hidden_state.numpy()
    got = model.distilbert(input_ids=ids).last_hidden_state.numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_the_head_is_drawn_as_pytorch_draws_it_from_the_seed(tiny_model):
    """With a seed the new head is N(0, initializer_range) as transformers' PyTorch classes draw it (issue 21: TF's truncated
    draw, sd 0.88 x initializer_range, learned a point of F1 less), the same for the same seed on every worker."""
    labels = ["O"] + [f"{p}-T{i}" for i in range(15) for p in "BI"]  # 31 labels x 32 dims: 992 draws
    kernel = lambda model: model.classifier.kernel.numpy()  # noqa: E731
    drawn = build_token_classifier(str(tiny_model), labels, seed=3)
    sd = float(drawn.config.initializer_range)
    assert abs(kernel(drawn).std() - sd) < 0.1 * sd and np.abs(kernel(drawn)).max() > 2.5 * sd  # not truncated at 2 sd
    assert not drawn.classifier.bias.numpy().any()
    np.testing.assert_array_equal(kernel(drawn), kernel(build_token_classifier(str(tiny_model), labels, seed=3)))
    assert not np.array_equal(kernel(drawn), kernel(build_token_classifier(str(tiny_model), labels, seed=4)))
    tf_draw = kernel(build_token_classifier(str(tiny_model), labels))  # TensorFlow's own: truncated at 2 sd
    assert np.abs(tf_draw).max() <= 2 * sd and tf_draw.std() < 0.93 * sd


def test_tf_checkpoint_loads(tiny_model):
    model = build_token_classifier(str(tiny_model), LABELS)
    assert model.config.label2id == {"O": 0, "B-PER": 1, "I-PER": 2}


def test_missing_encoder_weights_are_an_error(tmp_path, safetensors_only):
    from safetensors.numpy import save_file

    folder, _, state = safetensors_only
    for name in ("config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json"):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    partial = {k: v for k, v in state.items() if "layer.1." not in k}
    save_file(partial, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(SneknerError, match="encoder weights"):
        build_token_classifier(str(tmp_path), LABELS)


def test_folder_without_weights_or_config(tmp_path, tiny_model):
    with pytest.raises(SneknerError, match="no config.json"):
        build_token_classifier(str(tmp_path), LABELS)
    (tmp_path / "config.json").write_text((tiny_model / "config.json").read_text())
    with pytest.raises(SneknerError, match="neither tf_model.h5 nor model.safetensors"):
        build_token_classifier(str(tmp_path), LABELS)


def test_an_unfinished_adaptation_is_no_model(tmp_path, sample_dir):
    """The library says to finish it or pass another model (the field); the command line names `snekner adapt` and --model."""
    folder = tmp_path / "adapted"
    folder.mkdir()
    write_adapted_manifest(folder, AdaptedModelManifest(status=RunStatus.RUNNING, base_model="base", text={}, options={}))
    with pytest.raises(AdaptationNotFinishedError) as refused:
        resolve_model_dir(str(folder))
    assert str(refused.value) == (f"model folder {folder} is an adaptation that has not finished (status running); "
                                  "finish it first, or pass another model")
    line = one_line_error(invoke("prep", "--dataset", sample_dir, "--lang", "en", "--model", folder, "--out", tmp_path / "p"))
    assert line == (f"error: model folder {folder} is an adaptation that has not finished (status running); "
                    f"finish it first (snekner adapt ... --out {folder} --resume), or pass another --model")


def test_slow_wordpiece_tokenizer_is_converted_to_fast(tmp_path, tiny_model):
    from transformers import BertTokenizer

    slow = BertTokenizer(vocab_file=str(tiny_model / "vocab.txt"))
    slow.save_pretrained(str(tmp_path))
    (tmp_path / "tokenizer.json").unlink(missing_ok=True)
    (tmp_path / "config.json").write_text((tiny_model / "config.json").read_text())
    tokenizer = load_tokenizer(str(tmp_path))  # transformers converts a WordPiece vocab to a fast tokenizer
    assert tokenizer.is_fast


def test_tokenizer_without_a_fast_version_is_refused(tmp_path, sample_dir):
    """ESM's tokenizer exists only in a slow (Python) version, which gives no word ids: prep must refuse it
    in one line that names the tokenizer and the option to change, and write nothing."""
    from cli_helpers import invoke, one_line_error
    from transformers import EsmConfig, EsmTokenizer

    model = tmp_path / "esm"
    model.mkdir()
    vocab = ["<cls>", "<pad>", "<eos>", "<unk>", "<mask>", "A", "C", "D", "E"]
    (model / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    EsmTokenizer(vocab_file=str(model / "vocab.txt")).save_pretrained(str(model))
    EsmConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
              pad_token_id=1).save_pretrained(str(model))
    with pytest.raises(SneknerError, match="EsmTokenizer"):
        load_tokenizer(str(model))
    out = tmp_path / "prepared"
    one_line_error(invoke("prep", "--dataset", sample_dir, "--lang", "en", "--model", model, "--out", out),
                   f"the tokenizer of {model} (EsmTokenizer) has no fast version", "word ids", "--model")
    assert not out.exists()


@pytest.mark.shared
def test_real_minilm_safetensors_checkpoint(minilm):
    """all-MiniLM-L6-v2 ships only model.safetensors: every encoder weight must arrive."""
    from safetensors.numpy import load_file

    assert not (minilm / "tf_model.h5").exists()
    model = build_token_classifier(str(minilm), LABELS)
    state = load_file(str(minilm / "model.safetensors"))
    weights = {w.name: w.numpy() for w in model.weights}
    qkv = [n for n in weights if "layer_._5" in n and "query/kernel" in n][0]
    np.testing.assert_array_equal(weights[qkv], state["encoder.layer.5.attention.self.query.weight"].T)
    assert json.loads((minilm / "config.json").read_text())["model_type"] == "bert"
