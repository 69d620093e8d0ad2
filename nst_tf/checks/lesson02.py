"""Checks for lesson 02: the Gram matrix."""

from __future__ import annotations

from typing import Callable

import numpy as np
import tensorflow as tf

from ._common import close, exercise_check, fail, passed, require_gradient, require_tensor

__all__ = ["check_gram_matrix"]

#: The package's own Gram matrices, unavailable to an answer while its check runs.
HIDDEN = ("nst_tf.losses.gram:gram_matrix", "nst_tf.losses.masks:masked_statistic")


def _reference(features: np.ndarray) -> np.ndarray:
    """Independent NumPy Gram matrix: ``F^T F / (nH*nW)`` per image, F of shape (positions, channels)."""
    batch, height, width, channels = features.shape
    flat = features.reshape(batch, height * width, channels).astype(np.float64)
    return np.einsum("bpc,bpd->bcd", flat, flat) / (height * width)


def _call(gram_matrix: Callable, features: np.ndarray) -> np.ndarray:
    result = require_tensor(gram_matrix(tf.constant(features)), "gram_matrix")
    return result.numpy().astype(np.float64)


@exercise_check("gram_matrix", HIDDEN)
def check_gram_matrix(gram_matrix: Callable) -> None:
    """Lesson 02 exercise: ``gram_matrix(features)`` for ``(batch, nH, nW, nC)`` -> ``(batch, nC, nC)``.

    Runs it on seeded random activations and on a shuffled copy of them, and names the
    likely mistake: NumPy instead of TensorFlow (also when wrapped back into a tensor:
    the gradient is taken with a tape and compared with its formula), the package's own
    ``gram_matrix`` (hidden while the check runs), the batch dimension dropped, the product
    taken the wrong way round (positions x positions), the reshape mixing up positions and
    channels, no normalisation, or a division by the channels as well.
    """
    rng = np.random.default_rng(2)
    batch, height, width, channels = 2, 5, 7, 4
    features = rng.uniform(0.0, 2.0, (batch, height, width, channels)).astype(np.float32)
    positions = height * width
    expected = _reference(features)
    result = _call(gram_matrix, features)

    if result.shape == (positions, positions) or result.shape == (batch, positions, positions):
        fail(
            f"gram_matrix returned shape {result.shape}: a {positions} x {positions} matrix compares "
            "positions with positions. Style compares channels: with F of shape (positions, channels), "
            "the Gram matrix is F^T F (transpose on the left), giving channels x channels."
        )
    if result.shape == (channels, channels) or result.shape == (1, channels, channels):
        fail(
            f"gram_matrix returned shape {result.shape} for a batch of {batch} images; it should be "
            f"{expected.shape}, one Gram matrix per image. Keep the batch dimension: reshape to "
            "(batch, nH*nW, nC), not (nH*nW, nC) or (-1, nC), and use a batched matmul."
        )
    if result.shape != expected.shape:
        fail(
            f"gram_matrix returned shape {result.shape}; for features of shape {features.shape} "
            f"(batch, nH, nW, nC) it should be {expected.shape} = (batch, nC, nC)."
        )
    if not close(result, np.transpose(result, (0, 2, 1)), rtol=1e-4, atol=1e-5):
        fail("Your Gram matrices are not symmetric, but G[c, d] and G[d, c] are the same sum. Check the matmul.")
    if close(result, expected * positions, rtol=1e-3):
        fail(
            "The values are nH*nW times too large: you forgot the normalisation. Divide the sum over "
            "positions by the number of positions nH*nW, so the Gram matrix does not grow with the image."
        )
    if close(result, expected / channels, rtol=1e-3):
        fail(
            "The values are nC times too small: you divided by the number of channels as well. The "
            "normalisation in this lesson is the number of positions nH*nW only."
        )
    flat = features.reshape(batch, channels, positions).astype(np.float64)  # a reshape without transposing
    mixed = np.einsum("bcp,bdp->bcd", flat, flat) / positions
    if close(result, mixed, rtol=1e-3):
        fail(
            "The shape is right but the values are not: reshaping (batch, nH, nW, nC) straight to "
            "(batch, nC, nH*nW) mixes positions and channels up. Reshape to (batch, nH*nW, nC) first "
            "(channels stay last), then multiply its transpose by it."
        )
    if not close(result, expected, rtol=1e-3, atol=1e-5):
        worst = float(np.max(np.abs(result - expected)))
        fail(
            f"The values differ from the expected Gram matrices (largest difference {worst:.3g}). "
            "G[b, c, d] should be the sum over all positions of F[b, p, c] * F[b, p, d], divided by nH*nW."
        )

    # Style forgets where things are: shuffling positions must not change the Gram matrix.
    order = rng.permutation(positions)
    shuffled = features.reshape(batch, positions, channels)[:, order].reshape(features.shape)
    if not close(_call(gram_matrix, shuffled), result, rtol=1e-3, atol=1e-5):
        fail(
            "Shuffling the positions of the feature map changed your Gram matrix; it must not, "
            "because it sums over all positions. Do you use the positions in some other way?"
        )
    # Another size: the normalisation must use the actual nH, nW.
    other = rng.uniform(0.0, 2.0, (1, 3, 9, channels)).astype(np.float32)
    if not close(_call(gram_matrix, other), _reference(other), rtol=1e-3, atol=1e-5):
        fail(
            "Your function works for one size of feature map but not for another (3 x 9). Take nH, nW "
            "and nC from the shape of `features` instead of fixed numbers."
        )
    # Gradients must flow (lessons 03 and 04 differentiate through it): d sum(W * G) / dF = F (W + W^T) / (nH nW).
    weights = rng.normal(size=expected.shape)
    gradient = require_gradient(gram_matrix, "gram_matrix", features, weights=weights.astype(np.float32))
    flat = features.reshape(batch, positions, channels).astype(np.float64)
    expected_gradient = np.einsum("bpc,bcd->bpd", flat, weights + np.transpose(weights, (0, 2, 1))) / positions
    if not close(gradient.reshape(batch, positions, channels), expected_gradient, rtol=1e-3, atol=1e-4):
        fail(
            "The values are right but the gradient is not: part of the computation is hidden from "
            "TensorFlow (a constant made from NumPy, tf.stop_gradient, or a value computed outside). "
            "Compute the whole Gram matrix from `features` with tf operations."
        )
    passed("Gram matrix")
