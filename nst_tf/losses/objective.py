"""The objective of neural style transfer: targets computed once, and the weighted costs (lessons 03-05).

:class:`Objective` is a *cost object*: called with a generated image ``(1, H, W, 3)`` it
returns ``{"content", "style", "tv", "total"}``, each cost times its weight,

    content_weight * content_loss + style_weight * style_loss + tv_weight * tv_loss,

with the costs of :mod:`nst_tf.losses` against targets taken once from the content and
style images. It knows nothing of how the image moves: the solvers of :mod:`nst_tf.optim.solvers`
minimise any cost object, this one included (:class:`nst_tf.transfer.style_transfer.StyleTransfer` puts
the two together).

The same costs as separate terms that add and scale (``content + 30 * style + 200 * tv``) are in
:mod:`nst_tf.losses.compose`; this class keeps the bounded-memory path, which needs all of them at once.

Several style images are blended (``style_blend``: the weighted mean of their statistics) or,
given ``style_masks``, each matched only inside its own region (lesson 05; the masks go to
:func:`nst_tf.losses.style_loss`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence, Union, cast

import numpy as np
import tensorflow as tf

from . import terms as L
from ..image.types import ImageSource
from ..vgg.extractor import FeatureExtractor, feature_extractor
from .gram import StyleStatistic
from .gram import style_statistic as lookup_statistic

__all__ = ["Objective", "Targets", "is_single_image"]

def is_single_image(images: object) -> bool:
    """True for one image array ``(H, W, 3)``, False for a list of them."""
    return isinstance(images, (np.ndarray, tf.Tensor)) and len(images.shape) == 3


def style_image_list(style_images: ImageSource | Sequence[ImageSource]) -> tuple[list[np.ndarray], list[str]]:
    """One style image or a list of them, checked, as ``(images, labels)`` (labels for error messages:
    ``style_image`` or ``style_images[i]``); at least one image."""
    from ..image.validate import image_array

    single = is_single_image(style_images)
    styles = [style_images] if single else list(cast("Sequence[ImageSource]", style_images))
    labels = ["style_image"] if single else [f"style_images[{index}]" for index in range(len(styles))]
    images = [image_array(style, label, min_side=0) for style, label in zip(styles, labels)]
    if not images:
        raise ValueError("Give at least one style image.")
    return images, labels


@dataclass
class Targets:
    """The content activations ``{layer: tensor}`` and the style statistics: ``{layer: tensor}``
    (blended styles) or, with masks, one such dict per style image."""

    content: dict = field(default_factory=dict)
    style: Union[dict, list] = field(default_factory=dict)


class Objective(L.WeightedCosts):
    """Targets plus weighted costs; ``objective(image)`` gives the weighted costs of a batch ``(1, H, W, 3)``.

    Args:
        content_image: ``(H, W, 3)`` in [0, 1].
        style_images: one ``(h, w, 3)`` image or a list of them (any sizes).
        style_blend: one weight per style image (normalised to sum to 1); default equal.
            The blended target is the weighted mean of the styles' statistics, which has the
            same minimiser as the weighted sum of the separate style costs.
        style_masks: one mask per style image (a path or an ``(H, W)`` array in [0, 1], resized
            to the content's size); each style is matched only inside its region. Not with
            ``style_blend`` (overlapping fractional masks blend).
        content_layers, style_layers: Keras layer names; ``style_layers`` may be a dict
            ``{layer: lambda_l}`` of relative per-layer weights.
        content_weight, style_weight, tv_weight: the weights of the three costs, kept in a
            ``tf.Variable`` (changing them never retraces a compiled function).
        content_normalization, style_normalization: ``"mse"``, ``"course"`` or ``"gatys"``.
        style_statistic: ``"gram"``, ``"gram_centered"``, ``"mean_std"`` or a function (a name with masks).
        tv_kind: ``"l2"``, ``"l1"`` or ``"sum_abs"`` (see :func:`nst_tf.losses.tv_loss`).
        extractor: a ready :class:`FeatureExtractor` that computes the layers; else one is built by
            :func:`nst_tf.vgg.extractor.feature_extractor` with ``extractor_options`` (``weights``,
            ``net``, ``pooling``, ``normalize``), after the arguments are checked.
        bounded_memory: compute the costs, their gradient and the targets on the bounded-memory
            path (:mod:`nst_tf.losses.highres`: VGG's shallow blocks in tiles; the same numbers in far
            less memory at large sizes; only ``"total"`` carries a gradient).
    """

    def __init__(
        self,
        content_image: ImageSource,
        style_images: ImageSource | Sequence[ImageSource],
        *,
        content_layers: Sequence[str],
        style_layers: Union[Sequence[str], Mapping[str, float]],
        content_weight: float,
        style_weight: float,
        tv_weight: float,
        style_blend: Sequence[float] | None = None,
        style_masks: Sequence | None = None,
        content_normalization: str = "mse",
        style_normalization: str = "mse",
        style_statistic: Union[str, StyleStatistic] = "gram",
        tv_kind: str = "l2",
        extractor: FeatureExtractor | None = None,
        extractor_options: Mapping | None = None,
        bounded_memory: bool = False,
    ) -> None:
        from ..image.validate import image_array

        if style_masks is not None:
            if style_blend is not None:
                raise ValueError("style_blend cannot be combined with style_masks; blend with overlapping fractional masks.")
            if not isinstance(style_statistic, str):
                raise ValueError("Spatial masks need a named style statistic: 'gram', 'gram_centered' or 'mean_std'.")
        self.content_image = image_array(content_image, "content_image", min_side=0)
        self.style_images, style_names = style_image_list(style_images)
        if style_masks is not None:
            from .masks import prepare_masks

            self.statistic_name = style_statistic
            self.style_masks: list[np.ndarray] | None = prepare_masks(style_masks, len(self.style_images), self.content_image.shape[:2])
        else:
            self.style_masks = None
        self.style_blend = self._blend_weights(style_blend, len(self.style_images))
        for normalization in (content_normalization, style_normalization):
            if normalization not in L.NORMALIZATIONS:
                raise ValueError(f"Unknown normalization {normalization!r}; choose one of {', '.join(L.NORMALIZATIONS)}.")
        if tv_kind not in L.TV_KINDS:
            raise ValueError(f"Unknown TV kind {tv_kind!r}; choose one of {', '.join(L.TV_KINDS)}.")
        self.content_layers = [content_layers] if isinstance(content_layers, str) else list(content_layers)
        self.style_layer_weights = L.normalize_layer_weights(
            [style_layers] if isinstance(style_layers, str) else style_layers
        )
        self.content_normalization = content_normalization
        self.style_normalization = style_normalization
        self.style_statistic = style_statistic
        self.statistic = lookup_statistic(style_statistic)
        self.tv_kind = tv_kind
        layers = list(dict.fromkeys(self.content_layers + list(self.style_layer_weights)))
        self.extractor = extractor or feature_extractor(layers, **dict(extractor_options or {}))
        missing = [name for name in layers if name not in self.extractor.layers]
        if missing:
            raise ValueError(f"The given extractor does not compute {missing}.")
        # the sides the deepest layer can take, before TensorFlow sees them
        for name, picture in zip(["content_image", *style_names], [self.content_image, *self.style_images]):
            image_array(picture, name, min_side=getattr(self.extractor, "min_side", 0))
        self._init_weights(content_weight, style_weight, tv_weight)
        if not isinstance(bounded_memory, (bool, np.bool_)):
            raise TypeError(f"bounded_memory must be True or False, got {bounded_memory!r}.")
        self.bounded = None  # the bounded-memory cost (nst_tf.losses.highres.BoundedCost) when asked for
        if bounded_memory:
            from .highres import BoundedCost

            self.bounded = BoundedCost(self)
        self.targets = self._compute_targets()

    @staticmethod
    def _blend_weights(style_blend: Sequence[float] | None, count: int) -> list[float]:
        blend = [1.0] * count if style_blend is None else [float(w) for w in style_blend]
        if len(blend) != count:
            raise ValueError(f"Got {len(blend)} style blend weights for {count} style images.")
        if any(w < 0 for w in blend) or sum(blend) <= 0:
            raise ValueError("Style blend weights must be non-negative and not all zero.")
        return [w / sum(blend) for w in blend]

    # ----- targets, computed once ---------------------------------------------------
    def _compute_targets(self) -> Targets:
        if self.bounded is not None:
            from .highres import targets_of

            return targets_of(self, self.bounded)
        targets = Targets()
        content_features = self.extractor(self.content_image[np.newaxis])
        targets.content = {name: tf.constant(content_features[name]) for name in self.content_layers}
        if self.style_masks is not None:
            from .masks import downsample_mask

            shapes = {name: tuple(content_features[name].shape[1:3]) for name in self.style_layer_weights}
            #: ``layer_masks[i][layer]``: style ``i``'s mask at that layer's resolution ``(h, w)``.
            self.layer_masks = [
                {name: tf.constant(downsample_mask(mask, shape)) for name, shape in shapes.items()}
                for mask in self.style_masks
            ]
            targets.style = []
            for style in self.style_images:
                style_features = self.extractor(style[np.newaxis])
                targets.style.append({name: tf.constant(self.statistic(style_features[name])) for name in shapes})
            return targets
        blended: dict[str, tf.Tensor] = {}
        for weight, style in zip(self.style_blend, self.style_images):
            style_features = self.extractor(style[np.newaxis])
            for name in self.style_layer_weights:
                statistic = weight * self.statistic(style_features[name])
                blended[name] = blended[name] + statistic if name in blended else statistic
        targets.style = {name: tf.constant(value) for name, value in blended.items()}
        return targets

    # ----- the costs -------------------------------------------------------------------
    def __call__(self, image: tf.Tensor) -> dict[str, tf.Tensor]:
        """The weighted costs of a batch ``(1, H, W, 3)``, differentiable (eager; compile it yourself)."""
        if self.bounded is not None:
            return self.bounded(image)
        features = self.extractor.model(image, training=False)
        content = tf.add_n(
            [
                L.content_loss(self.targets.content[name], features[name], self.content_normalization)
                for name in self.content_layers
            ]
        ) / float(len(self.content_layers))
        return self._weigh(content, self.style_cost(features), L.tv_loss(image, self.tv_kind))

    def style_cost(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """The (unweighted) style cost of the generated image's features: all styles together."""
        if self.style_masks is None:
            return L.style_loss(
                cast("dict[str, tf.Tensor]", self.targets.style), features, self.style_layer_weights, self.style_normalization, self.statistic
            )
        return tf.add_n(self.style_terms_of(features))

    def style_terms_of(self, features: Mapping[str, tf.Tensor]) -> list[tf.Tensor]:
        """Each style's (unweighted) cost: one term, or one per style image matched in its own region."""
        if self.style_masks is None:
            return [self.style_cost(features)]
        return [
            L.style_loss(targets, features, self.style_layer_weights, self.style_normalization, self.statistic_name,
                         masks=masks)
            for targets, masks in zip(self.targets.style, self.layer_masks)
        ]
