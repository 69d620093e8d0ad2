"""Writing a trained network to a ``.keras`` file and reading one back, safely (lesson 06)."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import keras

from . import layers  # noqa: F401 - registers the custom layers, so that Keras can load them

__all__ = ["ModelError", "save_model", "load_model"]


class ModelError(ValueError):
    """A file is not a usable transformation network (the message is one line)."""


def save_model(model: keras.Model, path: str | os.PathLike, *, overwrite: bool = True) -> Path:
    """Write ``model`` to ``path`` (must end in ``.keras``) atomically: a crash leaves no half file.

    Written through :func:`nst_tf._runtime.safefile.publish` (temporary file, fsync, then into
    place); ``overwrite=False`` never replaces an existing file (:class:`ModelError`).
    """
    out = Path(path).expanduser()
    if out.suffix != ".keras":
        raise ModelError(f"cannot save {os.fspath(path)}: the file name must end in .keras")
    if not out.parent.is_dir():
        raise ModelError(f"cannot save {os.fspath(path)}: the folder {os.fspath(out.parent)} does not exist")
    from .._runtime.safefile import FileExists, publish

    umask = os.umask(0o022)
    os.umask(umask)
    try:  # mkstemp makes the file private (0600): give it the usual permissions
        publish(lambda temporary: model.save(temporary, overwrite=True), out, overwrite=overwrite,
                suffix=".keras", mode=0o666 & ~umask)
    except FileExists:
        raise ModelError(f"{os.fspath(path)} already exists (created while we were training); "
                         "add --overwrite to replace it") from None
    return out


def load_model(path: str | os.PathLike) -> keras.Model:
    """Load a network saved with :func:`save_model` / ``model.save``; :class:`ModelError` if it is not one.

    The custom layers of this module are registered with Keras, so plain
    ``keras.models.load_model(path)`` works too once ``nst_tf.fast`` is imported.
    """
    source = Path(path).expanduser()
    name = os.fspath(path)
    if not source.is_file():
        raise ModelError(f"{name} does not exist" if not source.exists() else f"{name} is not a file")
    if source.suffix != ".keras":
        raise ModelError(f"{name} is not a .keras model file")
    if not zipfile.is_zipfile(source):
        raise ModelError(f"{name} is not a valid .keras model (not a zip archive)")
    from .._runtime.modelcheck import UnsafeModelError, check_config

    try:  # only the layer types our networks use, read from config.json before Keras builds anything
        check_config(source, name)
    except UnsafeModelError as error:
        raise ModelError(str(error)) from None
    try:
        model = keras.models.load_model(source, compile=False, safe_mode=True)
    except Exception as error:  # noqa: BLE001 - zip, JSON, h5 and Keras errors all mean "not a model"
        reason = " ".join(str(error).split()) or type(error).__name__
        raise ModelError(f"{name} is not a valid .keras model ({reason})") from None
    shapes = [tuple(t.shape) for t in (*model.inputs, *model.outputs)] if isinstance(model, keras.Model) else []
    if len(shapes) != 2 or any(len(s) != 4 or s[-1] != 3 for s in shapes):
        raise ModelError(f"{name} is a Keras model but not an image-to-image network (RGB in, RGB out)")
    return model
