"""The VGG layer table: names and channel counts of the VGG16 and VGG19 conv bases (no TensorFlow).

Keras names every layer ``block{b}_conv{i}`` or ``block{b}_pool``; :func:`layer_block` reads ``b``
from a name, :func:`layer_channels` gives a conv layer's output channels (64, 128, 256, 512, 512).
The memory estimates (:mod:`nst_tf.optim.memory`) and the weights (:mod:`nst_tf.vgg.weights`) read
the same table.
"""

from __future__ import annotations

import re
from typing import Iterable

__all__ = ["NETS", "LayerError", "layer_names", "conv_layer_names", "check_layers", "check_net", "layer_block",
           "layer_channels"]

#: The two nets, and the number of convolutions in each of their five blocks.
NETS = ("vgg16", "vgg19")
BLOCK_CONVS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
_LAYER = re.compile(r"block(\d+)_(conv\d+|pool)")


class LayerError(ValueError):
    """An unknown layer name was asked for."""


def layer_names(net: str = "vgg19") -> list[str]:
    """All layer names of a VGG conv base, in order (``block1_conv1`` ... ``block5_pool``)."""
    net = check_net(net)
    names = []
    for block, n_convs in enumerate(BLOCK_CONVS[net], start=1):
        names += [f"block{block}_conv{i}" for i in range(1, n_convs + 1)]
        names.append(f"block{block}_pool")
    return names


def conv_layer_names(net: str = "vgg19") -> list[str]:
    """Only the convolution layers of :func:`layer_names`."""
    return [name for name in layer_names(net) if "_conv" in name]


def check_net(net: str) -> str:
    net = str(net).lower()
    if net not in NETS:
        raise ValueError(f"Unknown net {net!r}: choose 'vgg19' or 'vgg16'.")
    return net


def check_layers(layers: Iterable[str], net: str = "vgg19") -> list[str]:
    """Return ``layers`` as a list, raising :class:`LayerError` for unknown names."""
    valid = layer_names(net)
    layers = [layers] if isinstance(layers, str) else list(layers)
    unknown = [name for name in layers if name not in valid]
    if unknown:
        raise LayerError(
            f"Unknown layer {unknown[0]!r} for {net.upper()}; valid layers are: {', '.join(valid)}."
        )
    if not layers:
        raise LayerError("No layers given; name at least one, e.g. 'block4_conv2'.")
    return layers


def layer_block(name: str) -> int:
    """The block number of a Keras VGG layer name: ``layer_block("block4_conv2") == 4``."""
    match = _LAYER.fullmatch(name)
    if match is None:
        raise LayerError(f"{name!r} is not a VGG layer name such as 'block4_conv2'.")
    return int(match.group(1))


def layer_channels(name: str) -> int:
    """Output channels of a VGG layer (the same in VGG16 and VGG19): 64, 128, 256, 512, 512 by block."""
    return min(64 * 2 ** (layer_block(name) - 1), 512)
