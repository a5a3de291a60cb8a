"""Training on several devices or machines through TensorFlow's own engine (`tf.distribute`).

`training.distribute` chooses the strategy:

- `none`: the default device, no strategy;
- `mirrored`: `MirroredStrategy` over every GPU of this machine (over every
  logical CPU device when there is no GPU: one, unless configured), each
  global batch (the `training.max_tokens` budget) split across the replicas;
- `multi_worker`: `MultiWorkerMirroredStrategy`, the cluster read from
  `TF_CONFIG`; every worker reads the data and keeps its share of the batches
  (tf.data auto-sharding by data, as the pipeline reads whole files);
- `tpu`: `TPUStrategy` on the TPU that `TPUClusterResolver` finds.

The model, its optimizer and its metrics are created in the strategy's
scope; Keras distributes the tf.data pipeline (`experimental_distribute_dataset`).
Only the chief writes the run folder's outputs (checkpoints, validation BLEU,
history, the best model); see :func:`is_chief`.
"""

from __future__ import annotations

import contextlib
import json
import os

from seq2seq.errors import UserError

DISTRIBUTIONS = ("none", "mirrored", "multi_worker", "tpu")


def make_strategy(kind: str):
    """The `tf.distribute` strategy for `training.distribute` (None for `none`)."""
    if kind == "none":
        return None
    import tensorflow as tf

    try:
        if kind == "mirrored":
            devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
            return tf.distribute.MirroredStrategy(devices=[device.name for device in devices])
        if kind == "multi_worker":
            if "TF_CONFIG" not in os.environ:
                raise ValueError("TF_CONFIG is not set")
            return tf.distribute.MultiWorkerMirroredStrategy()
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        raise UserError(
            f"training.distribute={kind}: the strategy cannot start ({str(error).splitlines()[0]}). "
            "multi_worker needs TF_CONFIG describing the cluster; tpu needs a TPU."
        ) from None


def scope(strategy):
    """The strategy's scope, or a no-op without a strategy."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def is_chief(strategy) -> bool:
    """Whether this process writes the run folder's outputs: the chief of a cluster (worker 0 without one)."""
    if strategy is None or not os.environ.get("TF_CONFIG"):
        return True
    cluster_config = json.loads(os.environ["TF_CONFIG"])
    task = cluster_config.get("task", {})
    if "chief" in cluster_config.get("cluster", {}):
        return task.get("type") == "chief"
    return task.get("type") in (None, "worker") and task.get("index", 0) == 0


def worker_folder(run_dir, kind: str):
    """Where this process keeps what is its own: `run_dir` for the chief (and any single-process run),
    `run_dir/worker-N` for the other workers of a `multi_worker` run (their lock and resume backup).

    Decided from `TF_CONFIG` alone, before any strategy exists, so that the
    run folder's lock and checks (see :mod:`seq2seq.run_folder`) apply to the
    chief only; the other workers read the chief's vocabularies and write
    nothing else in `run_dir`.
    """
    from pathlib import Path

    if kind != "multi_worker" or is_chief(object()):
        return Path(run_dir)
    return Path(run_dir) / f"worker-{json.loads(os.environ['TF_CONFIG']).get('task', {}).get('index', 0)}"


def shard_by_data(dataset):
    """`dataset` with tf.data auto-sharding by data (each worker keeps its share of the batches)."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)
