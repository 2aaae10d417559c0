"""bfloat16 matrix multiplies on CPUs with AMX: the dense layers' products in bfloat16, everything else in float32.

Why not Keras' `mixed_bfloat16` policy (issue 23): it computes every layer in bfloat16, and TensorFlow's
element-wise CPU kernels in bfloat16 (GELU's erfc, the bias adds, dropout's masks, the products of the
backward pass) are slower than their float32 twins. On this machine's MiniLM training step it made the
matrix multiplies 2.9x faster and the rest slower, 1.24x in all; in prediction, 1.06x. Here only the
dense layers' matrix products (nearly all of the model's FLOPs; oneDNN's AMX kernels) take bfloat16 inputs,
with float32 accumulation inside the kernel; the bias, the activations, layer norms, softmax, dropout, the
loss, the gradients' sums and the optimizer stay float32, and the weights are float32 master copies, cast
for each step. `benchmarks/precision.py` measures it against float32 and profiles where a step's time goes.

Prediction (freeze_for_prediction, in either precision) goes further: each dense layer's product, bias and, in a
feed-forward block, exact GELU become one oneDNN call, with the weights cast once (in bfloat16, as graph constants,
which oneDNN's AMX kernel keeps in its blocked layout); with nothing to train, nothing needs the float32 product
before the bias.
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


def _unpatched_dense(model) -> list:
    """The built Keras Dense layers of `model` that neither use_bfloat16_matmuls nor freeze_for_prediction has changed."""
    import tf_keras

    return [layer for layer in model._flatten_layers(include_self=False)
            if isinstance(layer, tf_keras.layers.Dense) and layer.built and not getattr(layer, "_snekner_patched", False)]


def use_bfloat16_matmuls(model) -> int:
    """Make every dense layer of `model` multiply in bfloat16 for training (see the module doc); returns how many.
    The kernels are cast at every call, so the layers follow the optimizer's updates of their float32 weights."""
    dense = _unpatched_dense(model)
    for layer in dense:
        _patch_dense(layer)
    return len(dense)


def _patch_dense(layer) -> None:
    import tensorflow as tf

    def call(self, inputs):
        # a 2-D product (oneDNN's matmul, AMX tiles), float32 out; the bias and activation in float32
        width = self.kernel.shape[-1]
        flat = tf.reshape(tf.cast(inputs, tf.bfloat16), [-1, self.kernel.shape[0]])
        outputs = tf.cast(tf.matmul(flat, tf.cast(self.kernel, tf.bfloat16)), inputs.dtype)
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, self.bias)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return tf.reshape(outputs, tf.concat([tf.shape(inputs)[:-1], [width]], 0))

    layer.call = types.MethodType(call, layer)
    layer._snekner_patched = True


# Where a transformer's feed-forward block applies its activation after its first dense layer: (the dense layer's
# attribute, the activation's attribute) of the block. BERT, RoBERTa, XLM-R, ELECTRA and DeBERTa name them
# dense/intermediate_act_fn; DistilBERT lin1/activation.
_FEED_FORWARD_ATTRIBUTES = (("dense", "intermediate_act_fn"), ("lin1", "activation"))
_SQRT_HALF = 0.7071067811865476
# bfloat16 prediction puts the dense weights into the traced graph as constants up to this many bytes (a GraphDef
# must stay under 2 GB); above it, they are captured tensors, and the products run unblocked (see freeze_for_prediction)
GRAPH_CONSTANT_BYTES = 1 << 30


def _gelu_erf(x):
    """The exact GELU, x·Φ(x), written as the graph pattern TensorFlow's remapper fuses into oneDNN's matmul (erf, not
    the erfc of tf.nn.gelu, whose CPU kernel is also 2.7x slower than erf's)."""
    import tensorflow as tf

    return 0.5 * x * (1.0 + tf.math.erf(x * tf.cast(_SQRT_HALF, x.dtype)))


def freeze_for_prediction(model, bfloat16: bool) -> int:
    """Make `model` a faster predictor; returns how many feed-forward activations were fused. For prediction only: in
    bfloat16 the layers copy their weights now and ignore later changes of them (float32 reads the variables).

    Every dense layer becomes one 2-D product with its bias (and, after the first dense layer of a feed-forward block
    whose activation is the exact GELU, that GELU) in one oneDNN call, which TensorFlow's remapper fuses; Keras'
    Dense multiplies a 3-D input with a reshape between the product and the bias, which the remapper does not fuse.
    bfloat16: the products, bias and GELU in bfloat16 (float32 accumulation in oneDNN), the result cast to float32;
    otherwise float32 throughout, which changes what is computed only in rounding.

    In bfloat16 the weights enter a traced graph as constants (up to GRAPH_CONSTANT_BYTES in all): oneDNN then keeps
    them reordered into the blocked layout its AMX kernel (brgemm) needs. Passed in as captured tensors, they run on
    its unblocked gemm instead, 1.35x slower over the forward pass. In float32, constants measured 5% slower, so they
    stay captured tensors."""
    import tensorflow as tf
    import tf_keras
    from transformers.activations_tf import get_tf_activation

    gelu = get_tf_activation("gelu")
    dense = _unpatched_dense(model)
    unpatched, fused = {id(layer) for layer in dense}, set()
    for block in model._flatten_layers(include_self=False):
        for attribute, activation in _FEED_FORWARD_ATTRIBUTES:
            first = getattr(block, attribute, None)
            # only a layer frozen below can take the GELU over (a layer patched before keeps its own call)
            if id(first) in unpatched and first.activation in (None, tf_keras.activations.linear) and getattr(block, activation, None) is gelu:
                setattr(block, activation, tf.identity)  # the dense layer applies it now
                fused.add(id(first))
    dtype = tf.bfloat16 if bfloat16 else tf.float32
    constants = bfloat16 and sum(2 * layer.kernel.shape.num_elements() for layer in dense) <= GRAPH_CONSTANT_BYTES
    for layer in dense:
        _freeze_dense(layer, dtype, gelu=id(layer) in fused, constants=constants)
    return len(fused)


def _freeze_dense(layer, dtype, *, gelu: bool, constants: bool) -> None:
    import tensorflow as tf

    weights = [tf.cast(layer.kernel, dtype), tf.cast(layer.bias, dtype) if layer.use_bias else None]
    arrays = [None if w is None else w.numpy() for w in weights] if constants else None

    def call(self, inputs):
        kernel, bias = weights
        if arrays is not None and tf.inside_function():  # graph constants (see freeze_for_prediction)
            kernel, bias = (None if a is None else tf.constant(a) for a in arrays)
        width = kernel.shape[-1]
        outputs = tf.matmul(tf.reshape(tf.cast(inputs, dtype), [-1, kernel.shape[0]]), kernel)
        if bias is not None:
            outputs = tf.nn.bias_add(outputs, bias)
        if gelu:
            outputs = _gelu_erf(outputs)
        outputs = tf.cast(outputs, inputs.dtype)
        if self.activation is not None and not gelu:
            outputs = self.activation(outputs)
        return tf.reshape(outputs, tf.concat([tf.shape(inputs)[:-1], [width]], 0))

    layer.call = types.MethodType(call, layer)
    layer._snekner_patched = True


def for_prediction(model, requested: bool | None = None):
    """`model` frozen for prediction (freeze_for_prediction), its dense layers multiplying in bfloat16 when
    inference_bfloat16(requested) says so, and the precision it runs in (FLOAT32 or BFLOAT16_MATMULS)."""
    bfloat16 = inference_bfloat16(requested)
    freeze_for_prediction(model, bfloat16)
    return model, BFLOAT16_MATMULS if bfloat16 else FLOAT32
