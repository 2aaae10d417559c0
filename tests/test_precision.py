"""bfloat16 matrix multiplies (issue 23): which precision runs where, and that the dense layers really multiply in bfloat16
while everything else, the weights and the gradients stay float32."""
from __future__ import annotations

import numpy as np
import pytest

from snekner.modeling.precision import (BFLOAT16_MATMULS, FLOAT32, MIXED_FLOAT16, for_prediction, freeze_for_prediction,
                                        inference_bfloat16, pick_precision, use_bfloat16_matmuls)

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


@pytest.mark.parametrize("requested, gpus, amx, expected", [
    (None, 0, True, BFLOAT16_MATMULS),  # the default follows the hardware
    (None, 0, False, FLOAT32),
    (None, 1, True, MIXED_FLOAT16),
    (None, 1, False, MIXED_FLOAT16),
    (True, 0, False, BFLOAT16_MATMULS),  # asked for: given, AMX or not
    (False, 0, True, FLOAT32),
    (False, 2, False, FLOAT32),
])
def test_training_precision_follows_the_flag_then_the_hardware(requested, gpus, amx, expected):
    assert pick_precision(requested, gpus, amx=amx) == expected


@pytest.mark.parametrize("requested, gpus, amx, expected", [
    (None, 0, True, True), (None, 0, False, False), (None, 1, True, False), (True, 1, False, True), (False, 0, True, False)])
def test_prediction_precision_follows_the_flag_then_the_hardware(requested, gpus, amx, expected):
    assert inference_bfloat16(requested, gpus=gpus, amx=amx) is expected


def _classifier(tiny_model):
    from snekner.modeling.models import build_token_classifier

    return build_token_classifier(str(tiny_model), LABELS, seed=3)


def _op_types(fn, *args) -> list[str]:
    return [op.type for op in fn.get_concrete_function(*args).graph.get_operations()]


def _batch():
    import tensorflow as tf

    ids = tf.constant([[2, 7, 9, 11, 3, 0], [2, 8, 3, 0, 0, 0]], tf.int32)
    return ids, tf.cast(ids > 0, tf.int32)


def _matmul_dtypes(fn, *args) -> list[str]:
    """The input dtype of every MatMul in the graph of tf.function `fn` traced on `args` (its gradient graph included)."""
    graph = fn.get_concrete_function(*args).graph
    return sorted(op.get_attr("T").name for op in graph.get_operations() if op.type == "MatMul")


def test_dense_layers_multiply_in_bfloat16_and_agree_with_float32(tiny_model):
    import tensorflow as tf
    import tf_keras

    model = _classifier(tiny_model)
    ids, mask = _batch()
    before = model(input_ids=ids, attention_mask=mask, training=False).logits.numpy()
    dense = [layer for layer in model._flatten_layers(include_self=False) if isinstance(layer, tf_keras.layers.Dense)]
    assert use_bfloat16_matmuls(model) == len(dense) > 0
    assert use_bfloat16_matmuls(model) == 0  # once only

    forward = tf.function(lambda i, m: model(input_ids=i, attention_mask=m, training=False).logits)
    assert set(_matmul_dtypes(forward, ids, mask)) == {"bfloat16"}
    after = forward(ids, mask).numpy()
    assert after.dtype == np.float32 and before.shape == after.shape
    assert not np.array_equal(before, after)  # rounded inputs: not the float32 product
    np.testing.assert_allclose(after, before, atol=0.05)  # bfloat16 keeps 8 bits of mantissa
    assert all(w.dtype == tf.float32 for w in model.weights)  # float32 master weights


def test_gradients_reach_every_weight_in_float32(tiny_model):
    import tensorflow as tf

    model = _classifier(tiny_model)
    use_bfloat16_matmuls(model)
    ids, mask = _batch()

    @tf.function
    def grads(i, m):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(model(input_ids=i, attention_mask=m, training=True).logits))
        return tape.gradient(loss, model.trainable_variables)

    assert set(_matmul_dtypes(grads, ids, mask)) == {"bfloat16"}  # the backward products too
    for variable, grad in zip(model.trainable_variables, grads(ids, mask)):
        assert grad is not None, variable.name
        assert grad.dtype == tf.float32


def test_prediction_casts_the_weights_once(tiny_model):
    model = _classifier(tiny_model)
    ids, mask = _batch()
    model, precision = for_prediction(model, True)
    assert precision == BFLOAT16_MATMULS
    first = model(input_ids=ids, attention_mask=mask).logits.numpy()
    model.classifier.kernel.assign(model.classifier.kernel * 0)  # frozen: the bfloat16 copy was made before
    np.testing.assert_array_equal(model(input_ids=ids, attention_mask=mask).logits.numpy(), first)
    same, precision = for_prediction(_classifier(tiny_model), False)
    assert precision == FLOAT32


@pytest.mark.parametrize("model_fixture", ["tiny_model", "tiny_cased_model"])  # DistilBERT's lin1/activation, BERT's dense/intermediate_act_fn
@pytest.mark.parametrize("bfloat16, atol", [(False, 1e-5), (True, 0.05)])
def test_prediction_fuses_each_feed_forward_gelu_into_its_dense_layer(model_fixture, bfloat16, atol, request):
    import tensorflow as tf

    model = _classifier(request.getfixturevalue(model_fixture))
    ids, mask = _batch()
    before = model(input_ids=ids, attention_mask=mask, training=False).logits.numpy()
    assert freeze_for_prediction(model, bfloat16) == 2  # one feed-forward block a layer
    forward = tf.function(lambda i, m: model(input_ids=i, attention_mask=m, training=False).logits)
    ops = _op_types(forward, ids, mask)
    assert ops.count("Erf") == 2 and "Erfc" not in ops  # GELU applied once a block, by the dense layer, as erf
    assert set(_matmul_dtypes(forward, ids, mask)) == {"bfloat16" if bfloat16 else "float32"}
    after = forward(ids, mask).numpy()
    assert after.dtype == np.float32
    np.testing.assert_allclose(after, before, atol=atol)
    if bfloat16:
        assert not np.array_equal(after, before)


@pytest.mark.parametrize("bfloat16, limit, kernel_op", [(True, None, "Const"), (True, 0, "Placeholder"), (False, None, "ReadVariableOp")])
def test_bfloat16_prediction_traces_the_weights_as_constants_up_to_a_size(tiny_model, monkeypatch, bfloat16, limit, kernel_op):
    """Constant weights let oneDNN keep them in AMX's blocked layout; a captured copy above the GraphDef-safe size; float32
    reads the variables."""
    import tensorflow as tf

    from snekner.modeling import precision

    if limit is not None:
        monkeypatch.setattr(precision, "GRAPH_CONSTANT_BYTES", limit)
    model = _classifier(tiny_model)
    ids, mask = _batch()
    before = model(input_ids=ids, attention_mask=mask, training=False).logits.numpy()
    freeze_for_prediction(model, bfloat16)
    forward = tf.function(lambda i, m: model(input_ids=i, attention_mask=m, training=False).logits)
    kernels = [op.inputs[1].op.type for op in forward.get_concrete_function(ids, mask).graph.get_operations() if op.type == "MatMul"]
    assert kernels and set(kernels) == {kernel_op}
    np.testing.assert_allclose(forward(ids, mask).numpy(), before, atol=0.05 if bfloat16 else 1e-5)
    eager = model(input_ids=ids, attention_mask=mask).logits.numpy()  # unfused in eager: bfloat16 rounds elsewhere
    np.testing.assert_allclose(eager, forward(ids, mask).numpy(), atol=0.01 if bfloat16 else 1e-6)


def test_prediction_leaves_the_gelu_of_a_layer_patched_for_training(tiny_model):
    """A model whose dense layers already multiply in bfloat16 for training keeps its blocks' GELU where it was."""
    model = _classifier(tiny_model)
    ids, mask = _batch()
    before = model(input_ids=ids, attention_mask=mask, training=False).logits.numpy()
    use_bfloat16_matmuls(model)
    assert freeze_for_prediction(model, False) == 0
    np.testing.assert_allclose(model(input_ids=ids, attention_mask=mask, training=False).logits.numpy(), before, atol=0.05)


def test_prediction_fuses_only_the_exact_gelu():
    """A feed-forward block whose activation is not GELU keeps it, and the result is what the block computed before."""
    import tensorflow as tf
    import tf_keras
    from transformers.activations_tf import get_tf_activation

    class Block(tf_keras.layers.Layer):
        def __init__(self, act):
            super().__init__()
            self.dense, self.intermediate_act_fn = tf_keras.layers.Dense(8), get_tf_activation(act)

        def call(self, x):
            return self.intermediate_act_fn(self.dense(x))

    class Net(tf_keras.Model):
        def __init__(self):
            super().__init__()
            self.relu, self.gelu = Block("relu"), Block("gelu")

        def call(self, x):
            return self.gelu(self.relu(x))

    net, x = Net(), tf.random.stateless_normal([2, 3, 8], seed=[1, 2])
    before = net(x).numpy()
    assert freeze_for_prediction(net, False) == 1
    assert net.relu.intermediate_act_fn is get_tf_activation("relu") and net.gelu.intermediate_act_fn is tf.identity
    np.testing.assert_allclose(net(x).numpy(), before, atol=1e-6)
    assert freeze_for_prediction(net, False) == 0  # once only


def test_adapt_stays_float32_on_a_cpu_unless_asked(monkeypatch):
    """The AMX default rests on fine-tuning's test F1; adapt's default precision stays float32 on a CPU."""
    import snekner.modeling.devices as devices
    from snekner.modeling import precision

    monkeypatch.setattr(precision, "cpu_has_amx", lambda: True)
    assert devices.setup_devices().precision_policy == BFLOAT16_MATMULS
    assert devices.setup_devices(cpu_bfloat16_by_default=False).precision_policy == FLOAT32
    assert devices.setup_devices(mixed_precision=True, cpu_bfloat16_by_default=False).precision_policy == BFLOAT16_MATMULS
    devices.setup_devices(mixed_precision=False)  # leave Keras' global policy at float32
