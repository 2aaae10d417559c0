"""`snekner adapt` as a library call: continued masked-language-model training on unlabelled text.

Domain-adaptive pretraining (Gururangan et al., 2020): before fine-tuning for NER, a fill-mask model
trains on text of the target domain a while longer with its own objective, so that the words of
that domain stop being rare to it. The result is a model folder that `prep --model DIR` and `train`
take as they take a hub model, with a manifest (snekner-adapted.json) of what produced it.

The loop is the training loop's (snekner.training.loop.TrainingLoop, with the task training.tasks.MaskedLanguageModel): the same tf.data batches (length
buckets, prefetch), optimizer, strategies, mixed precision and XLA, checkpoints and `--resume`, the
NaN stop. What differs: the model (a masked-LM head over the vocabulary), the labels (the original
sub-words of whole words masked anew each epoch, BERT's 80/10/10 rule, a pure function of seed and
epoch, so a resumed epoch replays the same masks) and the validation (masked-LM loss and perplexity
on held-out texts with fixed masks, comparable across epochs and with the base model's).
"""
from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from snekner.data.text import encode_texts, read_texts
from snekner.errors import SneknerError
from snekner.modeling.devices import setup_devices
from snekner.modeling.models import load_tokenizer
from snekner.progress import Lines, Progress
from snekner.store.atomic import check_artifact_name
from snekner.store.manifests import (ADAPTED_MANIFEST, AdaptedModelManifest, RunStatus, environment_versions, now_iso,
                                     read_adapted_manifest, write_adapted_manifest)
from snekner.training.adaptation_options import RESUME_AFTER_FAILURE_MAY_CHANGE, RESUME_MAY_CHANGE, AdaptOptions, held_out
from snekner.training.job import Job
from snekner.training.loop import TrainingLoop, TrainingState
from snekner.training.options import take_resumable
from snekner.training.tasks import MaskedLanguageModel


@dataclass(frozen=True, kw_only=True)
class AdaptRequest:
    """What a caller asks of an adaptation (adapt's arguments, less the folder's)."""

    text: str
    options: AdaptOptions
    resume: bool = False
    explicit: Collection[str] = ()
    log: object = field(default=lambda msg: None)
    progress: Progress | None = None
    callbacks: tuple = ()


def text_digest(encoded) -> str:
    """SHA-256 of the sub-word sequences: a resumed adaptation must see the text it started on."""
    digest = hashlib.sha256(encoded.lengths.astype(np.int64).tobytes())
    digest.update(encoded.input_ids.astype(np.int32).tobytes())
    return digest.hexdigest()


def adapt(text: str, out: Path, options: AdaptOptions, *, resume: bool = False, overwrite: bool = False, log=lambda msg: None,
          explicit: Collection[str] = (), progress: Progress | None = None, callbacks=()) -> AdaptedModelManifest:
    """Continue masked-LM training of `options.model` on the texts of `text` (see snekner.data.text), into model folder `out`.

    As `train`: the folder is locked for the call; `resume` continues an unfinished (killed, interrupted or failed) one from
    its last checkpoint with its stored options (those in `explicit` must match, but for RESUME_MAY_CHANGE); `overwrite`
    builds the new model beside the old one and swaps it in only when finished.
    """
    out = Path(out)
    options.validate()
    check_artifact_name(out)
    request = AdaptRequest(text=text, options=options, resume=resume, explicit=frozenset(explicit), log=log,
                           progress=Lines(log, min_seconds=1.0) if progress is None else progress, callbacks=tuple(callbacks))
    job = Job(command="adapt", what="adapted model", path=out, title=str(out), source=text, resume=resume,
              overwrite=overwrite, owns_parent=False)
    return job.run(lambda folder: _adapt_session(request, job, folder))


@dataclass
class _Text:
    """The text of an adaptation, encoded: the sequences it trains on and those held out."""

    described: dict
    train: object
    validation: object | None
    digest: str


def _resumed(out: Path, request: AdaptRequest) -> tuple[AdaptedModelManifest | None, AdaptOptions]:
    """The manifest of the adaptation to continue (None for a new one) and the options this session trains on."""
    if not request.resume:
        return None, request.options
    if not (out / ADAPTED_MANIFEST).is_file():
        raise SneknerError(f"{out} holds no adaptation to resume", fix="drop {option} to start one", option="resume")
    manifest = read_adapted_manifest(out)
    if manifest.is_finished:
        raise SneknerError(f"the adaptation in {out} has finished; nothing to resume", fix="drop {option}", option="resume")
    if manifest.text.get("source") != request.text:
        raise SneknerError(f"{out} was adapted on {manifest.text.get('source')}, not {request.text}", fix="resume it with that text")
    may_change = RESUME_AFTER_FAILURE_MAY_CHANGE if manifest.status == RunStatus.FAILED else RESUME_MAY_CHANGE
    return manifest, take_resumable(AdaptOptions.from_manifest(manifest.options), request.options, request.explicit, may_change)


def _read_text(request: AdaptRequest, options: AdaptOptions, tokenizer) -> _Text:
    texts = read_texts(request.text, split=options.split, lang=options.lang, limit=options.limit)
    held = held_out(len(texts), options)
    keep = np.setdiff1d(np.arange(len(texts)), held)
    train_text = encode_texts(tokenizer, texts.subset(keep), options.max_length, request.progress)
    validation_text = encode_texts(tokenizer, texts.subset(held), options.max_length) if len(held) else None
    request.log(f"text: {len(texts)} texts of {request.text} -> {len(train_text)} sequences to train on, "
                f"{0 if validation_text is None else len(validation_text)} held out")
    return _Text(texts.describe(), train_text, validation_text, text_digest(train_text))


def _adapt_session(request: AdaptRequest, job: Job, out: Path) -> AdaptedModelManifest:
    """One session of the adaptation in `out`, which is free (or, with `resume`, the one to continue) and locked by the job."""
    manifest, options = _resumed(out, request)
    tokenizer = load_tokenizer(options.model)
    if tokenizer.mask_token_id is None:
        raise SneknerError(f"the tokenizer of {options.model} has no mask token, so it cannot be adapted with masked-LM training",
                           fix="choose a fill-mask model with {option}", option="model")
    # bfloat16 matmuls only when asked: their default on AMX CPUs rests on fine-tuning's test F1 (issue 23); masked-LM
    # adaptation in them was not measured
    setup = setup_devices(options.strategy, options.mixed_precision, options.xla, cpu_bfloat16_by_default=False)
    if setup.multiworker:
        raise SneknerError("adapt runs on one machine (one or several devices), not a multi-worker cluster", fix="unset TF_CONFIG")
    request.log(f"devices: {setup.describe()}")
    text = _read_text(request, options, tokenizer)
    if manifest is not None and manifest.text.get("sha256") != text.digest:
        raise SneknerError(f"the text of {request.text} has changed since {out} started adapting on it", fix="resume it with the same text")
    import tensorflow as tf

    tf.keras.utils.set_random_seed(options.seed)
    task = MaskedLanguageModel(text.train, text.validation, tokenizer, options)
    loop = TrainingLoop(task, folder=out, recipe=options, setup=setup, log=request.log, progress=request.progress)
    loop.build(options.model)
    manifest = _session_manifest(manifest, request, options=options, text=text, task=task)
    manifest.devices, manifest.versions = setup.to_manifest(), environment_versions()
    out.mkdir(parents=True, exist_ok=True)
    state = loop.restore() if request.resume else TrainingState()
    if manifest.validation_before is None:
        manifest.validation_before = task.validate(loop.model, request.progress)
        if manifest.validation_before is not None:
            request.log(f"held-out masked-LM loss of {options.model}: {manifest.validation_before['loss']:.4f} "
                        f"(perplexity {manifest.validation_before['perplexity']:.2f})")
    write_adapted_manifest(out, manifest)
    if request.resume:
        request.log(f"resuming at epoch {state.epoch + 1}, step {state.step} (global step {state.global_step})")
    t0 = time.perf_counter()
    state = job.train(loop, state, loop.callbacks(request.callbacks, resumed=request.resume), manifest=manifest,
                      save_manifest=lambda m: write_adapted_manifest(out, m))
    loop.export(state)
    manifest.history = state.history
    manifest.status, manifest.finished = RunStatus.FINISHED, now_iso()
    manifest.timings = {"last_session_seconds": time.perf_counter() - t0, "train_seconds": sum(h["train_seconds"] for h in state.history)}
    write_adapted_manifest(out, manifest)
    shutil.rmtree(out / "checkpoints", ignore_errors=True)
    return manifest


def _session_manifest(manifest: AdaptedModelManifest | None, request: AdaptRequest, *, options: AdaptOptions, text: _Text,
                      task: MaskedLanguageModel) -> AdaptedModelManifest:
    """The manifest as a session starts: a new adaptation's, or the resumed one's, running with this session's options."""
    if manifest is None:
        manifest = AdaptedModelManifest(status=RunStatus.RUNNING, base_model=options.model, options=options.to_manifest(),
                                        text={**text.described, "sha256": text.digest}, head=task.head, created=now_iso(),
                                        sequences={"train": len(text.train), "validation": 0 if text.validation is None else len(text.validation),
                                                   "train_subwords": int(text.train.lengths.sum())})
        if task.head == "new":
            request.log(f"{options.model} has no masked-LM head: it starts random and trains with the encoder")
    manifest.status, manifest.options = RunStatus.RUNNING, options.to_manifest()
    return manifest
