"""Load pretrained encoders as TF token classifiers, and save a run's model.

transformers >= 4.55 cannot load a PyTorch-format safetensors checkpoint into a TF model
without torch installed (transformers#40028: iterating a `safe_open` archive fails). Many hub
models ship only `model.safetensors`, so snekner reads those weights with safetensors' numpy
reader and hands them to transformers' own PT->TF name mapping.
"""
from __future__ import annotations

import json
from pathlib import Path

from snekner.errors import AdaptationNotFinishedError, MissingModelError, OptionError, RemoteCodeError, SneknerError
from snekner.settings import DEFAULT_MODEL
from snekner.store.manifests import ADAPTED_MANIFEST, read_adapted_manifest
from snekner.store.runs import Run

# what a model folder needs for training; everything else in a hub repo (onnx, flax, ...) is skipped
MODEL_FILE_PATTERNS = [
    "*.json", "vocab.txt", "merges.txt", "*.model", "tf_model.h5",
    "model.safetensors", "model-*.safetensors", "model.safetensors.index.json",
]
TF_WEIGHTS = "tf_model.h5"
SAFETENSORS = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
# TF models whose position ids start after the padding id 1 (RoBERTa's scheme): 514 positions take 512 sub-words
POSITIONS_FROM_2 = {"roberta", "xlm-roberta", "camembert", "roberta-prelayernorm", "longformer", "mpnet"}


# the files in which transformers looks for `auto_map` (classes to import from the folder's own .py files)
CODE_NAMING_FILES = ("config.json", "tokenizer_config.json")


def check_no_remote_code(directory: Path | str) -> Path:
    """RemoteCodeError when the folder's config.json or tokenizer_config.json names classes of its own code (`auto_map`).

    transformers imports such a folder's Python files when trust_remote_code is True, or when it is left unset and
    standard input answers its prompt "y"; snekner passes trust_remote_code=False everywhere, and refuses the folder
    before transformers sees it, so that no answer on standard input and no transformers default can run it."""
    directory = Path(directory)
    found = []
    for name in CODE_NAMING_FILES:
        try:
            data = json.loads((directory / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):  # absent or unreadable: transformers' own error says so, when it needs the file
            continue
        auto_map = data.get("auto_map") if isinstance(data, dict) else None
        if auto_map:
            values = auto_map.values() if isinstance(auto_map, dict) else auto_map
            classes = [v for value in values for v in (value if isinstance(value, (list, tuple)) else [value]) if isinstance(v, str)]
            found.append((name, classes))
    if found:
        raise RemoteCodeError(directory, found)
    return directory


def resolve_model_dir(name_or_path: str) -> Path:
    """A local folder as is; a hub id is fetched (or taken from the local hub cache). Either is refused when it
    names code of its own (check_no_remote_code)."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        check_no_remote_code(path)
        if (path / ADAPTED_MANIFEST).is_file():
            manifest = read_adapted_manifest(path)
            if not manifest.is_finished:
                raise AdaptationNotFinishedError(f"model folder {name_or_path} is an adaptation that has not finished "
                                                 f"(status {manifest.status.value})", path=name_or_path)
        if not (path / "config.json").is_file():
            raise SneknerError(f"model folder {name_or_path} has no config.json; pass a folder made by save_pretrained or a hub id")
        return path
    if path.exists() or name_or_path.startswith((".", "/", "~")):
        raise SneknerError(f"model {name_or_path} not found: no such folder; pass a model folder or a hub id such as {DEFAULT_MODEL}")
    from huggingface_hub import snapshot_download

    try:
        downloaded = Path(snapshot_download(name_or_path, allow_patterns=MODEL_FILE_PATTERNS))
    except Exception as e:  # offline, unknown id, auth: reported alike
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise SneknerError(f"model {name_or_path} not found: not a local folder, and the Hugging Face hub did not provide it ({first})",
                           fix="pass {option} with a local model folder", option="model") from None
    return check_no_remote_code(downloaded)


def load_tokenizer(name_or_path: str):
    from transformers import AutoTokenizer

    directory = resolve_model_dir(name_or_path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(directory), use_fast=True, trust_remote_code=False)
    except (OSError, ValueError) as e:
        raise SneknerError(f"cannot load a tokenizer from {name_or_path} ({str(e).splitlines()[0]}); pass a model folder with tokenizer files") from None
    if not tokenizer.is_fast:  # transformers gives the slow one when it has no fast version and cannot convert it
        raise SneknerError(f"the tokenizer of {name_or_path} ({type(tokenizer).__name__}) has no fast version, and snekner needs "
                           "the word ids only a fast tokenizer gives", fix="choose another {option}, one with a tokenizer.json",
                           option="model")
    return tokenizer


def load_config(name_or_path: str):
    """A model's config (no weights); SneknerError naming its config.json when that cannot be read."""
    from transformers import AutoConfig

    directory = resolve_model_dir(name_or_path)
    try:
        return AutoConfig.from_pretrained(str(directory), trust_remote_code=False)
    except (OSError, ValueError) as e:
        raise SneknerError(f"the model config {directory / 'config.json'} cannot be read ({str(e).splitlines()[0]})") from None


def position_limit(config) -> int | None:
    """The most sub-words, special tokens included, a model of this config takes (None: it does not say)."""
    limit = getattr(config, "max_position_embeddings", None)
    if not isinstance(limit, int):
        return None
    return limit - 2 if getattr(config, "model_type", None) in POSITIONS_FROM_2 else limit


def check_position_limit(max_length: int, limit: int | None) -> None:
    """OptionError unless `max_length` sub-words fit the model's `limit` of positions (None: no limit known)."""
    if limit is not None and max_length > limit:
        raise OptionError("max_length", max_length, f"at most the model's {limit} positions")


def check_data_fits(max_length: int, data: Path, name_or_path: str) -> None:
    """Data prepared with `max_length` sub-words per sentence fits the positions of model `name_or_path`."""
    limit = position_limit(load_config(name_or_path))
    if limit is not None and max_length > limit:
        raise SneknerError(f"the data at {data} was prepared with max length {max_length}, more than the {limit} positions of "
                           f"model {name_or_path}", fix=f"prepare it again with a max length of at most {limit}, or choose another {{option}}",
                           option="model")


def _safetensors_state(directory: Path) -> dict:
    from safetensors.numpy import load_file

    index = directory / SAFETENSORS_INDEX
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    else:
        shards = [SAFETENSORS]
    state: dict = {}
    for shard in shards:
        state.update(load_file(str(directory / shard)))
    return state


def build_token_classifier(name_or_path: str, labels: list[str], seed: int | None = None):
    """A TF token classifier with a new head for `labels`, encoder weights from the checkpoint.

    seed: the head is drawn as transformers' PyTorch classes draw it (see draw_head), from this seed; None: as their
    TensorFlow twins draw it, from TensorFlow's global seed."""
    model = _token_classifier(name_or_path, labels)
    if seed is not None:
        draw_head(model, seed)
    return model


def draw_head(model, seed: int) -> None:
    """Draw the classification head as transformers' PyTorch models do (`_init_weights`: the kernel from a normal of
    sd `initializer_range`, the bias 0), from `seed` (stateless: the same on every worker of a cluster).

    Their TensorFlow twins draw the kernel from a normal truncated at two sd, whose sd is 0.88 x initializer_range.
    That small difference was the whole gap measured between snekner and Hugging Face's PyTorch Trainer given the same recipe
    (issue 21: MiniLM, 4,000 English WikiNEuRal sentences, one epoch, 10 seeds each: test F1 0.664 with the truncated
    draw, 0.675 with this one, 0.675 for the Trainer; with the same initial weights and batches the two frameworks
    learn alike)."""
    import tensorflow as tf

    head = getattr(model, "classifier", None)
    if head is None or getattr(head, "kernel", None) is None:
        return
    sd = float(getattr(model.config, "initializer_range", 0.02))
    head.kernel.assign(tf.random.stateless_normal(head.kernel.shape, seed=[seed, 0], stddev=sd, dtype=head.kernel.dtype))
    if getattr(head, "bias", None) is not None:
        head.bias.assign(tf.zeros_like(head.bias))


def _token_classifier(name_or_path: str, labels: list[str]):
    from transformers import AutoConfig, TFAutoModelForTokenClassification

    directory = resolve_model_dir(name_or_path)
    config = AutoConfig.from_pretrained(
        str(directory),
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
        trust_remote_code=False,
    )
    if (directory / TF_WEIGHTS).is_file():
        # use_safetensors=False: a folder with both (a hub repo snekner pushed) would make transformers read the
        # PyTorch-format model.safetensors, which it cannot without torch (transformers#40028)
        return TFAutoModelForTokenClassification.from_pretrained(str(directory), config=config, ignore_mismatched_sizes=True,
                                                                 use_safetensors=False, trust_remote_code=False)
    if not ((directory / SAFETENSORS).is_file() or (directory / SAFETENSORS_INDEX).is_file()):
        raise SneknerError(
            f"model {name_or_path} has neither {TF_WEIGHTS} nor {SAFETENSORS}; snekner loads TF or safetensors weights "
            "(a pytorch_model.bin needs torch: convert it to safetensors first)"
        )
    model = TFAutoModelForTokenClassification.from_config(config, trust_remote_code=False)
    state = _safetensors_state(directory)
    # the classifier head is new: drop any head in the checkpoint whose shape would not fit
    state = {k: v for k, v in state.items() if not k.startswith("classifier.")}
    info = _load_pytorch_state(model, state)
    encoder_missing = [k for k in info["missing_keys"] if not k.startswith("classifier")]
    if encoder_missing:
        raise SneknerError(
            f"model {name_or_path}: {len(encoder_missing)} encoder weights (e.g. {encoder_missing[0]}) are not in {SAFETENSORS}; "
            "is it a checkpoint of the architecture its config.json names?"
        )
    return model


def build_masked_lm(name_or_path: str):
    """A TF masked-language model with the checkpoint's weights, and whether its head was in the checkpoint
    ("pretrained") or starts random ("new": e.g. a sentence-transformers encoder, saved without one)."""
    from transformers import AutoConfig, TFAutoModelForMaskedLM

    directory = resolve_model_dir(name_or_path)
    config = AutoConfig.from_pretrained(str(directory), trust_remote_code=False)
    try:
        model = TFAutoModelForMaskedLM.from_config(config, trust_remote_code=False)
    except ValueError:
        raise SneknerError(f"model {name_or_path} ({config.model_type}) has no masked-language-model form in transformers' "
                           "TensorFlow classes", fix="adapt a BERT-like fill-mask model ({option})", option="model") from None
    prefix = model.base_model_prefix + "."
    if (directory / TF_WEIGHTS).is_file():
        # use_safetensors=False: see build_token_classifier
        model, info = TFAutoModelForMaskedLM.from_pretrained(str(directory), use_safetensors=False, output_loading_info=True,
                                                             trust_remote_code=False)
        return model, "new" if info["missing_keys"] else "pretrained"
    if not ((directory / SAFETENSORS).is_file() or (directory / SAFETENSORS_INDEX).is_file()):
        raise SneknerError(f"model {name_or_path} has neither {TF_WEIGHTS} nor {SAFETENSORS}; snekner loads TF or safetensors weights")
    info = _load_pytorch_state(model, _safetensors_state(directory))
    encoder_missing = [k for k in info["missing_keys"] if k.startswith(prefix)]
    if encoder_missing:
        raise SneknerError(f"model {name_or_path}: {len(encoder_missing)} encoder weights (e.g. {encoder_missing[0]}) are not in "
                           f"{SAFETENSORS}; is it a checkpoint of the architecture its config.json names?")
    return model, "new" if info["missing_keys"] else "pretrained"


def _load_pytorch_state(model, state: dict, ignore_mismatched_sizes: bool = False) -> dict:
    """Assign a PyTorch-format state dict to a TF model (transformers' PT->TF mapping); returns its loading info."""
    from transformers.modeling_tf_pytorch_utils import (
        load_pytorch_state_dict_in_tf2_model,
    )

    _, info = load_pytorch_state_dict_in_tf2_model(model, state, allow_missing_keys=True, output_loading_info=True,
                                                   ignore_mismatched_sizes=ignore_mismatched_sizes, skip_logger_warnings=True)
    return info


def load_pytorch_classifier(directory: Path):
    """A TF token classifier from a folder holding a PyTorch-format token classifier (config.json, model.safetensors):
    every weight, the head included, must be in the checkpoint, and nothing else."""
    import tensorflow as tf
    from transformers import AutoConfig, TFAutoModelForTokenClassification

    directory = check_no_remote_code(directory)
    if not (directory / SAFETENSORS).is_file() and not (directory / SAFETENSORS_INDEX).is_file():
        raise SneknerError(f"{directory} has no {SAFETENSORS}")
    config = AutoConfig.from_pretrained(str(directory), trust_remote_code=False)
    model = TFAutoModelForTokenClassification.from_config(config, trust_remote_code=False)
    try:
        info = _load_pytorch_state(model, _safetensors_state(directory), ignore_mismatched_sizes=True)
    except (ValueError, tf.errors.InvalidArgumentError) as e:  # a weight of another shape (numpy's reshape or TF's says so)
        raise SneknerError(f"{directory / SAFETENSORS} does not fit a {type(model).__name__} ({str(e).splitlines()[0]})") from None
    for problem in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        if info[problem]:
            what = problem.replace("_keys", "")
            raise SneknerError(f"{directory / SAFETENSORS} does not fit a {type(model).__name__}: {len(info[problem])} "
                               f"{what} weights (e.g. {info[problem][0]})")
    return model


def save_model(model, tokenizer, directory: Path) -> None:
    model.save_pretrained(str(directory))
    tokenizer.save_pretrained(str(directory))
    name_models_by_folder(directory)


# where transformers records the model a folder was made from: a hub id, or the path it was loaded from
MADE_FROM = {"config.json": "_name_or_path", "tokenizer_config.json": "name_or_path"}


def name_models_by_folder(directory: Path) -> None:
    """In a model folder's config.json and tokenizer_config.json, name a local model it was made from by its folder's
    name, not by a path of this machine (absolute, or one that exists here): the folder is shared (pushed, exported)."""
    for file, key in MADE_FROM.items():
        path = Path(directory) / file
        if not path.is_file():
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        value = data.get(key)
        if isinstance(value, str) and value and (Path(value).expanduser().is_absolute() or Path(value).exists()):
            data[key] = Path(value.rstrip("/")).name
            path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def load_trained(directory: Path):
    from transformers import TFAutoModelForTokenClassification

    # use_safetensors=False: only tf_model.h5 holds a run's weights (see build_token_classifier)
    return TFAutoModelForTokenClassification.from_pretrained(str(check_no_remote_code(directory)), use_safetensors=False,
                                                             trust_remote_code=False)


def run_model_dir(run: Run) -> Path:
    """The folder of a run's trained model; MissingModelError when the run has none."""
    if not (run.model_dir / "config.json").is_file():
        raise MissingModelError(f"run {run.name} has no model in {run.model_dir}", run=run)
    return run.model_dir


def load_run_model(run: Run):
    """A run's trained model; MissingModelError naming the file when it is missing or cannot be read."""
    directory = run_model_dir(run)
    try:
        load_config(str(directory))
    except RemoteCodeError:
        raise
    except SneknerError as e:
        raise MissingModelError(f"run {run.name}: {e.message}", run=run) from None
    weights = directory / TF_WEIGHTS
    if not weights.is_file():
        raise MissingModelError(f"the model folder {directory} of run {run.name} has no {TF_WEIGHTS}", run=run)
    try:
        return load_trained(directory)
    except (OSError, ValueError):  # transformers reports a truncated or damaged h5 file as either
        raise MissingModelError(f"the model weights {weights} of run {run.name} cannot be read (the file is truncated "
                                "or damaged)", run=run) from None
