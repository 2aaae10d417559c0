"""The documentation site builds strictly (issue 22): mkdocs build --strict over mkdocs.yml, as CI runs it.

A broken link, a page left out of the navigation, a missing anchor or an API name mkdocstrings cannot find fails the
build. The command-line reference is generated from the Typer app and the API reference from the docstrings, so
both are checked here for what they must hold.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytest.importorskip("mkdocs")
pytest.importorskip("mkdocstrings")


def _build(config: Path, site: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
                          capture_output=True, text=True, env=env, timeout=600)


def test_the_site_builds_strictly_with_both_references(tmp_path):
    result = _build(REPO / "mkdocs.yml", tmp_path / "site")
    assert result.returncode == 0, result.stderr[-3000:]
    cli = (tmp_path / "site" / "cli" / "index.html").read_text()
    for command in ("inspect", "prep", "train", "eval", "compare", "predict", "report", "card", "export", "adapt", "demo"):
        assert f"snekner {command}" in cli
    assert "--early-stopping-patience" in cli
    api = (tmp_path / "site" / "api" / "index.html").read_text()
    for name in ("prep", "train", "evaluate", "compare", "load", "Tagger", "Comparison"):
        assert f'id="snekner.api.{name}"' in api, name
    home = (tmp_path / "site" / "index.html").read_text()
    assert "MultiNERD" in home and "snekner demo" in home  # the README is the front page


def test_a_broken_link_fails_the_build(tmp_path):
    copy = tmp_path / "repo"
    shutil.copytree(REPO / "docs", copy / "docs")
    shutil.copy(REPO / "mkdocs.yml", copy / "mkdocs.yml")
    shutil.copy(REPO / "README.md", copy / "README.md")
    page = copy / "docs" / "scoring.md"
    page.write_text(page.read_text() + "\nSee [the missing page](no-such-page.md).\n")
    result = _build(copy / "mkdocs.yml", tmp_path / "site")
    assert result.returncode != 0 and "no-such-page.md" in result.stderr
