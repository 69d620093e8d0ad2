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
2. with a tape: the deep blocks on the assembled output, every cost, and the gradient of
   ``content_weight * content + style_weight * style`` with respect to the prefix output
   and to the sums;
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
"""

from __future__ import annotations

from typing import Any

import math

import tensorflow as tf

from . import terms as L
from .masks import downsample_mask, masked_statistic
from ..vgg.sizes import HIGHRES_TILE, highres_blocks, highres_prefix_blocks

__all__ = ["BoundedCost", "axis_tiles", "receptive_radius", "STATISTICS"]

#: Style statistics this path knows as functions of sums over positions.
STATISTICS = ("gram", "gram_centered", "mean_std")
EPSILON = 1e-5  # nst_tf.gram.mean_std's and nst_tf.masks.masked_statistic's


def _block(name: str) -> int:
    return int(name[5]) if name.startswith("block") and name[5:6].isdigit() else 0


def receptive_radius(layers) -> tuple[int, int]:
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


class BoundedCost:
    """The cost of an :class:`nst_tf.objective.Objective` in bounded memory; ``cost(image)`` returns its dict.

    Args:
        objective: the objective (its layers, weights, statistic, masks and normalisations).
        tile: the interior's side in px (a multiple of the prefix's stride).
        prefix_blocks: the VGG blocks run in tiles (default: :func:`nst_tf.vgg.sizes.highres_blocks`, 2 or 3
            by the picture's size; never a block that holds a content layer).
    """

    def __init__(self, objective, *, tile: int = HIGHRES_TILE, prefix_blocks: int | None = None):
        statistic = objective.style_statistic
        if not isinstance(statistic, str) or statistic not in STATISTICS:
            raise ValueError(f"bounded_memory needs a named style statistic ({', '.join(STATISTICS)}), "
                             f"got {statistic!r}; pass bounded_memory=False.")
        self.objective, self.statistic = objective, statistic
        content_layers = list(objective.content_layers)
        needed = set(content_layers) | set(objective.style_layer_weights)
        if prefix_blocks is None:
            height, width = objective.content_image.shape[:2]
            prefix_blocks = highres_blocks(height, width, needed, getattr(objective.extractor, "net", "vgg19"),
                                           content_layers, tile)
        blocks = highres_prefix_blocks(content_layers, prefix_blocks)
        if blocks < 1:
            raise ValueError(f"bounded_memory needs content layers below block 1, got {content_layers}; "
                             "pass bounded_memory=False.")
        chain = list(objective.extractor.vgg.layers[1:])  # VGGPreprocess, block1_conv1, ...
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
        self.prefix_layers = [name for name in objective.style_layer_weights if name in self.factors]
        self.layer_masks: Any = None

    # ----- the prefix over tiles ---------------------------------------------------------------
    def _tiles(self, height: int, width: int):
        rows = axis_tiles(height, self.tile, self.stride, self.halo)
        cols = axis_tiles(width, self.tile, self.stride, self.halo)
        return rows, cols

    def _run_prefix(self, x):
        features = {}
        for layer in self.prefix:
            x = layer(x)
            if layer.name in self.prefix_layers:
                features[layer.name] = x
        return features, x

    @staticmethod
    def _crop(feature, row, col, factor, height, width):
        """The interior ``(row, col)`` of a tile's feature map; also its global slice at that layer."""
        (a, b, a0, _), (c, d, c0, _) = row, col
        top, bottom = a // factor, (b // factor if b < height else height // factor)
        left, right = c // factor, (d // factor if d < width else width // factor)
        local = feature[:, top - a0 // factor: bottom - a0 // factor, left - c0 // factor: right - c0 // factor, :]
        return local, (slice(top, bottom), slice(left, right))

    def _tile_sums(self, features, row, col, height, width, masks):
        """``{(layer, k): {"s2", "s1", "sq", "n"}}``: this tile interior's sums, ``k`` the mask (None: none)."""
        sums = {}
        for name in self.prefix_layers:
            crop, where = self._crop(features[name], row, col, self.factors[name], height, width)
            for key, mask in ([(None, None)] if masks is None else list(enumerate(masks))):
                weighted = crop if mask is None else crop * mask[name][where][tf.newaxis, :, :, tf.newaxis]
                entry = {"n": tf.cast(tf.shape(crop)[1] * tf.shape(crop)[2], tf.float32) if mask is None
                         else tf.reduce_sum(mask[name][where])}
                if self.statistic in ("gram", "gram_centered"):
                    entry["s2"] = tf.einsum("bijc,bijd->bcd", weighted, crop)
                if self.statistic in ("gram_centered", "mean_std"):
                    entry["s1"] = tf.reduce_sum(weighted, axis=(1, 2))
                if self.statistic == "mean_std":
                    entry["sq"] = tf.reduce_sum(weighted * crop, axis=(1, 2))
                sums[(name, key)] = entry
        return sums

    def _pass1(self, image, masks=None):
        """Sums of the prefix's style layers and the prefix output, tile by tile (no tape)."""
        height, width = int(image.shape[1]), int(image.shape[2])
        rows, cols = self._tiles(height, width)
        totals, grid, after = None, [], []
        for row in rows:
            pieces = []
            for col in cols:
                with tf.control_dependencies(after):  # one tile at a time
                    tile = tf.identity(image[:, row[2]:row[3], col[2]:col[3], :])
                features, out = self._run_prefix(tile)
                sums = self._tile_sums(features, row, col, height, width, masks)
                totals = sums if totals is None else {
                    key: {part: totals[key][part] + value for part, value in entry.items()}
                    for key, entry in sums.items()}
                piece, _ = self._crop(out, row, col, self.stride, height, width)
                pieces.append(piece)
                after = [piece] + [value for entry in totals.values() for value in entry.values()]
            grid.append(tf.concat(pieces, axis=2) if len(pieces) > 1 else pieces[0])
        output = tf.concat(grid, axis=1) if len(grid) > 1 else grid[0]
        return totals or {}, output

    def _pass2(self, image, d_out, d_sums, masks=None):
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
                    sums = self._tile_sums(features, row, col, height, width, masks)
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

    def _run_suffix(self, x):
        features = {}
        wanted = set(self.objective.content_layers) | set(self.objective.style_layer_weights)
        for layer in self.suffix:
            x = layer(x)
            if layer.name in wanted:
                features[layer.name] = x
        return features

    # ----- statistics from sums -----------------------------------------------------------------
    def _statistic(self, entry, masked: bool):
        divide = tf.math.divide_no_nan if masked else tf.math.divide
        n = entry["n"]
        if self.statistic == "gram":
            return divide(entry["s2"], n)
        mean = divide(entry["s1"], n)
        if self.statistic == "gram_centered":
            return divide(entry["s2"], n) - mean[:, :, tf.newaxis] * mean[:, tf.newaxis, :]
        variance = tf.maximum(divide(entry["sq"], n) - tf.square(mean), 0.0)
        return tf.stack([mean, tf.sqrt(variance + EPSILON)], axis=1)

    def _suffix_statistic(self, feature, mask):
        if mask is None:
            return self.objective.statistic(feature)
        return masked_statistic(feature, mask, self.statistic)

    def features(self, image):
        """``(style statistics {layer: tensor}, content features {layer: tensor})`` of one picture (no tape)."""
        image = tf.convert_to_tensor(image, tf.float32)
        image = image[tf.newaxis] if image.shape.rank == 3 else image
        sums, output = self._pass1(image)
        deep = self._run_suffix(output)
        style = {name: (self._statistic(sums[(name, None)], False) if name in self.factors
                        else self.objective.statistic(deep[name])) for name in self.objective.style_layer_weights}
        return style, {name: deep[name] for name in self.objective.content_layers}

    def prepare_masks(self, height: int, width: int) -> None:
        """Each style mask at every style layer's size (shapes from VGG's arithmetic: 'same' convs, floor pools)."""
        objective = self.objective
        shapes, (h, w) = {}, (height, width)
        for layer in self.prefix + self.suffix:
            if "pool" in layer.name:
                h, w = h // 2, w // 2
            if layer.name in objective.style_layer_weights:
                shapes[layer.name] = (h, w)
        self.layer_masks = [{name: tf.constant(downsample_mask(mask, shape)) for name, shape in shapes.items()}
                            for mask in objective.style_masks]
        objective.layer_masks = self.layer_masks

    # ----- the cost -------------------------------------------------------------------------------
    def _costs(self, sums, output):
        """Unweighted ``(content, style)`` from the prefix's sums and output."""
        objective, targets = self.objective, self.objective.targets
        deep = self._run_suffix(output)
        content = tf.add_n([L.content_loss(targets.content[name], deep[name], objective.content_normalization)
                            for name in objective.content_layers]) / float(len(objective.content_layers))
        terms = []
        masks = self.layer_masks
        for key, target_set in ([(None, targets.style)] if masks is None else list(enumerate(targets.style))):
            for name, weight in objective.style_layer_weights.items():
                mask = None if key is None else masks[key][name]
                value = (self._statistic(sums[(name, key)], key is not None) if name in self.factors
                         else self._suffix_statistic(deep[name], mask))
                cost = L.style_difference(value, target_set[name], objective.style_normalization)
                terms.append(weight * cost if mask is None else (weight * tf.reduce_mean(mask)) * cost)
        return content, tf.add_n(terms)

    def _evaluate(self, image):
        """Weighted content and style costs and the gradient of their sum w.r.t. ``image``."""
        weights = self.objective._weights
        sums, output = self._pass1(image, self.layer_masks)
        leaves = {key: {part: value for part, value in entry.items() if part != "n"}  # n: the mask's, constant
                  for key, entry in sums.items()}
        with tf.GradientTape() as tape:
            tape.watch(output)
            tape.watch(leaves)
            merged = {key: {**sums[key], **leaves[key]} for key in sums}
            content, style = self._costs(merged, output)
            content, style = weights[0] * content, weights[1] * style
            total = content + style
        d_out, d_sums = tape.gradient(total, [output, leaves])
        return content, style, self._pass2(image, d_out, d_sums, self.layer_masks)

    @tf.autograph.experimental.do_not_convert  # plain Python loops over tiles, unrolled (never tf.while_loop)
    def __call__(self, image) -> dict[str, tf.Tensor]:
        """``{"content", "style", "tv", "total"}`` of a batch of one ``(1, H, W, 3)``, as the objective's."""
        image = tf.convert_to_tensor(image, tf.float32)
        if image.shape.rank != 4 or image.shape[0] != 1 or None in image.shape[1:3]:
            raise ValueError(f"The bounded-memory cost takes one image (1, H, W, 3) of known size, got {image.shape}.")

        @tf.custom_gradient
        def content_style(pixels):
            content, style, gradient = self._evaluate(pixels)

            def backward(d_content, d_style, variables=None):
                check = tf.debugging.assert_equal(
                    d_content, d_style, message="the bounded-memory path gives the gradient of the total cost only")
                with tf.control_dependencies([check]):
                    result = d_content * gradient
                return (result, [None] * len(variables)) if variables else result

            return (content, style), backward

        content, style = content_style(image)
        tv = self.objective._weights[2] * L.tv_loss(image, self.objective.tv_kind)
        return {"content": content, "style": style, "tv": tv, "total": content + style + tv}


def targets_of(objective, bounded: BoundedCost):
    """The objective's targets computed in bounded memory (:class:`nst_tf.objective.Targets`)."""
    from .objective import Targets

    targets = Targets()
    _, targets.content = bounded.features(objective.content_image)
    targets.content = {name: tf.constant(value) for name, value in targets.content.items()}
    if objective.style_masks is not None:
        bounded.prepare_masks(*objective.content_image.shape[:2])
        targets.style = [{name: tf.constant(value) for name, value in bounded.features(style)[0].items()}
                         for style in objective.style_images]
        return targets
    blended: dict = {}
    for weight, style in zip(objective.style_blend, objective.style_images):
        for name, value in bounded.features(style)[0].items():
            blended[name] = blended[name] + weight * value if name in blended else weight * value
    targets.style = {name: tf.constant(value) for name, value in blended.items()}
    return targets
