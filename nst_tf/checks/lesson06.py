"""Checks for lesson 06: instance normalisation, as a function and as a Keras layer.

The exercise is ``instance_norm(features, epsilon=1e-5)``: for every image and every
channel of a batch ``(B, H, W, C)``, subtract the mean over the positions (axes 1 and 2)
and divide by ``sqrt(variance + epsilon)``. The reference is
:func:`nst_tf.fast.instance_norm`; here it is written again in NumPy. The second part,
``InstanceNorm``, is a ``keras.layers.Layer`` that creates a learned scale ``gamma``
(ones) and shift ``beta`` (zeros) per channel in ``build`` and returns
``gamma * instance_norm(x) + beta``. The package's versions (and Keras's
``GroupNormalization``, which can do the same) are hidden while the checks run.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import numpy as np
import tensorflow as tf

from ._common import (ExerciseError, WriteItYourself, _not_attempted, close, exercise_check, fail, passed,
                      require_gradient, require_tensor)

__all__ = ["check_instance_norm", "check_instance_norm_layer", "norm_for_training"]

#: Ready-made instance normalisations, unavailable to an answer while a lesson 06 check runs.
HIDDEN = (
    "nst_tf.fast:instance_norm",
    "nst_tf.fast:InstanceNormalization.call",
    "keras.layers:GroupNormalization.call",
    "keras.layers:LayerNormalization.call",  # over axes (1, 2) it is instance normalisation
    "nst_tf.losses.gram:mean_std",  # the means and deviations instance normalisation divides out
)


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
    except (NotImplementedError, ExerciseError, WriteItYourself):
        raise  # handled by exercise_check
    except Exception as error:  # noqa: BLE001 - any error is the student's to see
        fail(
            f"instance_norm raised {type(error).__name__}: {' '.join(str(error).split())[:200]}. A common cause: "
            "the mean and variance lost their axes. Use tf.nn.moments(features, axes=[1, 2], keepdims=True) (or "
            "tf.reduce_mean(..., axis=[1, 2], keepdims=True)) so they have shape (B, 1, 1, C) and broadcast."
        )
    return require_tensor(result, "instance_norm")


@exercise_check("instance_norm", HIDDEN)
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
    gradient = require_gradient(instance_norm, "instance_norm", features, weights=_features(7))
    if not np.any(gradient):
        fail("The gradient of instance_norm with respect to its input is zero: compute the result from `features`.")
    passed("Instance normalisation")


@exercise_check("InstanceNorm", HIDDEN)
def check_instance_norm_layer(layer_class: Callable) -> None:
    """Check the student's ``InstanceNorm`` Keras layer: weights made in ``build``, values, gradients."""
    import keras

    features = _features(8)
    channels = features.shape[-1]
    layer = layer_class()
    if not isinstance(layer, keras.layers.Layer):
        fail("InstanceNorm must be a Keras layer: class InstanceNorm(keras.layers.Layer).")
    if layer.weights:
        fail("InstanceNorm made its weights in __init__; make them in build(input_shape), where the number of "
             "channels, input_shape[-1], is known.")
    output = layer(tf.constant(features))
    if output is None:
        fail("InstanceNorm.call returned None: return the normalised, scaled and shifted features.")
    output = require_tensor(output, "InstanceNorm")
    gamma, beta = getattr(layer, "gamma", None), getattr(layer, "beta", None)
    if gamma is None or beta is None:
        fail("InstanceNorm needs two weights made with self.add_weight in build: self.gamma (initializer 'ones') "
             "and self.beta (initializer 'zeros').")
    for name, weight, start in (("gamma", gamma, 1.0), ("beta", beta, 0.0)):
        if tuple(weight.shape) != (channels,):
            fail(f"self.{name} has shape {tuple(weight.shape)}; it needs one number per channel: shape "
                 f"(input_shape[-1],) = ({channels},).")
        if not np.allclose(np.asarray(weight), start):
            fail(f"self.{name} should start at {start:g} (initializer '{'ones' if start else 'zeros'}'), so that a new "
                 "layer is plain instance normalisation.")
    trainable = {id(variable) for variable in layer.trainable_weights}
    if id(gamma) not in trainable or id(beta) not in trainable:
        fail("gamma and beta must be trainable weights (self.add_weight(..., trainable=True), the default).")
    normalised = _reference(features.astype(np.float64))
    if not close(output, normalised, rtol=1e-3, atol=1e-3):
        fail("A new InstanceNorm (gamma 1, beta 0) should give instance_norm(features): call your instance_norm "
             "in call(), with self.epsilon.")
    rng = np.random.default_rng(9)
    new_gamma, new_beta = rng.uniform(0.5, 2.0, channels), rng.uniform(-1.0, 1.0, channels)
    gamma.assign(np.asarray(new_gamma, np.float32))
    beta.assign(np.asarray(new_beta, np.float32))
    scaled = np.asarray(layer(tf.constant(features)))
    expected = normalised * new_gamma + new_beta
    if not close(scaled, expected, rtol=1e-3, atol=1e-3):
        if close(scaled, (normalised + new_beta) * new_gamma, rtol=1e-3, atol=1e-3):
            fail("The shift is scaled too: it is gamma * normalised + beta, not gamma * (normalised + beta).")
        if close(scaled, normalised, rtol=1e-3, atol=1e-3):
            fail("Changing gamma and beta does not change the output: multiply by self.gamma and add self.beta.")
        fail("With gamma and beta set, the output should be gamma * instance_norm(features) + beta, per channel.")
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(layer(tf.constant(features)) * _features(10))
    grads = tape.gradient(total, [gamma, beta])
    if any(g is None for g in grads):
        fail("No gradient reaches gamma or beta: use them as tensors in call (self.gamma * ... + self.beta), "
             "not through NumPy.")
    require_gradient(layer, "InstanceNorm", features, weights=_features(11))
    passed("InstanceNorm layer")


def _first_sentence(error: BaseException) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    if "Error encountered:" in text:  # Keras wraps the error raised in call(): keep the error itself
        text = text.split("Error encountered:", 1)[1].split("\n\n", 2)[1] if "\n\n" in text else text
    text = " ".join(text.split())
    return (text.split(". ")[0].rstrip(".") or type(error).__name__)[:160]


def norm_for_training(layer_class: Callable[..., Any]) -> tuple[Callable[..., Any], str]:
    """``(norm, line)``: the layer lesson 06's network trains with, and one line saying which and why.

    The student's ``InstanceNorm`` if :func:`check_instance_norm_layer` passes and a small
    :func:`nst_tf.fast.transform_net` built with it runs and keeps its gradients; otherwise the
    package's :class:`nst_tf.fast.InstanceNormalization`, with the reason: not written yet (the
    stub still raises ``NotImplementedError``) or the check's first sentence. A wrong layer
    therefore never trains silently.
    """
    import contextlib
    import io

    from .. import fast

    package = "the package's fast.InstanceNormalization"
    try:
        layer_class()(tf.zeros((1, 2, 2, 1)))
    except NotImplementedError as error:
        if _not_attempted(error):
            return fast.InstanceNormalization, f"Training with {package}: your InstanceNorm is not written yet."
    except Exception:  # noqa: BLE001 - the check below names the problem
        pass
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # its "all tests passed" line is printed above already
            check_instance_norm_layer(layer_class)
    except ExerciseError as error:
        return fast.InstanceNormalization, (f"Training with {package}: your InstanceNorm does not pass its check "
                                            f"yet ({_first_sentence(error)}).")
    try:  # inside a network: unknown image sizes, a compiled step, gradients to every weight
        trial = fast.transform_net(2, 0, seed=0, norm=layer_class)
        step = tf.function(lambda images: trial(images, training=True))
        with tf.GradientTape() as tape:
            total = tf.reduce_sum(step(tf.random.uniform((2, 12, 10, 3), seed=1)))
        gradients = tape.gradient(total, trial.trainable_variables)
        if any(gradient is None for gradient in gradients) or not np.isfinite(float(total)):
            raise ValueError("some weights got no gradient or the output was not finite")
    except Exception as error:  # noqa: BLE001 - whatever breaks, the lesson trains with the package's layer
        return fast.InstanceNormalization, (f"Training with {package}: your InstanceNorm passes its check but fails "
                                            f"inside the network, which takes images of any size "
                                            f"({_first_sentence(error)}).")
    return layer_class, "Training with your InstanceNorm (it passes its check): your layer normalises this network."
