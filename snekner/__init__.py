"""snekner: fine-tune transformer encoders for named-entity recognition with TensorFlow."""
import os as _os

__version__ = "0.1.0"

# transformers 4.x has TF models only under Keras 2 (tf-keras), and TensorFlow reads this once, at its
# own import: it must be set before anything imports TensorFlow, or no snekner model can be built.
# Everything else about the process (log levels, oneDNN) is the application's choice: see snekner.cli.
_os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
