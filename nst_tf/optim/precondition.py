"""The preconditioner: a parameterisation of the generated image in which coarse changes are cheap (lesson 04).

L-BFGS may move a variable ``z`` instead of the pixels, with ``image = clip(start + P z, 0, 1)``.
``P`` scales each 2-D cosine (DCT-II) frequency ``f`` of ``z`` by ``1 / f ** decay``
(:func:`frequency_scale`, :func:`precondition_update`): symmetric and positive definite, so
L-BFGS on ``z`` is L-BFGS on the image with ``P^2`` as its first guess of the inverse Hessian.
The in-TensorFlow L-BFGS moves the cosine coefficients ``w = C z`` instead
(:func:`spectral_update`): the same steps for half the transforms. Nothing here knows about
costs or optimisers; :mod:`nst_tf.optim.solvers` uses it, as Lucid keeps parameterisations apart
from objectives.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

__all__ = ["frequency_scale", "precondition_update", "spectral_update", "dct_matrix"]


def frequency_scale(height: int, width: int, decay: float) -> np.ndarray:
    """``(height, width)`` factors ``1 / f ** decay`` for the 2-D DCT-II frequencies ``f``.

    ``f = sqrt((k / 2H)^2 + (l / 2W)^2)`` cycles per pixel for coefficient ``(k, l)``; the
    constant term uses the lowest non-zero frequency ``1 / (2 max(H, W))`` instead of 0. The
    factors are divided by their root mean square so that a random ``z`` keeps its size.
    ``decay=0`` gives all ones (no preconditioning).
    """
    if decay < 0:
        raise ValueError("The preconditioner's decay must be 0 or more.")
    rows = np.arange(height)[:, None] / (2.0 * height)
    cols = np.arange(width)[None, :] / (2.0 * width)
    frequency = np.maximum(np.sqrt(rows**2 + cols**2), 1.0 / (2.0 * max(height, width)))
    scale = frequency ** (-float(decay))
    return (scale / np.sqrt(np.mean(scale**2))).astype(np.float32)


def dct_matrix(n: int) -> np.ndarray:
    """The orthonormal DCT-II as an ``(n, n)`` matrix: ``dct_matrix(n) @ v`` is ``scipy.fft.dct(v, norm="ortho")``.

    Its transpose is its inverse (the orthonormal DCT-III).
    """
    k, i = np.arange(n)[:, None], np.arange(n)[None, :]
    matrix = np.sqrt(2.0 / n) * np.cos(np.pi * (2 * i + 1) * k / (2 * n))
    matrix[0] /= np.sqrt(2.0)
    return matrix.astype(np.float32)


#: Longest axis transformed by a matrix product; longer axes use ``tf.signal.dct`` (an FFT),
#: whose cost grows as ``n log n`` instead of ``n``: at 1024 the product still took 0.79 times
#: as long on two CPU cores, so the crossover is above.
MATRIX_DCT_MAX = 1024


def _dct_last_axis(x: tf.Tensor, inverse: bool) -> tf.Tensor:
    n = int(x.shape[-1])
    if n > MATRIX_DCT_MAX:
        return tf.signal.dct(x, type=3 if inverse else 2, norm="ortho")
    matrix = tf.constant(dct_matrix(n), x.dtype)
    return tf.matmul(x, matrix, transpose_b=not inverse)  # x C^T: each row's DCT; x C: its inverse


def _dct_2d(images: tf.Tensor, inverse: bool = False) -> tf.Tensor:
    """Orthonormal 2-D DCT-II (or its inverse) over the two last axes: ``C_H X C_W^T`` (``C_H^T X C_W``).

    Matrix products with :func:`dct_matrix` (up to ``MATRIX_DCT_MAX`` per axis): on two CPU
    cores the 2-D transform and its gradient took a third of the time of ``tf.signal.dct``
    (an FFT of twice the length) at 256 px and 512 px, and on a GPU a matrix product is
    what the hardware does best.
    """
    height = int(images.shape[-2])
    rows_done = _dct_last_axis(images, inverse)
    if height > MATRIX_DCT_MAX:
        swapped = _dct_last_axis(tf.linalg.matrix_transpose(rows_done), inverse)
        return tf.linalg.matrix_transpose(swapped)
    matrix = tf.constant(dct_matrix(height), images.dtype)
    return tf.matmul(matrix, rows_done, transpose_a=inverse)


def precondition_update(z: tf.Tensor, scale: tf.Tensor) -> tf.Tensor:
    """``P z`` for a batch ``z`` of shape ``(B, H, W, C)``: each channel's DCT times ``scale`` ``(H, W)``, back.

    ``P`` is symmetric and positive definite (an orthonormal transform, a positive diagonal,
    the transform back), so L-BFGS on ``z`` is L-BFGS on the image with ``P^2`` as its
    starting guess of the inverse Hessian.
    """
    channels_first = tf.transpose(z, [0, 3, 1, 2])
    spectrum = _dct_2d(channels_first) * scale
    return tf.transpose(_dct_2d(spectrum, inverse=True), [0, 2, 3, 1])


def spectral_update(w: tf.Tensor, scale: tf.Tensor) -> tf.Tensor:
    """``P z`` given the cosine coefficients ``w = C z`` of ``z`` (same layout ``(B, H, W, C)``): ``C^T (scale w)``.

    The in-TensorFlow L-BFGS moves ``w`` rather than ``z``: L-BFGS takes the same steps under
    an orthogonal change of variables (its directions, dot products and norms do not
    change), and each evaluation then needs one inverse transform and, for the gradient, one
    forward transform, instead of two of each.
    """
    channels_first = tf.transpose(w, [0, 3, 1, 2])
    return tf.transpose(_dct_2d(channels_first * scale, inverse=True), [0, 2, 3, 1])
