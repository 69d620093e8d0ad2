"""How large VGG's activations are, and the bounded-memory path's tiling plan (no TensorFlow).

The memory model of :mod:`nst_tf.optim.memory` and :mod:`nst_tf.fast.memory` counts activations with
:func:`activation_bytes`; the bounded-memory cost (:mod:`nst_tf.losses.highres`) takes its plan from
:func:`highres_blocks` (which VGG blocks to run in tiles of :data:`HIGHRES_TILE` px), and
:func:`bounded_activation_bytes` says what that path holds at its peak. Both read only the layer table
(:mod:`nst_tf.vgg.layers`), so the plan sits here, below the costs and the solvers that use it.
"""

from __future__ import annotations

from typing import Iterable

from .layers import BLOCK_CONVS, LayerError, layer_block, layer_channels, layer_names

__all__ = [
    "BACKWARD_FACTOR",
    "HIGHRES_TILE",
    "HIGHRES_PREFIX_BLOCKS",
    "layer_sizes",
    "activation_bytes",
    "highres_prefix_blocks",
    "highres_blocks",
    "bounded_activation_bytes",
]

#: Activations live during the forward pass, their gradients during the backward pass, and
#: TensorFlow keeps a few temporaries besides: three times the forward activations.
BACKWARD_FACTOR = 3.0
#: The bounded-memory path (:mod:`nst_tf.losses.highres`): interior tile side in px, and the VGG blocks run in tiles.
HIGHRES_TILE = 512
HIGHRES_PREFIX_BLOCKS = 3
#: Halo of the tiles in px (blocks 1-3's receptive radius is 29 px in VGG19, 25 in VGG16, rounded up to the stride).
_HALO = {1: 4, 2: 12, 3: 32}

_CHANNELS = tuple(layer_channels(f"block{block}_conv1") for block in range(1, 6))


def _deepest_block(layers: Iterable[str]) -> tuple[int, int]:
    """``(block, conv)`` of the deepest layer named ``blockB_convK`` / ``blockB_pool``."""
    deepest = (1, 1)
    for name in layers:
        try:
            block = layer_block(name)
        except LayerError:
            continue
        conv = 99 if name.endswith("_pool") else int(name.rsplit("conv", 1)[-1]) if "conv" in name else 1
        deepest = max(deepest, (block, conv))
    return deepest


def layer_sizes(height: int, width: int, net: str = "vgg19") -> dict[str, tuple[int, int]]:
    """Each VGG layer's ``(h, w)`` for a ``height x width`` picture, by VGG's arithmetic ('same' convolutions,
    2x2 poolings that floor), without running the net."""
    sizes, (h, w) = {}, (int(height), int(width))
    for name in layer_names(net):
        if name.endswith("_pool"):
            h, w = h // 2, w // 2
        sizes[name] = (h, w)
    return sizes


def activation_bytes(height: int, width: int, layers: Iterable[str], net: str = "vgg19") -> int:
    """Bytes of float32 activations of the VGG layers up to the deepest of ``layers`` for one image."""
    convs = BLOCK_CONVS.get(net, BLOCK_CONVS["vgg19"])
    last_block, last_conv = _deepest_block(layers)
    total = 3 * height * width  # the input (preprocessed copy)
    h, w = height, width
    for block in range(1, last_block + 1):
        count = convs[block - 1] if block < last_block else min(convs[block - 1], last_conv)
        total += count * h * w * _CHANNELS[block - 1]
        if block < last_block or last_conv == 99:
            h, w = max(h // 2, 1), max(w // 2, 1)
            total += h * w * _CHANNELS[block - 1]
    return 4 * total


def highres_prefix_blocks(content_layers: Iterable[str], blocks: int = HIGHRES_PREFIX_BLOCKS) -> int:
    """How many VGG blocks the bounded path tiles: ``blocks``, fewer so that every content layer lies deeper
    (0: the bounded path cannot serve these layers)."""
    shallowest = min((layer_block(name) for name in content_layers if name.startswith("block") and name[5:6].isdigit()),
                     default=6)
    return max(0, min(int(blocks), shallowest - 1))


def highres_blocks(height: int, width: int, layers: Iterable[str], net: str = "vgg19",
                   content_layers: Iterable[str] | None = None, tile: int = HIGHRES_TILE) -> int:
    """The VGG blocks the bounded path tiles for a ``height x width`` picture: 2 (blocks 1-2, a third of
    VGG's work recomputed), or 3 when tiling block 3 too saves more than a quarter of the activation memory
    (from about 1500 px: the deep blocks on a quarter-size map then dominate); fewer for shallow content layers."""
    layers = list(layers)
    limit = highres_prefix_blocks(content_layers) if content_layers is not None else HIGHRES_PREFIX_BLOCKS
    if limit < 3:
        return limit
    two = bounded_activation_bytes(height, width, layers, net, tile, 2)
    three = bounded_activation_bytes(height, width, layers, net, tile, 3)
    return 3 if three < 0.75 * two else 2


def bounded_activation_bytes(height: int, width: int, layers: Iterable[str], net: str = "vgg19",
                             tile: int = HIGHRES_TILE, blocks: int | None = None) -> int:
    """Peak bytes of the bounded path's activations (:mod:`nst_tf.losses.highres`), gradients included.

    The larger of one tile's prefix with its halo (forward and backward, :data:`BACKWARD_FACTOR`) and
    the deep blocks on the assembled prefix output (the same factor), plus the prefix output and a few
    picture-sized float32 buffers (the image, its gradient, a padded tile gradient, the slice).
    """
    layers = list(layers)
    if blocks is None:
        blocks = highres_blocks(height, width, layers, net, tile=tile)
    stride = 2 ** blocks
    side = min(tile, max(height, width)) + 2 * _HALO.get(blocks, 32)
    tile_h, tile_w = min(height, side), min(width, side)
    prefix = activation_bytes(tile_h, tile_w, [f"block{blocks}_pool"], net)
    small_h, small_w = max(height // stride, 1), max(width // stride, 1)
    whole = activation_bytes(height, width, layers, net)
    deep = max(whole - activation_bytes(height, width, [f"block{blocks}_pool"], net), 0)
    output = 4 * small_h * small_w * _CHANNELS[blocks - 1]
    # pass 2's tile and the deep blocks' tape never live at the same time
    return int(BACKWARD_FACTOR * max(prefix, deep) + 2 * output + 4 * 4 * 3 * height * width)
