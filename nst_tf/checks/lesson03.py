"""Checks for lesson 03: content cost, style cost (one layer and weighted over layers), total variation.

The first two exercises take activations of shape ``(1, nH, nW, nC)`` (a batch of one image, as the
feature extractor returns them) and return a scalar tensor:

* ``content_cost(content_features, generated_features)``
  ``= 1/(4 nH nW nC) * sum((a_C - a_G)^2)``
* ``layer_style_cost(style_features, generated_features)``
  ``= 1/(4 nC^2 (nH nW)^2) * sum((G_S - G_G)^2)`` with raw Gram matrices
  ``G = A^T A`` where ``A`` is the ``(nH nW, nC)`` matrix of the activations.
* ``style_cost(style_features, generated_features, layer_weights)``
  ``= sum over the layers of layer_weights of lambda_l * layer_style_cost(...)``, with
  ``{layer name: activations}`` dicts (as the lesson 01 extractor returns them).
* ``total_variation(image)`` for ``(1, H, W, 3)``: the mean squared difference between
  vertical neighbours plus the mean squared difference between horizontal neighbours.

The package's own costs (``nst_tf.losses``) and Gram matrices are hidden while these run.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import tensorflow as tf

from ._common import close, exercise_check, fail, passed, require_gradient, require_tensor

__all__ = ["check_content_cost", "check_layer_style_cost", "check_style_cost", "check_total_variation"]

#: The package's own costs, unavailable to an answer while a lesson 03 check runs.
HIDDEN = (
    "nst_tf.losses.terms:content_loss",
    "nst_tf.losses.terms:style_layer_loss",
    "nst_tf.losses.terms:style_layer_loss_from_target",
    "nst_tf.losses.terms:style_loss",
    "nst_tf.losses.terms:tv_loss",
    "nst_tf.losses.terms:total_loss",
    "nst_tf.losses.gram:gram_matrix",
    "nst_tf.losses.masks:masked_statistic",  # a Gram matrix over a mask of ones is the Gram matrix
    "keras.losses:mean_squared_error",  # the content cost is a quarter of it: write the mean yourself
)

# Small, non-square maps with different numbers of rows, columns and channels, so that a
# swapped nH/nW/nC or a reshape that mixes channels and positions changes the result.
_SHAPES = ((1, 4, 6, 5), (1, 7, 3, 8))


def _activations(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """ReLU-like activations: non-negative, some exactly zero."""
    rng = np.random.default_rng(seed)
    return np.maximum(rng.normal(0.3, 1.0, shape), 0.0).astype(np.float32)


def _call(fn: Callable, name: str, first: np.ndarray, second: np.ndarray) -> object:
    return fn(tf.constant(first), tf.constant(second))  # NotImplementedError: see exercise_check


def _scalar(fn: Callable, name: str, first: np.ndarray, second: np.ndarray) -> float:
    """Call ``fn``; require a TensorFlow scalar; return it as a float."""
    value = require_tensor(_call(fn, name, first, second), name)
    if value.shape.rank != 0:
        fail(
            f"{name} returned a tensor of shape {value.shape.as_list()}, but a cost is a single number. "
            "Sum over every axis: tf.reduce_sum(...) without an axis argument."
        )
    return float(value)


def _gradient_flows(fn: Callable, name: str, first: np.ndarray, second: np.ndarray) -> None:
    generated = tf.Variable(second)
    with tf.GradientTape() as tape:
        value = fn(tf.constant(first), generated)
    gradient = tape.gradient(value, generated)
    if gradient is None:
        fail(
            f"No gradient flows through {name}: somewhere the tensors left TensorFlow (np.* functions, "
            ".numpy(), float(...)). Use only tf.* operations, so the optimiser can follow the cost back to "
            "the pixels."
        )


def _common_properties(fn: Callable, name: str, first: np.ndarray, second: np.ndarray) -> float:
    """Tensor, scalar, cost(A, A) = 0, cost(A, B) > 0, gradients, symmetry; returns cost(A, B)."""
    value = _scalar(fn, name, first, second)
    same = _scalar(fn, name, second, second)
    if abs(same) > 1e-6 * max(1.0, abs(value)):
        fail(
            f"{name}(A, A) gave {same:.4g}, but the cost of an image against itself must be 0. "
            "Check that you subtract the two arguments' activations (or Gram matrices), not something "
            "computed from one of them only."
        )
    if not np.isfinite(value):
        fail(f"{name} returned {value}: look for a division by zero (read nH, nW, nC from the shape).")
    if value < 0:
        fail(
            f"{name} returned a negative value ({value:.4g}). A cost is a sum of squares: did you forget to "
            "square the differences (tf.square) before summing?"
        )
    if value == 0:
        fail(f"{name} returned 0 for two different inputs; it must be positive when they differ.")
    swapped = _scalar(fn, name, second, first)
    if swapped < 0:
        fail(
            f"{name}(B, A) returned a negative value ({swapped:.4g}). A cost is a sum of squares: did you "
            "forget to square the differences (tf.square) before summing?"
        )
    if not close(value, swapped, rtol=1e-4):
        fail(
            f"{name}(A, B) = {value:.4g} but {name}(B, A) = {swapped:.4g}; the cost must not depend on the "
            "order of the two images. Compute both sides the same way and square their difference."
        )
    _gradient_flows(fn, name, first, second)
    return value


def _raw_gram(features: np.ndarray) -> np.ndarray:
    _, n_h, n_w, n_c = features.shape
    flat = features.reshape(n_h * n_w, n_c).astype(np.float64)
    return flat.T @ flat


def _explain_factor(name: str, value: float, expected: float, factors: dict[str, float]) -> None:
    """Fail with the first message whose factor explains ``value / expected``, else a generic one."""
    for message, factor in factors.items():
        if close(value, expected * factor, rtol=1e-3, atol=0.0):
            fail(message)
    fail(
        f"{name} returned {value:.6g} where {expected:.6g} was expected ({value / expected:.4g} times too "
        "large). Check the constant in front of the sum and that nH, nW, nC come from the tensor's shape "
        "(1, nH, nW, nC) - the first axis is the batch."
    )


@exercise_check("content_cost", HIDDEN)
def check_content_cost(content_cost: Callable) -> None:
    """Exercise: ``content_cost(content_features, generated_features) = sum((a_C - a_G)^2) / (4 nH nW nC)``."""
    name = "content_cost"
    for seed, shape in enumerate(_SHAPES):
        a_content, a_generated = _activations(shape, 10 + seed), _activations(shape, 20 + seed)
        value = _common_properties(content_cost, name, a_content, a_generated)
        _, n_h, n_w, n_c = shape
        difference = a_content.astype(np.float64) - a_generated
        squared_sum = float(np.sum(difference**2))
        expected = squared_sum / (4 * n_h * n_w * n_c)
        if close(value, expected, rtol=1e-4):
            continue
        if close(value, np.sum(np.abs(difference)) / (4 * n_h * n_w * n_c), rtol=1e-3):
            fail("You summed the absolute differences; the content cost squares them (tf.square) before summing.")
        if close(value, np.sqrt(squared_sum) / (4 * n_h * n_w * n_c), rtol=1e-3):
            fail("tf.norm takes a square root; the content cost is the plain sum of squared differences.")
        _explain_factor(
            name,
            value,
            expected,
            {
                "Your value is 4 times too large: that is the mean squared error (tf.reduce_mean, the 'mse' "
                "normalization). The course's cost divides the sum by 4 * nH * nW * nC.": 4.0,
                "Your value is 0.5 * sum((a_C - a_G)^2): that is the paper's ('gatys') content cost. This "
                "exercise asks for the course's constant, 1 / (4 * nH * nW * nC).": 2.0 * n_h * n_w * n_c,
                "You forgot the normalisation: divide the sum of squares by 4 * nH * nW * nC.": 4.0 * n_h * n_w * n_c,
                "Your value is nC times too large: the constant is 1 / (4 * nH * nW * nC), with the number of "
                "channels too. Read nH, nW, nC from the shape (1, nH, nW, nC): the first axis is the batch.": float(n_c),
                "tf.reduce_mean already divides by nH * nW * nC, and then you divided by it again. Either sum "
                "the squares (tf.reduce_sum) and divide by 4 * nH * nW * nC, or take the mean and divide by 4 "
                "only.": 1.0 / (n_h * n_w * n_c),
                "You divided by 4 * nH * nW * nC twice: divide the sum of squares once.": 1.0 / (4.0 * n_h * n_w * n_c),
                "Your value is (nH*nW*nC)^2 times too large: Python reads x / 4 * nH * nW * nC as "
                "(x / 4) * nH * nW * nC. Put the whole constant in brackets: x / (4 * nH * nW * nC).": float(n_h * n_w * n_c) ** 2,
            },
        )
    passed("content_cost")


@exercise_check("layer_style_cost", HIDDEN)
def check_layer_style_cost(layer_style_cost: Callable) -> None:
    """Exercise: ``layer_style_cost(style_features, generated_features)`` with raw Gram matrices.

    ``= sum((G_S - G_G)^2) / (4 nC^2 (nH nW)^2)``, ``G = A^T A`` with ``A`` of shape ``(nH nW, nC)``.
    """
    name = "layer_style_cost"
    for seed, shape in enumerate(_SHAPES):
        a_style, a_generated = _activations(shape, 30 + seed), _activations(shape, 40 + seed)
        value = _common_properties(layer_style_cost, name, a_style, a_generated)
        _, n_h, n_w, n_c = shape
        positions = n_h * n_w
        constant = 4.0 * n_c**2 * positions**2
        expected = float(np.sum((_raw_gram(a_style) - _raw_gram(a_generated)) ** 2)) / constant

        # Where things are must not matter: shuffle the generated map's positions.
        order = np.random.default_rng(50 + seed).permutation(positions)
        shuffled = a_generated.reshape(1, positions, n_c)[:, order].reshape(shape)
        moved = _scalar(layer_style_cost, name, a_style, shuffled)
        if close(value, expected, rtol=1e-4) and close(moved, value, rtol=1e-4):
            continue

        flat_s = a_style.reshape(positions, n_c).astype(np.float64)
        flat_g = a_generated.reshape(positions, n_c).astype(np.float64)
        outer = float(np.sum((flat_s @ flat_s.T - flat_g @ flat_g.T) ** 2)) / constant
        if close(value, outer, rtol=1e-3):
            fail(
                "Your Gram matrix is (nH*nW) x (nH*nW): it compares positions, not channels. With A of shape "
                "(nH*nW, nC), the Gram matrix is A^T A, of shape (nC, nC) - transpose the *first* factor."
            )
        # A reshape straight to (nC, nH*nW) mixes channels and positions.
        mixed_s = a_style.reshape(n_c, positions).astype(np.float64)
        mixed_g = a_generated.reshape(n_c, positions).astype(np.float64)
        mixed = float(np.sum((mixed_s @ mixed_s.T - mixed_g @ mixed_g.T) ** 2)) / constant
        if close(value, mixed, rtol=1e-3) or not close(moved, value, rtol=1e-4):
            fail(
                "Your style cost changes when the positions in the image are shuffled, so your Gram matrix is "
                "not a sum over positions. Usually the reshape is the culprit: tf.reshape(a, (nC, nH*nW)) "
                "mixes channels and positions. Reshape to (nH*nW, nC) and then transpose (or tf.transpose "
                "the map to (nC, nH, nW) before reshaping)."
            )
        gram_difference = _raw_gram(a_style) - _raw_gram(a_generated)
        if close(value, np.sum(np.abs(gram_difference)) / constant, rtol=1e-3) or close(
            value, np.sum(gram_difference) / constant, rtol=1e-3
        ):
            fail("You forgot to square: sum tf.square(G_S - G_G), the squared differences of the Gram matrices.")
        if close(value, np.sqrt(np.sum(gram_difference**2)) / constant, rtol=1e-3):
            fail("tf.norm takes a square root; the style cost is the plain sum of squared differences.")
        _explain_factor(
            name,
            value,
            expected,
            {
                "Your value is (nH*nW)^2 times too small: the Gram matrices were already divided by the number "
                "of positions (as nst_tf.losses.gram.gram_matrix does by default). This exercise uses raw Gram "
                "matrices, the plain sum over positions; the constant in front does the dividing.": 1.0 / positions**2,
                "Your value is 4 times too large: the constant is 1 / (4 * nC^2 * (nH*nW)^2) - keep the 4 "
                "(tf.reduce_mean of the squared Gram difference is missing it too).": 4.0,
                "Your value is 4 * (nH*nW)^2 times too large: that is the mean of (G_S - G_G)^2 over the "
                "nC*nC entries. Divide the sum by 4 * nC^2 * (nH*nW)^2.": 4.0 * positions**2,
                "Your value is nC times too large: the constant has nC squared, 1 / (4 * nC^2 * (nH*nW)^2).": float(n_c),
                "Your value is nH*nW times too large: the number of positions is squared in the constant, "
                "1 / (4 * nC^2 * (nH*nW)^2).": float(positions),
                "You forgot the normalisation: divide the sum of squares by 4 * nC^2 * (nH*nW)^2.": constant,
                "Your value is far too large: Python reads x / 4 * nC**2 * (nH*nW)**2 as "
                "(x / 4) * nC**2 * (nH*nW)**2. Put the whole constant in brackets: "
                "x / (4 * nC**2 * (nH*nW)**2).": (constant / 4.0) ** 2,
            },
        )
    passed("layer_style_cost")


def _course_style(style: np.ndarray, generated: np.ndarray) -> float:
    _, n_h, n_w, n_c = style.shape
    return float(np.sum((_raw_gram(style) - _raw_gram(generated)) ** 2)) / (4.0 * n_c**2 * (n_h * n_w) ** 2)


@exercise_check("style_cost", HIDDEN)
def check_style_cost(style_cost: Callable) -> None:
    """Exercise: ``style_cost(style_features, generated_features, layer_weights)`` = ``sum_l lambda_l E_l``.

    The features are ``{layer: (1, nH, nW, nC)}`` dicts that hold one layer more than
    ``layer_weights`` names (as an extractor for content and style layers returns them);
    the weights do not sum to 1, so that a renormalisation shows. ``E_l`` is the course's
    per-layer cost, computed here with NumPy.
    """
    name = "style_cost"
    shapes = {"block1_conv1": (1, 6, 8, 3), "block2_conv1": (1, 3, 4, 5), "block3_conv1": (1, 2, 3, 6)}
    layer_weights = {"block1_conv1": 0.5, "block2_conv1": 2.0, "block3_conv1": 1.0}
    style = {layer: _activations(shape, 60 + i) for i, (layer, shape) in enumerate(shapes.items())}
    generated = {layer: _activations(shape, 70 + i) for i, (layer, shape) in enumerate(shapes.items())}
    # One more layer that is not a style layer (the content layer): it must not count.
    style["block4_conv2"], generated["block4_conv2"] = _activations((1, 2, 2, 4), 80), _activations((1, 2, 2, 4), 81)
    tensors = lambda features: {layer: tf.constant(value) for layer, value in features.items()}  # noqa: E731
    costs = {layer: _course_style(style[layer], generated[layer]) for layer in layer_weights}
    expected = sum(layer_weights[layer] * costs[layer] for layer in layer_weights)

    try:
        result = style_cost(tensors(style), tensors(generated), dict(layer_weights))
    except KeyError as error:
        fail(
            f"style_cost raised KeyError {error}: the features hold more layers than the style layers (the content "
            "layer too). Loop over layer_weights (for layer, weight in layer_weights.items()) and look each "
            "layer up in the two dicts."
        )
    value = float(require_tensor(result, name)) if result is not None else fail(
        f"{name} returned None: return the weighted sum.")
    if require_tensor(result, name).shape.rank != 0:
        fail(f"{name} returned a tensor of shape {result.shape.as_list()}; return a single number (a scalar tensor).")
    if close(value, expected, rtol=1e-4):
        zero = float(style_cost(tensors(style), tensors(style), dict(layer_weights)))
        if abs(zero) > 1e-6 * abs(expected):
            fail(f"style_cost(S, S, weights) gave {zero:.4g}; the style cost of an image against itself must be 0.")
        layer = "block2_conv1"
        gradient = require_gradient(
            lambda features: style_cost({**tensors(style)}, {**tensors(generated), layer: features}, dict(layer_weights)),
            name, generated[layer],
        )
        if not np.any(gradient):
            fail(f"The gradient of style_cost with respect to the activations of {layer} is zero; does every layer count?")
        # dE/dF for E = sum (G_S - G_G)^2 / (4 nC^2 P^2), G = F^T F: -F (G_S - G_G) / (nC^2 P^2), times lambda_l.
        _, n_h, n_w, n_c = generated[layer].shape
        flat = generated[layer].reshape(n_h * n_w, n_c).astype(np.float64)
        difference = _raw_gram(style[layer]) - _raw_gram(generated[layer])
        expected_gradient = -layer_weights[layer] * (flat @ difference) / (n_c**2 * (n_h * n_w) ** 2)
        if not close(gradient.reshape(n_h * n_w, n_c), expected_gradient, rtol=1e-3,
                     atol=1e-4 * float(np.max(np.abs(expected_gradient)))):
            fail(f"The value of {name} is right but its gradient with respect to {layer} is not: part of the cost "
                 "is hidden from TensorFlow (a NumPy value, tf.stop_gradient). Compute it from the features with "
                 "tf operations only.")
        passed(name)
        return
    everything = {**layer_weights, "block4_conv2": 1.0}
    candidates = {
        "You added the layers' costs without their weights: multiply each layer's cost by its lambda_l "
        "(layer_weights[layer]) before summing.": sum(costs.values()),
        "The content layer was counted too: loop over the layers of layer_weights, not over all the layers "
        "in the features.": expected + _course_style(style["block4_conv2"], generated["block4_conv2"]),
        "The content layer was counted too: loop over the layers of layer_weights, not over all the layers "
        "in the features. ": sum(everything[k] * _course_style(style[k], generated[k]) for k in everything),
        "You divided by the number of layers: the style cost is the weighted *sum*, sum of lambda_l * E_l "
        "(the weights already say how much each layer counts).": expected / len(layer_weights),
        "You divided by the sum of the weights. Use the weights as they are given: sum of lambda_l * E_l "
        "(whoever calls style_cost decides whether they sum to 1).": expected / sum(layer_weights.values()),
        "Only the last layer counted: the sum is overwritten in the loop (use total += ..., or tf.add_n of a "
        "list).": layer_weights["block3_conv1"] * costs["block3_conv1"],
    }
    for message, wrong in candidates.items():
        if close(value, wrong, rtol=1e-4):
            fail(message)
    fail(
        f"style_cost returned {value:.6g} where {expected:.6g} was expected. It should be the sum over the layers "
        "of layer_weights of layer_weights[layer] * layer_style_cost(style_features[layer], "
        "generated_features[layer]). If layer_style_cost passed its own check, look at the loop."
    )


def _tv_parts(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    image = image.astype(np.float64)
    return image[:, 1:, :, :] - image[:, :-1, :, :], image[:, :, 1:, :] - image[:, :, :-1, :]


@exercise_check("total_variation", HIDDEN)
def check_total_variation(total_variation: Callable) -> None:
    """Exercise: ``total_variation(image)``, ``image`` ``(1, H, W, 3)``: ``mean(dy^2) + mean(dx^2)``.

    ``dy`` are the differences between vertical neighbours, ``dx`` between horizontal
    ones (the package's ``tv_loss(image, "l2")``, written here with NumPy).
    """
    name = "total_variation"
    rng = np.random.default_rng(90)
    image = rng.uniform(0.0, 1.0, (1, 5, 7, 3)).astype(np.float32)
    down, right = _tv_parts(image)
    expected = float(np.mean(down**2) + np.mean(right**2))
    result = total_variation(tf.constant(image))
    if result is None:
        fail(f"{name} returned None: end with `return` and the sum of the two means.")
    value_tensor = require_tensor(result, name)
    if value_tensor.shape.rank != 0:
        fail(f"{name} returned a tensor of shape {value_tensor.shape.as_list()}; a cost is one number: take "
             "tf.reduce_mean without an axis.")
    value = float(value_tensor)
    flat = np.full((1, 5, 7, 3), 0.4, np.float32)
    if abs(float(total_variation(tf.constant(flat)))) > 1e-7:
        fail(f"{name} of an image of one colour must be 0 (no neighbour differs); yours is not. Subtract "
             "neighbouring pixels: image[:, 1:] - image[:, :-1] and image[:, :, 1:] - image[:, :, :-1].")
    if not close(value, expected, rtol=1e-4):
        candidates = {
            "You summed the squared differences instead of averaging them: take tf.reduce_mean of each, so the "
            "cost does not grow with the image (one tv_weight then works at every size).": float(np.sum(down**2) + np.sum(right**2)),
            "You took absolute differences; this total variation squares them (tf.square).": float(np.mean(np.abs(down)) + np.mean(np.abs(right))),
            "That is tf.image.total_variation (a sum of absolute differences). Write the version of this lesson: "
            "the mean of the squared vertical differences plus the mean of the squared horizontal ones.": float(np.sum(np.abs(down)) + np.sum(np.abs(right))),
            "Only the vertical differences count: add the horizontal ones, image[:, :, 1:] - image[:, :, :-1].": float(np.mean(down**2)),
            "Only the horizontal differences count: add the vertical ones, image[:, 1:] - image[:, :-1].": float(np.mean(right**2)),
            "You averaged the two directions; add them: mean(dy^2) + mean(dx^2).": expected / 2,
            "You averaged over both directions at once (one mean of all the squared differences); take each "
            "direction's mean and add the two.": float(np.mean(np.concatenate([down.ravel() ** 2, right.ravel() ** 2]))),
        }
        for message, wrong in candidates.items():
            if close(value, wrong, rtol=1e-4):
                fail(message)
        fail(
            f"{name} returned {value:.6g} where {expected:.6g} was expected: the mean of the squared differences "
            "between vertical neighbours (axis 1) plus the same for horizontal neighbours (axis 2). Axis 0 is the batch."
        )
    gradient = require_gradient(total_variation, name, image)
    expected_gradient = np.zeros_like(image, np.float64)
    expected_gradient[:, 1:] += 2 * down / down.size
    expected_gradient[:, :-1] -= 2 * down / down.size
    expected_gradient[:, :, 1:] += 2 * right / right.size
    expected_gradient[:, :, :-1] -= 2 * right / right.size
    if not close(gradient, expected_gradient, rtol=1e-3, atol=1e-6):
        fail(f"The value of {name} is right but its gradient is not: compute it from `image` with tf operations only.")
    passed(name)
