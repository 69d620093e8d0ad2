"""Checks for lesson 03: the content cost and one layer's style cost (course normalisation).

Both exercises take activations of shape ``(1, nH, nW, nC)`` (a batch of one image, as the
feature extractor returns them) and return a scalar tensor:

* ``content_cost(content_features, generated_features)``
  ``= 1/(4 nH nW nC) * sum((a_C - a_G)^2)``
* ``layer_style_cost(style_features, generated_features)``
  ``= 1/(4 nC^2 (nH nW)^2) * sum((G_S - G_G)^2)`` with raw Gram matrices
  ``G = A^T A`` where ``A`` is the ``(nH nW, nC)`` matrix of the activations.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import tensorflow as tf

from ._common import close, fail, passed, require_tensor

__all__ = ["check_content_cost", "check_layer_style_cost"]

# Small, non-square maps with different numbers of rows, columns and channels, so that a
# swapped nH/nW/nC or a reshape that mixes channels and positions changes the result.
_SHAPES = ((1, 4, 6, 5), (1, 7, 3, 8))


def _activations(shape, seed: int) -> np.ndarray:
    """ReLU-like activations: non-negative, some exactly zero."""
    rng = np.random.default_rng(seed)
    return np.maximum(rng.normal(0.3, 1.0, shape), 0.0).astype(np.float32)


def _call(fn: Callable, name: str, first: np.ndarray, second: np.ndarray):
    try:
        return fn(tf.constant(first), tf.constant(second))
    except NotImplementedError:
        fail(f"{name} still raises NotImplementedError: replace the `raise` line with your code.")


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
                "of positions (as nst_tf.gram.gram_matrix does by default). This exercise uses raw Gram "
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
