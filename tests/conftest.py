"""Shared fixtures: a tiny random DistilBERT with its own uncased WordPiece vocab (and a cased BERT), sample data, shared paths.

Everything here is built offline in seconds; nothing touches the network.

The suite runs on several pytest-xdist workers (pyproject's addopts: `-n auto --dist loadgroup`). Each worker is a
process of its own with its own base temporary folder, so the session fixtures below are built once per worker, each
in that worker's folder (seeded: every worker builds the same models); what several workers share (the MiniLM download)
is taken under a lock held across the workers (`run_wide_lock`).
"""
from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import pytest

import snekner  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SNEKNER_SHARED") or ROOT.parent / "shared")  # the override: for a checkout elsewhere, e.g. a git worktree
WIKINEURAL = SHARED / "data" / "wikineural"
MINILM_TOOL = SHARED / "tools" / "pretrained-minilm"


# -- pytest-xdist: how many workers, and which tests run together --------------------------------------------
GIB = 1 << 30
WORKER_MEMORY = 3 * GIB  # a worker that trains tiny models in-process grows to 2-3 GB


@pytest.hookimpl(optionalhook=True)  # xdist's hook: absent with -p no:xdist
def pytest_xdist_auto_num_workers(config) -> int | None:
    """`-n auto`: a worker per CPU this process may use, as many as the available memory holds.
    PYTEST_XDIST_AUTO_NUM_WORKERS overrides it (xdist's own hook reads it)."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    with contextlib.suppress(OSError, ValueError, StopIteration):
        with open("/proc/meminfo", encoding="ascii") as f:
            available = int(next(line for line in f if line.startswith("MemAvailable:")).split()[1]) * 1024
        cpus = min(cpus, available // WORKER_MEMORY)
    return max(1, cpus)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the xdist_group marks
def pytest_collection_modifyitems(config, items) -> None:
    """With --dist loadgroup, a module's tests run on one worker, in their order, so that its module fixtures are built
    once; a test marked slow is a unit of its own, so that the workers share the long tests out and finish together.
    A test's own xdist_group mark wins (tests that must not overlap, e.g. those that pick free ports)."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        if item.get_closest_marker("xdist_group") is None and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))


def run_wide_dir(tmp_path_factory) -> Path:
    """The base temporary folder of this pytest run, which its xdist workers share (each has its own below it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextlib.contextmanager
def run_wide_lock(tmp_path_factory, name: str):
    """Held by one process of this pytest run at a time: the controller's, or one of its workers'."""
    import fcntl

    with open(run_wide_dir(tmp_path_factory) / f"{name}.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


# -- models and data ------------------------------------------------------------------------------------------
def tiny_vocab(words: list[str], lower: bool = True) -> list[str]:
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words = [w.lower() for w in words] if lower else words
    chars = sorted({c for w in words for c in w})
    # whole words for part of the vocabulary, so that some words split into sub-words and some do not
    whole = sorted({w for w in words if len(w) > 3})[::2]
    return specials + chars + ["##" + c for c in chars] + whole


def sample_words(sample_dir: Path) -> list[str]:
    import json

    words = []
    for path in sorted(sample_dir.glob("*/*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            words += json.loads(line)["tokens"]
    return words


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory) -> Path:
    from snekner.data.sample import write_sample_dataset

    return write_sample_dataset(tmp_path_factory.mktemp("sample") / "multinerd-sample", sizes={"train": 120, "val": 40, "test": 40})


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, sample_dir) -> Path:
    """A random 2-layer DistilBERT (TF weights) with a fast WordPiece tokenizer, saved with save_pretrained."""
    import tensorflow as tf
    from transformers import BertTokenizerFast, DistilBertConfig, TFDistilBertForMaskedLM

    out = tmp_path_factory.mktemp("tiny-distilbert")
    vocab = tiny_vocab(sample_words(sample_dir))
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab_file=str(out / "vocab.txt"), do_lower_case=True)
    tokenizer.save_pretrained(str(out))
    config = DistilBertConfig(vocab_size=len(vocab), dim=32, n_layers=2, n_heads=2, hidden_dim=64, max_position_embeddings=128)
    tf.keras.utils.set_random_seed(0)  # the same random model in every session, so no test depends on the draw
    model = TFDistilBertForMaskedLM(config)
    model(model.dummy_inputs)
    model.save_pretrained(str(out))
    return out


@pytest.fixture(scope="session")
def tiny_cased_model(tmp_path_factory, sample_dir) -> Path:
    """A random 2-layer BERT (TF weights) with a cased WordPiece vocabulary: "Paris" and "paris" are different sub-words."""
    import tensorflow as tf
    from transformers import BertConfig, BertTokenizerFast, TFBertForMaskedLM

    out = tmp_path_factory.mktemp("tiny-bert-cased")
    vocab = tiny_vocab(sample_words(sample_dir), lower=False)
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab_file=str(out / "vocab.txt"), do_lower_case=False)
    tokenizer.save_pretrained(str(out))
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=128)
    tf.keras.utils.set_random_seed(0)
    model = TFBertForMaskedLM(config)
    model(model.dummy_inputs)
    model.save_pretrained(str(out))
    return out


@pytest.fixture(scope="session")
def minilm(tmp_path_factory) -> Path:
    """The real pretrained all-MiniLM-L6-v2 from ../shared (skipped when ../shared is absent)."""
    if not MINILM_TOOL.is_file():
        pytest.skip("../shared/tools/pretrained-minilm is absent")
    try:
        # the tool downloads the model on its first call, into one folder: one worker at a time
        with run_wide_lock(tmp_path_factory, "pretrained-minilm"):
            out = subprocess.run(["bash", str(MINILM_TOOL)], check=True, capture_output=True, text=True, timeout=600)
    except (subprocess.SubprocessError, OSError) as e:
        pytest.skip(f"pretrained-minilm could not provide the model: {e}")
    return Path(out.stdout.strip())


@pytest.fixture(scope="session")
def wikineural() -> Path:
    if not (WIKINEURAL / "test" / "test_en.jsonl").is_file():
        pytest.skip("../shared/data/wikineural is absent")
    return WIKINEURAL
