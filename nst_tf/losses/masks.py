"""Spatial control (lesson 05): masks, brought to each layer's size, and statistics over a region.

A mask ``(H, W)`` in [0, 1] says where a style may paint. :func:`downsample_mask` shrinks it
the way VGG shrinks the image, and :func:`masked_statistic` takes a style statistic over the
region only; :func:`nst_tf.losses.style_loss` uses both when given ``masks``.
"""

from __future__ import annotations

import os
from typing import Sequence, cast

import numpy as np
import tensorflow as tf

from ..image.load import load_image
from ..image.types import ImageSource

__all__ = ["load_mask", "downsample_mask", "masked_statistic", "prepare_masks"]


def load_mask(source: ImageSource, size: tuple[int, int] | None = None) -> np.ndarray:
    """A mask ``(H, W)`` float32 in [0, 1] from a file path or an array, resized to ``size=(H, W)``.

    Arrays may be ``(H, W)`` (or ``(H, W, 1)`` / ``(H, W, 3)``, averaged over channels); bool
    and uint8 (0-255) are converted. Image files are read as grey (white = 1, black = 0).
    """
    if isinstance(source, (str, os.PathLike)):
        # Decoded straight to (about) the size needed: a huge mask never exists in float.
        mask = load_image(source, max_size=None if size is None else max(size), min_size=1).mean(axis=-1)
    else:
        mask = np.asarray(source.numpy() if hasattr(source, "numpy") else source)
        scale = 255.0 if mask.dtype == np.uint8 else 1.0
        mask = mask.astype(np.float32) / np.float32(scale)
        if mask.ndim == 3 and mask.shape[-1] in (1, 3):
            mask = mask.mean(axis=-1)
        if mask.ndim != 2:
            raise ValueError(f"A mask must be a 2-D array (height, width); got shape {tuple(mask.shape)}.")
        if not np.all(np.isfinite(mask)) or mask.min(initial=0.0) < -1e-6 or mask.max(initial=0.0) > 1 + 1e-6:
            raise ValueError("Mask values must be finite and in [0, 1] (or uint8 0-255, or bool).")
    mask = np.clip(mask.astype(np.float32), 0.0, 1.0)
    if size is not None and tuple(mask.shape) != tuple(size):
        resized = tf.image.resize(mask[np.newaxis, :, :, np.newaxis], size, method="bilinear", antialias=True)
        mask = np.clip(resized.numpy()[0, :, :, 0], 0.0, 1.0)
    return mask


def downsample_mask(mask: np.ndarray | tf.Tensor, shape: tuple[int, int]) -> tf.Tensor:
    """A mask ``(H, W)`` brought to a layer's ``(h, w)`` the way VGG shrinks its input.

    Repeated 2x2 average pooling ("valid", so odd sides round down as in VGG's max pooling):
    each value is the fraction of the layer position's pixels that lie inside the region. If
    the halvings do not land exactly on ``shape``, an area resize finishes the job.
    """
    current = tf.convert_to_tensor(mask, tf.float32)[tf.newaxis, :, :, tf.newaxis]
    height, width = int(shape[0]), int(shape[1])
    while (current.shape[1], current.shape[2]) != (height, width) and (
        current.shape[1] // 2 >= height and current.shape[2] // 2 >= width
    ):
        current = tf.nn.avg_pool2d(current, 2, 2, "VALID")
    if (current.shape[1], current.shape[2]) != (height, width):
        current = tf.image.resize(current, (height, width), method="area")
    return current[0, :, :, 0]


def masked_statistic(features: tf.Tensor, mask: tf.Tensor, statistic: str = "gram", epsilon: float = 1e-5) -> tf.Tensor:
    """A style statistic of the positions inside a mask: features ``(1, h, w, C)``, mask ``(h, w)``.

    ``"gram"``: ``sum_p m_p F_p F_p^T / sum_p m_p`` -- the Gram matrix of the features times
    ``sqrt(m)``, divided by the mask's sum instead of the number of positions (for a 0/1 mask:
    the Gram of the region alone). ``"gram_centered"`` subtracts the region's mean first;
    ``"mean_std"`` gives the region's per-channel mean and std ``(1, 2, C)``. An empty mask
    gives zeros (never NaN).
    """
    mask = tf.convert_to_tensor(mask)
    if mask.shape.rank != 2 or (None not in (mask.shape[0], features.shape[1], mask.shape[1], features.shape[2])
                                and tuple(mask.shape) != tuple(features.shape[1:3])):
        shown = tuple(mask.shape) if mask.shape.rank is not None else "unknown"
        raise ValueError(f"mask has shape {shown} but the layer's activations are {tuple(features.shape[1:3])} "
                         "(height, width); give one (h, w) mask per layer (nst_tf.masks.downsample_mask)")
    weights = tf.cast(mask, features.dtype)[tf.newaxis, :, :, tf.newaxis]
    total = tf.reduce_sum(weights)
    if statistic in ("gram_centered", "mean_std"):
        mean = tf.math.divide_no_nan(tf.reduce_sum(features * weights, axis=(1, 2), keepdims=True), total)
        if statistic == "mean_std":
            variance = tf.math.divide_no_nan(tf.reduce_sum(weights * tf.square(features - mean), axis=(1, 2)), total)
            return tf.stack([mean[:, 0, 0, :], tf.sqrt(variance + epsilon)], axis=1)
        features = features - mean
    elif statistic != "gram":
        raise ValueError(f"No masked version of the style statistic {statistic!r}; use 'gram', 'gram_centered' or 'mean_std'.")
    return tf.math.divide_no_nan(tf.einsum("bijc,bijd->bcd", features * weights, features), total)


def prepare_masks(style_masks: ImageSource | Sequence[ImageSource], count: int, size: tuple[int, int]
                  ) -> list[np.ndarray]:
    """Validate the masks (one per style) and resize them to ``size``."""
    if isinstance(style_masks, (str, os.PathLike)) or (
        isinstance(style_masks, (np.ndarray, tf.Tensor)) and len(style_masks.shape) == 2
    ):
        style_masks = [style_masks]
    masks = list(cast("Sequence[ImageSource]", style_masks))
    if len(masks) != count:
        raise ValueError(f"Got {len(masks)} style masks for {count} style images; give one mask per style image.")
    return [load_mask(mask, size) for mask in masks]

