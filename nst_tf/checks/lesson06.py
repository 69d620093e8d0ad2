"""Checks for lesson 06: instance normalisation.

The exercise is ``instance_norm(features, epsilon=1e-5)``: for every image and every
channel of a batch ``(B, H, W, C)``, subtract the mean over the positions (axes 1 and 2)
and divide by ``sqrt(variance + epsilon)``. The reference is
:func:`nst_tf.fast.instance_norm`; here it is written again in NumPy.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import tensorflow as tf

from ._common import close, fail, passed, require_tensor

__all__ = ["check_instance_norm"]


def _reference(features: np.ndarray, epsilon: float = 1e-5) -> np.ndarray:
    mean = features.mean(axis=(1, 2), keepdims=True)
    variance = features.var(axis=(1, 2), keepdims=True)
    return (features - mean) / np.sqrt(variance + epsilon)


def _features(seed: int = 6) -> np.ndarray:
    """Three images, four channels, each channel with its own scale and offset (so mistakes show)."""
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.5, 20.0, (3, 1, 1, 4))
    offset = rng.uniform(-10.0, 10.0, (3, 1, 1, 4))
    return (rng.normal(size=(3, 5, 7, 4)) * scale + offset).astype(np.float32)


def _call(instance_norm: Callable, features: np.ndarray) -> tf.Tensor:
    try:
        result = instance_norm(tf.constant(features))
    except Exception as error:  # noqa: BLE001 - any error is the student's to see
        fail(
            f"instance_norm raised {type(error).__name__}: {' '.join(str(error).split())[:200]}. A common cause: "
            "the mean and variance lost their axes. Use tf.nn.moments(features, axes=[1, 2], keepdims=True) (or "
            "tf.reduce_mean(..., axis=[1, 2], keepdims=True)) so they have shape (B, 1, 1, C) and broadcast."
        )
    return require_tensor(result, "instance_norm")


def check_instance_norm(instance_norm: Callable) -> None:
    """Check the student's ``instance_norm(features, epsilon=1e-5)`` (lesson 06)."""
    features = _features()
    result = _call(instance_norm, features)
    if tuple(result.shape) != features.shape:
        fail(
            f"For features of shape {list(features.shape)} instance_norm returned shape {list(result.shape)}. "
            "Normalising changes the values, never the shape: keep the axes with keepdims=True and do not "
            "reshape."
        )
    flat = features.copy()
    flat[1, :, :, 2] = 3.0  # a channel with no variation at all
    flat_result = _call(instance_norm, flat).numpy()
    if not np.all(np.isfinite(flat_result)):
        fail(
            "A channel whose values are all equal gave NaN or infinity: its variance is 0. Divide by "
            "tf.sqrt(variance + epsilon) (or multiply by tf.math.rsqrt(variance + epsilon)); epsilon is "
            "there for exactly this case."
        )
    output = result.numpy()
    alone = _call(instance_norm, features[:1]).numpy()
    if not close(alone, output[:1], rtol=1e-3, atol=1e-4):
        fail(
            "The result for the first image changes when other images are in the batch. That is batch "
            "normalisation: the mean and variance were taken over the batch axis too. Instance normalisation "
            "uses the positions of one image only: axes=[1, 2]."
        )
    means = output.mean(axis=(1, 2))
    if not np.allclose(means, 0.0, atol=1e-3):
        if np.allclose(output.mean(axis=(1, 2, 3)), 0.0, atol=1e-3):
            fail(
                "Each image has mean 0 but its channels do not. You averaged over the channels as well "
                "(axes=[1, 2, 3], layer normalisation). Every channel gets its own mean and variance: "
                "axes=[1, 2]."
            )
        fail(
            "After normalising, each channel of each image should have mean 0 over its positions. Subtract the "
            "mean taken over axes [1, 2] (height and width) with keepdims=True."
        )
    deviations = output.std(axis=(1, 2))
    if not np.allclose(deviations, 1.0, atol=1e-2):
        expected_if_variance = features.std(axis=(1, 2)) / (features.var(axis=(1, 2)) + 1e-5)
        if np.allclose(deviations, expected_if_variance, rtol=1e-2):
            fail(
                "The channels have mean 0 but not standard deviation 1: you divided by the variance. Divide "
                "by the standard deviation, tf.sqrt(variance + epsilon)."
            )
        fail(
            "The channels have mean 0 but not standard deviation 1. Divide (x - mean) by "
            "tf.sqrt(variance + epsilon), with the variance over axes [1, 2] of the same image and channel."
        )
    if not close(output, _reference(features), rtol=1e-3, atol=1e-3):
        fail(
            "Mean 0 and standard deviation 1 per channel, but the values differ from the reference. Use the "
            "variance (tf.nn.moments gives it), not the unbiased estimate with N - 1, and epsilon=1e-5."
        )
    passed("Instance normalisation")
