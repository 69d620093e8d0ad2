"""What the environment says: numbers given in megabytes, nst-tf's one cache folder, and room in a cache."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["megabytes_from_environment", "seconds_from_environment", "cache_dir", "cache_space_problem",
           "CACHE_MARGIN_BYTES"]

#: Free space a download into a cache leaves on top of its own size.
CACHE_MARGIN_BYTES = 1 << 20


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
    if not (value > 0 and value < 1e12):  # also refuses NaN, infinity and absurd sizes (a petabyte and more)
        raise ValueError(f"{name} must be a positive number of megabytes below 10^12, got {text!r}")
    return int(value * 1024 * 1024)


def seconds_from_environment(name: str) -> float | None:
    """Seconds from the environment variable ``name``; ``None`` when unset or empty.

    Checked like a command-line option: a ``ValueError`` with one line unless it is a
    positive, finite number of seconds (at most a week).
    """
    text = os.environ.get(name)
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (0 < value <= 7 * 24 * 3600):  # also refuses NaN and infinity
        raise ValueError(f"{name} must be a positive number of seconds (at most a week), got {text!r}")
    return value


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


def cache_space_problem(folder: str | os.PathLike, need_bytes: int, variable: str = "NST_TF_CACHE") -> str | None:
    """``None`` when ``folder`` (or, not made yet, the nearest folder above it) has room for ``need_bytes``
    and :data:`CACHE_MARGIN_BYTES` more, else one line naming the folder, the need and ``variable`` (the
    environment variable that moves the cache). Unknown free space counts as room."""
    target = Path(folder)
    existing = target
    while not existing.is_dir() and existing.parent != existing:
        existing = existing.parent
    try:
        free = shutil.disk_usage(existing).free
    except OSError:
        return None
    if free >= need_bytes + CACHE_MARGIN_BYTES:
        return None
    return (f"not enough free space in {os.fspath(target)}: {free / 1e6:.1f} MB free, about "
            f"{(need_bytes + CACHE_MARGIN_BYTES) / 1e6:.1f} MB needed ({variable} sets the folder)")
