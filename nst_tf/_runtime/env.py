"""What the environment says: numbers given in megabytes, and nst-tf's one cache folder."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["megabytes_from_environment", "cache_dir"]


def megabytes_from_environment(name: str) -> int | None:
    """Bytes from the environment variable ``name`` given in megabytes; ``None`` when it is unset or empty.

    Raises ``ValueError`` with a one-line message when it is not a positive number.
    """
    text = os.environ.get(name)
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:  # also refuses NaN
        raise ValueError(f"{name} must be a positive number of megabytes, got {text!r}")
    return int(value * 1024 * 1024)


def cache_dir() -> Path:
    """nst-tf's cache folder (not created here): ``$NST_TF_CACHE``, else ``$XDG_CACHE_HOME/nst-tf``, else ``~/.cache/nst-tf``.

    Downloads go to its ``downloads`` folder (:mod:`nst_tf.image.download`), the VGG normalisation's
    scales next to it (:mod:`nst_tf.vgg.normalize`).
    """
    override = os.environ.get("NST_TF_CACHE")
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "nst-tf"
