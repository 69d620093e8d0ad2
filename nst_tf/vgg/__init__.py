"""The VGG network that sees for nst-tf (lesson 01), in the order the pieces build on each other.

* :mod:`~nst_tf.vgg.layers`: the layer table (``block1_conv1`` ... ``block5_pool``), no TensorFlow;
* :mod:`~nst_tf.vgg.sizes`: how large the activations are, and the bounded path's tiling plan, no TensorFlow;
* :mod:`~nst_tf.vgg.preprocess`: the caffe preprocessing (:class:`VGGPreprocess`, the models' first layer);
* :mod:`~nst_tf.vgg.weights`: which weights (:func:`resolve_weights`: ImageNet, offline, a file, random);
* :mod:`~nst_tf.vgg.normalize`: Gatys' normalisation (every channel's mean activation 1, lesson 03);
* :mod:`~nst_tf.vgg.extractor`: :func:`load_vgg` and :func:`feature_extractor` (images -> ``{layer: activations}``),
  :func:`clear_cache` (forget the networks built so far);
* :mod:`~nst_tf.vgg.rescale`: :func:`save_rescaled_vgg`, a backbone with other activation sizes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._runtime.lazy import lazy_exports

#: Each name and the module that defines it, imported on first use (nst_tf/_runtime/lazy.py).
_EXPORTS = {
    "FeatureExtractor": "extractor",
    "clear_cache": "extractor",
    "feature_extractor": "extractor",
    "load_vgg": "extractor",
    "LayerError": "layers",
    "check_layers": "layers",
    "conv_layer_names": "layers",
    "layer_block": "layers",
    "layer_names": "layers",
    "Normalization": "normalize",
    "normalize_model": "normalize",
    "VGG_MEAN_BGR": "preprocess",
    "VGGPreprocess": "preprocess",
    "caffe_preprocess": "preprocess",
    "save_rescaled_vgg": "rescale",
    "WeightsError": "weights",
    "detect_net": "weights",
    "resolve_weights": "weights",
}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and readers
    from .extractor import FeatureExtractor, clear_cache, feature_extractor, load_vgg
    from .layers import LayerError, check_layers, conv_layer_names, layer_block, layer_names
    from .normalize import Normalization, normalize_model
    from .preprocess import VGG_MEAN_BGR, VGGPreprocess, caffe_preprocess
    from .rescale import save_rescaled_vgg
    from .weights import WeightsError, detect_net, resolve_weights

__all__ = list(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
