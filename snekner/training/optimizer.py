"""The optimizer: AdamW with a linear warm-up, a hold and a linear decay, gradient clipping by global norm.

The same mathematics as `transformers.create_optimizer` (Adam, epsilon 1e-8, decoupled weight
decay skipping LayerNorm and bias weights, learning rate warming up linearly then decaying
linearly to 0), built so that a step costs what the arithmetic costs:

- every update goes through TensorFlow's fused `ResourceApplyAdam` kernel (one pass over a
  weight and its two moments). `transformers.AdamWeightDecay` wraps each update in extra ops and
  control dependencies that cost several times the update itself (benchmarks/speed_train.py
  measures the effect on whole training steps; the README gives the last figures);
- the embedding gradients, which arrive as `IndexedSlices` (only the rows a batch used), are
  made dense before the update. Adam moves every row of the matrix at every step anyway (the
  moments decay everywhere), so the result is the same as the sparse path, but the sparse
  path spends several unfused passes over the 30k-row matrix where the fused kernel spends one.
"""
from __future__ import annotations

DECAY_EXCLUDED = ("LayerNorm", "layer_norm", "bias")


def build_optimizer(learning_rate: float, total_steps: int, warmup_steps: int = 0, weight_decay: float = 0.0, *,
                    decay_steps: int | None = None, max_grad_norm: float = 0.0):
    """AdamW whose rate warms up linearly over `warmup_steps`, holds, then decays linearly to 0
    over the last `decay_steps` (None: every step after the warm-up, i.e. HF's linear schedule;
    0: no decay, a constant rate).

    max_grad_norm > 0 clips the gradient to that global norm first (after the gradients of all
    replicas are summed, so it is the same clip on one device or many), as Hugging Face's
    PyTorch Trainer does by default.
    """
    schedule = _schedule_class()(learning_rate, total_steps, warmup_steps, decay_steps)
    clip = {"global_clipnorm": float(max_grad_norm)} if max_grad_norm else {}
    return _adamw_class()(schedule, weight_decay=weight_decay, epsilon=1e-8, **clip)


def dense_gradients(grads):
    """IndexedSlices (embedding gradients) as dense tensors, so that the fused update applies."""
    import tensorflow as tf

    return [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]


_ADAMW = None
_SCHEDULE = None


def _schedule_class():
    global _SCHEDULE
    if _SCHEDULE is not None:
        return _SCHEDULE
    import tensorflow as tf

    class WarmupHoldDecay(tf.keras.optimizers.schedules.LearningRateSchedule):
        """Piecewise linear: 0 -> peak over the warm-up, peak, then peak -> 0 over the last decay steps.

        With the decay spanning every step after the warm-up this is, step for step, the schedule
        of `transformers.create_optimizer` (its WarmUp over PolynomialDecay with power 1).
        """

        def __init__(self, peak: float, total_steps: int, warmup_steps: int = 0, decay_steps: int | None = None):
            self.peak, self.total_steps, self.warmup_steps = float(peak), int(total_steps), int(warmup_steps)
            self.decay_steps = max(0, self.total_steps - self.warmup_steps) if decay_steps is None else int(decay_steps)

        def __call__(self, step):
            step = tf.cast(step, tf.float32)
            rate = tf.constant(self.peak, tf.float32)
            if self.warmup_steps:
                rate = tf.where(step < self.warmup_steps, self.peak * step / self.warmup_steps, rate)
            if self.decay_steps:
                left = tf.maximum(float(self.total_steps) - step, 0.0)
                rate = tf.minimum(rate, self.peak * left / self.decay_steps)
            return rate

        def get_config(self):
            return {"peak": self.peak, "total_steps": self.total_steps, "warmup_steps": self.warmup_steps, "decay_steps": self.decay_steps}

    _SCHEDULE = WarmupHoldDecay
    return _SCHEDULE


def _adamw_class():
    """Defined on first use: the base class comes from TensorFlow, which is imported lazily."""
    global _ADAMW
    if _ADAMW is not None:
        return _ADAMW
    import tensorflow as tf

    class AdamW(tf.keras.optimizers.legacy.Adam):
        """Adam with decoupled weight decay: w <- w - lr * rate * w, then the fused Adam update."""

        def __init__(self, learning_rate, weight_decay: float = 0.0, name: str = "AdamW", **kwargs):
            super().__init__(learning_rate, name=name, **kwargs)
            self.weight_decay = weight_decay

        def _decays(self, var) -> bool:
            return self.weight_decay > 0 and not any(part in var.name for part in DECAY_EXCLUDED)

        def _resource_apply_dense(self, grad, var, apply_state=None):
            if not self._decays(var):
                return super()._resource_apply_dense(grad, var, apply_state)
            key = (var.device, var.dtype.base_dtype)
            coefficients = (apply_state or {}).get(key) or self._fallback_apply_state(*key)
            decay = var.assign_sub(coefficients["lr_t"] * self.weight_decay * var, read_value=False)
            with tf.control_dependencies([decay]):
                return super()._resource_apply_dense(grad, var, apply_state)

        def _resource_apply_sparse(self, grad, var, indices, apply_state=None):
            # dense_gradients() makes this path unused in training; kept correct for other callers
            return self._resource_apply_dense(tf.convert_to_tensor(tf.IndexedSlices(grad, indices, tf.shape(var))), var, apply_state)

        def get_config(self):
            return {**super().get_config(), "weight_decay": self.weight_decay}

    _ADAMW = AdamW
    return _ADAMW
