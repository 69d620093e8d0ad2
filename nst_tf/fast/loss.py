"""The perceptual loss: content, style and total-variation costs of a batch (lesson 06)."""

from __future__ import annotations

import os
from typing import Mapping, Sequence, Union

import numpy as np

import keras
import tensorflow as tf

from ..losses import terms as L
from ..vgg.extractor import FeatureExtractor, feature_extractor
from ..losses.gram import style_statistic
from ..image.load import load_image
from ..image.types import ImageBatch, ImageSource

__all__ = ["PerceptualLoss"]

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


class PerceptualLoss(L.WeightedCosts):
    """Content, style and total-variation costs of a *batch* of generated images (lesson 06).

    ``loss(content_images, generated_images)`` returns the weighted costs
    ``{"content", "style", "tv", "total"}`` (scalars, means over the batch), computed
    with :func:`nst_tf.losses.content_loss`, :func:`~nst_tf.losses.style_loss` and
    :func:`~nst_tf.losses.tv_loss`. The style targets (Gram matrices) come from
    ``style_image`` once; the content targets are each photo's own features, so the
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
        gram = style_statistic("gram")
        features = self.extractor(self.style_image[np.newaxis])
        self.style_targets = {name: tf.constant(gram(features[name])) for name in self.style_layer_weights}
        self._init_weights(content_weight, style_weight, tv_weight)

    def __call__(self, content_images: ImageBatch, generated_images: ImageBatch) -> dict[str, tf.Tensor]:
        """Weighted costs of ``generated_images`` ``(B, H, W, 3)`` for their ``content_images``."""
        content_target = tf.stop_gradient(self.content_extractor.model(content_images, training=False)[
            self.content_layer])
        features = self.extractor.model(generated_images, training=False)
        content = L.content_loss(content_target, features[self.content_layer])
        style = L.style_loss(self.style_targets, features, self.style_layer_weights)
        tv = L.tv_loss(generated_images)
        return self._weigh(content, style, tv)

    def evaluate(self, model: keras.Model, content_images: ImageBatch) -> dict[str, float]:
        """The weighted costs of ``model`` on a fixed batch ``(B, H, W, 3)``, as floats."""
        content_images = tf.convert_to_tensor(content_images, tf.float32)
        values = self(content_images, model(content_images, training=False))
        return {key: float(value) for key, value in values.items()}
