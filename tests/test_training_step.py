"""snekner's compiled training step against the plain transformers TF recipe, on identical batches.

The plain side is what a Keras user writes without any of snekner's speed work: the model's own
loss (`labels=` to the model), `transformers.create_optimizer` (AdamWeightDecay, sparse
embedding gradients), an eager-built tf.function per step. With dropout off and the same initial
weights, the two must give the same loss at every step: the fused AdamW, the dense embedding
update, the loss normalisation and the single trace change how fast a step runs, not what it
learns.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import prep_sample


tf = pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def no_dropout_model(tiny_model, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny-no-dropout") / "model"
    shutil.copytree(tiny_model, out)
    config = json.loads((out / "config.json").read_text())
    config.update(dropout=0.0, attention_dropout=0.0, seq_classif_dropout=0.0, qa_dropout=0.0)
    (out / "config.json").write_text(json.dumps(config))
    return out


@pytest.fixture(scope="module")
def prepared(sample_dir, no_dropout_model, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("step") / "data"
    return prep_sample(out, sample_dir, no_dropout_model)


def _batches(train_data, batch_size: int, steps: int):
    from snekner.modeling.batches import make_dataset, training_order

    order = training_order(train_data.lengths, batch_size, seed=5, epoch=0)
    batches = []
    for batch in make_dataset(train_data, order, batch_size, multiple=1):
        batches.append(batch)
        if len(batches) == steps:
            return batches
    return batches


def _plain_losses(model_dir: Path, labels: list[str], batches: list, learning_rate: float, total_steps: int, seed: int) -> list[float]:
    from transformers import create_optimizer

    from snekner.modeling.models import build_token_classifier

    tf.keras.utils.set_random_seed(11)
    model = build_token_classifier(str(model_dir), labels, seed=seed)  # the head the trainer draws from its seed
    optimizer, _ = create_optimizer(learning_rate, total_steps, 0, adam_epsilon=1e-8, weight_decay_rate=0.0)

    @tf.function(reduce_retracing=True)
    def step(input_ids, attention_mask, batch_labels):
        with tf.GradientTape() as tape:
            out = model(input_ids=input_ids, attention_mask=attention_mask, labels=batch_labels, training=True)
            loss = tf.reduce_mean(out.loss)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    return [float(step(b["input_ids"], b["attention_mask"], b["labels"])) for b in batches]


def test_compiled_step_learns_what_the_plain_recipe_learns(prepared, no_dropout_model, tmp_path):
    from snekner.modeling.devices import setup_devices
    from snekner.store.prepared import load_prepared
    from snekner.training.loop import TrainingLoop
    from snekner.training.options import TrainOptions
    from snekner.training.tasks import TokenClassification

    data = load_prepared(prepared)
    # the plain recipe's optimizer is transformers.create_optimizer: linear decay to 0, no clipping
    options = TrainOptions(batch_size=8, learning_rate=2e-3, epochs=1, schedule="linear", max_grad_norm=0.0)
    trainer = TrainingLoop(TokenClassification(data, options, log=lambda m: None), folder=tmp_path / "run", recipe=options,
                           setup=setup_devices("one", False, False), log=lambda m: None)
    tf.keras.utils.set_random_seed(11)
    trainer.build(str(no_dropout_model))
    batches = _batches(trainer.task.train_data, 8, steps=10)
    assert len(batches) == 10 and len({int(b["input_ids"].shape[1]) for b in batches}) > 2  # several widths
    spec = {k: tf.TensorSpec([None] * len(v.shape), v.dtype) for k, v in batches[0].items()}
    step = tf.function(trainer._train_step, input_signature=[spec], autograph=False)
    ours = []
    for batch in batches:
        loss_sum, count = step(batch)
        ours.append(float(loss_sum) / float(count))

    theirs = _plain_losses(no_dropout_model, data.labels, batches, 2e-3, trainer.steps_per_epoch, options.seed)
    assert ours[-1] < ours[0]  # it learned
    np.testing.assert_allclose(ours, theirs, rtol=2e-4, atol=1e-5)


def test_weighted_loss_is_the_weighted_mean_over_labelled_subwords():
    from snekner.training.tasks import masked_loss_sum

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 5, 3)).astype(np.float32)
    labels = np.array([[0, 1, -100, 2, 1], [2, -100, -100, 0, 0]], dtype=np.int32)
    weights = np.array([0.5, 2.0, 4.0], dtype=np.float32)
    log_p = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    kept = labels != -100
    ce = -np.take_along_axis(log_p, np.where(kept, labels, 0)[..., None], axis=-1)[..., 0]
    w = np.where(kept, weights[np.where(kept, labels, 0)], 0.0)
    loss_sum, total = masked_loss_sum(tf.constant(labels), tf.constant(logits), tf.constant(weights))
    assert float(total) == pytest.approx(w.sum())
    assert float(loss_sum) / float(total) == pytest.approx((w * ce).sum() / w.sum(), rel=1e-5)
    plain_sum, count = masked_loss_sum(tf.constant(labels), tf.constant(logits))
    assert float(count) == kept.sum() and float(plain_sum) == pytest.approx(ce[kept].sum(), rel=1e-5)
