"""Checkpoints that never lose a run's work: resume from the newest *readable* one, delete only our own.

``tf.train.CheckpointManager`` alone trusts the folder's ``checkpoint`` state file: when the
newest checkpoint it names is missing or damaged, ``train-fast`` used to start silently from
step 0, and the manager's rotation (keep the last 3) then deleted the older, good
checkpoints of the earlier run. Here:

* :func:`checkpoints_in` lists every checkpoint in the folder (its ``*.index`` files, newest
  step first), whatever the state file says;
* :func:`restore_newest` tries them in that order and restores the first that reads; the
  damaged ones it skipped are named (:class:`RestoreReport`), and when checkpoints exist but
  none reads, :class:`CheckpointError` names the newest with the reason, in one line;
* :class:`OwnRotation` keeps the last ``keep`` checkpoints *this process wrote* and never
  deletes or overwrites another's: a step whose number is taken by another run's checkpoint
  is saved under ``ckpt-r<pid>-<step>`` instead.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import tensorflow as tf

__all__ = ["CheckpointError", "RestoreReport", "checkpoints_in", "restore_newest", "OwnRotation"]

_NUMBER = re.compile(r"-(\d+)\.index$")


class CheckpointError(ValueError):
    """No checkpoint in the folder can be read; the message names the newest and why (one line)."""


@dataclass
class RestoreReport:
    """What :func:`restore_newest` did: the checkpoint restored (or ``None``) and the ones skipped."""

    path: str | None = None
    damaged: list[tuple[str, str]] = field(default_factory=list)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def checkpoints_in(directory: str | os.PathLike) -> list[str]:
    """Checkpoint prefixes in ``directory`` (``.../ckpt-300``), the highest step first."""
    folder = os.fspath(directory)
    if not tf.io.gfile.isdir(folder):
        return []
    found = []
    for name in tf.io.gfile.listdir(folder):
        match = _NUMBER.search(name)
        if match and not name.startswith("."):
            prefix = os.path.join(folder, name[: -len(".index")])
            found.append((int(match.group(1)), prefix))
    return [prefix for _, prefix in sorted(found, reverse=True)]


def restore_newest(checkpoint: tf.train.Checkpoint, directory: str | os.PathLike) -> RestoreReport:
    """Restore the newest checkpoint of ``directory`` that reads (see the module docstring)."""
    report = RestoreReport()
    candidates = checkpoints_in(directory)
    for prefix in candidates:
        try:
            checkpoint.restore(prefix).assert_existing_objects_matched()
        except Exception as error:  # noqa: BLE001 - a truncated, corrupt or foreign file: try the next one
            report.damaged.append((prefix, _one_line(error)))
            continue
        report.path = prefix
        return report
    if report.damaged:
        newest, reason = report.damaged[0]
        raise CheckpointError(f"no checkpoint in {os.fspath(directory)} can be read; the newest, {newest}, is "
                              f"damaged ({reason}); move it away or choose another --checkpoint-dir")
    return report


class OwnRotation:
    """Save through a ``CheckpointManager`` that deletes nothing; keep our last ``keep``, touch no other."""

    def __init__(self, checkpoint: tf.train.Checkpoint, directory: str, keep: int = 3):
        self.checkpoint = checkpoint
        self.directory = directory
        self.keep = keep
        self.written: list[str] = []
        self._manager = tf.train.CheckpointManager(checkpoint, directory, max_to_keep=None)
        self._own_name: tf.train.CheckpointManager | None = None

    def save(self, checkpoint_number: int) -> str:
        taken = tf.io.gfile.exists(os.path.join(self.directory, f"ckpt-{int(checkpoint_number)}.index"))
        mine = os.path.join(self.directory, f"ckpt-{int(checkpoint_number)}") in self.written
        manager = self._manager
        if taken and not mine:  # another run's checkpoint has this number: keep it, use our own name
            if self._own_name is None:
                self._own_name = tf.train.CheckpointManager(self.checkpoint, self.directory, max_to_keep=None,
                                                            checkpoint_name=f"ckpt-r{os.getpid()}")
            manager = self._own_name
        path = manager.save(checkpoint_number=checkpoint_number)
        self.written.append(path)
        while len(self.written) > self.keep:
            old = self.written.pop(0)
            for name in tf.io.gfile.glob(old + ".*"):
                tf.io.gfile.remove(name)
        return path
