"""The recipe of `snekner adapt`: every option with its default, in one place (as training.options is for train)."""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from snekner.errors import OptionError
from snekner.modeling.devices import Strategy
from snekner.modeling.forward import EVAL_BATCH_SIZE
from snekner.settings import DEFAULT_MODEL
from snekner.training.options import Batching, Schedule, check_float_ranges, decay_steps, options_manifest, take_choices

VALIDATION_MASK_SEED = 0x5EED  # the held-out masks: one fixed draw per --seed, the same for every epoch and the base model

# what --resume may change, as for train (see snekner.training.options); after a failure, what steadies the steps too
# the float options train does not have (the shared ones are checked against training.options.FLOAT_RANGES)
ADAPT_FLOAT_RANGES = (
    ("mask_rate", lambda v: 0 < v < 1, "above 0 and below 1, such as 0.15"),
    ("validation_share", lambda v: 0 <= v < 1, "0 (no validation) or a share below 1 such as 0.02"),
)
RESUME_MAY_CHANGE = ("epochs", "checkpoint_every", "eval_batch_size")
RESUME_AFTER_FAILURE_MAY_CHANGE = (*RESUME_MAY_CHANGE, "learning_rate", "max_grad_norm", "weight_decay")


@dataclass(kw_only=True)
class AdaptOptions:
    """Every option of `snekner adapt` with its default (the command line reads them here).

    The defaults follow common continued-pretraining practice (Hugging Face's run_mlm: 15% masking,
    AdamW with weight decay 0.01, linear decay; BERT's 80/10/10 rule; whole words as in BERT's
    whole-word-masking models); they were not tuned on NER results (see the README's measurement)."""

    model: str = DEFAULT_MODEL
    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    schedule: Schedule = Schedule.LINEAR
    decay_ratio: float = 0.2
    max_grad_norm: float = 1.0
    mask_rate: float = 0.15
    whole_words: bool = True
    max_length: int = 128
    validation_share: float = 0.02  # texts held out for the masked-LM validation (at most max_validation)
    max_validation: int = 1000
    batching: Batching = Batching.BUCKETED
    seed: int = 42
    eval_batch_size: int = EVAL_BATCH_SIZE
    mixed_precision: bool | None = None
    xla: bool | None = None
    strategy: Strategy = Strategy.AUTO
    checkpoint_every: int = 0
    # the text: a dataset's split and language (plain text has neither), at most `limit` texts
    split: str = "train"
    lang: str | None = None
    limit: int | None = None

    def __post_init__(self):
        take_choices(self, (("schedule", Schedule), ("batching", Batching), ("strategy", Strategy)))

    def validate(self) -> None:
        for name in ("epochs", "batch_size", "eval_batch_size", "max_validation"):
            if getattr(self, name) < 1:
                raise OptionError(name, getattr(self, name), "at least 1")
        check_float_ranges(self)
        check_float_ranges(self, ADAPT_FLOAT_RANGES)
        if self.max_length < 4:
            raise OptionError("max_length", self.max_length, "at least 4")
        if self.checkpoint_every < 0:
            raise OptionError("checkpoint_every", self.checkpoint_every, "0 (off) or more")
        if self.limit is not None and self.limit < 1:
            raise OptionError("limit", self.limit, "at least 1")

    def decay_steps(self, total_steps: int) -> int | None:
        return decay_steps(self.schedule, self.decay_ratio, total_steps)

    def to_manifest(self) -> dict:
        return options_manifest(self)

    @classmethod
    def from_manifest(cls, stored: dict) -> AdaptOptions:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in stored.items() if k in known})


def held_out(n: int, options: AdaptOptions) -> np.ndarray:
    """Which of n texts are held out for validation: a seeded share, at least one when there are two or more."""
    if options.validation_share == 0 or n < 2:
        return np.zeros(0, dtype=np.int64)
    count = min(options.max_validation, max(1, int(round(n * options.validation_share))), n - 1)
    return np.sort(np.random.default_rng([options.seed, VALIDATION_MASK_SEED]).permutation(n)[:count])
