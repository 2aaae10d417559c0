"""Training options replayed from what is on disk: a TOML file (`train --config`) or another run (`train --like`).

A config file names `snekner train`'s options, as flags without the dashes or as field names,
at the top level or under a `[train]` table:

    [train]
    epochs = 3
    learning-rate = 5e-5
    schedule = "stable-decay"
    seeds = [1, 2, 3]      # optional: train a group

Precedence (the CLI applies it): the defaults, then the file or the run, then the options given
on the command line.
"""
from __future__ import annotations

import sys
from dataclasses import fields
from enum import Enum
from pathlib import Path
from typing import Any

from snekner.errors import ManifestError, SneknerError
from snekner.store.manifests import RunStatus, read_group_manifest, read_run_manifest
from snekner.store.runs import is_group, open_run, run_path
from snekner.training.options import TrainOptions

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

OPTION_NAMES = tuple(f.name for f in fields(TrainOptions))


def normalised(data: dict[str, Any], source: str) -> dict[str, Any]:
    out = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name not in OPTION_NAMES and name != "seeds":
            raise SneknerError(f"{source} names an unknown option {key!r}",
                               fix=f"use the names of the training options ({', '.join(n.replace('_', '-') for n in OPTION_NAMES)}, seeds)")
        out[name] = value
    return out


# the type each option takes in a file, from its default (None defaults: model is text, the rest on/off)
_DEFAULTS = TrainOptions()
_NONE_DEFAULT_TYPES = {"model": str}


def _expected(name: str) -> tuple[type, ...]:
    default = getattr(_DEFAULTS, name)
    if default is None:
        return (_NONE_DEFAULT_TYPES.get(name, bool),)
    if isinstance(default, bool):
        return (bool,)
    if isinstance(default, Enum):
        return (str,)
    if isinstance(default, int):
        return (int,)
    return (int, float) if isinstance(default, float) else (type(default),)


def check_types(values: dict[str, Any], source: str) -> None:
    for name, value in values.items():
        if name == "seeds":
            continue
        expected = _expected(name)
        if isinstance(value, bool) and bool not in expected or not isinstance(value, expected):
            raise SneknerError(f"{source}: {name.replace('_', '-')} = {value!r} is not {' or '.join(t.__name__ for t in expected)}",
                               fix="fix the file")


def read_config(path: Path) -> dict[str, Any]:
    """Option values from a TOML file (see the module docstring); seeds as a list of integers if given."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise SneknerError(f"config file {path} not found", fix="pass an existing TOML file to {option}", option="config") from None
    except IsADirectoryError:
        raise SneknerError(f"config {path} is a folder", fix="pass a TOML file to {option}", option="config") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SneknerError(f"config file {path} is not valid TOML ({e})", fix="fix the file") from None
    if isinstance(data.get("train"), dict):
        data = data["train"]
    values = normalised(data, f"config file {path}")
    check_types(values, f"config file {path}")
    seeds = values.get("seeds")
    if seeds is not None and (not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) for s in seeds)):
        raise SneknerError(f"config file {path}: seeds must be a list of integers such as [1, 2, 3]", fix="fix the file")
    return values


def options_like(spec: str, runs_dir: Path, warn=lambda msg: None) -> dict[str, Any]:
    """The options of a run or group (a group's without the seed, plus its seeds). Those of a run that has not finished
    (killed, interrupted, failed: its recipe may be why) are taken too, with a word through `warn` naming the run and its
    status (for a group: each member that has not finished)."""
    path = run_path(spec, runs_dir)
    if is_group(path):
        group = read_group_manifest(path)
        unfinished = []
        for member in group.members:
            try:
                status = read_run_manifest(path / member).status.value
            except ManifestError:
                status = "not started"
            if status != RunStatus.FINISHED.value:
                unfinished.append(f"{group.name}/{member} ({status})")
        if unfinished:
            warn(f"group {spec} has runs that have not finished: {', '.join(unfinished)}; its options are taken as they are")
        options = TrainOptions.from_manifest(group.options).to_manifest()
        del options["seed"]
        return {**options, "seeds": list(group.seeds)}
    manifest = open_run(spec, runs_dir, finished=False).manifest
    if not manifest.is_finished:
        failed = f", at step {manifest.failures[-1].get('global_step')}: {manifest.failures[-1].get('reason')}" if manifest.failures else ""
        warn(f"run {manifest.name} has not finished (status: {manifest.status.value}{failed}); its options are taken as they are")
    return TrainOptions.from_manifest(manifest.options).to_manifest()
