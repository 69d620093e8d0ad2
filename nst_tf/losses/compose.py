"""Cost terms that add and scale: ``objective = content + 30 * style + 200 * tv`` (issue 25).

Each term is one cost with its targets taken once (as in Lucid's objectives and pystiche's loss
containers), kept in ``tf.Variable`` s: new pictures of the same size give a term new targets
(:meth:`ContentTerm.set_content_image`, :meth:`StyleTerm.set_style_images`) without retracing what was
compiled from it:

* :class:`ContentTerm` ``(content_image, layers)``: the mean over ``layers`` of :func:`~nst_tf.losses.content_loss`;
* :class:`StyleTerm` ``(style_image(s), layers)``: :func:`~nst_tf.losses.style_loss` against the style
  statistics (several styles blended, or each in its own region with ``masks``);
* :class:`TVTerm` ``()``: :func:`~nst_tf.losses.tv_loss` of the generated image.

``3 * term`` and ``term_a + term_b`` give a :class:`WeightedSum`: named parts, each with its weight in a
``tf.Variable`` (``objective.style_weight = 10`` assigns it, so a compiled step never retraces).
Called on a generated image ``(1, H, W, 3)`` a sum (or a lone term) returns ``{name: weight * cost,
..., "total": sum}``, the cost object every solver of :mod:`nst_tf.optim.solvers` minimises. The terms
that read VGG features share them: each distinct extractor runs once per evaluation, so give the terms
one ``extractor`` (``feature_extractor(content_layers + style_layers)``).

>>> extractor = feature_extractor(["block4_conv2", "block1_conv1", "block2_conv1"])          # doctest: +SKIP
>>> content = ContentTerm(content_image, ["block4_conv2"], extractor=extractor)               # doctest: +SKIP
>>> style = StyleTerm(style_image, ["block1_conv1", "block2_conv1"], extractor=extractor)     # doctest: +SKIP
>>> objective = content + 30 * style + 200 * TVTerm()                                        # doctest: +SKIP
>>> objective(image)["total"]                                                                 # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence, Union, cast

import numpy as np
import tensorflow as tf

from . import terms as L
from .masks import downsample_mask, prepare_masks
from ..image.types import ImageBatch, ImageSource
from ..vgg.extractor import FeatureExtractor, feature_extractor
from ..vgg.sizes import layer_sizes
from .gram import StyleStatistic, blend_weights, style_image_list
from .gram import style_statistic as lookup_statistic

__all__ = ["Term", "ContentTerm", "StyleTerm", "TVTerm", "WeightedSum"]

Features = Mapping[str, tf.Tensor]


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.isidentifier() or name == "total":
        raise ValueError(f"name must be a Python identifier other than 'total', got {name!r}.")
    return name


def _layer_list(layers: Union[str, Sequence[str]], argument: str) -> list[str]:
    names = [layers] if isinstance(layers, str) else list(layers)
    if not names or not all(isinstance(name, str) for name in names):
        raise ValueError(f"{argument} must be one Keras layer name or a non-empty list of them, got {layers!r}.")
    return names


def _extractor_for(layers: Sequence[str], extractor: FeatureExtractor | None, options: Mapping) -> FeatureExtractor:
    extractor = extractor or feature_extractor(list(layers), **dict(options))
    missing = [name for name in layers if name not in extractor.layers]
    if missing:
        raise ValueError(f"The given extractor does not compute {missing}.")
    return extractor


def _variable(value: Any, name: str) -> tf.Variable:
    """A target kept in a variable: new pictures are assigned to it, and a compiled step reads it without a new trace."""
    return tf.Variable(value, trainable=False, name=name.replace("/", "_"))


def _check_shapes(new: Mapping[str, Any], old: Mapping[str, tf.Variable]) -> None:
    for layer, variable in old.items():
        shape = tuple(tf.convert_to_tensor(new[layer]).shape)
        if shape != tuple(variable.shape):
            raise ValueError(f"The new target of {layer} has shape {shape}, the old one {tuple(variable.shape)}; "
                             "build a new term for these pictures.")


def _assign_all(new: Mapping[str, Any], old: Mapping[str, tf.Variable]) -> None:
    """Every variable of ``old`` takes its value in ``new``, after all shapes are checked (all or nothing)."""
    _check_shapes(new, old)
    for layer, variable in old.items():
        variable.assign(tf.cast(new[layer], variable.dtype))


def _cost_of(term: "Term") -> Any:
    """``term.cost`` as a sum calls it.

    The package's costs branch on Python values only (shapes, options), so AutoGraph would change
    nothing in their graphs: ``__call__`` of terms and sums is marked not to be converted, which
    saves the conversion (about 4 CPU s for the first solver traced in a process, measured on
    2 cores). A ``cost`` defined outside the package still goes through AutoGraph inside a
    ``tf.function``, as it would have without the mark (an ``if`` on a tensor keeps working).
    """
    method = getattr(type(term), "cost", None)
    if not tf.inside_function() or getattr(method, "__module__", "").startswith("nst_tf."):
        return term.cost
    converted = tf.autograph.to_graph(method)
    return lambda image, features: converted(term, image, features)


class Term:
    """One unweighted cost of the generated image. Subclasses define :meth:`cost`.

    ``extractor`` is the :class:`FeatureExtractor` whose features the term reads (``None``: the
    term reads the pixels only); ``name`` the key of its weighted cost in a sum.
    """

    name: str = "term"
    extractor: FeatureExtractor | None = None

    def cost(self, image: tf.Tensor, features: Features | None) -> tf.Tensor:
        """The unweighted cost (a scalar) of ``image`` ``(1, H, W, 3)`` given its ``features`` (``None`` without extractor)."""
        raise NotImplementedError

    def as_sum(self) -> "WeightedSum":
        """This term alone, with weight 1."""
        return WeightedSum([(self.name, self, 1.0)])

    @property
    def loss_keys(self) -> tuple[str, ...]:
        return ("total", self.name)

    @tf.autograph.experimental.do_not_convert  # see _cost_of
    def __call__(self, image: ImageBatch) -> dict[str, tf.Tensor]:
        """``{name: cost, "total": cost}`` of a batch ``(1, H, W, 3)`` (a lone term: weight 1, no variable)."""
        image = tf.convert_to_tensor(image, tf.float32)
        features = None if self.extractor is None else self.extractor.model(image, training=False)
        cost = _cost_of(self)(image, features)
        return {self.name: cost, "total": cost}

    def __add__(self, other: object) -> "WeightedSum":
        return self.as_sum() + other

    def __radd__(self, other: object) -> "WeightedSum":
        return self.as_sum().__radd__(other)

    def __mul__(self, factor: object) -> "WeightedSum":
        return self.as_sum() * factor

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class ContentTerm(Term):
    """How far the generated image's activations are from the content image's, averaged over ``layers``.

    Args:
        content_image: ``(H, W, 3)`` in [0, 1].
        layers: Keras layer names (``"block4_conv2"``).
        normalization: ``"mse"``, ``"course"`` or ``"gatys"`` (:func:`~nst_tf.losses.content_loss`).
        extractor: a :class:`FeatureExtractor` computing ``layers`` (share one between terms); else one is
            built by :func:`~nst_tf.vgg.extractor.feature_extractor` with ``extractor_options``.
        name: the key of this cost in a sum.
        targets: ``{layer: activations}`` of the content image, computed elsewhere (the bounded-memory path
            computes them in tiles); default: the extractor's, once.
    """

    extractor: FeatureExtractor  # always one (built from the options when not given)

    def __init__(self, content_image: ImageSource, layers: Union[str, Sequence[str]], *, normalization: str = "mse",
                 extractor: FeatureExtractor | None = None, name: str = "content",
                 targets: Mapping[str, Any] | None = None, **extractor_options: Any) -> None:
        from ..image.validate import image_array

        L._check_normalization(normalization)
        self.name = _check_name(name)
        self.layers = _layer_list(layers, "layers")
        self.normalization = normalization
        self.content_image = image_array(content_image, "content_image", min_side=0)
        self.extractor = _extractor_for(self.layers, extractor, extractor_options)
        image_array(self.content_image, "content_image", min_side=self.extractor.min_side)
        features = self.extractor(self.content_image[np.newaxis]) if targets is None else targets
        self.targets = {layer: _variable(features[layer], f"content_target_{layer}") for layer in self.layers}

    def set_content_image(self, content_image: ImageSource, *, targets: Mapping[str, Any] | None = None) -> None:
        """Another content picture of the same size: its activations become the targets.

        The targets' variables are assigned, so a step compiled with this term runs on without a new trace.
        ``targets`` as for the constructor. ValueError (nothing changed) for a picture of another size.
        """
        from ..image.validate import image_array

        picture = image_array(content_image, "content_image", min_side=self.extractor.min_side)
        if picture.shape != self.content_image.shape:
            raise ValueError(f"The new content_image is {picture.shape[1]} x {picture.shape[0]} px; this term's "
                             f"targets are for {self.content_image.shape[1]} x {self.content_image.shape[0]} px.")
        features = self.extractor(picture[np.newaxis]) if targets is None else targets
        _assign_all({layer: features[layer] for layer in self.layers}, self.targets)
        self.content_image = picture

    def cost(self, image: tf.Tensor, features: Features) -> tf.Tensor:  # type: ignore[override]  # has an extractor
        costs = [L.content_loss(self.targets[layer], features[layer], self.normalization) for layer in self.layers]
        return tf.add_n(costs) / float(len(self.layers))


class StyleTerm(Term):
    """How far the generated image's style statistics are from the style image(s)', over ``layers``.

    Args:
        style_images: one ``(h, w, 3)`` image or a list of them (any sizes).
        layers: Keras layer names, or ``{layer: lambda_l}`` relative per-layer weights (normalised to sum 1).
        blend: one weight per style image (normalised); the target is the blended statistic.
        masks: one mask per style image (path or ``(H, W)`` array in [0, 1]); each style is matched only
            in its region (:func:`~nst_tf.losses.style_loss` with masks). Needs ``size``, not ``blend``.
        size: ``(H, W)`` of the generated image (with ``masks``: they are resized to it).
        normalization: ``"mse"``, ``"course"`` or ``"gatys"``.
        statistic: ``"gram"``, ``"gram_centered"``, ``"mean_std"`` or a function (a name with masks).
        extractor, name, extractor_options: as for :class:`ContentTerm`.
        statistics: one ``{layer: statistic}`` per style image, computed elsewhere (the bounded-memory path
            computes them in tiles); default: the extractor's, once.
    """

    extractor: FeatureExtractor  # always one (built from the options when not given)

    def __init__(self, style_images: ImageSource | Sequence[ImageSource],
                 layers: Union[str, Sequence[str], Mapping[str, float]], *,
                 blend: Sequence[float] | None = None, masks: Sequence | None = None,
                 size: tuple[int, int] | None = None, normalization: str = "mse",
                 statistic: Union[str, StyleStatistic] = "gram", extractor: FeatureExtractor | None = None,
                 name: str = "style", statistics: Sequence[Mapping[str, Any]] | None = None,
                 **extractor_options: Any) -> None:
        from ..image.validate import image_array

        L._check_normalization(normalization)
        self.name = _check_name(name)
        if masks is not None:
            if blend is not None:
                raise ValueError("blend cannot be combined with masks; blend with overlapping fractional masks.")
            if not isinstance(statistic, str):
                raise ValueError("Spatial masks need a named style statistic: 'gram', 'gram_centered' or 'mean_std'.")
            if size is None:
                raise ValueError("masks need size=(H, W), the generated image's size.")
        self.style_images, names = style_image_list(style_images)
        self.blend = blend_weights(blend, len(self.style_images))
        self.layer_weights = L.normalize_layer_weights([layers] if isinstance(layers, str) else layers)
        self.normalization, self.statistic_name = normalization, statistic
        self.statistic = lookup_statistic(statistic)
        self.extractor = _extractor_for(list(self.layer_weights), extractor, extractor_options)
        for picture, label in zip(self.style_images, names):
            image_array(picture, label, min_side=self.extractor.min_side)
        #: The masks ``(H, W)`` as given, checked and resized (None: no masks), and each at every layer's size.
        self.masks: list[np.ndarray] | None = None
        self.layer_masks: list[dict[str, tf.Variable]] | None = None
        if masks is not None:
            height, width = (int(side) for side in cast(tuple, size))
            self.masks, layer_masks = self._masks_of(masks, len(self.style_images), (height, width))
            self.layer_masks = [{layer: _variable(value, f"mask_{index}_{layer}") for layer, value in each.items()}
                                for index, each in enumerate(layer_masks)]
        targets = self._targets_of(self.style_images, self.blend, statistics)
        if self.layer_masks is None:  # the blended target: the weighted mean of the statistics
            self.targets: Any = {layer: _variable(value, f"style_target_{layer}") for layer, value in targets.items()}
        else:  # one target per style
            self.targets = [{layer: _variable(value, f"style_target_{index}_{layer}") for layer, value in each.items()}
                            for index, each in enumerate(targets)]

    def _masks_of(self, masks: Sequence, count: int, size: tuple[int, int]
                  ) -> tuple[list[np.ndarray], list[dict[str, tf.Tensor]]]:
        """The masks checked and resized to ``size``, and each at every layer's size."""
        prepared = prepare_masks(masks, count, size)
        shapes = layer_sizes(*size, net=self.extractor.net)
        return prepared, [{layer: downsample_mask(mask, shapes[layer]) for layer in self.layer_weights}
                          for mask in prepared]

    def _targets_of(self, styles: Sequence[np.ndarray], blend: Sequence[float],
                    statistics: Sequence[Mapping[str, Any]] | None) -> Any:
        """The targets of ``styles``: their blended statistics ``{layer: value}``, or one such dict per style (masks)."""
        if statistics is None:
            statistics = [{layer: self.statistic(value) for layer, value in self.extractor(style[np.newaxis]).items()
                           if layer in self.layer_weights} for style in styles]
        elif len(statistics) != len(styles):
            raise ValueError(f"Got {len(statistics)} sets of statistics for {len(styles)} style images.")
        if self.masks is None:
            return {layer: tf.add_n([weight * each[layer] for weight, each in zip(blend, statistics)])
                    for layer in self.layer_weights}
        return [{layer: each[layer] for layer in self.layer_weights} for each in statistics]

    def set_style_images(self, style_images: ImageSource | Sequence[ImageSource], *,
                         blend: Sequence[float] | None = None, masks: Sequence | None = None,
                         statistics: Sequence[Mapping[str, Any]] | None = None) -> None:
        """Other style pictures (any sizes) for the same layers and statistic: their statistics become the targets.

        The targets' variables are assigned (and, with masks, the masks'), so a step compiled with this term
        runs on without a new trace. A term built with masks takes as many styles and new ``masks``; one built
        without takes any number of styles and a ``blend``. ValueError (nothing changed) when the new targets
        cannot take the old ones' place.
        """
        from ..image.validate import image_array

        styles, names = style_image_list(style_images)
        if (masks is None) != (self.masks is None):
            raise ValueError("This term was built " + ("with" if self.masks is not None else "without")
                             + " masks; give new pictures the same way.")
        if self.masks is not None and len(styles) != len(self.masks):
            raise ValueError(f"This term matches {len(self.masks)} styles in their regions; got {len(styles)}.")
        if masks is not None and blend is not None:
            raise ValueError("blend cannot be combined with masks; blend with overlapping fractional masks.")
        new_blend = blend_weights(blend, len(styles))
        for picture, label in zip(styles, names):
            image_array(picture, label, min_side=self.extractor.min_side)
        layer_masks = None
        if self.masks is not None:
            new_masks, layer_masks = self._masks_of(cast(Sequence, masks), len(styles), self.masks[0].shape[:2])
        targets = self._targets_of(styles, new_blend, statistics)
        if self.layer_masks is None:
            _assign_all(targets, self.targets)
        else:  # every pair checked before any is assigned: all or nothing
            for new, old in zip([*targets, *cast(list, layer_masks)], [*self.targets, *self.layer_masks]):
                _check_shapes(new, old)
            for new, old in zip([*targets, *cast(list, layer_masks)], [*self.targets, *self.layer_masks]):
                _assign_all(new, old)
            self.masks = new_masks
        self.style_images, self.blend = styles, new_blend

    def style_costs(self, features: Features) -> list[tf.Tensor]:
        """Each style's cost: one (blended), or one per style image matched in its own region."""
        if self.layer_masks is None:
            return [L.style_loss(self.targets, features, self.layer_weights, self.normalization, self.statistic)]
        return [L.style_loss(targets, features, self.layer_weights, self.normalization, self.statistic_name,
                             masks=masks) for targets, masks in zip(self.targets, self.layer_masks)]

    def cost(self, image: tf.Tensor, features: Features) -> tf.Tensor:  # type: ignore[override]  # has an extractor
        costs = self.style_costs(cast(Features, features))
        return costs[0] if len(costs) == 1 else tf.add_n(costs)


class TVTerm(Term):
    """Total variation of the generated image (:func:`~nst_tf.losses.tv_loss`, ``kind`` ``"l2"``, ``"l1"`` or ``"sum_abs"``)."""

    def __init__(self, kind: str = "l2", *, name: str = "tv"):
        if kind not in L.TV_KINDS:
            raise ValueError(f"Unknown TV kind {kind!r}; choose one of {', '.join(L.TV_KINDS)}.")
        self.kind, self.name = kind, _check_name(name)

    def cost(self, image: tf.Tensor, features: Features | None) -> tf.Tensor:
        return L.tv_loss(image, self.kind)


class WeightedSum:
    """Named terms, each times a weight kept in a ``tf.Variable``; ``objective(image)`` gives the weighted costs.

    Built by adding and scaling terms (``content + 30 * style``). ``objective.<name>_weight`` reads or sets
    a part's weight (``objective.style_weight = 10``: the variable is assigned, nothing retraces);
    ``objective.parts`` maps each name to its term; ``objective.loss_keys`` is ``("total", *names)``.
    """

    def __init__(self, parts: Sequence[tuple[str, Term, float]]):
        names = [name for name, _, _ in parts]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"Two terms are named {repeated[0]!r}; give one of them another name (name=...).")
        if not parts:
            raise ValueError("A weighted sum needs at least one term.")
        from ..image.validate import weight

        object.__setattr__(self, "parts", {name: term for name, term, _ in parts})
        object.__setattr__(self, "_weights", {
            name: tf.Variable(weight(value, f"{name}_weight"), dtype=tf.float32, trainable=False, name=f"{name}_weight")
            for name, _, value in parts})

    @property
    def loss_keys(self) -> tuple[str, ...]:
        return ("total", *self.parts)

    @property
    def extractor(self) -> FeatureExtractor | None:
        """The feature extractor the terms share (``None`` if they read none, or several)."""
        found = {id(term.extractor): term.extractor for term in self.parts.values() if term.extractor is not None}
        return next(iter(found.values())) if len(found) == 1 else None

    def weight_values(self) -> dict[str, float]:
        """``{"<name>_weight": value}`` of every part (what an error about the weights names)."""
        return {f"{name}_weight": float(variable.numpy()) for name, variable in self._weights.items()}

    def _part_of(self, attribute: str) -> str | None:
        if attribute.endswith("_weight") and attribute[: -len("_weight")] in self.parts:
            return attribute[: -len("_weight")]
        return None

    def __getattr__(self, attribute: str) -> Any:
        part = self._part_of(attribute) if attribute not in ("parts", "_weights") else None
        if part is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {attribute!r}")
        return float(self._weights[part].numpy())

    def __setattr__(self, attribute: str, value: float) -> None:
        part = self._part_of(attribute)
        if part is None:
            raise AttributeError(f"A weighted sum's attributes are its weights ({', '.join(self.weight_values())}), "
                                 f"not {attribute!r}.")
        from ..image.validate import weight

        self._weights[part].assign(weight(value, attribute))

    def __getitem__(self, name: str) -> Term:
        return self.parts[name]

    def _triples(self) -> list[tuple[str, Term, float]]:
        return [(name, term, float(self._weights[name].numpy())) for name, term in self.parts.items()]

    # ----- adding and scaling -----------------------------------------------------------------
    def __add__(self, other: object) -> "WeightedSum":
        if isinstance(other, Term):
            other = other.as_sum()
        if not isinstance(other, WeightedSum):
            return NotImplemented
        return WeightedSum(self._triples() + other._triples())

    def __radd__(self, other: object) -> "WeightedSum":
        if isinstance(other, (int, float)) and other == 0:  # sum([...]) starts from 0
            return WeightedSum(self._triples())
        return NotImplemented

    def __mul__(self, factor: object) -> "WeightedSum":
        if isinstance(factor, (Term, WeightedSum)) or not isinstance(factor, (int, float, np.number)):
            return NotImplemented
        from ..image.validate import weight

        factor = weight(factor, "the factor")
        return WeightedSum([(name, term, value * factor) for name, term, value in self._triples()])

    __rmul__ = __mul__

    # ----- the costs ---------------------------------------------------------------------------
    @tf.autograph.experimental.do_not_convert  # see _cost_of
    def __call__(self, image: ImageBatch) -> dict[str, tf.Tensor]:
        """``{name: weight * cost, ..., "total": sum}`` of a batch ``(1, H, W, 3)``, differentiable (eager)."""
        image = tf.convert_to_tensor(image, tf.float32)
        extractors: dict[int, Features] = {}
        weighted: dict[str, tf.Tensor] = {}
        for name, term in self.parts.items():
            features = None
            if term.extractor is not None:  # each extractor runs once per evaluation, whatever reads it
                key = id(term.extractor)
                if key not in extractors:
                    extractors[key] = term.extractor.model(image, training=False)
                features = extractors[key]
            weighted[name] = self._weights[name] * _cost_of(term)(image, features)
        parts = list(weighted.values())
        total = parts[0]
        for part in parts[1:]:  # in order, as Objective adds content + style + tv (the same rounding)
            total = total + part
        weighted["total"] = total
        return weighted

    def __repr__(self) -> str:
        return " + ".join(f"{value:g} * {term!r}" for _, term, value in self._triples())
