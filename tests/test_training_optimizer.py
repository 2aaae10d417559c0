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
    from snekner.training.optimizer import dense_gradients

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

    from snekner.training.optimizer import build_optimizer

    ours, optimizer = _train(lambda: build_optimizer(0.05, 10, warmup, weight_decay), dense=True)
    theirs, _ = _train(lambda: create_optimizer(0.05, 10, warmup, weight_decay_rate=weight_decay)[0], dense=False)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    start = _variables()
    assert not np.allclose(ours[0], start[0].numpy())  # the weights moved
    assert int(optimizer.iterations) == 6


def test_weight_decay_skips_bias_and_layer_norm():
    from snekner.training.optimizer import build_optimizer

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
    from snekner.training.optimizer import build_optimizer

    dense, _ = _train(lambda: build_optimizer(0.05, 10, 0, 0.1), dense=True)
    sparse, _ = _train(lambda: build_optimizer(0.05, 10, 0, 0.1), dense=False)
    for a, b in zip(dense, sparse):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _rates(**kwargs) -> list[float]:
    from snekner.training.optimizer import build_optimizer

    optimizer = build_optimizer(1.0, 10, **kwargs)
    return [round(float(optimizer.learning_rate(step)), 6) for step in range(11)]


def test_schedules_warm_up_hold_and_decay():
    # linear: HF's schedule (decay over every step after the warm-up; the first update is at step 0)
    assert _rates() == [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0]
    assert _rates(warmup_steps=2) == [0.0, 0.5, 1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125, 0.0]
    assert _rates(decay_steps=0) == [1.0] * 11  # constant
    assert _rates(warmup_steps=2, decay_steps=0) == [0.0, 0.5] + [1.0] * 9
    # stable-decay: constant, then linear to 0 over the last 4 steps
    assert _rates(decay_steps=4) == [1.0] * 7 + [0.75, 0.5, 0.25, 0.0]


def test_max_grad_norm_clips_the_global_norm_first():
    from snekner.training.optimizer import build_optimizer

    def run(clip: float, pre_clip: bool):
        variables = _variables()[1:]
        optimizer = build_optimizer(0.05, 10, 0, 0.0, max_grad_norm=clip)
        rng = np.random.default_rng(3)
        for _ in range(4):
            grads = [tf.constant(rng.normal(scale=5.0, size=v.shape).astype("float32")) for v in variables]
            if pre_clip:
                grads, _ = tf.clip_by_global_norm(grads, 1.0)
            optimizer.apply_gradients(zip(grads, variables))
        return [v.numpy() for v in variables]

    clipped, by_hand, unclipped = run(1.0, False), run(0.0, True), run(0.0, False)
    for a, b in zip(clipped, by_hand):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not all(np.allclose(a, b, atol=1e-4) for a, b in zip(clipped, unclipped))
