"""A run's model in other formats, each checked by loading it back and comparing logits with the run's model.

- pytorch: `model.safetensors` with PyTorch (transformers) weight names and layouts, `config.json` naming the
  PyTorch *ForTokenClassification class, and the tokenizer files, for `AutoModelForTokenClassification`.
  Names and layouts come from transformers' own TF->PT mapping (`convert_tf_weight_name_to_pt_weight_name`,
  `apply_transpose`: a TF Dense kernel is the transpose of a torch Linear weight), which needs no torch.
  Checked without torch: the folder is loaded back by snekner's own PyTorch-safetensors loader
  (modeling.models.load_pytorch_classifier), which must find every weight and no other.
- savedmodel: a TF SavedModel whose `serving_default` signature maps `input_ids`, `attention_mask` (int64,
  [batch, length]) to `logits`; checked with `tf.saved_model.load`.
- onnx: `model.onnx` made by tf2onnx (the `onnx` extra), same inputs and output; checked with onnxruntime.
  tf2onnx 1.17 has no converter for TensorFlow's `Erfc`, which `tf.nn.gelu` uses since TF 2.x: it is
  written as 1 - Erf (an ONNX op).
savedmodel and onnx folders also hold `config.json` (the label maps) and the tokenizer files.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np

from snekner.errors import ExportMismatchError, ExtraNotInstalledError, SneknerError
from snekner.modeling.models import (SAFETENSORS, load_pytorch_classifier, load_run_model, load_tokenizer, name_models_by_folder,
                                     run_model_dir)
from snekner.progress import NO_PROGRESS, Progress, Task
from snekner.store.atomic import atomic_path, check_output_free, disk_full_is_an_error
from snekner.store.locks import hold
from snekner.store.runs import Run

# the largest difference between the run's logits and the export's that still counts as the same model
TOLERANCE = 1e-4
# what the check feeds both models: several languages and lengths, so padding and masking take part
CHECK_SENTENCES = [
    "Angela Merkel visited Paris in 2015 with the European Commission.",
    "Der Rhein fließt durch Köln und Düsseldorf.",
    "Barack Obama was born in Honolulu, Hawaii.",
    "Hi.",
]
ONNX_FILE = "model.onnx"
ONNX_OPSET = 17


class ExportFormat(str, Enum):
    PYTORCH = "pytorch"
    SAVEDMODEL = "savedmodel"
    ONNX = "onnx"


@dataclass
class ExportResult:
    format: ExportFormat
    out: Path
    max_abs_difference: float
    sentences: int
    files: list[str]


def check_format_available(fmt: ExportFormat) -> None:
    """SneknerError before any work when a format needs packages that are not installed."""
    if fmt is ExportFormat.ONNX:
        try:
            import onnxruntime  # noqa: F401
            import tf2onnx  # noqa: F401
        except ImportError as e:
            raise ExtraNotInstalledError("format", fmt, packages=["tf2onnx", "onnxruntime"], missing=e.name, extra="onnx") from None


# ---------------------------------------------------------------- pytorch

def pytorch_class_name(config) -> str:
    """The PyTorch token-classification class of a config's model type (what `architectures` names)."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES

    name = MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES.get(config.model_type)
    if name is None:
        raise SneknerError(f"transformers has no PyTorch token classifier for model type {config.model_type}")
    return name


def pytorch_state(model) -> dict[str, np.ndarray]:
    """The model's weights under PyTorch names, in PyTorch layouts (transformers' TF->PT mapping, no torch)."""
    from transformers.modeling_tf_pytorch_utils import apply_transpose, convert_tf_weight_name_to_pt_weight_name

    state: dict[str, np.ndarray] = {}
    for weight in model.weights:
        name, transpose = convert_tf_weight_name_to_pt_weight_name(weight.name, tf_weight_shape=weight.shape)
        if name in state:
            raise SneknerError(f"two weights of the {type(model).__name__} map to the PyTorch name {name}")
        state[name] = np.ascontiguousarray(apply_transpose(transpose, weight.numpy(), pt_to_tf=False))
    return state


def _write_config(model, folder: Path, architecture: str | None = None) -> None:
    config = model.config.to_dict()
    if architecture:
        config["architectures"] = [architecture]
    (folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def write_pytorch(model, tokenizer, folder: Path) -> None:
    from safetensors.numpy import save_file

    save_file(pytorch_state(model), str(folder / SAFETENSORS), metadata={"format": "pt"})
    _write_config(model, folder, pytorch_class_name(model.config))
    tokenizer.save_pretrained(str(folder))


def _pytorch_logits(folder: Path, batch: dict) -> np.ndarray:
    model = load_pytorch_classifier(folder)
    return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], training=False).logits.numpy()


# ---------------------------------------------------------------- savedmodel and onnx

def _serving_function(model):
    import tensorflow as tf

    spec = [tf.TensorSpec([None, None], tf.int64, name="input_ids"), tf.TensorSpec([None, None], tf.int64, name="attention_mask")]

    @tf.function(input_signature=spec)
    def serve(input_ids, attention_mask):
        logits = model(input_ids=input_ids, attention_mask=attention_mask, training=False).logits
        return {"logits": tf.cast(logits, tf.float32)}

    return serve, spec


def write_savedmodel(model, tokenizer, folder: Path) -> None:
    import tensorflow as tf

    serve, spec = _serving_function(model)
    module = tf.Module()
    # the variables and the one traced function, not the Keras model: saving that traces every layer's call (slow)
    module.weights, module.serve = list(model.weights), serve
    tf.saved_model.save(module, str(folder), signatures={"serving_default": serve.get_concrete_function(*spec)})
    _write_config(model, folder)
    tokenizer.save_pretrained(str(folder))


def _savedmodel_logits(folder: Path, batch: dict) -> np.ndarray:
    import tensorflow as tf

    serve = tf.saved_model.load(str(folder)).signatures["serving_default"]
    return serve(input_ids=tf.constant(batch["input_ids"]), attention_mask=tf.constant(batch["attention_mask"]))["logits"].numpy()


def _erfc_as_one_minus_erf(ctx, node, name, args):
    """tf2onnx handler: erfc(x) = 1 - erf(x) (ONNX has Erf, not Erfc)."""
    from tf2onnx import utils

    dtype, shape = ctx.get_dtype(node.output[0]), ctx.get_shape(node.output[0])
    node.type = "Erf"
    one = ctx.make_const(utils.make_name(f"{name}_one"), np.array(1, dtype=utils.map_onnx_to_numpy_type(dtype)))
    minus = ctx.insert_new_node_on_output("Sub", node.output[0], name=utils.make_name(f"{name}_one_minus"))
    ctx.replace_inputs(minus, [one.output[0], node.output[0]])
    ctx.set_dtype(minus.output[0], dtype)
    ctx.set_shape(minus.output[0], shape)
    return minus


def write_onnx(model, tokenizer, folder: Path) -> None:
    import tf2onnx

    serve, spec = _serving_function(model)
    try:
        tf2onnx.convert.from_function(serve, input_signature=spec, opset=ONNX_OPSET, output_path=str(folder / ONNX_FILE),
                                      custom_op_handlers={"Erfc": (_erfc_as_one_minus_erf, [])})
    except Exception as e:  # tf2onnx raises whatever its converters raise
        first = str(e).splitlines()[0] if str(e).strip() else type(e).__name__
        raise SneknerError(f"tf2onnx could not convert the {type(model).__name__} ({type(e).__name__}: {first})") from None
    _write_config(model, folder)
    tokenizer.save_pretrained(str(folder))


def _onnx_logits(folder: Path, batch: dict) -> np.ndarray:
    import onnxruntime

    try:
        session = onnxruntime.InferenceSession(str(folder / ONNX_FILE), providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime's own error types: an op it has no kernel for, an invalid graph
        first = str(e).splitlines()[0] if str(e).strip() else type(e).__name__
        raise SneknerError(f"onnxruntime cannot load the converted model ({first})") from None
    return session.run(["logits"], {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]})[0]


WRITERS = {ExportFormat.PYTORCH: (write_pytorch, _pytorch_logits),
           ExportFormat.SAVEDMODEL: (write_savedmodel, _savedmodel_logits),
           ExportFormat.ONNX: (write_onnx, _onnx_logits)}


# ---------------------------------------------------------------- checked export

def check_batch(tokenizer) -> dict[str, np.ndarray]:
    encoded = tokenizer(CHECK_SENTENCES, padding=True, return_tensors="np")
    return {"input_ids": encoded["input_ids"].astype(np.int64), "attention_mask": encoded["attention_mask"].astype(np.int64)}


def max_abs_difference(expected: np.ndarray, got: np.ndarray, mask: np.ndarray) -> float:
    """The largest |difference| of logits over the real (unpadded) sub-words; inf when the shapes differ."""
    if expected.shape != got.shape:
        return math.inf
    keep = mask.astype(bool)
    return float(np.max(np.abs(expected[keep].astype(np.float64) - got[keep].astype(np.float64))))


def write_checked(model, tokenizer, fmt: ExportFormat, folder: Path, run_name: str, *, task: Task = Task()) -> float:
    """Write `model` as `fmt` into the existing empty `folder`, load it back and compare logits on CHECK_SENTENCES;
    returns the max abs difference. ExportMismatchError when it exceeds TOLERANCE (or is not a number).
    `task` (snekner.progress) advances by one stage after writing and after checking."""
    write, logits = WRITERS[fmt]
    batch = check_batch(tokenizer)
    expected = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], training=False).logits.numpy()
    task.note(f"writing {fmt.value}")
    write(model, tokenizer, folder)
    name_models_by_folder(folder)
    task.advance()
    task.note("loading it back, comparing logits")
    difference = max_abs_difference(expected, logits(folder, batch), batch["attention_mask"])
    task.advance()
    if not difference <= TOLERANCE:  # NaN fails too
        raise ExportMismatchError(f"the {fmt.value} export of run {run_name}, loaded back, gives logits that differ from the "
                                  f"run's by up to {difference:.3g} (more than {TOLERANCE:g}); nothing was written")
    return difference


def export_run(run: Run, fmt: ExportFormat, out: Path, overwrite: bool = False, progress: Progress = NO_PROGRESS) -> ExportResult:
    """Export a finished run's model to folder `out` (replaced only with `overwrite`), checked as write_checked does;
    `progress` shows its three stages (load, write, check)."""
    out = Path(out)
    check_format_available(fmt)
    if out.exists() and not out.is_dir():
        raise SneknerError(f"{out} is a file; an export is a folder", fix="choose another {option}", option="out")
    check_output_free(out, overwrite, "export")
    if out.resolve().is_relative_to(run.path.resolve()):
        raise SneknerError(f"{out} is inside run {run.name}", fix="choose another {option}", option="out")
    # hold: the run cannot be replaced while it is read
    with hold(run.path, "run", "export", shared=True), progress.task(f"export {fmt.value}", 3, unit="stage") as task:
        task.note("loading the run's model")
        model = load_run_model(run)
        tokenizer = load_tokenizer(str(run_model_dir(run)))
        task.advance()
        with disk_full_is_an_error(writing=out), atomic_path(out, directory=True) as tmp:
            difference = write_checked(model, tokenizer, fmt, tmp, run.name, task=task)
            files = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file())
    return ExportResult(fmt, out, difference, len(CHECK_SENTENCES), files)


def write_hub_folder(run: Run, folder: Path) -> float:
    """Fill the existing empty `folder` with what the hub gets for a run: the PyTorch export (model.safetensors,
    config.json naming the PyTorch class, tokenizer), checked as write_checked does, and the rest of the run's model
    folder (tf_model.h5, the model card), hard-linked where the file system allows. Returns the max abs difference.
    TensorFlow users load such a repo with `use_safetensors=False` (transformers 4.x reads model.safetensors first)."""
    import shutil

    model = load_run_model(run)
    directory = run_model_dir(run)
    difference = write_checked(model, load_tokenizer(str(directory)), ExportFormat.PYTORCH, folder, run.name)
    for path in sorted(directory.iterdir()):
        target = folder / path.name
        if path.is_file() and not target.exists():
            try:
                target.hardlink_to(path)
            except OSError:  # another file system, or one without links
                shutil.copy2(path, target)
    return difference
