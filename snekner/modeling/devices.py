"""Where training runs: distribution strategy, mixed precision, XLA and GPU memory growth.

Defaults follow the hardware: on a GPU, mixed precision (float16 with loss scaling) and XLA
are on; on a CPU, XLA is off and mixed precision means bfloat16 matrix multiplies
(snekner.modeling.precision), on by default where the CPU has AMX. `SNEKNER_CPU_DEVICES=N` splits the CPU into N logical devices, so
that multi-replica code (MirroredStrategy) can be exercised on a machine without GPUs.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from enum import Enum

from snekner.errors import SneknerError
from snekner.modeling.batches import pad_multiple
from snekner.modeling.precision import BFLOAT16_MATMULS, pick_precision


class Strategy(str, Enum):
    """How training is spread over devices (tf.distribute)."""

    AUTO = "auto"  # multiworker with a TF_CONFIG cluster, mirrored with several GPUs, else one
    ONE = "one"
    MIRRORED = "mirrored"
    MULTIWORKER = "multiworker"


@dataclass
class DeviceSetup:
    strategy: object
    strategy_name: str
    replicas: int
    gpus: int
    precision_policy: str  # "float32" | "mixed_float16" | "bfloat16_matmuls" (snekner.modeling.precision)
    xla: bool
    is_chief: bool

    @property
    def pad_multiple(self) -> int:
        return pad_multiple(self.gpus > 0, self.xla)

    @property
    def multiworker(self) -> bool:
        return self.strategy_name == "multiworker"

    def with_precision(self, mixed_precision: bool | None, xla: bool | None) -> "DeviceSetup":
        """This setup with the precision and XLA that `mixed_precision` and `xla` ask for (setting the global policy)."""
        import tensorflow as tf

        policy = pick_precision(mixed_precision, self.gpus)
        _set_keras_policy(tf, policy)
        return replace(self, precision_policy=policy, xla=(self.gpus > 0) if xla is None else xla)

    def to_manifest(self) -> dict:
        """What a manifest records of the devices a session ran on."""
        return {"description": self.describe(), "strategy": self.strategy_name, "replicas": self.replicas, "gpus": self.gpus,
                "precision": self.precision_policy, "xla": self.xla}

    def describe(self) -> str:
        where = f"{self.gpus} GPU(s)" if self.gpus else "CPU"
        return (
            f"strategy {self.strategy_name} with {self.replicas} replica(s) on {where}; "
            f"precision {self.precision_policy}; XLA {'on' if self.xla else 'off'}; "
            f"batches padded to a multiple of {self.pad_multiple}"
        )


def tf_config_workers() -> int:
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return 0
    try:
        cluster = json.loads(raw).get("cluster", {})
    except (json.JSONDecodeError, AttributeError):
        raise SneknerError("TF_CONFIG is not valid JSON; set it as described in the README's multi-machine section") from None
    return sum(len(v) for k, v in cluster.items() if k in ("chief", "worker"))


def chief_by_tf_config() -> bool:
    """Whether this process is the chief of its TF_CONFIG cluster (True when there is none)."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return True
    try:
        config = json.loads(raw)
    except json.JSONDecodeError:
        raise SneknerError("TF_CONFIG is not valid JSON; set it as described in the README's multi-machine section") from None
    task = config.get("task", {})
    if "chief" in config.get("cluster", {}):
        return task.get("type") == "chief"
    return task.get("type", "worker") == "worker" and int(task.get("index", 0)) == 0


def pick_strategy_name(requested: str, gpus: int, workers: int) -> str:
    requested = Strategy(requested)
    if requested != Strategy.AUTO:
        return requested.value
    if workers > 1:
        return "multiworker"
    if gpus > 1:
        return "mirrored"
    return "one"


def _set_keras_policy(tf, policy: str) -> None:
    # bfloat16 matmuls are not a Keras policy: the model is float32, its dense layers are changed after it is built
    tf.keras.mixed_precision.set_global_policy("float32" if policy == BFLOAT16_MATMULS else policy)


def _enable_memory_growth(tf) -> list:
    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialised in this process: growth is fixed by then
            pass
    return gpus


def _split_cpu(tf) -> list[str]:
    wanted = int(os.environ.get("SNEKNER_CPU_DEVICES", "0") or 0)
    cpus = tf.config.list_physical_devices("CPU")
    if wanted > 1:
        try:
            tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * wanted)
        except RuntimeError:
            pass  # devices already initialised; use what exists
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def setup_devices(strategy: str = "auto", mixed_precision: bool | None = None, xla: bool | None = None, *,
                  cpu_bfloat16_by_default: bool = True) -> DeviceSetup:
    """The devices, strategy and precision of a session. cpu_bfloat16_by_default: whether mixed_precision None means
    bfloat16 matmuls on a CPU with AMX (training: measured, issue 23) or float32 (adapt: not measured)."""
    import tensorflow as tf

    gpus = _enable_memory_growth(tf)
    name = pick_strategy_name(strategy, len(gpus), tf_config_workers())
    if name == "multiworker":
        if tf_config_workers() < 1:
            raise SneknerError("the multiworker strategy needs TF_CONFIG naming the cluster and this worker; see the README's multi-machine section")
        # collective ops must be configured before anything initialises the TF runtime
        # (listing logical devices does), so the strategy comes first here
        dist = tf.distribute.MultiWorkerMirroredStrategy()
    elif name == "mirrored":
        # logical CPU devices must be configured before the runtime starts (listing devices starts it)
        devices = _split_cpu(tf) if not gpus else [d.name for d in tf.config.list_logical_devices("GPU")]
        dist = tf.distribute.MirroredStrategy(devices=devices, cross_device_ops=None if gpus else tf.distribute.ReductionToOneDevice())
    else:
        dist = tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
    policy = pick_precision(mixed_precision, len(gpus), amx=None if cpu_bfloat16_by_default else False)
    _set_keras_policy(tf, policy)
    resolver = getattr(dist, "cluster_resolver", None)
    is_chief = True
    if resolver is not None and getattr(resolver, "task_type", None) is not None:
        task_type, task_id = resolver.task_type, resolver.task_id
        has_chief = "chief" in (resolver.cluster_spec().as_dict() or {})
        is_chief = task_type == "chief" or (task_type == "worker" and task_id == 0 and not has_chief)
    return DeviceSetup(
        strategy=dist,
        strategy_name=name,
        replicas=dist.num_replicas_in_sync,
        gpus=len(gpus),
        precision_policy=policy,
        xla=(len(gpus) > 0) if xla is None else xla,
        is_chief=is_chief,
    )


# Handing the chief's values to every worker of a multi-worker cluster. The chief holds global
# replica 0 (MultiWorkerMirroredStrategy numbers the chief's replicas first, or worker 0's when the
# cluster has no chief task), so an all-reduce to which only replica 0 contributes is a broadcast.
# Collective: every worker must make the same calls in the same order.


def _from_chief(strategy, values: list) -> list:
    """The chief's `values` (tensors, or variables made under `strategy`), as tensors on this worker."""
    import tensorflow as tf

    @tf.function(autograph=False)
    def chiefs():
        def replica_fn():
            context = tf.distribute.get_replica_context()
            first = tf.equal(context.replica_id_in_sync_group, 0)
            mine = [tf.where(first, tf.convert_to_tensor(v), tf.zeros_like(v)) for v in values]
            by_dtype: dict = {}  # one all-reduce per dtype: it packs its tensors into one
            for i, value in enumerate(mine):
                by_dtype.setdefault(value.dtype, []).append(i)
            out = [None] * len(mine)
            for indices in by_dtype.values():
                for i, reduced in zip(indices, context.all_reduce(tf.distribute.ReduceOp.SUM, [mine[i] for i in indices])):
                    out[i] = reduced
            return out

        return strategy.run(replica_fn)

    return [strategy.experimental_local_results(value)[0] for value in chiefs()]


def values_from_chief(setup: DeviceSetup, variables: list) -> None:
    """Set `variables` (made under setup.strategy) on every worker to the chief's values."""
    for variable, value in zip(variables, _from_chief(setup.strategy, variables)):
        variable.assign(value)


def text_from_chief(setup: DeviceSetup, text: str) -> str:
    """The chief's `text` on every worker (each passes its own; only the chief's counts)."""
    import numpy as np
    import tensorflow as tf

    raw = text.encode("utf-8") if setup.is_chief else b""
    (length,) = _from_chief(setup.strategy, [tf.constant(len(raw), tf.int64)])
    padded = np.zeros(int(length), np.int32)
    padded[:len(raw)] = np.frombuffer(raw, dtype=np.uint8)
    (data,) = _from_chief(setup.strategy, [tf.constant(padded)])
    return data.numpy().astype(np.uint8).tobytes().decode("utf-8")
