"""Pushing a run's model to the Hugging Face hub. The token is read, used and never shown."""
from __future__ import annotations

from snekner.errors import SneknerError
from snekner.runs import Run


def require_token() -> str:
    from snekner.settings import hf_token

    token = hf_token()
    if not token:
        raise SneknerError("no Hugging Face token: set HF_TOKEN in the environment or in a .env file to push to the hub")
    return token


def _scrub(text: str, token: str) -> str:
    return text.replace(token, "***") if token else text


def push_run(run: Run, repo_id: str) -> str:
    from huggingface_hub import HfApi

    token = require_token()
    api = HfApi(token=token)
    try:
        url = api.create_repo(repo_id, exist_ok=True)
        api.upload_folder(repo_id=repo_id, folder_path=str(run.model_dir), commit_message=f"snekner run {run.name}")
    except Exception as e:  # offline, auth, permissions: one line, token scrubbed
        first = _scrub(str(e).splitlines()[0] if str(e) else type(e).__name__, token)
        raise SneknerError(f"could not push {run.name} to {repo_id} on the Hugging Face hub ({first}); check the network, the repo id and the token") from None
    return str(url)
