"""Colour for style transfer (lesson 05): YIQ, luminance-only transfer, histogram matching.

Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style Transfer": to keep a
photo's colours, stylize only its brightness (the Y channel of YIQ) and put the photo's
colour (I and Q) back afterwards (:func:`recombine_luminance`), or first move the style
image's colour histograms to the photo's (:func:`match_colors`).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from . import arrays as images
from ..defaults import PRESERVE_COLORS
from .types import Image, ImageBatch

__all__ = [
    "PRESERVE_COLORS",
    "YIQ_FROM_RGB",
    "RGB_FROM_YIQ",
    "rgb_to_yiq",
    "yiq_to_rgb",
    "luminance_image",
    "style_luminance",
    "recombine_luminance",
    "match_colors",
]


#: RGB -> YIQ (the NTSC / FCC matrix; Y is the luma ``0.299 R + 0.587 G + 0.114 B``).
YIQ_FROM_RGB = np.array(
    [
        [0.299, 0.587, 0.114],
        [0.59590059, -0.27455667, -0.32134392],
        [0.21153661, -0.52273617, 0.31119955],
    ],
    dtype=np.float64,
)
#: YIQ -> RGB, the exact inverse of :data:`YIQ_FROM_RGB`.
RGB_FROM_YIQ = np.linalg.inv(YIQ_FROM_RGB)


def _apply_colour_matrix(image: ImageBatch, matrix: np.ndarray) -> tf.Tensor:
    """``image[..., 3] @ matrix.T`` for NumPy arrays (float32 out) and TensorFlow tensors."""
    if isinstance(image, (tf.Tensor, tf.Variable)):
        return tf.tensordot(tf.cast(image, tf.float32), tf.constant(matrix.T, tf.float32), axes=1)
    array = np.asarray(image, dtype=np.float32)
    if array.shape[-1:] != (3,):
        raise ValueError(f"Expected colours in the last axis (..., 3), got shape {array.shape}.")
    return (array.astype(np.float64) @ matrix.T).astype(np.float32)


def rgb_to_yiq(image: ImageBatch) -> tf.Tensor:
    """RGB ``(..., 3)`` in [0, 1] -> YIQ ``(..., 3)``: luminance Y in [0, 1], chroma I and Q around 0 (lesson 05)."""
    return _apply_colour_matrix(image, YIQ_FROM_RGB)


def yiq_to_rgb(image: ImageBatch) -> tf.Tensor:
    """YIQ ``(..., 3)`` -> RGB ``(..., 3)`` (not clipped; values can leave [0, 1]) (lesson 05)."""
    return _apply_colour_matrix(image, RGB_FROM_YIQ)


def luminance_image(image: Image | ImageBatch) -> np.ndarray:
    """The luminance Y of an RGB image ``(H, W, 3)``, repeated on three channels (a grey RGB image)."""
    luminance = rgb_to_yiq(images.to_numpy_image(image))[..., 0]
    return np.repeat(np.clip(luminance, 0.0, 1.0)[..., np.newaxis], 3, axis=-1)


def style_luminance(style_image: Image, content_image: Image | None = None) -> np.ndarray:
    """The style's grey image; given ``content_image``, with its luminance mean and std moved to the content's.

    ``Y_S' = (Y_S - mean(Y_S)) * std(Y_C) / std(Y_S) + mean(Y_C)`` (Gatys et al. 2017), repeated on
    three channels and clipped to [0, 1]. Without it a dark painting would darken a bright photo.
    """
    if content_image is None:
        return luminance_image(style_image)
    style_y = luminance_image(style_image)[..., 0]
    content_y = luminance_image(content_image)[..., 0]
    scale = content_y.std() / max(float(style_y.std()), 1e-6)
    matched = (style_y - style_y.mean()) * scale + content_y.mean()
    return np.repeat(np.clip(matched, 0.0, 1.0)[..., np.newaxis], 3, axis=-1).astype(np.float32)


def recombine_luminance(generated_image: Image, content_image: Image) -> Image:
    """The generated image's luminance with the content image's colour (I and Q), as RGB in [0, 1].

    Use it after any transfer to keep the photo's colours (post-hoc colour preservation).
    ``content_image`` is resized to the generated image's size if they differ. Where the new
    brightness with the old colour falls outside what RGB can show (a saturated red made
    brighter), that pixel's I and Q are scaled down together until it fits: its brightness and
    hue stay, only its saturation drops (clipping each channel would change all three).
    """
    generated = images.to_numpy_image(generated_image)
    content = images.to_numpy_image(content_image)
    if content.shape[:2] != generated.shape[:2]:
        content = images.resize_image(content, size=generated.shape[:2])
    luminance = np.clip(rgb_to_yiq(generated)[..., :1], 0.0, 1.0)
    chroma = yiq_to_rgb(np.concatenate([np.zeros_like(luminance), rgb_to_yiq(content)[..., 1:]], axis=-1))
    return _add_chroma_within_gamut(luminance, chroma)


def _add_chroma_within_gamut(luminance: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """``luminance + t * chroma`` per pixel with the largest ``t`` in [0, 1] that keeps RGB in [0, 1].

    ``luminance`` ``(H, W, 1)`` in [0, 1]; ``chroma`` ``(H, W, 3)``: the RGB offset of the I and Q
    channels (the Y column of the YIQ-to-RGB matrix is all ones, so RGB = Y + chroma).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        room = np.where(chroma > 0, (1.0 - luminance) / chroma, np.where(chroma < 0, -luminance / chroma, np.inf))
    scale = np.clip(np.min(room, axis=-1, keepdims=True), 0.0, 1.0)
    return np.clip(luminance + scale * chroma, 0.0, 1.0).astype(np.float32)


def match_colors(style_image: Image, content_image: Image) -> Image:
    """The style image with each RGB channel's histogram matched to the content image's.

    ``skimage.exposure.match_histograms(style, content, channel_axis=-1)``: the painting keeps
    its strokes and textures but takes on the photo's palette. Used before stylizing.
    """
    from skimage.exposure import match_histograms

    style = images.to_numpy_image(style_image)
    content = images.to_numpy_image(content_image)
    matched = match_histograms(style, content, channel_axis=-1)
    return np.clip(matched, 0.0, 1.0).astype(np.float32)
