"""snekner: fine-tune transformer encoders for named-entity recognition with TensorFlow."""
import os as _os

__version__ = "0.1.0"

# transformers 4.x has TF models only under Keras 2 (tf-keras), and TensorFlow reads this once, at its
# own import: it must be set before anything imports TensorFlow, or no snekner model can be built.
# Everything else about the process (log levels, oneDNN) is the application's choice: see snekner.cli.
_os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

# The Python API (snekner.api): importing snekner stays light (no TensorFlow); the first use of one of these names
# loads it. `from snekner import *` and dir(snekner) list them.
__all__ = ["inspect", "prep", "train", "evaluate", "compare", "load", "report", "card", "export", "demo_model", "DatasetReport",
           "Comparison", "Tagger", "SneknerError"]


def __getattr__(name: str):
    if name in __all__:
        import importlib

        return getattr(importlib.import_module("snekner.api"), name)
    raise AttributeError(f"module 'snekner' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
