"""A measure of fine horizontal stripes in a picture (lesson 06's claim, issue 23).

A transformation network trained at lesson 06's defaults once crossed its outputs with fine
horizontal stripes (about 4 px from one light row to the next) that neither the photo nor
the painting had. :func:`stripe_energy` puts a number on that: the share of the picture's
luminance variance at fine *vertical* frequencies (at least 3/16 cycle per pixel: a period
of at most 5 1/3 rows) and the coarsest horizontal ones (under 1/32 cycle per pixel: the
pattern runs unchanged along 32 px or more of a row). A painting's brush strokes and a
photo's edges spread their energy over many directions and score 0.005 to 0.012; the
striped network's outputs scored about 0.02 to 0.07 (benchmarks/README.md, "Lesson 06's
stripes"). ``stripe_energy(image.transpose(1, 0, 2))`` measures vertical stripes the same way.

Exact values: rows alternating black and white give 1, and so do rows of any period from
2 to 5 1/3 px; the same pattern turned by 90 degrees gives 0; a flat picture gives 0;
white noise gives the area of the band (:data:`STRIPE_BAND`) up to sampling error.
"""

from __future__ import annotations

import numpy as np

from ..image.types import Image

__all__ = ["STRIPE_BAND", "luminance", "stripe_energy", "stripe_spectrum"]

#: ``(lowest |vertical frequency|, highest |horizontal frequency|)`` of the stripe band, in
#: cycles per pixel (0.5 is the finest there is: rows alternating).
STRIPE_BAND = (0.1875, 0.03125)

#: Rec. 601 luma weights, the same as :func:`nst_tf.colour` uses for luminance.
_LUMA = np.array([0.299, 0.587, 0.114])


def luminance(image: Image | np.ndarray) -> np.ndarray:
    """``(H, W)`` float64 luminance of an ``(H, W, 3)`` RGB picture (uint8 is scaled to [0, 1]); ``(H, W)`` as is."""
    array = np.asarray(image)
    if array.dtype == np.uint8:
        array = array / 255.0
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise TypeError(f"image must be a real-valued array, got dtype {array.dtype}.")
    array = array.astype(np.float64)
    if array.ndim == 3 and array.shape[-1] == 3:
        array = array @ _LUMA
    elif array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 2:
        raise ValueError(f"image must be (H, W), (H, W, 1) or (H, W, 3), got shape {np.shape(image)}.")
    if min(array.shape) < 4:
        raise ValueError(f"image must be at least 4x4 pixels, got {array.shape[0]}x{array.shape[1]}.")
    if not np.all(np.isfinite(array)):
        raise ValueError("image holds NaN or infinite values.")
    return array


def stripe_spectrum(image: Image) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(power, vertical frequencies, horizontal frequencies)`` of the luminance minus its mean.

    ``power[i, j]`` is ``|FFT|**2 / (H * W)**2`` at vertical frequency ``fy[i]`` and horizontal
    frequency ``fx[j]`` (cycles per pixel, :func:`numpy.fft.fftfreq`), so that ``power.sum()``
    is the luminance's variance (Parseval).
    """
    values = luminance(image)
    values = values - values.mean()
    height, width = values.shape
    power = np.abs(np.fft.fft2(values)) ** 2 / float(height * width) ** 2
    return power, np.fft.fftfreq(height), np.fft.fftfreq(width)


def stripe_energy(image: Image, band: tuple[float, float] = STRIPE_BAND) -> float:
    """The share (0 to 1) of a picture's luminance variance in fine horizontal stripes.

    ``image``: ``(H, W, 3)`` RGB in [0, 1] (or uint8), or ``(H, W)`` luminance. The share of
    the spectral energy of the luminance (mean removed) at vertical frequencies of at least
    ``band[0]`` cycles per pixel and horizontal frequencies below ``band[1]`` (default
    :data:`STRIPE_BAND`): rows that alternate, and do so along much of their length. A flat
    picture scores 0, a photo or a painting about 0.005 to 0.012, a network output crossed by
    fine horizontal stripes clearly more (lesson 06's claim compares the three). ``stripe_energy(image.transpose(1, 0, 2))``
    measures vertical stripes the same way.
    """
    low_vertical, high_horizontal = (float(value) for value in band)
    if not (0.0 <= low_vertical <= 0.5 and 0.0 < high_horizontal <= 0.5):
        raise ValueError(f"band must be (0 <= vertical <= 0.5, 0 < horizontal <= 0.5) cycles per pixel, got {band!r}.")
    power, fy, fx = stripe_spectrum(image)
    total = float(power.sum())
    if total <= 1e-20:
        return 0.0
    mask = (np.abs(fy)[:, None] >= low_vertical) & (np.abs(fx)[None, :] < high_horizontal)
    return float(power[mask].sum() / total)
