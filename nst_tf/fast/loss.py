"""The perceptual loss: content, style and total-variation costs of a batch (lesson 06)."""

from __future__ import annotations

import os
from typing import Mapping, Sequence, Union

import numpy as np

import keras
import tensorflow as tf

from ..losses import terms as L
from ..losses.compose import StyleTerm, Term, TVTerm, WeightedSum
from ..vgg.extractor import FeatureExtractor, feature_extractor
from ..image.load import load_image
from ..image.types import ImageBatch, ImageSource

__all__ = ["PerceptualLoss", "PhotoContentTerm"]

# Defaults live, TensorFlow-free, in nst_tf/defaults.py (read by the CLI too).
from ..defaults import DEFAULT_FAST_CONTENT_LAYER, DEFAULT_FAST_STYLE_LAYERS, DEFAULT_FAST_WEIGHTS, FAST_RARE_FLOOR
from .floor import refloored


def _distributed_copy(extractor: FeatureExtractor) -> keras.Model:
    """The extractor's VGG rebuilt inside the current ``tf.distribute`` scope (mirrored weights)."""
    clone = keras.models.clone_model(extractor.vgg)
    clone.set_weights(extractor.vgg.get_weights())
    clone.trainable = False
    clone.nst_description = extractor.description  # type: ignore[attr-defined]
    clone.nst_normalized = extractor.normalized  # type: ignore[attr-defined]
    return clone


class PhotoContentTerm(Term):
    """The content cost of a batch against each photo's *own* features at ``layer`` (Johnson et al.).

    Unlike :class:`~nst_tf.losses.compose.ContentTerm` its target is not fixed: the photos come with each
    call, so it is evaluated by :class:`PerceptualLoss` (``cost(image, features, content_features)``).
    """

    def __init__(self, layer: str, extractor: FeatureExtractor, *, name: str = "content") -> None:
        self.layer, self.extractor, self.name = str(layer), extractor, name

    def cost(self, image: tf.Tensor | None, features: Mapping[str, tf.Tensor],  # type: ignore[override]
             content_features: tf.Tensor | None = None) -> tf.Tensor:
        if content_features is None:
            raise ValueError("A PhotoContentTerm compares with each photo's own features: call "
                             "PerceptualLoss(content_images, generated_images) instead of a sum of terms.")
        return L.content_loss(content_features, features[self.layer])


def _weight_property(part: str) -> property:
    def getter(self: "PerceptualLoss") -> float:
        return getattr(self.objective, f"{part}_weight")

    def setter(self: "PerceptualLoss", value: float) -> None:
        setattr(self.objective, f"{part}_weight", value)

    return property(getter, setter, doc=f"The weight of the {part} cost (the sum's tf.Variable inside: no retrace).")


class PerceptualLoss:
    """Content, style and total-variation costs of a *batch* of generated images (lesson 06).

    ``loss(content_images, generated_images)`` returns the weighted costs
    ``{"content", "style", "tv", "total"}`` (scalars, means over the batch). They are the terms of
    ``loss.objective``, a :class:`~nst_tf.losses.compose.WeightedSum` ``content_weight * content +
    style_weight * style + tv_weight * tv`` of a :class:`PhotoContentTerm`, a
    :class:`~nst_tf.losses.compose.StyleTerm` (Gram targets from ``style_image``, once) and a
    :class:`~nst_tf.losses.compose.TVTerm`. The content targets are each photo's own features, so the
    content part of VGG runs only up to ``content_layer``.

    Args:
        style_image: ``(h, w, 3)`` in [0, 1], a path or a sample name.
        content_layer: default ``block2_conv2`` as in Johnson et al. (see
            :data:`DEFAULT_FAST_CONTENT_LAYER`).
        style_layers: names, or ``{layer: lambda_l}``; default the lesson-04 layers.
        content_weight, style_weight, tv_weight: ``tf.Variable`` s inside; assigning
            ``loss.style_weight = 0.2`` takes effect without retracing.
        style_size: the style image's longest side in pixels (``None``: as given).
        weights, net, normalize: which VGG (see :func:`nst_tf.vgg.extractor.feature_extractor`);
            VGG16 by default, like the paper and the offline weights; normalised by default.
        rare_floor: with a normalised VGG, its rarely firing channels are divided by this x their
            mean |pre-activation| (:data:`~nst_tf.defaults.FAST_RARE_FLOOR`, 1.0; the optimisation
            lessons use 0.2, under which the network learns stripes, :mod:`nst_tf.fast.floor`);
            ``None`` keeps the extractor's own.

    Built inside ``strategy.scope()``, it keeps its own mirrored copy of VGG.
    """

    def __init__(
        self,
        style_image: ImageSource,
        *,
        content_layer: str = DEFAULT_FAST_CONTENT_LAYER,
        style_layers: Union[Sequence[str], Mapping[str, float]] = DEFAULT_FAST_STYLE_LAYERS,
        content_weight: float = DEFAULT_FAST_WEIGHTS["content_weight"],
        style_weight: float = DEFAULT_FAST_WEIGHTS["style_weight"],
        tv_weight: float = DEFAULT_FAST_WEIGHTS["tv_weight"],
        style_size: int | None = None,
        weights: str | os.PathLike | None = "auto",
        net: str = "vgg16",
        normalize: bool = True,
        extractor: FeatureExtractor | None = None,
        rare_floor: float | None = FAST_RARE_FLOOR,
    ) -> None:
        for label, value in (("content_weight", content_weight), ("style_weight", style_weight),
                             ("tv_weight", tv_weight)):
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"{label} must be a finite number >= 0, got {value!r}.")
        self.content_layer = str(content_layer)
        self.style_layer_weights = L.normalize_layer_weights(
            [style_layers] if isinstance(style_layers, str) else style_layers
        )
        layers = list(dict.fromkeys([self.content_layer, *self.style_layer_weights]))
        extractor = extractor or feature_extractor(layers, weights=weights, net=net, normalize=normalize)
        extractor = refloored(extractor, rare_floor)
        vgg = _distributed_copy(extractor) if tf.distribute.has_strategy() else extractor.vgg
        self.extractor = FeatureExtractor(vgg, layers, extractor.net, extractor.weights)
        self.content_extractor = FeatureExtractor(vgg, [self.content_layer], extractor.net, extractor.weights)
        self.style_image = load_image(style_image, style_size)
        style = StyleTerm(self.style_image, self.style_layer_weights, statistic="gram", extractor=self.extractor)
        self.style_targets = style.targets
        #: The weighted sum of the three terms (its weights are tf.Variables: assigning one never retraces).
        self.objective = WeightedSum([("content", PhotoContentTerm(self.content_layer, self.content_extractor),
                                       content_weight), ("style", style, style_weight), ("tv", TVTerm(), tv_weight)])

    content_weight = _weight_property("content")
    style_weight = _weight_property("style")
    tv_weight = _weight_property("tv")

    @property
    def loss_keys(self) -> tuple[str, ...]:
        """``("total", "content", "style", "tv")``, the keys a call returns."""
        return self.objective.loss_keys

    def weight_values(self) -> dict[str, float]:
        """``{"content_weight": ..., "style_weight": ..., "tv_weight": ...}``."""
        return self.objective.weight_values()

    def __call__(self, content_images: ImageBatch, generated_images: ImageBatch) -> dict[str, tf.Tensor]:
        """Weighted costs of ``generated_images`` ``(B, H, W, 3)`` for their ``content_images``."""
        content_target = tf.stop_gradient(self.content_extractor.model(content_images, training=False)[
            self.content_layer])
        features = self.extractor.model(generated_images, training=False)
        terms, weights = self.objective.parts, self.objective._weights
        weighted = {"content": weights["content"] * terms["content"].cost(generated_images, features, content_target),
                    "style": weights["style"] * terms["style"].cost(generated_images, features),
                    "tv": weights["tv"] * terms["tv"].cost(generated_images, None)}
        weighted["total"] = weighted["content"] + weighted["style"] + weighted["tv"]
        return weighted

    def evaluate(self, model: keras.Model, content_images: ImageBatch) -> dict[str, float]:
        """The weighted costs of ``model`` on a fixed batch ``(B, H, W, 3)``, as floats."""
        content_images = tf.convert_to_tensor(content_images, tf.float32)
        values = self(content_images, model(content_images, training=False))
        return {key: float(value) for key, value in values.items()}
