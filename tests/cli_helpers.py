"""Driving the real app through Typer's CliRunner, shared by the test modules."""
from __future__ import annotations

from typer.testing import CliRunner

from snekner.cli import app

runner = CliRunner()


def invoke(*args, input: str | None = None):
    """Run `snekner ARGS` in this process; `input`: what standard input holds."""
    return runner.invoke(app, [str(a) for a in args], input=input)


def ok(*args):
    result = invoke(*args)
    assert result.exit_code == 0, f"snekner {' '.join(map(str, args))} failed:\n{result.output}"
    return result


def one_line_error(result, *fragments: str) -> str:
    """The command failed with exit code 2 and exactly one `error: ` line holding every fragment, no traceback."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def prep_sample(out, sample_dir, model, tagset: str = "b", max_length: int = 48):
    """`snekner prep` of the English sample for `model`'s tokenizer into `out`."""
    ok("prep", "--dataset", sample_dir, "--lang", "en", "--tagset", tagset, "--model", model, "--max-length", max_length, "--out", out)
    return out
