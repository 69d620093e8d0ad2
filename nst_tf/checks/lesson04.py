"""Checks for lesson 04: one optimisation step on the pixels.

The exercise is ``train_step(generated_image, optimizer, loss_fn) -> loss``: compute
``loss_fn(generated_image)`` under a ``tf.GradientTape``, take the gradient with respect
to the image (a ``tf.Variable`` of shape ``(1, H, W, 3)``), let the optimiser apply it,
clip the pixels to [0, 1], and return the loss tensor.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import tensorflow as tf

from ._common import fail, passed

__all__ = ["check_train_step"]

_STEPS = 10
_SHAPE = (1, 8, 10, 3)


class _WatchingOptimizer:
    """Wraps a Keras optimiser and looks at what the student hands to it."""

    def __init__(self, optimizer, image: tf.Variable):
        self._optimizer, self._image, self.calls = optimizer, image, 0

    def _inspect(self, pairs) -> None:
        pairs = list(pairs)
        self.calls += 1
        if not pairs:
            fail("optimizer.apply_gradients got an empty list: pass [(gradient, generated_image)].")
        for gradient, variable in pairs:
            if gradient is None:
                fail(
                    "The gradient is None: TensorFlow found no path from the loss to the image. Compute the "
                    "loss *inside* `with tf.GradientTape() as tape:` from generated_image itself (not from a "
                    "copy made before the tape), and ask for tape.gradient(loss, generated_image)."
                )
            if variable is not self._image:
                fail(
                    "The optimiser was given another variable than generated_image. The image is the only "
                    "thing we train: optimizer.apply_gradients([(gradient, generated_image)])."
                )
            if tuple(gradient.shape) != tuple(variable.shape):
                fail(
                    f"The gradient has shape {list(gradient.shape)} but the image {list(variable.shape)}: take "
                    "the gradient of the loss with respect to generated_image."
                )

    def apply_gradients(self, grads_and_vars, *args, **kwargs):
        pairs = list(grads_and_vars)
        self._inspect(pairs)
        return self._optimizer.apply_gradients(pairs, *args, **kwargs)

    def apply(self, grads, trainable_variables=None, *args, **kwargs):
        grads = list(grads)
        variables = list(trainable_variables) if trainable_variables is not None else [self._image]
        self._inspect(zip(grads, variables))
        return self._optimizer.apply(grads, variables, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._optimizer, name)


def _problem(seed: int = 4):
    """A tiny image and a target whose best pixels partly lie outside [0, 1]."""
    rng = np.random.default_rng(seed)
    start = rng.uniform(0.2, 0.8, _SHAPE).astype(np.float32)
    target = tf.constant(rng.uniform(-0.4, 1.4, _SHAPE).astype(np.float32))

    def loss_fn(image):
        return tf.reduce_mean(tf.square(image - target))

    return start, loss_fn


def _one_step(train_step: Callable, image: tf.Variable, optimizer, loss_fn):
    try:
        result = train_step(image, optimizer, loss_fn)
    except NotImplementedError:
        fail("train_step still raises NotImplementedError: replace the `raise` line with your code.")
    except ValueError as error:
        if "no gradients" in str(error).lower():
            fail(
                "The optimiser got no gradient (None): compute the loss inside the GradientTape from "
                "generated_image itself, and take tape.gradient(loss, generated_image)."
            )
        raise
    return result


def check_train_step(train_step: Callable) -> None:
    """Exercise: ten steps on a tiny problem; the loss must fall and the pixels stay in [0, 1]."""
    import keras

    start, loss_fn = _problem()
    image = tf.Variable(start, name="generated_image")
    optimizer = _WatchingOptimizer(keras.optimizers.Adam(learning_rate=0.1), image)
    initial = float(loss_fn(image))

    result = _one_step(train_step, image, optimizer, loss_fn)
    if result is None:
        fail("train_step returned None: end it with `return loss`, the loss computed inside the tape.")
    if not isinstance(result, (tf.Tensor, tf.Variable)):
        fail(
            f"train_step returned a {type(result).__name__}; return the loss tensor itself (not loss.numpy() "
            "or float(loss)), so that the step also works inside a compiled tf.function."
        )
    if result.shape.rank != 0:
        fail(f"train_step returned a tensor of shape {result.shape.as_list()}; return the scalar loss.")
    after_one = float(loss_fn(image))
    if not (np.isclose(float(result), initial, rtol=1e-4) or np.isclose(float(result), after_one, rtol=1e-4)):
        fail(
            f"train_step returned {float(result):.4g}, but loss_fn(generated_image) was {initial:.4g} before the "
            "step. Return the value of loss_fn(generated_image) that you computed inside the tape."
        )
    if np.allclose(image.numpy(), start):
        if optimizer.calls == 0:
            fail(
                "The image did not change and the optimiser was never called: forgot to apply the gradients? "
                "Use optimizer.apply_gradients([(gradient, generated_image)])."
            )
        fail(
            "The optimiser was called but the image did not change. Update the variable in place (the "
            "optimiser does that; clipping needs generated_image.assign(...)) instead of binding a new name."
        )

    for _ in range(_STEPS - 1):
        _one_step(train_step, image, optimizer, loss_fn)
    final = float(loss_fn(image))
    if not final < 0.8 * initial:
        fail(
            f"After {_STEPS} steps the loss went from {initial:.4g} to {final:.4g}; it should fall. Is the "
            "sign wrong? The optimiser wants the gradient itself and subtracts it; do not negate it (that "
            "climbs the hill instead of descending)."
        )
    pixels = image.numpy()
    if pixels.min() < 0.0 or pixels.max() > 1.0:
        fail(
            f"The pixels went outside [0, 1] (from {pixels.min():.3f} to {pixels.max():.3f}): forgot to clip? "
            "After applying the gradients, generated_image.assign(tf.clip_by_value(generated_image, 0.0, 1.0))."
        )
    passed("train_step")
