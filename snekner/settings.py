"""Process-wide settings read from the environment (and a `.env` file, when present)."""
from __future__ import annotations

import os
from pathlib import Path

DEFAULT_MODEL = "distilbert-base-uncased"  # the one definition: prep's and adapt's option defaults (and so their --model) read it


def cache_dir() -> Path:
    return Path(os.environ.get("SNEKNER_CACHE") or Path.home() / ".cache" / "snekner")


def load_dotenv_once() -> None:
    """Read `.env` from the working directory without overriding the real environment."""
    from dotenv import load_dotenv

    load_dotenv(dotenv_path=Path.cwd() / ".env", override=False)


def hf_token() -> str | None:
    """The Hugging Face token, found as huggingface_hub finds it: HF_TOKEN (from the environment or, when the
    environment lacks it, from `.env`), else the token `hf auth login` saved (HF_TOKEN_PATH, a Colab secret).
    An empty HF_TOKEN is no token."""
    load_dotenv_once()
    from huggingface_hub import get_token

    return get_token() or None
