"""Process-wide settings read from the environment (and a `.env` file, when present)."""
from __future__ import annotations

import os
from pathlib import Path

DEFAULT_MODEL = "distilbert-base-uncased"


def cache_dir() -> Path:
    return Path(os.environ.get("SNEKNER_CACHE") or Path.home() / ".cache" / "snekner")


def load_dotenv_once() -> None:
    """Read `.env` from the working directory without overriding the real environment."""
    from dotenv import load_dotenv

    load_dotenv(dotenv_path=Path.cwd() / ".env", override=False)


def hf_token() -> str | None:
    load_dotenv_once()
    return os.environ.get("HF_TOKEN") or None
