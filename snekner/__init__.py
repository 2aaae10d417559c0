"""snekner: fine-tune transformer encoders for named-entity recognition with TensorFlow."""
import os as _os

__version__ = "0.1.0"

# transformers 4.x only has TF models under Keras 2 (tf-keras); this must be set before
# TensorFlow is first imported anywhere in the process.
_os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
