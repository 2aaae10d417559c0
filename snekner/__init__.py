"""snekner: fine-tune transformer encoders for named-entity recognition with TensorFlow."""
import os as _os

__version__ = "0.1.0"

# transformers 4.x only has TF models under Keras 2 (tf-keras); this must be set before
# TensorFlow is first imported anywhere in the process.
_os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# oneDNN kernels: TensorFlow turns them on by itself only on CPUs with AVX-512 VNNI/BF16 or AMX;
# on this project's AVX2 machines they made prediction ~15-20% faster (set 0 to turn them off)
_os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
