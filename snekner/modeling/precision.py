"""bfloat16 matrix multiplies on CPUs with AMX: the dense layers' products in bfloat16, everything else in float32.

Why not Keras' `mixed_bfloat16` policy (issue 23): it computes every layer in bfloat16, and TensorFlow's
element-wise CPU kernels in bfloat16 (GELU's erfc, the bias adds, dropout's masks, the products of the
backward pass) are slower than their float32 twins. On this machine's MiniLM training step it made the
matrix multiplies 2.9x faster and the rest slower, 1.24x in all; in prediction, 1.06x. Here only the
dense layers' matrix products (nearly all of the model's FLOPs; oneDNN's AMX kernels) take bfloat16 inputs,
with float32 accumulation inside the kernel; the bias, the activations, layer norms, softmax, dropout, the
loss, the gradients' sums and the optimizer stay float32, and the weights are float32 master copies, cast
for each step. `benchmarks/precision.py` measures it against float32 and profiles where a step's time goes.
"""
from __future__ import annotations

import types
from functools import lru_cache
from pathlib import Path

FLOAT32 = "float32"
MIXED_FLOAT16 = "mixed_float16"  # Keras' policy: float16 with loss scaling, on GPUs
BFLOAT16_MATMULS = "bfloat16_matmuls"  # this module's: the dense layers' products in bfloat16


@lru_cache(maxsize=1)
def cpu_has_amx() -> bool:
    """Whether this machine's CPU has AMX bfloat16 tile units (Linux: the `amx_bf16` flag of /proc/cpuinfo)."""
    try:
        with Path("/proc/cpuinfo").open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if line.startswith("flags"):
                    return "amx_bf16" in line.split()
    except OSError:
        pass
    return False


def pick_precision(requested: bool | None, gpus: int, *, amx: bool | None = None) -> str:
    """Training's precision: `requested` (the --mixed-precision flag), None for the hardware's default:
    float16 mixed precision on a GPU, bfloat16 matrix multiplies on a CPU with AMX, float32 otherwise."""
    amx = cpu_has_amx() if amx is None else amx
    on = (gpus > 0 or amx) if requested is None else requested
    if not on:
        return FLOAT32
    return MIXED_FLOAT16 if gpus > 0 else BFLOAT16_MATMULS


def inference_bfloat16(requested: bool | None, *, gpus: int | None = None, amx: bool | None = None) -> bool:
    """Whether eval and predict run the dense layers in bfloat16: `requested`, or by default on a CPU with AMX
    (and no GPU, where prediction stays float32 as before)."""
    if requested is not None:
        return requested
    if gpus is None:
        import tensorflow as tf

        gpus = len(tf.config.list_logical_devices("GPU"))
    return gpus == 0 and (cpu_has_amx() if amx is None else amx)


def use_bfloat16_matmuls(model, *, frozen: bool = False) -> int:
    """Make every dense layer of `model` multiply in bfloat16 (see the module doc); returns how many.

    frozen: for prediction only: each kernel is cast to bfloat16 once, now, instead of at every call (the
    layers then ignore later changes of their weights)."""
    import tf_keras

    count = 0
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, tf_keras.layers.Dense) and layer.built and not getattr(layer, "_snekner_bfloat16", False):
            _patch_dense(layer, frozen)
            count += 1
    return count


def _patch_dense(layer, frozen: bool) -> None:
    import tensorflow as tf

    kernel16 = tf.cast(layer.kernel, tf.bfloat16) if frozen else None

    def call(self, inputs):
        # a 2-D product (oneDNN's matmul, AMX tiles), float32 out; the bias and activation in float32
        width = self.kernel.shape[-1]
        flat = tf.reshape(tf.cast(inputs, tf.bfloat16), [-1, inputs.shape[-1]])
        product = tf.matmul(flat, kernel16 if kernel16 is not None else tf.cast(self.kernel, tf.bfloat16))
        outputs = tf.cast(product, inputs.dtype)
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, self.bias)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return tf.reshape(outputs, tf.concat([tf.shape(inputs)[:-1], [width]], 0))

    layer.call = types.MethodType(call, layer)
    layer._snekner_bfloat16 = True


def for_prediction(model, requested: bool | None = None):
    """`model`, its dense layers multiplying in bfloat16 when inference_bfloat16(requested) says so (frozen: prediction
    only), and the precision it runs in (FLOAT32 or BFLOAT16_MATMULS)."""
    if inference_bfloat16(requested):
        use_bfloat16_matmuls(model, frozen=True)
        return model, BFLOAT16_MATMULS
    return model, FLOAT32
