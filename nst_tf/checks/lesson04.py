"""Checks for lesson 04: the total cost and one optimisation step on the pixels.

``make_total_cost(extractor, content_image, style_image, content_layer,
style_layer_weights, content_weight, style_weight, tv_weight)`` returns
``total_cost(generated_image)``, built from the student's lesson 03 costs (checked with a
small stand-in extractor whose features are written again here in NumPy).

The second exercise is ``train_step(generated_image, optimizer, loss_fn) -> loss``: compute
``loss_fn(generated_image)`` under a ``tf.GradientTape``, take the gradient with respect
to the image (a ``tf.Variable`` of shape ``(1, H, W, 3)``), let the optimiser apply it,
clip the pixels to [0, 1], and return the loss tensor.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np
import tensorflow as tf

from . import lesson03
from ._common import close, exercise_check, fail, passed, require_gradient, require_tensor

__all__ = ["check_total_cost", "check_train_step"]

#: The package's own costs (lesson 03's list) and loop, unavailable to an answer while a lesson 04 check runs.
HIDDEN = lesson03.HIDDEN + ("nst_tf.transfer.style_transfer:StyleTransfer.make_adam_step", "nst_tf.optim.solvers:ImageSolver.make_adam_step")

_STEPS = 10
_SHAPE = (1, 8, 10, 3)


class _WatchingOptimizer:
    """Wraps a Keras optimiser and looks at what the student hands to it."""

    def __init__(self, optimizer: Any, image: tf.Variable) -> None:
        self._optimizer, self._image, self.calls = optimizer, image, 0
        self.gradients: list[np.ndarray] = []

    def _inspect(self, pairs: Iterable[tuple[Any, Any]]) -> None:
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
            self.gradients.append(np.asarray(gradient))

    def apply_gradients(self, grads_and_vars: Iterable[tuple[Any, Any]], *args: Any, **kwargs: Any) -> Any:
        pairs = list(grads_and_vars)
        self._inspect(pairs)
        return self._optimizer.apply_gradients(pairs, *args, **kwargs)

    def apply(self, grads: Iterable[Any], trainable_variables: Iterable[Any] | None = None, *args: Any,
              **kwargs: Any) -> Any:
        grads = list(grads)
        variables = list(trainable_variables) if trainable_variables is not None else [self._image]
        self._inspect(zip(grads, variables))
        return self._optimizer.apply(grads, variables, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._optimizer, name)


def _problem(seed: int = 4, with_target: bool = False) -> tuple[Any, ...]:
    """A tiny image and a target whose best pixels partly lie outside [0, 1]."""
    rng = np.random.default_rng(seed)
    start = rng.uniform(0.2, 0.8, _SHAPE).astype(np.float32)
    target_array = rng.uniform(-0.4, 1.4, _SHAPE).astype(np.float32)
    target = tf.constant(target_array)

    def loss_fn(image: tf.Tensor) -> tf.Tensor:
        return tf.reduce_mean(tf.square(image - target))

    return (start, loss_fn, target_array) if with_target else (start, loss_fn)


def _one_step(train_step: Callable, image: tf.Variable, optimizer: Any, loss_fn: Callable) -> Any:
    try:
        result = train_step(image, optimizer, loss_fn)
    except ValueError as error:
        if "no gradients" in str(error).lower():
            fail(
                "The optimiser got no gradient (None): compute the loss inside the GradientTape from "
                "generated_image itself, and take tape.gradient(loss, generated_image)."
            )
        raise
    return result


@exercise_check("train_step", HIDDEN)
def check_train_step(train_step: Callable) -> None:
    """Exercise: ten steps on a tiny problem; the loss must fall and the pixels stay in [0, 1].

    The optimiser handed in is a spy: the step must call it (a hand-written update fails),
    with the gradient of the loss, which is compared with its formula ``2 (x - t) / N``.
    """
    import keras

    start, loss_fn, target = _problem(with_target=True)
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

    if optimizer.calls == 0:
        fail(
            "The image changed but the optimiser you were given was never called: you wrote your own update "
            "rule. Use the optimiser: optimizer.apply_gradients([(gradient, generated_image)]) - that is how the "
            "same step works with Adam, SGD or any other optimiser (and its learning rate and momentum)."
        )
    expected_gradient = 2.0 * (start.astype(np.float64) - target) / start.size
    if not close(optimizer.gradients[0], expected_gradient, rtol=1e-3, atol=1e-7):
        if close(optimizer.gradients[0], -expected_gradient, rtol=1e-3, atol=1e-7):
            fail(
                "The optimiser got the negated gradient. Is the sign wrong? The optimiser wants the gradient "
                "itself and subtracts it; do not negate it (that climbs the hill instead of descending)."
            )
        fail(
            "The optimiser got something other than the gradient of loss_fn(generated_image) with respect to "
            "generated_image. Hand it tape.gradient(loss, generated_image) unchanged."
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


# ----- the total cost ----------------------------------------------------------------------------

_CONTENT_LAYER = "block4_conv2"
_OTHER_CONTENT_LAYER = "block5_conv2"  # the check asks for this one too: a hard-coded content layer fails
_STYLE_WEIGHTS = {"block1_conv1": 0.4, "block2_conv1": 0.6}


class _StandInExtractor:
    """A tiny differentiable 'network' with VGG's layer names; counts how often it is called."""

    def __init__(self, seed: int = 12):
        rng = np.random.default_rng(seed)
        self.matrices = {"block1_conv1": rng.normal(size=(3, 4)), "block2_conv1": rng.normal(size=(3, 5)),
                         "block4_conv2": rng.normal(size=(3, 6))}
        self.matrices[_OTHER_CONTENT_LAYER] = rng.normal(size=(3, 7))  # drawn last: the others stay as they were
        self.calls = 0

    def __call__(self, batch: Any) -> dict[str, tf.Tensor]:
        self.calls += 1
        batch = tf.convert_to_tensor(batch, tf.float32)
        pooled = tf.nn.avg_pool2d(batch, 2, 2, "VALID")
        out = {}
        for name, matrix in self.matrices.items():
            source = batch if name == "block1_conv1" else pooled
            out[name] = tf.nn.relu(tf.einsum("bhwc,cd->bhwd", source, tf.constant(matrix, tf.float32)))
        return out

    def numpy(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        batch = batch.astype(np.float64)
        b, h, w, c = batch.shape
        pooled = batch[:, : h // 2 * 2, : w // 2 * 2].reshape(b, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))
        return {name: np.maximum((batch if name == "block1_conv1" else pooled) @ matrix, 0.0)
                for name, matrix in self.matrices.items()}


def _costs_by_hand(features_c: dict[str, np.ndarray], features_s: dict[str, np.ndarray],
                   features_g: dict[str, np.ndarray], generated: np.ndarray,
                   content_layer: str = _CONTENT_LAYER) -> dict[str, float]:
    """The course's content and style costs and the 'l2' total variation, in NumPy."""
    a_c, a_g = features_c[content_layer], features_g[content_layer]
    content = float(np.sum((a_c - a_g) ** 2)) / (4.0 * a_c[0].size)
    style = 0.0
    for layer, weight in _STYLE_WEIGHTS.items():
        _, n_h, n_w, n_c = features_s[layer].shape
        flat_s = features_s[layer].reshape(n_h * n_w, n_c)
        flat_g = features_g[layer].reshape(n_h * n_w, n_c)
        style += weight * float(np.sum((flat_s.T @ flat_s - flat_g.T @ flat_g) ** 2)) / (4.0 * n_c**2 * (n_h * n_w) ** 2)
    down = generated[:, 1:] - generated[:, :-1]
    right = generated[:, :, 1:] - generated[:, :, :-1]
    tv = float(np.mean(down**2) + np.mean(right**2))
    return {"content": content, "style": style, "tv": tv}


@exercise_check("make_total_cost", HIDDEN)
def check_total_cost(make_total_cost: Callable) -> None:
    """Exercise: ``make_total_cost(extractor, content_image, style_image, content_layer, style_layer_weights,
    content_weight, style_weight, tv_weight)`` -> ``total_cost(generated_image)``.

    ``total_cost = content_weight * J_content + style_weight * J_style + tv_weight * J_tv``,
    with the lesson 03 costs. Each term is checked on its own (one weight at a time), then
    all together; the targets must be computed once, outside ``total_cost``; the gradient
    must reach the pixels.
    """
    rng = np.random.default_rng(13)
    shape = (1, 8, 10, 3)
    content_image, style_image, generated = (rng.uniform(0, 1, shape).astype(np.float32) for _ in range(3))
    by_hand = _StandInExtractor()
    costs = _costs_by_hand(by_hand.numpy(content_image), by_hand.numpy(style_image), by_hand.numpy(generated), generated)

    def build(weights: tuple[float, float, float], extractor: Any = None, content_layer: str = _CONTENT_LAYER
              ) -> Callable:
        extractor = extractor or _StandInExtractor()
        total_cost = make_total_cost(extractor, tf.constant(content_image), tf.constant(style_image), content_layer,
                                     dict(_STYLE_WEIGHTS), *weights)
        if total_cost is None or not callable(total_cost):
            fail("make_total_cost must return a function: define total_cost(generated_image) inside it and "
                 "return total_cost itself (not its value).")
        return total_cost

    def value(total_cost: Callable, image: np.ndarray = generated) -> float:
        result = require_tensor(total_cost(tf.constant(image)), "total_cost")
        if result.shape.rank != 0:
            fail(f"total_cost returned a tensor of shape {result.shape.as_list()}; return one number.")
        return float(result)

    terms = {"content": ((2.5, 0.0, 0.0), "content_weight * content_cost(content_features[content_layer], "
                         "generated_features[content_layer])"),
             "style": ((0.0, 3.0, 0.0), "style_weight * style_cost(style_features, generated_features, "
                       "style_layer_weights)"),
             "tv": ((0.0, 0.0, 7.0), "tv_weight * total_variation(generated_image) - of the image, not of features")}
    for term, (weights, formula) in terms.items():
        weight = max(weights)
        got = value(build(weights))
        expected = weight * costs[term]
        if close(got, expected, rtol=1e-4, atol=1e-9):
            continue
        others = {name: weight * cost for name, cost in costs.items() if name != term}
        swapped = [name for name, wrong in others.items() if close(got, wrong, rtol=1e-4, atol=1e-9)]
        if swapped:
            fail(f"With only {term}_weight set, your total cost is {swapped[0]}_weight's term: the weights and the "
                 "costs are paired the wrong way. Check the order of the arguments.")
        if close(got, costs[term], rtol=1e-4):
            fail(f"The {term} term is not multiplied by its weight: with {term}_weight = {weight} and the other "
                 f"weights 0, expected {expected:.5g}, got {got:.5g}. Use {formula}.")
        if abs(got) < 1e-12:
            fail(f"The {term} term is missing: with {term}_weight = {weight} and the other weights 0 the total cost "
                 f"is 0. Add {formula}.")
        fail(f"With {term}_weight = {weight} and the other weights 0, the total cost should be {expected:.5g}, but "
             f"yours is {got:.5g}. It should be {formula}. (If your lesson 03 functions passed their checks, look "
             "at which features you hand them: content from the content image, style from the style image.)")

    # Another content layer: the content term must follow the argument, not a name written into the code.
    other = _costs_by_hand(by_hand.numpy(content_image), by_hand.numpy(style_image), by_hand.numpy(generated), generated,
                           content_layer=_OTHER_CONTENT_LAYER)["content"]
    got = value(build((2.5, 0.0, 0.0), content_layer=_OTHER_CONTENT_LAYER))
    if not close(got, 2.5 * other, rtol=1e-4, atol=1e-9):
        hard_coded = close(got, 2.5 * costs["content"], rtol=1e-4, atol=1e-9)
        fail(f"With content_layer={_OTHER_CONTENT_LAYER!r} the content term should be {2.5 * other:.5g}, but yours is "
             f"{got:.5g}" + (f", the value for {_CONTENT_LAYER!r}: the content layer is written into your code. Use "
                             "the argument content_layer: features[content_layer]." if hard_coded else
                             ". Take the content features of the layer named by the argument content_layer."))

    spy = _StandInExtractor()
    total_cost = build((1.0, 2.0, 3.0), spy)
    made = spy.calls
    first = value(total_cost)
    second = value(total_cost, content_image)
    per_call = (spy.calls - made) / 2
    if per_call > 1:
        fail(
            f"Each call of total_cost runs the extractor {per_call:g} times. The content and style features never "
            "change: compute them once in make_total_cost (outside total_cost) and run the extractor only on the "
            "generated image inside it."
        )
    expected = costs["content"] + 2.0 * costs["style"] + 3.0 * costs["tv"]
    if not close(first, expected, rtol=1e-4):
        fail(f"Each term is right on its own but together they give {first:.5g} instead of {expected:.5g}: add "
             "the three weighted terms.")
    if not close(second, 2.0 * _costs_by_hand(by_hand.numpy(content_image), by_hand.numpy(style_image),
                                              by_hand.numpy(content_image), content_image)["style"]
                 + 3.0 * _costs_by_hand(by_hand.numpy(content_image), by_hand.numpy(style_image),
                                        by_hand.numpy(content_image), content_image)["tv"], rtol=1e-4):
        fail("total_cost gives the right value for one image but not for another: compute the generated "
             "image's features inside total_cost from its argument, every time it is called.")
    gradient = require_gradient(total_cost, "total_cost", generated)
    if not np.any(gradient):
        fail("The gradient of total_cost with respect to the generated image is zero: compute everything from it.")
    expected_gradient = _reference_gradient(content_image, style_image, generated, (1.0, 2.0, 3.0))
    if not close(gradient, expected_gradient, rtol=1e-3, atol=1e-4 * float(np.max(np.abs(expected_gradient)))):
        fail("The value of total_cost is right but its gradient is not: part of the cost is hidden from "
             "TensorFlow (a NumPy value, float(...), tf.stop_gradient). Compute all three terms from the generated "
             "image with tf operations, so the optimiser sees how each pixel changes the cost.")
    passed("make_total_cost")


def _reference_gradient(content_image: np.ndarray, style_image: np.ndarray, generated: np.ndarray,
                        weights: tuple[float, float, float]) -> np.ndarray:
    """The gradient of the total cost with respect to the pixels, from costs written here with tf operations."""
    extractor = _StandInExtractor()
    content_target = extractor(content_image)[_CONTENT_LAYER]
    style_features = extractor(style_image)

    def raw_gram(features: tf.Tensor) -> tf.Tensor:
        flat = tf.reshape(features, (-1, features.shape[-1]))
        return tf.matmul(flat, flat, transpose_a=True)

    image = tf.Variable(generated)
    with tf.GradientTape() as tape:
        features = extractor(image)
        a_g = features[_CONTENT_LAYER]
        content = tf.reduce_sum(tf.square(content_target - a_g)) / (4.0 * float(np.prod(a_g.shape[1:])))
        style = 0.0
        for layer, weight in _STYLE_WEIGHTS.items():
            _, n_h, n_w, n_c = features[layer].shape
            difference = raw_gram(style_features[layer]) - raw_gram(features[layer])
            style += weight * tf.reduce_sum(tf.square(difference)) / (4.0 * n_c**2 * (n_h * n_w) ** 2)
        down, right = image[:, 1:] - image[:, :-1], image[:, :, 1:] - image[:, :, :-1]
        tv = tf.reduce_mean(tf.square(down)) + tf.reduce_mean(tf.square(right))
        total = weights[0] * content + weights[1] * style + weights[2] * tv
    return np.asarray(tape.gradient(total, image))
