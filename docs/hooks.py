"""MkDocs hooks: pages made from the code and the README, so that they cannot drift from them.

- index.md: the README (the project's front page), its links into docs/ made relative to the site.
- cli.md: every command's --help, from the Typer app itself.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _readme() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return re.sub(r"\]\(docs/([^)]+)\)", r"](\1)", text)  # README links docs/x.md; the site is docs/


def _cli_reference() -> str:
    os.environ["TYPER_USE_RICH"] = "0"  # click's plain help: one text block per command
    import typer.main
    from typer.testing import CliRunner

    from snekner.cli import app

    group = typer.main.get_group(app)
    runner = CliRunner()
    parts = []
    for name in group.commands:
        result = runner.invoke(app, [name, "--help"], env={"COLUMNS": "100", "TYPER_USE_RICH": "0"}, prog_name="snekner")
        parts.append(f"## snekner {name}\n\n```text\n{result.output.rstrip()}\n```\n")
    return "\n".join(parts)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if "<!-- readme -->" in markdown:
        return markdown.replace("<!-- readme -->", _readme())
    if "<!-- cli-reference -->" in markdown:
        return markdown.replace("<!-- cli-reference -->", _cli_reference())
    return markdown
