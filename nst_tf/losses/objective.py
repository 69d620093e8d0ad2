"""The objective of neural style transfer: targets computed once, and the weighted costs (lessons 03-05).

:class:`Objective` is the sum of terms ``content_weight * ContentTerm + style_weight * StyleTerm +
tv_weight * TVTerm`` (:mod:`nst_tf.losses.compose`) built from a transfer's arguments: the same object
kind as a sum a user adds up. Called with a generated image ``(1, H, W, 3)`` it
returns ``{"content", "style", "tv", "total"}``, each cost times its weight,

    content_weight * content_loss + style_weight * style_loss + tv_weight * tv_loss,

with the costs of :mod:`nst_tf.losses` against targets taken once from the content and
style images. It knows nothing of how the image moves: the solvers of :mod:`nst_tf.optim.solvers`
minimise any cost object, this one included (:class:`nst_tf.transfer.style_transfer.StyleTransfer` puts
the two together).

It keeps the attributes the lessons read (``targets``, ``content_layers``, ``style_layer_weights``,
``layer_masks``, ``style_blend`` ...), read from its terms (``objective["style"]`` is the style term).
With ``bounded_memory=True`` the targets are computed, and every call runs, on the bounded-memory path
(:class:`nst_tf.losses.highres.BoundedCost`, which reads the terms only).

Several style images are blended (``style_blend``: the weighted mean of their statistics) or,
given ``style_masks``, each matched only inside its own region (lesson 05; the masks go to
:func:`nst_tf.losses.style_loss`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence, Union, cast

import numpy as np
import tensorflow as tf

from . import terms as L
from ..image.types import ImageSource
from ..vgg.extractor import FeatureExtractor, feature_extractor
from .compose import ContentTerm, StyleTerm, TVTerm, WeightedSum
from .gram import StyleStatistic, blend_weights, style_image_list

__all__ = ["Objective", "Targets", "is_single_image", "style_image_list"]


def is_single_image(images: object) -> bool:
    """True for one image array ``(H, W, 3)``, False for a list of them."""
    return isinstance(images, (np.ndarray, tf.Tensor)) and len(images.shape) == 3


@dataclass
class Targets:
    """The content activations ``{layer: tensor}`` and the style statistics: ``{layer: tensor}``
    (blended styles) or, with masks, one such dict per style image."""

    content: dict = field(default_factory=dict)
    style: Union[dict, list] = field(default_factory=dict)


class Objective(WeightedSum):
    """``content_weight * content + style_weight * style + tv_weight * tv``, built from a transfer's arguments.

    A :class:`~nst_tf.losses.compose.WeightedSum` of a :class:`~nst_tf.losses.compose.ContentTerm` named
    ``"content"``, a :class:`~nst_tf.losses.compose.StyleTerm` named ``"style"`` and a
    :class:`~nst_tf.losses.compose.TVTerm` named ``"tv"``; ``objective(image)`` gives the weighted costs of a
    batch ``(1, H, W, 3)``.

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
        from ..image.validate import image_array, weight

        if style_masks is not None:
            if style_blend is not None:
                raise ValueError("style_blend cannot be combined with style_masks; blend with overlapping fractional masks.")
            if not isinstance(style_statistic, str):
                raise ValueError("Spatial masks need a named style statistic: 'gram', 'gram_centered' or 'mean_std'.")
        content_image = image_array(content_image, "content_image", min_side=0)
        styles, style_names = style_image_list(style_images)
        if style_masks is not None:
            from .masks import prepare_masks

            prepare_masks(style_masks, len(styles), content_image.shape[:2])  # checked before VGG is built
        blend_weights(style_blend, len(styles))
        for normalization in (content_normalization, style_normalization):
            if normalization not in L.NORMALIZATIONS:
                raise ValueError(f"Unknown normalization {normalization!r}; choose one of {', '.join(L.NORMALIZATIONS)}.")
        if tv_kind not in L.TV_KINDS:
            raise ValueError(f"Unknown TV kind {tv_kind!r}; choose one of {', '.join(L.TV_KINDS)}.")
        content_layers = [content_layers] if isinstance(content_layers, str) else list(content_layers)
        style_layer_weights = L.normalize_layer_weights([style_layers] if isinstance(style_layers, str) else style_layers)
        weights = [weight(value, name) for value, name in ((content_weight, "content_weight"),
                                                           (style_weight, "style_weight"), (tv_weight, "tv_weight"))]
        if not isinstance(bounded_memory, (bool, np.bool_)):
            raise TypeError(f"bounded_memory must be True or False, got {bounded_memory!r}.")
        layers = list(dict.fromkeys(content_layers + list(style_layer_weights)))
        extractor = extractor or feature_extractor(layers, **dict(extractor_options or {}))
        missing = [name for name in layers if name not in extractor.layers]
        if missing:
            raise ValueError(f"The given extractor does not compute {missing}.")
        # the sides the deepest layer can take, before TensorFlow sees them
        for name, picture in zip(["content_image", *style_names], [content_image, *styles]):
            image_array(picture, name, min_side=getattr(extractor, "min_side", 0))
        content_targets: Any = None
        statistics: Any = None
        if bounded_memory:  # the targets in tiles too: a large content or style image never runs VGG whole
            if not (isinstance(style_statistic, str) and style_statistic in ("gram", "gram_centered", "mean_std")):
                raise ValueError("bounded_memory needs a named style statistic (gram, gram_centered, mean_std), "
                                 f"got {style_statistic!r}; pass bounded_memory=False.")
            from .highres import Tiling

            tiling = Tiling(extractor, content_layers, list(style_layer_weights), content_image.shape[:2])
            content_targets = tiling.features(content_image, style_statistic)[1]
            statistics = [tiling.features(style, style_statistic)[0] for style in styles]
        content = ContentTerm(content_image, content_layers, normalization=content_normalization, extractor=extractor,
                              targets=content_targets)
        style = StyleTerm(styles, style_layer_weights, blend=style_blend, masks=style_masks,
                          size=content_image.shape[:2] if style_masks is not None else None,
                          normalization=style_normalization, statistic=style_statistic, extractor=extractor,
                          statistics=statistics)
        super().__init__([("content", content, weights[0]), ("style", style, weights[1]),
                          ("tv", TVTerm(tv_kind), weights[2])])
        self.content_image, self.style_images = content.content_image, style.style_images
        self.style_masks, self.style_blend = style.masks, style.blend
        self.content_layers, self.style_layer_weights = content.layers, style.layer_weights
        self.content_normalization, self.style_normalization = content_normalization, style_normalization
        self.style_statistic, self.statistic, self.tv_kind = style_statistic, style.statistic, tv_kind
        if style_masks is not None:
            self.statistic_name = style_statistic
        self.targets = Targets(content=content.targets, style=style.targets)
        #: ``layer_masks[i][layer]``: style ``i``'s mask at that layer's resolution ``(h, w)`` (with masks).
        self.layer_masks = style.layer_masks
        self.bounded = None  # the bounded-memory cost (nst_tf.losses.highres.BoundedCost) when asked for
        if bounded_memory:
            from .highres import BoundedCost

            self.bounded = BoundedCost(self)

    def __setattr__(self, attribute: str, value: Any) -> None:
        if attribute.endswith("_weight"):  # a weight (a tf.Variable assigned), or a clear error
            super().__setattr__(attribute, value)
        else:
            object.__setattr__(self, attribute, value)

    def retarget(self, content_image: ImageSource, style_images: ImageSource | Sequence[ImageSource], *,
                 style_blend: Sequence[float] | None = None, style_masks: Sequence | None = None) -> None:
        """Other pictures for the same objective: a content image of the same size and any style images.

        Their activations and statistics are assigned to the targets' variables (:meth:`ContentTerm.set_content_image
        <nst_tf.losses.compose.ContentTerm.set_content_image>`, :meth:`StyleTerm.set_style_images
        <nst_tf.losses.compose.StyleTerm.set_style_images>`), so a solver compiled for this objective runs on them
        without a new trace, and computes what a new objective built from them would. Masks as at construction
        (with as many styles, or none). ValueError when the pictures do not fit, before the style targets change;
        not on the bounded-memory path.
        """
        if self.bounded is not None:
            raise ValueError("An objective on the bounded-memory path is built anew for other pictures.")
        content, style = cast(ContentTerm, self["content"]), cast(StyleTerm, self["style"])
        picture = content.content_image
        content.set_content_image(content_image)
        try:
            style.set_style_images(style_images, blend=style_blend, masks=style_masks)
        except Exception:
            content.set_content_image(picture)  # all or nothing
            raise
        self.content_image, self.style_images = content.content_image, style.style_images
        self.style_masks, self.style_blend, self.layer_masks = style.masks, style.blend, style.layer_masks

    @staticmethod
    def _blend_weights(style_blend: Sequence[float] | None, count: int) -> list[float]:
        return blend_weights(style_blend, count)

    # ----- the costs -------------------------------------------------------------------
    @tf.autograph.experimental.do_not_convert  # Python control flow on Python values only (compose._cost_of)
    def __call__(self, image: tf.Tensor) -> dict[str, tf.Tensor]:
        """The weighted costs of a batch ``(1, H, W, 3)``, differentiable (eager; compile it yourself)."""
        if self.bounded is not None:
            return self.bounded(image)
        return super().__call__(image)

    def style_cost(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """The (unweighted) style cost of the generated image's features: all styles together."""
        return self["style"].cost(None, features)

    def style_terms_of(self, features: Mapping[str, tf.Tensor]) -> list[tf.Tensor]:
        """Each style's (unweighted) cost: one term, or one per style image matched in its own region."""
        return cast(StyleTerm, self["style"]).style_costs(features)
