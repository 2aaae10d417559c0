"""Pushing a run's model to the Hugging Face hub. The token is read, used and never shown.

The hub gets the run's model folder (TF weights, tokenizer, card) plus its PyTorch export (model.safetensors,
config.json naming the PyTorch class), so that the repo works for PyTorch users too (snekner.modeling.export).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from snekner.errors import PushFailedError, SneknerError
from snekner.modeling.export import write_hub_folder
from snekner.present.card import write_card
from snekner.settings import hf_token
from snekner.store.atomic import PARTIAL
from snekner.store.locks import hold
from snekner.store.runs import Run


def require_token() -> str:
    token = hf_token()
    if not token:
        raise SneknerError("no Hugging Face token: set HF_TOKEN in the environment or in a .env file, "
                           "or log in with `hf auth login`, to push to the hub")
    return token


def _scrub(text: str, token: str) -> str:
    return text.replace(token, "***") if token else text


def _reason(error: Exception, endpoint: str | None) -> str:
    """The first line of what went wrong; a refused or timed-out connection said plainly."""
    import requests

    if isinstance(error, (requests.ConnectionError, requests.Timeout)):
        return f"cannot reach {endpoint or 'https://huggingface.co'}: {type(error).__name__}"
    text = str(error)
    return text.splitlines()[0] if text.strip() else type(error).__name__


def hub_endpoint() -> str | None:
    """HF_ENDPOINT read when pushing (huggingface_hub reads it only once, at import)."""
    import os

    return os.environ.get("HF_ENDPOINT") or None


@contextlib.contextmanager
def hub_folder(run: Run) -> Iterator[Path]:
    """A temporary folder inside the run (same file system: the TF weights are hard-linked, not copied) holding what
    the hub gets (write_hub_folder); removed afterwards, and by remove_stale_partials if the process dies."""
    folder = Path(tempfile.mkdtemp(prefix=f".push.{os.getpid()}.", suffix=PARTIAL, dir=run.path))
    try:
        write_hub_folder(run, folder)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def push_run(run: Run, repo_id: str, private: bool = False) -> str:
    """Write the run's model card, then upload RUN/model (card included) with the PyTorch export of its weights to
    `repo_id` (made private if it is new and `private`). Safe to repeat: a push that failed half-way is redone whole
    (`snekner push`)."""
    from huggingface_hub import HfApi

    token = require_token()
    with hold(run.path, "run", "push", shared=True):  # the run cannot be replaced while it is read
        write_card(run, repo_id)
        with hub_folder(run) as folder:  # exported and checked before any network: an export that fails pushes nothing
            endpoint = hub_endpoint()
            api = HfApi(endpoint=endpoint, token=token)
            try:
                url = api.create_repo(repo_id, exist_ok=True, private=private)
                api.upload_folder(repo_id=repo_id, folder_path=str(folder), commit_message=f"snekner run {run.name}")
            except Exception as e:  # offline, auth, permissions: one line, token scrubbed
                first = _scrub(_reason(e, endpoint), token)
                raise PushFailedError(f"could not push {run.name} to {repo_id} on the Hugging Face hub ({first})", run=run,
                                      repo_id=repo_id) from None
    return str(url)
