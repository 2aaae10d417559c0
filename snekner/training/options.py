"""The training recipe: every option of `snekner train` with its default, in one place.

The command line, the demo and the benchmarks build a TrainOptions and read its defaults from
here; a run manifest stores it (to_manifest) so that `--resume` trains on with the same recipe.
"""
from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import asdict, dataclass, fields
from typing import ClassVar
from enum import Enum

from snekner.errors import OptionError, ResumeOptionError
from snekner.modeling.devices import Strategy
from snekner.modeling.forward import EVAL_BATCH_SIZE
from snekner.training.imbalance import ClassWeights


class Schedule(str, Enum):
    """How the learning rate moves after the warm-up."""

    LINEAR = "linear"  # decays linearly to 0 over all remaining steps (HF's default)
    CONSTANT = "constant"  # stays at --learning-rate
    STABLE_DECAY = "stable-decay"  # stays, then decays linearly to 0 over the last --decay-ratio of the steps


class Batching(str, Enum):
    """How sentences are grouped into training batches."""

    BALANCED = "balanced"  # similar lengths together, about the same sub-words in every batch (the default: issue 21)
    BUCKETED = "bucketed"  # sentences of similar length together (little padding), batch-size sentences a batch
    RANDOM = "random"  # a plain random permutation


# what a run manifest written before an option existed meant by leaving it out (so that
# `--resume` of an older run keeps its recipe, whatever today's default is)
LEGACY_OPTIONS = {"schedule": "linear", "decay_ratio": 0.0, "max_grad_norm": 0.0, "batching": "bucketed", "class_weights": "none",
                  "oversample": 0.0}
# what `--resume` may change: how long the run goes on and what it writes on the way, not how its
# steps are made (epochs may only grow: the steps already taken followed the stored schedule)
RESUME_MAY_CHANGE = ("epochs", "early_stopping_patience", "checkpoint_every", "tensorboard", "eval_batch_size")
# and after a failure (the loss became NaN or infinite), what may steady the steps from the last checkpoint on
RESUME_AFTER_FAILURE_MAY_CHANGE = (*RESUME_MAY_CHANGE, "learning_rate", "max_grad_norm", "weight_decay")

# every float option: (field, whether a finite value is in its range, the range as the error states it)
FLOAT_RANGES = (
    ("learning_rate", lambda v: v > 0, "a positive finite number"),
    ("weight_decay", lambda v: v >= 0, "0 (off) or a positive finite number"),
    ("warmup_ratio", lambda v: 0 <= v < 1, "at least 0 and below 1"),
    ("decay_ratio", lambda v: 0 <= v <= 1, "between 0 and 1"),
    ("oversample", lambda v: 0 <= v < 1, "0 (off) or a share below 1 such as 0.05"),
    ("max_grad_norm", lambda v: v >= 0, "0 (off) or a positive finite number"),
)


def take_choices(options, choices) -> None:
    """Each (field, Enum) of `choices` on `options` as that Enum (from its value); OptionError naming the choices otherwise."""
    for name, enum in choices:
        value = getattr(options, name)
        try:
            setattr(options, name, enum(value))
        except ValueError:
            raise OptionError(name, value, "one of " + ", ".join(c.value for c in enum)) from None


def options_manifest(options) -> dict:
    """An options dataclass as manifest JSON (Enums as their values)."""
    return {k: (v.value if isinstance(v, Enum) else v) for k, v in asdict(options).items()}


def decay_steps(schedule: Schedule, decay_ratio: float, total_steps: int) -> int | None:
    """Steps of the final linear decay for build_optimizer (None: all after the warm-up)."""
    if schedule == Schedule.LINEAR:
        return None
    if schedule == Schedule.CONSTANT:
        return 0
    return int(round(total_steps * decay_ratio))


def check_float_ranges(options, ranges=None) -> None:
    """OptionError for the first float option of `options` (those of FLOAT_RANGES it has, or `ranges`) out of its range."""
    for name, in_range, requirement in ranges or FLOAT_RANGES:
        if not hasattr(options, name):
            continue
        value = getattr(options, name)
        if not (math.isfinite(value) and in_range(value)):  # NaN fails every comparison, but inf passes `> 0`
            raise OptionError(name, value, requirement)


@dataclass(kw_only=True)
class Recipe:
    """How a model trains, whatever it learns: the options `train` and `adapt` share, with train's defaults.

    Each task's options extend it (TrainOptions, training.adaptation_options.AdaptOptions); a task whose
    practice differs re-declares only the defaults that differ."""

    model: str | None = None  # default: the model the data was prepared with
    epochs: int = 3
    batch_size: int = 16
    learning_rate: float = 5e-5
    weight_decay: float = 0.0
    warmup_ratio: float = 0.0
    schedule: Schedule = Schedule.STABLE_DECAY  # issue 8: linear decay to 0 halves the mean rate of short runs
    decay_ratio: float = 0.2  # with stable-decay: the share of steps in the final decay
    max_grad_norm: float = 1.0  # 0: no clipping; 1.0 as Hugging Face's Trainer (issue 8)
    batching: Batching = Batching.BALANCED  # issue 21: as fast as bucketed, and learned as much as random batches or more
    seed: int = 42
    eval_batch_size: int = EVAL_BATCH_SIZE
    mixed_precision: bool | None = None  # None: on with a GPU (float16) or a CPU with AMX (bfloat16 matmuls; issue 23)
    xla: bool | None = None  # None: on with a GPU
    strategy: Strategy = Strategy.AUTO
    checkpoint_every: int = 0  # steps; 0: only at the end of each epoch

    # the fields of a subclass that take an Enum value (checked and converted on construction)
    CHOICES = (("schedule", Schedule), ("batching", Batching), ("strategy", Strategy))
    # the fields that count things, and their least value
    COUNTS = (("epochs", 1), ("batch_size", 1), ("eval_batch_size", 1), ("checkpoint_every", 0))

    def __post_init__(self):
        take_choices(self, self.CHOICES)

    def validate(self) -> None:
        """OptionError for the first option out of its range."""
        for name, least in self.COUNTS:
            value = getattr(self, name)
            if value is not None and value < least:
                raise OptionError(name, value, f"at least {least}" if least else "0 (off) or more")
        check_float_ranges(self)

    def decay_steps(self, total_steps: int) -> int | None:
        return decay_steps(self.schedule, self.decay_ratio, total_steps)

    def to_manifest(self) -> dict:
        return options_manifest(self)

    @classmethod
    def from_manifest(cls, stored: dict):
        known = {f.name for f in fields(cls)}
        return cls(**{**cls.LEGACY, **{k: v for k, v in stored.items() if k in known}})

    LEGACY: ClassVar[dict] = {}


@dataclass(kw_only=True)
class TrainOptions(Recipe):
    """Every option of `snekner train` with its default: the shared recipe and what token classification adds."""

    class_weights: ClassWeights = ClassWeights.NONE  # per-label loss weights from the training label counts
    oversample: float = 0.0  # repeat sentences of rare types until each type is in about this share of an epoch's sentences
    early_stopping_patience: int = 0  # 0: off
    tensorboard: bool = False

    CHOICES = (*Recipe.CHOICES, ("class_weights", ClassWeights))
    COUNTS = (*Recipe.COUNTS, ("early_stopping_patience", 0))
    LEGACY: ClassVar[dict] = LEGACY_OPTIONS


def resume_options(stored: dict, given: TrainOptions, explicit: Collection[str], run_model: str,
                   after_failure: bool = False) -> TrainOptions:
    """The options a resumed run trains on: its stored ones, with the `explicit`ly given options of
    RESUME_MAY_CHANGE (RESUME_AFTER_FAILURE_MAY_CHANGE for a run that failed) taken from `given`; any
    other explicit option must equal the stored value.

    run_model is the model the run trains (what a stored `model` of None stood for)."""
    may_change = RESUME_AFTER_FAILURE_MAY_CHANGE if after_failure else RESUME_MAY_CHANGE
    return take_resumable(TrainOptions.from_manifest(stored), given, explicit, may_change, run_model)


def take_resumable(options, given, explicit: Collection[str], may_change: Collection[str], run_model: str | None = None):
    """`options` (a resumed run's or adaptation's stored options dataclass) with the `explicit`ly given values of
    `given` that are in `may_change` taken (epochs only more); ResumeOptionError for any other explicit option
    whose value differs from the stored one. run_model: what a stored `model` of None stands for (train)."""
    for name in (f.name for f in fields(options) if f.name in explicit):
        value, old = getattr(given, name), getattr(options, name)
        if value == old or (name == "model" and value == run_model):
            continue
        if name == "epochs" and value < old:
            raise ResumeOptionError(name, value, old, fewer=True)
        if name not in may_change:
            raise ResumeOptionError(name, value, run_model if name == "model" and old is None else old)
        setattr(options, name, value)
    return options
