"""Pushing a run's model to the Hugging Face hub. The token is read, used and never shown."""
from __future__ import annotations

from snekner.errors import SneknerError
from snekner.present.card import write_card
from snekner.settings import hf_token
from snekner.store.locks import hold
from snekner.store.runs import Run


def require_token() -> str:
    token = hf_token()
    if not token:
        raise SneknerError("no Hugging Face token: set HF_TOKEN in the environment or in a .env file to push to the hub")
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


def push_run(run: Run, repo_id: str, private: bool = False) -> str:
    """Write the run's model card, then upload RUN/model (card included) to `repo_id` (made private if it is new and
    `private`). Safe to repeat: a push that failed half-way is redone whole (`snekner push`)."""
    from huggingface_hub import HfApi

    token = require_token()
    with hold(run.path, "run", "push", shared=True):  # the run cannot be replaced while it is read
        write_card(run, repo_id)
        endpoint = hub_endpoint()
        api = HfApi(endpoint=endpoint, token=token)
        try:
            url = api.create_repo(repo_id, exist_ok=True, private=private)
            api.upload_folder(repo_id=repo_id, folder_path=str(run.model_dir), commit_message=f"snekner run {run.name}")
        except Exception as e:  # offline, auth, permissions: one line, token scrubbed
            first = _scrub(_reason(e, endpoint), token)
            raise PushFailedError(f"could not push {run.name} to {repo_id} on the Hugging Face hub ({first})", run=run,
                                  repo_id=repo_id) from None
    return str(url)


class PushFailedError(SneknerError):
    """The hub refused or could not be reached; the run is finished and whole, so the push can be retried alone."""

    def __init__(self, message: str, *, run: Run, repo_id: str):
        self.run, self.repo_id = run, repo_id
        super().__init__(message)
