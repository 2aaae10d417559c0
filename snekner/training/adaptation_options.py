"""The recipe of `snekner adapt`: every option with its default, in one place (as training.options is for train)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snekner.settings import DEFAULT_MODEL
from snekner.training.options import Batching, Recipe, Schedule, check_float_ranges

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
class AdaptOptions(Recipe):
    """Every option of `snekner adapt` with its default: the shared recipe (training.options.Recipe), the defaults
    where continued pretraining's practice differs from fine-tuning's, and what masked-LM training adds.

    The defaults follow common continued-pretraining practice (Hugging Face's run_mlm: 15% masking,
    AdamW with weight decay 0.01, linear decay; BERT's 80/10/10 rule; whole words as in BERT's
    whole-word-masking models); they were not tuned on NER results (see the README's measurement)."""

    model: str = DEFAULT_MODEL
    batch_size: int = 32
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    schedule: Schedule = Schedule.LINEAR
    batching: Batching = Batching.BUCKETED
    mask_rate: float = 0.15
    whole_words: bool = True
    max_length: int = 128
    validation_share: float = 0.02  # texts held out for the masked-LM validation (at most max_validation)
    max_validation: int = 1000
    # the text: a dataset's split and language (plain text has neither), at most `limit` texts
    split: str = "train"
    lang: str | None = None
    limit: int | None = None

    COUNTS = (*Recipe.COUNTS, ("max_validation", 1), ("max_length", 4), ("limit", 1))

    def validate(self) -> None:
        super().validate()
        check_float_ranges(self, ADAPT_FLOAT_RANGES)


def held_out(n: int, options: AdaptOptions) -> np.ndarray:
    """Which of n texts are held out for validation: a seeded share, at least one when there are two or more."""
    if options.validation_share == 0 or n < 2:
        return np.zeros(0, dtype=np.int64)
    count = min(options.max_validation, max(1, int(round(n * options.validation_share))), n - 1)
    return np.sort(np.random.default_rng([options.seed, VALIDATION_MASK_SEED]).permutation(n)[:count])
