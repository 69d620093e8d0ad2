"""A VGG weights file with every conv output multiplied by given factors: a backbone with other activation sizes.

The tests and lesson 03 use it to show that the normalisation (:mod:`nst_tf.vgg.normalize`) gives
exactly the same features for a rescaled copy of a network.
"""

from __future__ import annotations

from pathlib import Path
import os
from typing import Mapping

import numpy as np

from .extractor import load_vgg
from .layers import conv_layer_names
from .normalize import fold_scales
from .weights import vgg_constructor

__all__ = ["save_rescaled_vgg"]


def save_rescaled_vgg(path: str | os.PathLike, scales: Mapping[str, np.ndarray | float],
                      weights: str | os.PathLike | None = "offline", net: str = "vgg16") -> Path:
    """Write a Keras VGG 'notop' weights file whose conv outputs are multiplied by ``scales``.

    ``scales`` maps layer names to a positive factor or one factor per channel; missing
    layers keep 1. With ``normalize=True`` the file gives exactly the features of the
    original weights; without, the activations (and the costs) change size. Used by the
    tests and lesson 03 to emulate a backbone with other activation sizes.
    """
    order = conv_layer_names(net)
    source = load_vgg(weights, net, normalize=False)
    conv_weights = {name: source.get_layer(name).get_weights() for name in order}
    per_channel = {
        name: np.broadcast_to(np.asarray(value, dtype=np.float64), (conv_weights[name][1].shape[0],))
        for name, value in scales.items()
    }
    if any(np.any(value <= 0) or not np.all(np.isfinite(value)) for value in per_channel.values()):
        raise ValueError("Every scale must be a positive finite number.")
    target = vgg_constructor(net)(include_top=False, weights=None, input_shape=(None, None, 3))
    for name, values in fold_scales(conv_weights, per_channel, order).items():
        target.get_layer(name).set_weights(values)
    path = Path(path)
    if not path.name.endswith(".weights.h5"):
        raise ValueError("The file name must end in .weights.h5 (Keras' weights format).")
    target.save_weights(path)
    return path
