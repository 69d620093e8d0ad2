"""Shared pieces of the exercise checks."""

from __future__ import annotations

import textwrap

import numpy as np
import tensorflow as tf


class ExerciseError(AssertionError):
    """An exercise answer is not right yet; the message says what to look at."""


def fail(message: str) -> None:
    """Raise :class:`ExerciseError` with ``message`` wrapped as one friendly paragraph."""
    raise ExerciseError("\n" + textwrap.fill(" ".join(message.split()), width=88))


def passed(what: str) -> None:
    print(f"\N{WHITE HEAVY CHECK MARK} {what}: all tests passed.")


def require_tensor(value, what: str) -> tf.Tensor:
    """The student's result must be a TensorFlow tensor (NumPy inside breaks gradients)."""
    if not isinstance(value, (tf.Tensor, tf.Variable)):
        fail(
            f"{what} returned a {type(value).__name__}, not a TensorFlow tensor. Use tf.* operations "
            "(tf.reduce_sum, tf.matmul, ...) instead of NumPy, so that gradients can flow through it."
        )
    return tf.convert_to_tensor(value)


def close(a, b, rtol: float = 1e-4, atol: float = 1e-6) -> bool:
    return bool(np.allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol))
