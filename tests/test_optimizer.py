"""snekner's AdamW against transformers' create_optimizer: the same weights after the same steps."""
import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")


def _variables():
    rng = np.random.default_rng(0)
    return [
        tf.Variable(rng.normal(size=(50, 8)).astype("float32"), name="word_embeddings/weight"),
        tf.Variable(rng.normal(size=(8, 3)).astype("float32"), name="dense/kernel"),
        tf.Variable(rng.normal(size=(3,)).astype("float32"), name="dense/bias"),
        tf.Variable(rng.normal(size=(8,)).astype("float32"), name="LayerNorm/gamma"),
    ]


def _train(make_optimizer, dense: bool, steps: int = 6):
    from snekner.optimizer import dense_gradients

    embeddings, kernel, bias, gamma = variables = _variables()
    optimizer = make_optimizer()
    rng = np.random.default_rng(1)
    for _ in range(steps):
        ids = tf.constant(rng.integers(0, 50, size=(4, 5)))
        target = tf.constant(rng.normal(size=(4, 5, 3)).astype("float32"))
        with tf.GradientTape() as tape:
            hidden = tf.gather(embeddings, ids) * gamma
            loss = tf.reduce_mean((tf.matmul(hidden, kernel) + bias - target) ** 2)
        grads = tape.gradient(loss, variables)
        assert isinstance(grads[0], tf.IndexedSlices)  # the sparse embedding case is exercised
        if dense:
            grads = dense_gradients(grads)
        optimizer.apply_gradients(zip(grads, variables))
    return [v.numpy() for v in variables], optimizer


@pytest.mark.parametrize("weight_decay,warmup", [(0.0, 0), (0.1, 2)])
def test_matches_transformers_create_optimizer(weight_decay, warmup):
    from transformers import create_optimizer

    from snekner.optimizer import build_optimizer

    ours, optimizer = _train(lambda: build_optimizer(0.05, 10, warmup, weight_decay), dense=True)
    theirs, _ = _train(lambda: create_optimizer(0.05, 10, warmup, weight_decay_rate=weight_decay)[0], dense=False)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    start = _variables()
    assert not np.allclose(ours[0], start[0].numpy())  # the weights moved
    assert int(optimizer.iterations) == 6


def test_weight_decay_skips_bias_and_layer_norm():
    from snekner.optimizer import build_optimizer

    variables = _variables()
    before = [v.numpy() for v in variables]
    optimizer = build_optimizer(0.05, 10, 0, 0.5)
    # zero gradients: Adam moves nothing, so only the decoupled decay w <- w * (1 - lr * rate) acts
    optimizer.apply_gradients([(tf.zeros_like(v), v) for v in variables])
    np.testing.assert_allclose(variables[0].numpy(), before[0] * (1 - 0.05 * 0.5), rtol=1e-6)
    np.testing.assert_allclose(variables[1].numpy(), before[1] * (1 - 0.05 * 0.5), rtol=1e-6)
    np.testing.assert_array_equal(variables[2].numpy(), before[2])  # bias
    np.testing.assert_array_equal(variables[3].numpy(), before[3])  # LayerNorm


def test_sparse_gradients_give_the_dense_result():
    from snekner.optimizer import build_optimizer

    dense, _ = _train(lambda: build_optimizer(0.05, 10, 0, 0.1), dense=True)
    sparse, _ = _train(lambda: build_optimizer(0.05, 10, 0, 0.1), dense=False)
    for a, b in zip(dense, sparse):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
