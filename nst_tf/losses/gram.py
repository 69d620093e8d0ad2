"""Style as statistics of feature maps: Gram matrices and friends (lesson 02).

A layer's activations have shape ``(batch, nH, nW, nC)``. The Gram matrix of one
image is ``G[c, d] = sum over positions of F[p, c] * F[p, d]``: how strongly channel
``c`` and channel ``d`` fire *together*, wherever that happens. It forgets where
things are, which is why it describes texture ("style") rather than content.

Several style pictures are blended through their statistics: :func:`style_image_list` checks them,
:func:`blend_weights` gives each its share (lesson 05).
"""

from __future__ import annotations

from typing import Callable, Sequence, Union, cast

import numpy as np
import tensorflow as tf

from ..image import validate
from ..image.types import ImageSource

__all__ = [
    "GRAM_NORMALIZATIONS",
    "gram_matrix",
    "mean_std",
    "style_statistic",
    "STYLE_STATISTICS",
    "style_image_list",
    "blend_weights",
]

#: How :func:`gram_matrix` divides the raw sum over positions.
GRAM_NORMALIZATIONS = ("none", "positions", "positions_channels")


def gram_matrix(
    features: tf.Tensor, normalization: str = "positions", *, center: bool = False
) -> tf.Tensor:
    """Gram matrices of a batch of feature maps (lesson 02).

    Args:
        features: activations ``(batch, nH, nW, nC)`` (a single ``(nH, nW, nC)`` map is
            treated as a batch of one).
        normalization: ``"none"`` (the raw sum), ``"positions"`` (divide by ``nH*nW``;
            the default, so the result does not grow with image size) or
            ``"positions_channels"`` (divide by ``nH*nW*nC``).
        center: subtract each channel's mean first, giving the covariance matrix.

    Returns:
        ``(batch, nC, nC)``, symmetric and positive semi-definite.
    """
    if normalization not in GRAM_NORMALIZATIONS:
        raise ValueError(
            f"Unknown Gram normalization {normalization!r}; choose one of {', '.join(GRAM_NORMALIZATIONS)}."
        )
    features = validate.activations(features, "features")
    if center:
        features = features - tf.reduce_mean(features, axis=(1, 2), keepdims=True)
    gram = tf.einsum("bijc,bijd->bcd", features, features)
    shape = tf.shape(features)
    positions = tf.cast(shape[1] * shape[2], gram.dtype)
    if normalization == "positions":
        gram = gram / positions
    elif normalization == "positions_channels":
        gram = gram / (positions * tf.cast(shape[3], gram.dtype))
    return gram


def mean_std(features: tf.Tensor, epsilon: float = 1e-5) -> tf.Tensor:
    """Each channel's mean and standard deviation over positions, as in AdaIN (lesson 03).

    Returns ``(batch, 2, nC)``: row 0 the means, row 1 the standard deviations.
    """
    features = validate.activations(features, "features")
    mean, variance = tf.nn.moments(features, axes=(1, 2))
    return tf.stack([mean, tf.sqrt(variance + epsilon)], axis=1)


StyleStatistic = Callable[[tf.Tensor], tf.Tensor]

#: Named statistics that :func:`style_statistic` understands.
STYLE_STATISTICS: dict[str, StyleStatistic] = {
    "gram": lambda features: gram_matrix(features, "positions"),
    "gram_centered": lambda features: gram_matrix(features, "positions", center=True),
    "mean_std": mean_std,
}


def style_statistic(statistic: Union[str, StyleStatistic] = "gram") -> StyleStatistic:
    """Look up a style statistic by name, or pass your own function through.

    Your own function takes activations ``(batch, nH, nW, nC)`` and returns a tensor
    whose shape does not depend on ``nH`` and ``nW`` (so style and generated images may
    differ in size), e.g. ``lambda f: tf.reduce_max(f, axis=(1, 2))``.
    """
    if callable(statistic):
        return statistic
    try:
        return STYLE_STATISTICS[statistic]
    except KeyError:
        raise ValueError(
            f"Unknown style statistic {statistic!r}; choose one of {', '.join(STYLE_STATISTICS)} or pass a function."
        ) from None


# ----- the style pictures whose statistics are blended (lesson 05) -----


def style_image_list(style_images: ImageSource | Sequence[ImageSource]) -> tuple[list[np.ndarray], list[str]]:
    """One style image or a list of them, checked, as ``(images, labels)`` (labels for error messages:
    ``style_image`` or ``style_images[i]``); at least one image."""
    single = isinstance(style_images, (np.ndarray, tf.Tensor)) and len(style_images.shape) == 3
    styles = [style_images] if single else list(cast("Sequence[ImageSource]", style_images))
    labels = ["style_image"] if single else [f"style_images[{index}]" for index in range(len(styles))]
    images = [validate.image_array(style, label, min_side=0) for style, label in zip(styles, labels)]
    if not images:
        raise ValueError("Give at least one style image.")
    return images, labels


def blend_weights(blend: Sequence[float] | None, count: int, argument: str = "blend") -> list[float]:
    """One weight per style image, normalised to sum to 1 (``None``: equal)."""
    weights = [1.0] * count if blend is None else [float(w) for w in blend]
    if len(weights) != count:
        raise ValueError(f"Got {len(weights)} style {argument} weights for {count} style images.")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"Style {argument} weights must be non-negative and not all zero.")
    return [w / sum(weights) for w in weights]
