"""Training a fast network on several GPUs, several machines or a TPU: ``tf.distribute`` (lesson 06).

* :func:`make_strategy` turns a name (``auto``, ``none``, ``mirrored``, ``multi-worker``,
  ``tpu``) into a strategy; ``nst-tf train-fast --distribute`` uses it.
* :func:`is_chief` says whether this process writes the checkpoints and the final model.
* :class:`ChiefCheckpoints` is a ``tf.train.CheckpointManager`` that every worker calls, as
  ``MultiWorkerMirroredStrategy`` requires, but whose files only the chief keeps: the others
  write to a temporary folder and delete it at once. Every worker restores from the chief's
  latest checkpoint, so a restarted cluster goes on where it stopped.

A cluster is described the usual way, by the ``TF_CONFIG`` environment variable of each
process, e.g. for the first of two workers::

    TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}'

Worker 0 is the chief unless the cluster names a ``chief`` task. The checkpoint folder
must be one that every worker reads (a shared disk or a ``gs://`` bucket).
"""

from __future__ import annotations

import contextlib
import json
import os

import tensorflow as tf

__all__ = ["STRATEGIES", "DistributeError", "cluster_from_env", "make_strategy", "task", "is_chief",
           "describe", "latest_checkpoint", "ChiefCheckpoints"]

from ..defaults import STRATEGIES


class DistributeError(ValueError):
    """A strategy cannot be set up as asked (the message is one line)."""


def cluster_from_env() -> dict | None:
    """The ``cluster`` part of ``TF_CONFIG`` if it names more than one task, else ``None``."""
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        return None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise DistributeError(f"TF_CONFIG is not valid JSON ({error.msg} at character {error.pos})") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    if not isinstance(cluster, dict):
        return None
    tasks = sum(len(cluster.get(kind) or []) for kind in ("chief", "worker"))
    return cluster if tasks > 1 else None


def _own_address() -> str:
    """This task's address in ``TF_CONFIG`` (``host:port``), with its type and index, for messages."""
    try:
        config = json.loads(os.environ.get("TF_CONFIG", ""))
        kind, index = config["task"]["type"], int(config["task"]["index"])
        return f"{config['cluster'][kind][index]} (TF_CONFIG's {kind} {index})"
    except (ValueError, KeyError, IndexError, TypeError):
        return "the address TF_CONFIG gives it"


def make_strategy(name: str = "auto", *, tpu: str | None = None) -> tf.distribute.Strategy:
    """The ``tf.distribute`` strategy called ``name`` (see :data:`STRATEGIES`).

    * ``auto``: ``MultiWorkerMirroredStrategy`` when ``TF_CONFIG`` describes a cluster,
      else ``MirroredStrategy`` over all local GPUs when there are several, else the
      default strategy (one GPU, or the CPU);
    * ``none``: the default strategy;
    * ``mirrored``: ``MirroredStrategy`` over all local GPUs (the CPU if there is none);
    * ``multi-worker``: ``MultiWorkerMirroredStrategy`` (the cluster from ``TF_CONFIG``;
      without it, one worker with all its GPUs);
    * ``tpu``: ``TPUStrategy`` on the TPU named ``tpu`` (``"local"`` on a TPU VM; by
      default the one the environment names, as on Colab).

    ``MultiWorkerMirroredStrategy`` must be made before TensorFlow runs anything else in
    the process, which :class:`DistributeError` reports if it is too late.
    """
    if name not in STRATEGIES:
        raise DistributeError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    if name == "auto":
        if cluster_from_env() is not None:
            name = "multi-worker"
        elif len(tf.config.list_physical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            name = "none"
    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        cluster_from_env()  # a malformed TF_CONFIG is reported in one line
        try:
            return tf.distribute.MultiWorkerMirroredStrategy()
        except RuntimeError as error:
            raise DistributeError(f"cannot start the multi-worker strategy: {' '.join(str(error).split())} "
                                  "(it must be created before TensorFlow runs anything)") from None
        except (ValueError, KeyError) as error:
            raise DistributeError(f"cannot start the multi-worker strategy: TF_CONFIG is not usable ({error})") from None
        except tf.errors.OpError as error:
            if "Could not start gRPC server" not in str(error):
                raise
            raise DistributeError(f"cannot start this worker's server on {_own_address()}: is that port taken by "
                                  "another program, or the address not this machine's?") from None
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        raise DistributeError(f"cannot reach the TPU {tpu or '(from the environment)'}: "
                              f"{' '.join(str(error).split())[:200]}") from None
    return tf.distribute.TPUStrategy(resolver)


def task(strategy: tf.distribute.Strategy) -> tuple[str | None, int | None]:
    """``(task type, task index)`` of this process in the cluster, ``(None, None)`` outside one."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return None, None
    return resolver.task_type, int(resolver.task_id or 0)


def _cluster_kinds(strategy: tf.distribute.Strategy) -> dict:
    resolver = getattr(strategy, "cluster_resolver", None)
    try:
        return resolver.cluster_spec().as_dict() if resolver is not None else {}
    except Exception:  # noqa: BLE001 - a resolver without a cluster
        return {}


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes checkpoints and the model: the ``chief`` task, else worker 0, else the only one."""
    kind, index = task(strategy)
    if kind is None or kind == "chief":
        return True
    if kind == "worker" and index == 0:
        return "chief" not in _cluster_kinds(strategy)
    return False


def _workers(strategy: tf.distribute.Strategy) -> int:
    kinds = _cluster_kinds(strategy)
    return max(1, sum(len(kinds.get(kind) or []) for kind in ("chief", "worker")))


def describe(strategy: tf.distribute.Strategy, global_batch_size: int) -> str:
    """One line: the strategy, its replicas (and workers) and the batch per step, global and per replica."""
    replicas = int(strategy.num_replicas_in_sync)
    kind, index = task(strategy)
    workers = _workers(strategy) if kind is not None else 1
    where = f" on {workers} workers" if workers > 1 else ""
    role = ""
    if kind is not None and workers > 1:
        role = f"; this is {kind} {index}" + (", the chief" if is_chief(strategy) else "")
    per_replica = int(global_batch_size) // max(replicas, 1)
    name = type(strategy).__name__
    for public, public_name in ((tf.distribute.MultiWorkerMirroredStrategy, "MultiWorkerMirroredStrategy"),
                                (tf.distribute.MirroredStrategy, "MirroredStrategy"),
                                (tf.distribute.TPUStrategy, "TPUStrategy"),
                                (tf.distribute.OneDeviceStrategy, "OneDeviceStrategy")):
        if isinstance(strategy, public):  # the public name, not the class's (CollectiveAllReduceStrategy)
            name = public_name
            break
    name = "default strategy (one device)" if name.startswith("_Default") else name
    return (f"distribute: {name}, {replicas} replica{'s' if replicas != 1 else ''}{where}, "
            f"global batch {int(global_batch_size)} ({per_replica} per replica){role}")


def latest_checkpoint(directory: str | os.PathLike | None) -> str | None:
    """The newest checkpoint the chief wrote in ``directory`` (``None`` if none, or no folder)."""
    if directory is None:
        return None
    return tf.train.latest_checkpoint(os.fspath(directory))


class ChiefCheckpoints:
    """``tf.train.CheckpointManager`` for a cluster: all workers save, only the chief's files stay.

    ``directory`` is the chief's folder (shared by all workers). The others save into
    ``directory/.worker-<index>-tmp`` and delete it right after: saving may run
    collective operations, so every worker must take part, but one copy is enough.
    """

    def __init__(self, checkpoint: tf.train.Checkpoint, directory: str | os.PathLike,
                 strategy: tf.distribute.Strategy, *, max_to_keep: int = 3):
        self.checkpoint = checkpoint
        self.directory = os.fspath(directory)
        self.chief = is_chief(strategy)
        kind, index = task(strategy)
        self.write_directory = (self.directory if self.chief
                                else os.path.join(self.directory, f".{kind}-{index}-tmp"))
        from .checkpoints import OwnRotation

        # Deletes only the checkpoints this process wrote (another run's are never removed or overwritten).
        self.manager = OwnRotation(checkpoint, self.write_directory, keep=max_to_keep)

    @property
    def latest_checkpoint(self) -> str | None:
        """The chief's newest checkpoint (the one every worker resumes from)."""
        return latest_checkpoint(self.directory)

    def restore_latest(self) -> str | None:
        """Restore the newest *readable* checkpoint, if any; returns its path and says which.

        A damaged newer one is named on stderr and skipped; when none reads,
        :class:`nst_tf.fast.checkpoints.CheckpointError` names the newest.
        """
        import sys

        from .checkpoints import restore_newest

        report = restore_newest(self.checkpoint, self.directory)
        for path, reason in report.damaged:
            print(f"nst-tf: skipping the damaged checkpoint {path} ({reason})", file=sys.stderr, flush=True)
        if report.path is not None:
            print(f"resuming from {report.path}", flush=True)
        return report.path

    def save(self, checkpoint_number: int) -> str:
        """Save (every worker must call this); returns the chief's checkpoint path."""
        path = self.manager.save(checkpoint_number=checkpoint_number)
        if self.chief:
            return path
        tf.io.gfile.rmtree(self.write_directory)
        return os.path.join(self.directory, os.path.basename(path))

    def discard_scratch(self) -> None:
        """Remove a worker's scratch folder that a stop left behind (a signal that lands inside :meth:`save`
        skips its clean-up); the chief's folder is never touched."""
        if not self.chief and tf.io.gfile.exists(self.write_directory):
            with contextlib.suppress(tf.errors.OpError, OSError):
                tf.io.gfile.rmtree(self.write_directory)
