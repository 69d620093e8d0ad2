"""Reading the costs of device-side steps in one transfer (nst_tf.progress.PendingLosses)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from nst_tf.progress import History, PendingLosses


def test_pending_losses_come_back_numbered_up_to_the_last_step_and_only_once():
    pending = PendingLosses()
    assert pending.flush(5) == [] and len(pending) == 0
    steps = [{"total": tf.constant(10.0 * k + 1), "content": tf.constant(float(k)), "style": tf.constant(0.5),
              "tv": tf.constant(-float(k))} for k in range(3)]
    for losses in steps:
        pending.append(losses)
    assert len(pending) == 3
    read = pending.flush(12)
    assert [step for step, _ in read] == [10, 11, 12]
    assert [values["total"] for _, values in read] == [1.0, 11.0, 21.0]
    assert [values["tv"] for _, values in read] == [0.0, -1.0, -2.0]
    assert all(type(value) is float for _, values in read for value in values.values())
    assert len(pending) == 0 and pending.flush(13) == []


def test_flushed_values_fill_a_history_like_direct_values():
    pending, history, direct = PendingLosses(), History(), History()
    rng = np.random.default_rng(0)
    for step in range(1, 5):
        values = {key: float(np.float32(rng.random())) for key in ("total", "content", "style", "tv")}
        direct.append(step, values, 0.0)
        pending.append({key: tf.constant(value) for key, value in values.items()})
    for step, values in pending.flush(4):
        history.append(step, values, 0.0)
    assert history == direct
