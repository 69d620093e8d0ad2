"""High resolution in bounded memory: the exact cost and gradient, VGG's shallow blocks run in tiles.

Why this design (and not plain gradient checkpointing): at 2048 px nearly all of the memory
of a style transfer is the activations of VGG's first blocks at full resolution (block 1 has
64 channels at every pixel, block 2 128 at a quarter of them) and their gradients; blocks 4-5
are 64-256 times smaller. Recomputing block by block (``tf.recompute_grad``) still holds one
whole full-resolution block and its gradient at a time, and still pays a second forward of
everything. Tiling bounds the shallow blocks' memory by the *tile* instead of the picture,
and the shallow blocks are the ones whose receptive field is small (about 30 px for blocks
1-3), so tiles with a halo of a few tens of px compute their interiors exactly.

The cost only looks at those blocks through *sums over positions*: each style layer's
statistic is a function of the sums ``sum_p m_p F_p F_p^T``, ``sum_p m_p F_p``,
``sum_p m_p F_p^2`` and ``sum_p m_p`` (``m = 1`` without a mask) -- the Gram matrix, the
centred Gram, the mean/std, each masked or not -- and the deep blocks only see the
shallow prefix's output. So one evaluation is

1. pass 1, no tape: run the prefix (blocks ``1..P``: 2, stride 4, or from about 1500 px 3,
   stride 8, :func:`nst_tf.vgg.sizes.highres_blocks`) over tiles, add
   each tile interior's sums, and assemble the prefix's output from the interiors (small);
2. with a tape: the deep blocks on the assembled output, every cost, and the gradient of the
   weighted sum of the terms that read features with respect to the prefix output and to the sums;
3. pass 2: per tile, the prefix again with a tape, and the gradient of the *linear*
   functional ``<dL/dsums, sums_tile> + <dL/dout, out_tile interior>`` with respect to the
   tile's pixels, added into the picture's gradient.

By the chain rule that is the untiled gradient, exact up to the order of summation; the
extra work is one more forward of the prefix plus the halos. Tile corners sit on multiples
of the prefix's stride (so every pooling window is the untiled one), halos are multiples of
it too, and at the picture's real borders there is no halo (VGG's 'same' zero padding is the
untiled net's). Tiles run one after another (control dependencies), so at most one tile's
activations and their gradients live at a time; the suffix runs on ``1/stride^2`` of the
pixels. Only the ``"total"`` cost carries a gradient on this path (asking for the gradient
of ``"content"`` or ``"style"`` alone raises); compile it (the solvers do) -- eagerly, an outer
tape would keep every tile's activations.

:class:`BoundedCost` takes a sum of terms (:mod:`nst_tf.losses.compose`: ``content + 30 * style + 200 * tv``,
the :class:`~nst_tf.losses.objective.Objective` a transfer builds included): any number of
:class:`~nst_tf.losses.compose.ContentTerm`, :class:`~nst_tf.losses.compose.StyleTerm` (a named statistic,
masked or not) and :class:`~nst_tf.losses.compose.TVTerm`, the first two sharing one extractor. Anything
else raises a one-line ValueError saying why (:func:`bounded_problem` says it without raising).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import tensorflow as tf

from . import terms as L
from .masks import masked_statistic
from ..vgg.sizes import HIGHRES_TILE, highres_blocks, highres_prefix_blocks

__all__ = ["BoundedCost", "Tiling", "bounded_problem", "axis_tiles", "receptive_radius", "STATISTICS"]

#: Style statistics this path knows as functions of sums over positions.
STATISTICS = ("gram", "gram_centered", "mean_std")
EPSILON = 1e-5  # nst_tf.gram.mean_std's and nst_tf.masks.masked_statistic's


def _block(name: str) -> int:
    return int(name[5]) if name.startswith("block") and name[5:6].isdigit() else 0


def receptive_radius(layers: Sequence[Any]) -> tuple[int, int]:
    """``(radius, stride)`` in input pixels of the last of ``layers`` (convolutions and 2x2 poolings)."""
    radius, jump = 0, 1
    for layer in layers:
        kernel = getattr(layer, "kernel_size", None)
        if kernel is not None:
            radius += (int(kernel[0]) // 2) * jump
        elif "pool" in layer.name:
            radius += jump
            jump *= 2
    return radius, jump


def axis_tiles(length: int, tile: int, stride: int, halo: int) -> list[tuple[int, int, int, int]]:
    """Tiles along one axis: ``(start, end, input_start, input_end)`` of each interior and its input.

    Interiors split ``[0, length)`` into about equal parts of at most ``tile`` px whose starts are
    multiples of ``stride``; each input reaches ``halo`` px beyond its interior (not beyond the picture).
    """
    count = max(1, math.ceil(length / tile))
    starts = sorted({int(round(index * length / count / stride)) * stride for index in range(count)})
    bounds = [start for start in starts if start < length] + [length]
    return [(a, b, max(0, a - halo), min(length, b + halo)) for a, b in zip(bounds[:-1], bounds[1:])]


#: One reader of the prefix's sums: ``(statistic name, its style layers, its masks {layer: mask} per style or None)``.
Reader = tuple


class Tiling:
    """The tiling plan for one extractor and its layers, and the prefix's sums over tiles.

    Args:
        extractor: the :class:`~nst_tf.vgg.extractor.FeatureExtractor` whose VGG runs (its ``vgg``'s layers).
        content_layers, style_layers: the layers the costs read.
        size: ``(H, W)`` of the generated picture (chooses how many blocks run in tiles).
        tile: the interior's side in px (a multiple of the prefix's stride).
        prefix_blocks: the VGG blocks run in tiles (default: :func:`nst_tf.vgg.sizes.highres_blocks`, 2 or 3
            by the picture's size; never a block that holds a content layer).
    """

    def __init__(self, extractor: Any, content_layers: Sequence[str], style_layers: Sequence[str], size: tuple[int, int],
                 *, tile: int = HIGHRES_TILE, prefix_blocks: int | None = None) -> None:
        content_layers = list(dict.fromkeys(content_layers))
        self.style_layers = list(dict.fromkeys(style_layers))
        self.content_layers = content_layers
        needed = set(content_layers) | set(self.style_layers)
        if prefix_blocks is None:
            height, width = (int(side) for side in size)
            prefix_blocks = highres_blocks(height, width, needed, getattr(extractor, "net", "vgg19"),
                                           content_layers if content_layers else None, tile)
        blocks = highres_prefix_blocks(content_layers, prefix_blocks)
        if blocks < 1:
            raise ValueError(f"bounded_memory needs content layers below block 1, got {content_layers}; "
                             "pass bounded_memory=False.")
        chain = list(extractor.vgg.layers[1:])  # VGGPreprocess, block1_conv1, ...
        last = max(index for index, layer in enumerate(chain) if layer.name in needed)
        chain = chain[: last + 1]
        self.prefix = [layer for layer in chain if _block(layer.name) <= blocks]
        self.suffix = chain[len(self.prefix):]
        radius, self.stride = receptive_radius(self.prefix)
        self.halo = self.stride * (radius // self.stride + 1)
        self.tile = max(self.stride, int(tile) // self.stride * self.stride)
        self.factors, factor = {}, 1  # each prefix layer's downsampling
        for layer in self.prefix:
            factor *= 2 if "pool" in layer.name else 1
            self.factors[layer.name] = factor
        self.prefix_layers = [name for name in self.style_layers if name in self.factors]

    # ----- the prefix over tiles ---------------------------------------------------------------
    def _tiles(self, height: int, width: int) -> tuple[list[tuple[int, int, int, int]], list[tuple[int, int, int, int]]]:
        rows = axis_tiles(height, self.tile, self.stride, self.halo)
        cols = axis_tiles(width, self.tile, self.stride, self.halo)
        return rows, cols

    def _run_prefix(self, x: tf.Tensor) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        features = {}
        for layer in self.prefix:
            x = layer(x)
            if layer.name in self.prefix_layers:
                features[layer.name] = x
        return features, x

    @staticmethod
    def _crop(feature: tf.Tensor, row: tuple[int, int, int, int], col: tuple[int, int, int, int], factor: int,
              height: int, width: int) -> tuple[tf.Tensor, tuple[slice, slice]]:
        """The interior ``(row, col)`` of a tile's feature map; also its global slice at that layer."""
        (a, b, a0, _), (c, d, c0, _) = row, col
        top, bottom = a // factor, (b // factor if b < height else height // factor)
        left, right = c // factor, (d // factor if d < width else width // factor)
        local = feature[:, top - a0 // factor: bottom - a0 // factor, left - c0 // factor: right - c0 // factor, :]
        return local, (slice(top, bottom), slice(left, right))

    def _tile_sums(self, features: dict[str, tf.Tensor], row: tuple[int, int, int, int], col: tuple[int, int, int, int],
                   height: int, width: int, readers: Sequence[Reader]) -> dict[Any, dict[str, Any]]:
        """``{(reader, layer, k): {"s2", "s1", "sq", "n"}}``: this tile interior's sums, ``k`` the mask (None: none)."""
        sums = {}
        for index, (statistic, layers, masks) in enumerate(readers):
            for name in layers:
                if name not in self.factors:
                    continue
                crop, where = self._crop(features[name], row, col, self.factors[name], height, width)
                for key, mask in ([(None, None)] if masks is None else list(enumerate(masks))):
                    weighted = crop if mask is None else crop * mask[name][where][tf.newaxis, :, :, tf.newaxis]
                    entry = {"n": tf.cast(tf.shape(crop)[1] * tf.shape(crop)[2], tf.float32) if mask is None
                             else tf.reduce_sum(mask[name][where])}
                    if statistic in ("gram", "gram_centered"):
                        entry["s2"] = tf.einsum("bijc,bijd->bcd", weighted, crop)
                    if statistic in ("gram_centered", "mean_std"):
                        entry["s1"] = tf.reduce_sum(weighted, axis=(1, 2))
                    if statistic == "mean_std":
                        entry["sq"] = tf.reduce_sum(weighted * crop, axis=(1, 2))
                    sums[(index, name, key)] = entry
        return sums

    def _pass1(self, image: tf.Tensor, readers: Sequence[Reader]) -> tuple[dict[Any, dict[str, Any]], tf.Tensor]:
        """Sums of the prefix's style layers and the prefix output, tile by tile (no tape)."""
        height, width = int(image.shape[1]), int(image.shape[2])
        rows, cols = self._tiles(height, width)
        totals, grid = None, []
        after: list = []
        for row in rows:
            pieces = []
            for col in cols:
                with tf.control_dependencies(after):  # one tile at a time
                    tile = tf.identity(image[:, row[2]:row[3], col[2]:col[3], :])
                features, out = self._run_prefix(tile)
                sums = self._tile_sums(features, row, col, height, width, readers)
                totals = sums if totals is None else {
                    key: {part: totals[key][part] + value for part, value in entry.items()}
                    for key, entry in sums.items()}
                piece, _ = self._crop(out, row, col, self.stride, height, width)
                pieces.append(piece)
                after = [piece] + [value for entry in totals.values() for value in entry.values()]
            grid.append(tf.concat(pieces, axis=2) if len(pieces) > 1 else pieces[0])
        output = tf.concat(grid, axis=1) if len(grid) > 1 else grid[0]
        return totals or {}, output

    def _pass2(self, image: tf.Tensor, d_out: tf.Tensor, d_sums: Any, readers: Sequence[Reader]) -> tf.Tensor:
        """The gradient of ``<d_sums, sums> + <d_out, output>`` w.r.t. the image, tile by tile."""
        height, width = int(image.shape[1]), int(image.shape[2])
        rows, cols = self._tiles(height, width)
        gradient = tf.zeros_like(image)
        for row in rows:
            for col in cols:
                with tf.control_dependencies([gradient]):
                    tile = tf.identity(image[:, row[2]:row[3], col[2]:col[3], :])
                with tf.GradientTape() as tape:
                    tape.watch(tile)
                    features, out = self._run_prefix(tile)
                    sums = self._tile_sums(features, row, col, height, width, readers)
                    piece, where = self._crop(out, row, col, self.stride, height, width)
                    terms = [tf.reduce_sum(d_out[:, where[0], where[1], :] * piece)]
                    for key, entry in sums.items():
                        for part, value in entry.items():
                            if d_sums[key].get(part) is not None:
                                terms.append(tf.reduce_sum(d_sums[key][part] * value))
                    functional = tf.add_n(terms)
                local = tape.gradient(functional, tile)
                gradient = gradient + tf.pad(local, [[0, 0], [row[2], height - row[3]], [col[2], width - col[3]], [0, 0]])
        return gradient

    def _run_suffix(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        features = {}
        wanted = set(self.content_layers) | set(self.style_layers)
        for layer in self.suffix:
            x = layer(x)
            if layer.name in wanted:
                features[layer.name] = x
        return features

    # ----- statistics from sums -----------------------------------------------------------------
    @staticmethod
    def _statistic(entry: dict[str, Any], statistic: str, masked: bool) -> Any:
        divide = tf.math.divide_no_nan if masked else tf.math.divide
        n = entry["n"]
        if statistic == "gram":
            return divide(entry["s2"], n)
        mean = divide(entry["s1"], n)
        if statistic == "gram_centered":
            return divide(entry["s2"], n) - mean[:, :, tf.newaxis] * mean[:, tf.newaxis, :]
        variance = tf.maximum(divide(entry["sq"], n) - tf.square(mean), 0.0)
        return tf.stack([mean, tf.sqrt(variance + EPSILON)], axis=1)

    def features(self, image: Any, statistic: str = "gram") -> tuple[dict, dict]:
        """``(style statistics {layer: tensor}, content features {layer: tensor})`` of one picture (no tape)."""
        from .gram import style_statistic

        image = tf.convert_to_tensor(image, tf.float32)
        image = image[tf.newaxis] if image.shape.rank == 3 else image
        sums, output = self._pass1(image, [(statistic, self.style_layers, None)])
        deep = self._run_suffix(output)
        style = {name: (self._statistic(sums[(0, name, None)], statistic, False) if name in self.factors
                        else style_statistic(statistic)(deep[name])) for name in self.style_layers}
        return style, {name: deep[name] for name in self.content_layers}


def _parts(objective: Any) -> tuple[Any, str | None]:
    """``(the objective as a WeightedSum, None)``, or ``(None, why the bounded path cannot compute it)``."""
    from .compose import ContentTerm, StyleTerm, Term, TVTerm, WeightedSum

    if isinstance(objective, Term):
        objective = objective.as_sum()
    if not isinstance(objective, WeightedSum):
        return None, (f"the bounded-memory path takes a sum of cost terms (nst_tf.losses.compose), "
                      f"got {type(objective).__name__}")
    extractors = set()
    for name, term in objective.parts.items():
        if isinstance(term, StyleTerm) and term.statistic_name not in STATISTICS:
            return None, (f"bounded_memory needs a named style statistic ({', '.join(STATISTICS)}), got "
                          f"{term.statistic_name!r} in term {name!r}; pass bounded_memory=False")
        if not isinstance(term, (ContentTerm, StyleTerm, TVTerm)):
            return None, (f"the bounded-memory path cannot compute term {name!r} ({type(term).__name__}): it knows "
                          "ContentTerm, StyleTerm and TVTerm only; use the plain path (bounded_memory=False)")
        if term.extractor is not None:
            extractors.add(id(term.extractor))
    if len(extractors) != 1:
        return None, ("the bounded-memory path needs terms that read VGG features through one shared extractor "
                      f"(extractor=...), got {len(extractors)} extractors; use the plain path")
    return objective, None


def bounded_problem(objective: Any) -> str | None:
    """Why the bounded-memory path cannot compute ``objective`` (a sentence), or None when it can."""
    return _parts(objective)[1]


class BoundedCost(Tiling):
    """A sum of cost terms in bounded memory; ``cost(image)`` returns the sum's dict (``{name: ..., "total"}``).

    Args:
        objective: ``content + w * style + v * tv`` (terms of :mod:`nst_tf.losses.compose`, or a lone term):
            content, style and TV terms, those reading features sharing one extractor; its weights are read at
            every call (its ``tf.Variable`` s). Else a ValueError says why.
        size: ``(H, W)`` of the generated picture; default the first content term's content image's.
        tile, prefix_blocks: as for :class:`Tiling`.
    """

    def __init__(self, objective: Any, *, tile: int = HIGHRES_TILE, prefix_blocks: int | None = None,
                 size: tuple[int, int] | None = None) -> None:
        from .compose import ContentTerm, StyleTerm

        checked, problem = _parts(objective)
        if problem is not None:
            raise ValueError(problem[0].upper() + problem[1:] + ".")
        self.objective = checked
        self.contents = {name: term for name, term in checked.parts.items() if isinstance(term, ContentTerm)}
        self.styles = {name: term for name, term in checked.parts.items() if isinstance(term, StyleTerm)}
        if size is None:
            if not self.contents:
                raise ValueError("A bounded cost without a content term needs size=(H, W), the generated image's.")
            size = next(iter(self.contents.values())).content_image.shape[:2]
        self.size = (int(size[0]), int(size[1]))
        content_layers = [layer for term in self.contents.values() for layer in term.layers]
        style_layers = [layer for term in self.styles.values() for layer in term.layer_weights]
        super().__init__(checked.extractor, content_layers, style_layers, self.size, tile=tile,
                         prefix_blocks=prefix_blocks)
        self.readers: list[Reader] = [(term.statistic_name, list(term.layer_weights), term.layer_masks)
                                      for term in self.styles.values()]

    @property
    def loss_keys(self) -> tuple[str, ...]:
        """The keys a call returns, ``"total"`` first (the sum's)."""
        return self.objective.loss_keys

    def weight_values(self) -> dict[str, float]:
        """The sum's weights, ``{"<name>_weight": value}``."""
        return self.objective.weight_values()

    # ----- the cost -------------------------------------------------------------------------------
    def _style_cost(self, index: int, term: Any, sums: dict[Any, dict[str, Any]], deep: dict[str, tf.Tensor]) -> tf.Tensor:
        """One style term's unweighted cost, as :meth:`StyleTerm.cost <nst_tf.losses.compose.StyleTerm.cost>` adds it."""
        masks = term.layer_masks
        per_style = []
        for key, targets in ([(None, term.targets)] if masks is None else list(enumerate(term.targets))):
            layer_costs = []
            for name, weight in term.layer_weights.items():
                mask = None if key is None else masks[key][name]
                if name in self.factors:
                    value = self._statistic(sums[(index, name, key)], term.statistic_name, key is not None)
                else:
                    value = term.statistic(deep[name]) if mask is None else masked_statistic(deep[name], mask,
                                                                                             term.statistic_name)
                cost = L.style_difference(value, targets[name], term.normalization)
                layer_costs.append(weight * cost if mask is None else (weight * tf.reduce_mean(mask)) * cost)
            per_style.append(tf.add_n(layer_costs))
        return per_style[0] if len(per_style) == 1 else tf.add_n(per_style)

    def _costs(self, sums: dict[Any, dict[str, Any]], output: tf.Tensor) -> dict[str, tf.Tensor]:
        """Each feature term's unweighted cost, from the prefix's sums and output."""
        deep = self._run_suffix(output)
        costs = {}
        for name, term in self.objective.parts.items():
            if name in self.contents:
                costs[name] = tf.add_n([L.content_loss(term.targets[layer], deep[layer], term.normalization)
                                        for layer in term.layers]) / float(len(term.layers))
            elif name in self.styles:
                costs[name] = self._style_cost(list(self.styles).index(name), term, sums, deep)
        return costs

    def _evaluate(self, image: tf.Tensor) -> tuple[list[tf.Tensor], tf.Tensor]:
        """The weighted feature costs (in the sum's order) and the gradient of their sum w.r.t. ``image``."""
        weights = self.objective._weights
        sums, output = self._pass1(image, self.readers)
        leaves = {key: {part: value for part, value in entry.items() if part != "n"}  # n: the mask's, constant
                  for key, entry in sums.items()}
        with tf.GradientTape() as tape:
            tape.watch(output)
            tape.watch(leaves)
            merged = {key: {**sums[key], **leaves[key]} for key in sums}
            weighted = [weights[name] * cost for name, cost in self._costs(merged, output).items()]
            total = weighted[0]
            for part in weighted[1:]:
                total = total + part
        d_out, d_sums = tape.gradient(total, [output, leaves])
        d_out = tf.zeros_like(output) if d_out is None else d_out
        return weighted, self._pass2(image, d_out, d_sums, self.readers)

    @tf.autograph.experimental.do_not_convert  # plain Python loops over tiles, unrolled (never tf.while_loop)
    def __call__(self, image: Any) -> dict[str, tf.Tensor]:
        """``{name: weight * cost, ..., "total"}`` of a batch of one ``(1, H, W, 3)``, as the sum's own."""
        image = tf.convert_to_tensor(image, tf.float32)
        if image.shape.rank != 4 or image.shape[0] != 1 or None in image.shape[1:3]:
            raise ValueError(f"The bounded-memory cost takes one image (1, H, W, 3) of known size, got {image.shape}.")

        @tf.custom_gradient
        def feature_costs(pixels: tf.Tensor) -> Any:
            weighted, gradient = self._evaluate(pixels)

            def backward(*upstream: tf.Tensor, variables: Any = None) -> Any:
                checks = [tf.debugging.assert_equal(
                    upstream[0], other, message="the bounded-memory path gives the gradient of the total cost only")
                    for other in upstream[1:]]
                with tf.control_dependencies(checks):
                    result = upstream[0] * gradient
                return (result, [None] * len(variables)) if variables else result

            return tuple(weighted), backward

        features = iter(feature_costs(image))
        weights = self.objective._weights
        costs = {name: (next(features) if name in self.contents or name in self.styles
                        else weights[name] * term.cost(image, None))
                 for name, term in self.objective.parts.items()}
        parts = list(costs.values())
        total = parts[0]
        for part in parts[1:]:  # in order, as the plain sum adds them
            total = total + part
        costs["total"] = total
        return costs
