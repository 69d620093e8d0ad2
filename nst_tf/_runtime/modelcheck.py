"""Is a ``.keras`` file one of our networks, and can this Keras load untrusted files safely?

A ``.keras`` file is a zip archive whose ``config.json`` names the Python classes
Keras builds while loading. Keras' ``safe_mode`` refuses the obvious dangers (a
``Lambda`` layer's pickled code), but several Keras releases let a crafted config
get around it (see :data:`KNOWN_BYPASSES`). So, before Keras sees the file,
:func:`check_config` reads ``config.json`` itself and allows only the classes a
network from :func:`nst_tf.fast.transform_net` is made of; anything else (a
``Lambda`` layer, a function, a class from another module) is refused with one line.
:func:`keras_bypasses` tells ``nst-tf apply`` whether the installed Keras has known
``safe_mode`` bypasses; it then refuses models unless ``--trust-model`` is given.

No TensorFlow or Keras import here: the checks run before either is loaded.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from importlib import metadata
from typing import Any, Iterator

__all__ = ["ALLOWED_CLASSES", "KNOWN_BYPASSES", "UnsafeModelError", "check_config", "keras_bypasses",
           "keras_version"]

#: Advisories of ``safe_mode`` bypasses when loading ``.keras`` files: (first fixed release, advisories).
KNOWN_BYPASSES = (
    ("3.9.0", "CVE-2025-1550"),
    ("3.11.0", "CVE-2025-8747, CVE-2025-9906"),
    ("3.11.3", "CVE-2025-49655"),
    ("3.13.2", "CVE-2026-1462"),
)

#: Classes a transformation network's config may name: Keras' own ``(class_name)`` from
#: a ``keras`` module, and this package's layers (module ``nst_tf.fast.layers``; files
#: saved before the layers moved there name ``nst_tf.fast``, see :data:`LAYER_MODULES`).
ALLOWED_CLASSES = {
    "keras": {"Functional", "InputLayer", "Conv2D", "ReLU", "Add", "UpSampling2D", "Activation",
              "GlorotUniform", "HeNormal", "Zeros", "Ones", "Constant", "DTypePolicy", "FloatDTypePolicy",
              "__keras_tensor__"},
    "nst_tf.fast": {"ReflectionPad2D", "InstanceNormalization", "PadToMultiple", "CropToMatch"},
}
#: The modules a saved file may name for our layers: where they are defined now, and before.
LAYER_MODULES = ("nst_tf.fast.layers", "nst_tf.fast")
#: Activation names (strings in a layer's config) Keras looks up in its own table.
_SAFE_ACTIVATIONS = {"linear", "relu", "sigmoid", "tanh", "softmax", "elu", "selu", "softplus", "gelu", "swish",
                     "silu", "leaky_relu", "relu6", "hard_sigmoid", None}


class UnsafeModelError(ValueError):
    """The model file names something our networks never contain; the message is one line."""


def keras_version() -> str | None:
    """The installed Keras version (from its package metadata, without importing it)."""
    try:
        return metadata.version("keras")
    except metadata.PackageNotFoundError:
        return None


def _parts(version: str) -> tuple[int, ...]:
    numbers = [int(number) for number in re.findall(r"\d+", version.split("+")[0])[:3]]
    return tuple(numbers + [0] * (3 - len(numbers)))


def keras_bypasses(version: str | None = None) -> tuple[str, str] | None:
    """``(first safe release, advisories)`` if Keras ``version`` (default: installed) has known bypasses."""
    version = keras_version() if version is None else version
    if version is None:
        return None
    # A pre-release of X (3.13.2rc1) counts as before X.
    current = _parts(version) + ((-1,) if re.search(r"(dev|rc|a|b)\d*$", version.split("+")[0]) else (0,))
    found = [(fixed, cves) for fixed, cves in KNOWN_BYPASSES if current < _parts(fixed) + (0,)]
    if not found:
        return None
    return KNOWN_BYPASSES[-1][0], ", ".join(cves for _, cves in found)


def _objects(node: Any, path: str = "config") -> Iterator[tuple[str, dict]]:
    if isinstance(node, dict):
        if "class_name" in node:
            yield path, node
        for key, value in node.items():
            yield from _objects(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _objects(value, f"{path}[{index}]")


def _allowed(entry: dict) -> bool:
    name = entry.get("class_name")
    module = entry.get("module")
    registered = entry.get("registered_name")
    if not isinstance(name, str):
        return False
    if name == "__keras_tensor__":
        return module is None
    if module in LAYER_MODULES:
        return name in ALLOWED_CLASSES["nst_tf.fast"] and registered in (None, f"nst_tf>{name}")
    if module is None or (isinstance(module, str) and (module == "keras" or module.startswith("keras."))):
        return name in ALLOWED_CLASSES["keras"] and registered in (None, name)
    return False


def check_config(path: str | os.PathLike, name: str | None = None) -> None:
    """Raise :class:`UnsafeModelError` unless ``path``'s ``config.json`` names only allowed classes."""
    name = os.fspath(path) if name is None else name
    try:
        with zipfile.ZipFile(path) as archive:
            if "config.json" not in archive.namelist():
                raise UnsafeModelError(f"{name} is not a valid .keras model (no config.json inside)")
            if archive.getinfo("config.json").file_size > 16 * 1024 * 1024:
                raise UnsafeModelError(f"{name} is not a network from nst-tf train-fast (its config is too large)")
            config = json.loads(archive.read("config.json"))
    except UnsafeModelError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, RecursionError) as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        raise UnsafeModelError(f"{name} is not a valid .keras model ({reason})") from None
    try:
        objects = list(_objects(config))
    except RecursionError:
        raise UnsafeModelError(f"{name} is not a network from nst-tf train-fast (its config is nested too "
                               "deeply)") from None
    for where, entry in objects:
        if not _allowed(entry):
            module = entry.get("module")
            shown = f"{module}.{entry.get('class_name')}" if module else str(entry.get("class_name"))
            raise UnsafeModelError(
                f"{name} is not a network from nst-tf train-fast: it uses {shown!s:.80}, which nst-tf does not load "
                "(apply only models you trust)"
            )
        if entry.get("class_name") in ("Conv2D", "Activation"):
            activation = (entry.get("config") or {}).get("activation")
            if isinstance(activation, dict):  # a serialised object: checked like every other one
                continue
            if not (isinstance(activation, str) or activation is None) or activation not in _SAFE_ACTIVATIONS:
                raise UnsafeModelError(f"{name} is not a network from nst-tf train-fast: a layer's activation is "
                                       f"{str(activation):.80}")
