"""The command-line options of the core's options dataclasses, declared once.

`prep`, `train` and `adapt` each take a dataclass of the core (data.prepare.PrepOptions,
training.options.TrainOptions, training.adaptation_options.AdaptOptions; train's and adapt's share
training.options.Recipe). `@takes(Options)` gives a command one option per field (a nested dataclass
such as PrepOptions.reading: one per field of it), flagged and documented as FLAGS says, with the
dataclass's default, and hands the command what it was given as one `Given`; `Given.build()` makes
the dataclass the one way every command does: the defaults, then a base (`train --like/--config`),
then what was set on the command line. A new option is a field of the dataclass and a line here.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable

import typer

from snekner.cli._util import complete_tagset

try:  # typer >= 0.20 vendors click
    from typer._click.core import ParameterSource
    from typer._click.globals import get_current_context
except ImportError:  # pragma: no cover - older typer with click installed beside it
    from click import get_current_context
    from click.core import ParameterSource


@dataclass(frozen=True)
class Flag:
    """How the command line shows one field: its help, its flags (default: --field-name), the type it parses (default: the
    field's), other typer.Option keywords, and the panel of --help it is listed in."""

    help: str = ""
    decls: tuple[str, ...] = ()
    parses: Any = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    panel: str | None = None  # the group --help shows it in (None: the command's own options)


FLAGS: dict[str, Flag] = {
    # the recipe (training.options.Recipe): train and adapt
    "model": Flag("Pretrained model: hub id or local model folder."),
    "epochs": Flag(panel="Recipe"),
    "batch_size": Flag("Sentences per step (split across replicas).", panel="Recipe"),
    "learning_rate": Flag(panel="Recipe"),
    "weight_decay": Flag(panel="Recipe"),
    "warmup_ratio": Flag("Share of steps with a linear warm-up from 0.", panel="Recipe"),
    "schedule": Flag("Learning rate after the warm-up: linear (decays to 0), constant, or stable-decay (constant, then linear to 0 "
                     "over the last --decay-ratio of the steps).", panel="Recipe"),
    "decay_ratio": Flag("With --schedule stable-decay: share of the steps in the final decay.", panel="Recipe"),
    "max_grad_norm": Flag("Clip the gradient to this global norm (0: off).", panel="Recipe"),
    "batching": Flag("balanced: sentences of similar length together, about equal sub-words a batch (batch-size sentences on "
                     "average; fast); bucketed: the same, batch-size sentences a batch; random: a plain shuffle (pads ~10x more).", panel="Recipe"),
    "seed": Flag(panel="Recipe"),
    "eval_batch_size": Flag("Sentences per prediction call in validation.", panel="Devices"),
    "mixed_precision": Flag("GPU: float16 with loss scaling; CPU: the dense layers' products in bfloat16, float32 elsewhere. "
                            "Default: on with a GPU or a CPU that has AMX.", ("--mixed-precision/--no-mixed-precision",), panel="Precision and compilation"),
    "xla": Flag("Default: on with a GPU.", ("--xla/--no-xla",), panel="Precision and compilation"),
    "strategy": Flag("How to spread training over devices (auto: by what TensorFlow sees).", panel="Devices"),
    "checkpoint_every": Flag("Also checkpoint every N steps (0: per epoch only).", panel="Checkpoints and logs"),
    # train (training.options.TrainOptions)
    "class_weights": Flag("Per-label loss weights from the training label counts: none, inverse or sqrt-inverse (for rare types).", panel="Rare types"),
    "oversample": Flag("Repeat sentences of rare types in each epoch until every type is in about this share of its sentences, "
                       "e.g. 0.05 (0: off).", panel="Rare types"),
    "early_stopping_patience": Flag("Stop after N epochs without validation F1 gain (0: off).", panel="Checkpoints and logs"),
    "tensorboard": Flag("Write TensorBoard logs to RUN/tensorboard.", panel="Checkpoints and logs"),
    # adapt (training.adaptation_options.AdaptOptions)
    "mask_rate": Flag("Share of words (or sub-words) masked and predicted.", panel="Recipe"),
    "whole_words": Flag("Mask every sub-word of a chosen word, or choose sub-words on their own.", ("--whole-words/--subwords",), panel="Recipe"),
    "max_length": Flag("Sub-words per sentence, special tokens included."),
    "validation_share": Flag("Share of texts held out for the masked-LM loss after each epoch (0: none)."),
    "max_validation": Flag("At most this many texts held out."),
    "split": Flag("With a dataset: the split whose sentences are the text. Never the test split you evaluate on."),
    "lang": Flag("Language to keep (default: all)."),
    "limit": Flag("At most N sentences per split (quick runs)."),
    # prep (data.prepare.PrepOptions)
    "dataset": Flag("Hub id, local folder in the hub layout, a save_to_disk folder, CoNLL-style column files (a folder of "
                    "train/dev/test files, or one file), a JSON-lines file, or snekner:sample."),
    "tagset": Flag("Tagset name (a, b, ...), JSON file, or type names (PER,ORG,LOC). Default: every label the dataset has.",
                   extra={"autocompletion": complete_tagset}),
    "label_all_tokens": Flag("Train on every sub-word, or on the first of each word only.", ("--label-all-tokens/--first-subword-only",)),
    "num_proc": Flag("Worker processes encoding the distinct words (default: this process, on the tokenizer's own threads; rarely faster)."),
    # how to read data not shaped like MultiNERD (data.reading.Reading): prep and inspect
    "scheme": Flag("Tagging scheme of string (or ClassLabel) tags: iob2, iob1 (CoNLL-2003's files) or bioes (also BILOU); "
                   "converted to IOB2.", parses=str, panel="Reading the data"),
    "tokens_column": Flag("Column holding each sentence's words.", panel="Reading the data"),
    "tags_column": Flag("Column holding each sentence's tags (ids or strings).", panel="Reading the data"),
    "lang_column": Flag("Column holding each sentence's language.", panel="Reading the data"),
    "tag_column": Flag("In column files, the tag's column counted from 1 (negative: from the end).", panel="Reading the data"),
}


def option(name: str, default: Any, help: str | None = None):
    """The typer.Option of field `name` (FLAGS), with `default` and, if given, a command's own help."""
    flag = FLAGS[name]
    decls = flag.decls or ("--" + name.replace("_", "-"),)
    if flag.parses is str and isinstance(default, Enum):  # parsed as text, checked by the dataclass (a scheme's aliases)
        default = default.value
    return typer.Option(default, *decls, help=flag.help if help is None else help, rich_help_panel=flag.panel, **flag.extra)


def _fields(cls) -> list[tuple[str, Any, Any, type | None]]:
    """(name, default, type, the nested dataclass it belongs to or None) of every field of `cls`, a nested dataclass's flattened."""
    defaults, hints, out = cls(), typing.get_type_hints(cls), []
    for f in dataclasses.fields(cls):
        value = getattr(defaults, f.name)
        if dataclasses.is_dataclass(value):
            out += [(name, default, kind, type(value)) for name, default, kind, _ in _fields(type(value))]
        else:
            out.append((f.name, value, hints[f.name], None))
    return out


@dataclass(frozen=True)
class Given:
    """What a command was given for an options dataclass: every field's value, and which fields the user set."""

    cls: type
    values: Mapping[str, Any]
    explicit: frozenset[str]

    def build(self, base: Mapping[str, Any] | None = None):
        """The options: the defaults, then `base` (fields of the dataclass), then what was set on the command line."""
        top = {**self.values, **(base or {}), **{name: self.values[name] for name in self.explicit}}
        nested: dict[type, dict] = {}
        for name, _, _, owner in _fields(self.cls):
            if owner is not None:
                nested.setdefault(owner, {})[name] = top.pop(name)
        for f in dataclasses.fields(self.cls):
            owner = type(getattr(self.cls(), f.name))
            if owner in nested:
                top[f.name] = owner(**nested[owner])
        return self.cls(**top)


def takes(cls, *, help: Mapping[str, str] | None = None, skip: tuple[str, ...] = ()) -> Callable:
    """Decorator: the command takes the fields of `cls` (but `skip`) as options where its parameter `given` is, and receives them
    as `given: Given`. `help`: the command's own help for some fields."""
    help = help or {}
    specs = [spec for spec in _fields(cls) if spec[0] not in skip]

    def decorate(command: Callable) -> Callable:
        own = inspect.signature(command, eval_str=True).parameters
        added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=FLAGS[name].parses or kind,
                                   default=option(name, default, help.get(name))) for name, default, kind, _ in specs]
        parameters = []
        for parameter in own.values():
            parameters += added if parameter.name == "given" else [parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY)]
        names = [spec[0] for spec in specs]

        @functools.wraps(command)
        def wrapper(**kwargs):
            ctx = get_current_context()
            explicit = frozenset(name for name in names if ctx.get_parameter_source(name) not in
                                 (None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP))
            values = {name: kwargs.pop(name) for name in names}
            return command(**kwargs, given=Given(cls, values, explicit))

        wrapper.__signature__ = inspect.Signature(parameters)
        wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
        return wrapper

    return decorate
