"""Content, style and total-variation costs (lesson 03).

Every cost here takes activations of shape ``(batch, nH, nW, nC)`` and returns a scalar
(the mean over the batch). Each has a ``normalization`` argument naming the constant
in front of the sum, because learners meet several:

``"mse"`` (default)
    a plain mean of squared differences. Content: ``mean((a_C - a_G)^2)``; style:
    ``mean((G_S - G_G)^2)`` with Gram matrices divided by ``nH*nW``. Neither grows
    with the image, so one set of weights works from 128 to 1024 px.
``"course"``
    the Coursera course and blog posts: content ``1/(4 nH nW nC) * sum((a_C - a_G)^2)``,
    style ``1/(4 nC^2 (nH nW)^2) * sum((G_S - G_G)^2)`` with raw Gram matrices. Both are
    a quarter of ``"mse"`` (for the style cost, when both images have the same size).
``"gatys"``
    the paper: content ``1/2 * sum((F - P)^2)`` (grows with the image), style ``E_l``
    which has the same constant as ``"course"``.

The total cost is ``content_weight * content + style_weight * style + tv_weight * tv``.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence, Union

import tensorflow as tf

from ..image import validate
from ..image.types import ImageBatch
from .gram import StyleStatistic, style_statistic

__all__ = [
    "NORMALIZATIONS",
    "TV_KINDS",
    "content_loss",
    "style_layer_loss",
    "style_layer_loss_from_target",
    "style_difference",
    "style_loss",
    "tv_loss",
    "total_loss",
    "normalize_layer_weights",
]

NORMALIZATIONS = ("mse", "course", "gatys")
TV_KINDS = ("l2", "l1", "sum_abs")


def _check_normalization(normalization: str) -> None:
    if normalization not in NORMALIZATIONS:
        raise ValueError(
            f"Unknown normalization {normalization!r}; choose one of {', '.join(NORMALIZATIONS)}."
        )


def _batched(x: Any, name: str = "features") -> tf.Tensor:
    return validate.activations(x, name)


def _same_channels(style: tf.Tensor, generated: tf.Tensor) -> None:
    """Style statistics compare channels: the two layers must have as many (sizes may differ)."""
    if style.shape[-1] is not None and generated.shape[-1] is not None and style.shape[-1] != generated.shape[-1]:
        raise ValueError(
            f"style_features have {style.shape[-1]} channels but generated_features have {generated.shape[-1]}; "
            "compare the activations of the same layer"
        )


def content_loss(content_features: tf.Tensor, generated_features: tf.Tensor, normalization: str = "mse") -> tf.Tensor:
    """Content cost of one layer: how far the generated image's activations are from the content image's.

    Args:
        content_features, generated_features: ``(batch, nH, nW, nC)`` (or ``(nH, nW, nC)``).
        normalization: ``"mse"``, ``"course"`` or ``"gatys"`` (see the module docstring).
    """
    _check_normalization(normalization)
    a_content = _batched(content_features, "content_features")
    a_generated = _batched(generated_features, "generated_features")
    validate.same_shape(a_content, a_generated, "content_features", "generated_features")
    a_content, a_generated = validate.common_float(a_content, a_generated)
    squared = tf.square(a_generated - a_content)
    if normalization == "gatys":
        return tf.reduce_mean(0.5 * tf.reduce_sum(squared, axis=(1, 2, 3)))
    mse = tf.reduce_mean(squared)
    return mse / 4.0 if normalization == "course" else mse


def style_difference(statistic_value: tf.Tensor, target: tf.Tensor, normalization: str = "mse") -> tf.Tensor:
    """The one normalisation rule of every style cost: ``mean((S_G - S_S)^2)``, a quarter of it
    for ``"course"`` and ``"gatys"`` (their ``1/(4 nC^2 (nH nW)^2)`` on raw Gram matrices)."""
    difference = tf.reduce_mean(tf.square(statistic_value - target))
    return difference if normalization == "mse" else difference / 4.0


def style_layer_loss_from_target(
    target: tf.Tensor,
    generated_features: tf.Tensor,
    normalization: str = "mse",
    statistic: Union[str, StyleStatistic] = "gram",
    mask: tf.Tensor | None = None,
) -> tf.Tensor:
    """Style cost of one layer against a precomputed target statistic (see :func:`style_layer_loss`).

    ``target`` is ``statistic(style_features)``, computed once per run. ``mask`` ``(nH, nW)``
    in [0, 1] (optional, lesson 05): the generated image's statistic is taken over the
    region only (:func:`nst_tf.losses.masks.masked_statistic`; ``statistic`` must then be a name).
    """
    _check_normalization(normalization)
    if mask is None:
        statistic_value = style_statistic(statistic)(_batched(generated_features, "generated_features"))
    else:
        from .masks import masked_statistic

        if not isinstance(statistic, str):
            raise ValueError("Spatial masks need a named style statistic: 'gram', 'gram_centered' or 'mean_std'.")
        statistic_value = masked_statistic(_batched(generated_features, "generated_features"), mask, statistic)
    target = tf.convert_to_tensor(target)
    if not target.dtype.is_floating:
        target = tf.cast(target, statistic_value.dtype)
    statistic_value, target = validate.common_float(statistic_value, target)  # float64 targets: converted
    if target.shape.rank == statistic_value.shape.rank and target.shape.rank:  # one target serves a whole batch
        validate.same_shape(target[:1], statistic_value[:1], "the style target", "the generated image's statistic")
        if target.shape[0] not in (1, None, statistic_value.shape[0]):
            validate.same_shape(target, statistic_value, "the style target", "the generated image's statistic")
    elif target.shape.rank is not None and statistic_value.shape.rank is not None:
        validate.same_shape(target, statistic_value, "the style target", "the generated image's statistic")
    return style_difference(statistic_value, target, normalization)


def style_layer_loss(
    style_features: tf.Tensor,
    generated_features: tf.Tensor,
    normalization: str = "mse",
    statistic: Union[str, StyleStatistic] = "gram",
) -> tf.Tensor:
    """Style cost of one layer (lesson 03): the distance between two images' style statistics.

    With the default Gram statistic (divided by ``nH*nW``), ``"course"`` and ``"gatys"``
    equal ``1/(4 nC^2 (nH nW)^2) * sum((G_S - G_G)^2)`` of the raw Gram matrices when
    both images have the same size; written per position they also accept a style image
    of another size. Other statistics: ``"gram_centered"``, ``"mean_std"`` or a function.
    """
    style, generated = _batched(style_features, "style_features"), _batched(generated_features, "generated_features")
    _same_channels(style, generated)
    target = style_statistic(statistic)(style)
    return style_layer_loss_from_target(target, generated_features, normalization, statistic)


def normalize_layer_weights(layer_weights: Mapping[str, float] | Sequence[str]) -> dict[str, float]:
    """Per-layer weights lambda_l divided by their sum (a list of names means equal weights)."""
    if not isinstance(layer_weights, Mapping):
        layer_weights = {name: 1.0 for name in layer_weights}
    layer_weights = validate.layer_weights(layer_weights)
    total = float(sum(layer_weights.values()))
    if not layer_weights or total <= 0 or any(w < 0 for w in layer_weights.values()):
        raise ValueError("Layer weights must be non-negative and sum to more than zero.")
    return {name: float(w) / total for name, w in layer_weights.items()}


def style_loss(
    style_targets: Mapping[str, tf.Tensor],
    generated_features: Mapping[str, tf.Tensor],
    layer_weights: Mapping[str, float] | None = None,
    normalization: str = "mse",
    statistic: Union[str, StyleStatistic] = "gram",
    masks: Mapping[str, tf.Tensor] | None = None,
) -> tf.Tensor:
    """Style cost over several layers: ``sum_l lambda_l * E_l`` with the lambdas summing to 1.

    Args:
        style_targets: ``{layer: statistic(style_features)}``, computed once.
        generated_features: ``{layer: activations}`` of the generated image.
        layer_weights: ``{layer: lambda_l}``; default equal weights over ``style_targets``.
        masks: ``{layer: mask (nH, nW)}`` in [0, 1] (lesson 05): each layer's statistic is
            taken over the region only and its cost scaled by the region's share ``mean(m_l)``,
            ``sum_l lambda_l * mean(m_l) * E_l``: an all-ones mask gives the plain cost, an
            all-zeros mask costs zero and pulls on no pixel.
    """
    weights = normalize_layer_weights(layer_weights if layer_weights is not None else list(style_targets))
    source = "layer_weights" if layer_weights is not None else "style_targets"
    validate.same_layers(weights, style_targets, source, "style_targets")
    validate.same_layers(weights, generated_features, source, "generated_features")
    terms = []
    for name, weight in weights.items():
        mask = None if masks is None else masks[name]
        cost = style_layer_loss_from_target(style_targets[name], generated_features[name], normalization, statistic,
                                            mask=mask)
        terms.append(weight * cost if mask is None else (weight * tf.reduce_mean(mask)) * cost)
    return tf.add_n(terms)


def tv_loss(image: ImageBatch, kind: str = "l2") -> tf.Tensor:
    """Total variation: how much neighbouring pixels differ (lesson 04).

    ``image`` is ``(batch, H, W, 3)``. ``"l2"`` (default): mean squared difference to the
    right and lower neighbour, summed over the two directions; ``"l1"``: the same with
    absolute values. Both are means, so they do not grow with image size. ``"sum_abs"``
    is ``tf.image.total_variation`` (a sum over pixels, as in the TensorFlow tutorial).
    """
    if kind not in TV_KINDS:
        raise ValueError(f"Unknown TV kind {kind!r}; choose one of {', '.join(TV_KINDS)}.")
    image = validate.image_batch(image, "image", min_side=2)
    if kind == "sum_abs":
        return tf.reduce_mean(tf.image.total_variation(image))
    if kind not in TV_KINDS:
        raise ValueError(f"Unknown TV kind {kind!r}; choose one of {', '.join(TV_KINDS)}.")
    down = image[:, 1:, :, :] - image[:, :-1, :, :]
    right = image[:, :, 1:, :] - image[:, :, :-1, :]
    penalty: Callable[[tf.Tensor], tf.Tensor] = tf.square if kind == "l2" else tf.abs
    return tf.reduce_mean(penalty(down)) + tf.reduce_mean(penalty(right))


def total_loss(
    content_cost: tf.Tensor | float, style_cost: tf.Tensor | float, tv_cost: tf.Tensor | float = 0.0, *,
    content_weight: float = 1.0, style_weight: float = 1.0,
    tv_weight: float = 0.0,
) -> tf.Tensor:
    """``content_weight * content_cost + style_weight * style_cost + tv_weight * tv_cost``."""
    return content_weight * content_cost + style_weight * style_cost + tv_weight * tv_cost
