"""Sample content and style images that ship with nst-tf, and loading by name, path or URL.

The samples work offline: the content photos are scikit-image's public-domain / CC0
sample images, the style images are painted by the project's own script
(``data/make_styles.py``). ``data/README.md`` lists each file's source and licence.

>>> from nst_tf import data
>>> data.names("style")                      # doctest: +SKIP
['style/cubist', 'style/mosaic', 'style/swirls', 'style/waves']
>>> image = data.load("content/chelsea")     # float32 (H, W, 3) in [0, 1]  # doctest: +SKIP
>>> image = data.load("swirls")              # short names work when unambiguous  # doctest: +SKIP
>>> image = data.load("my_photo.jpg")        # any local file  # doctest: +SKIP
>>> image = data.load("https://example.org/cat.png")  # downloaded once, then cached  # doctest: +SKIP

The files sit in ``nst_tf/_sample_data/`` in an installed wheel and in ``data/`` at
the top of a development checkout; :func:`data_dir` finds them.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any
import numpy as np

__all__ = ["KINDS", "data_dir", "manifest", "names", "path", "load", "fetch_url"]

#: The kinds of sample image.
KINDS = ("content", "style")

_PACKAGE_DIR = Path(__file__).resolve().parent
#: Where to look for the samples, in order: inside an installed wheel, then a checkout.
_DATA_DIRS = (_PACKAGE_DIR / "_sample_data", _PACKAGE_DIR.parent / "data")


def data_dir() -> Path:
    """The folder that holds ``manifest.json`` and the sample images."""
    for folder in _DATA_DIRS:
        if (folder / "manifest.json").is_file():
            return folder
    raise FileNotFoundError(
        "nst-tf's sample images are missing: looked for manifest.json in " + " and ".join(str(d) for d in _DATA_DIRS)
    )


@functools.lru_cache(maxsize=None)
def _manifest(folder: Path) -> dict[str, dict[str, Any]]:
    with open(folder / "manifest.json", encoding="utf-8") as fh:
        return {entry["name"]: entry for entry in json.load(fh)["files"]}


def manifest() -> dict[str, dict[str, Any]]:
    """Every sample's manifest entry (path, kind, source, licence, sha256, ...) by name."""
    return dict(_manifest(data_dir()))


def names(kind: str | None = None) -> list[str]:
    """Sorted sample names such as ``"content/chelsea"``; ``kind`` = ``"content"`` / ``"style"`` filters."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)} (or None for all)")
    return sorted(n for n, entry in _manifest(data_dir()).items() if kind is None or entry["kind"] == kind)


def _resolve(name: str) -> str | None:
    """The full sample name for ``name`` (full, or a unique short name), or ``None``."""
    try:
        entries = _manifest(data_dir())
    except FileNotFoundError:  # no samples installed: local files and URLs still work
        return None
    if name in entries:
        return name
    matches = [full for full in entries if full.split("/", 1)[-1] == name]
    return matches[0] if len(matches) == 1 else None


def _unknown(name: str) -> ValueError:
    return ValueError(f"unknown sample image {name!r}; valid names: {', '.join(names())}")


def path(name: str) -> Path:
    """The file of the sample ``name`` (``"style/waves"``, or ``"waves"`` if unambiguous)."""
    full = _resolve(name)
    if full is None:
        raise _unknown(name)
    return data_dir() / _manifest(data_dir())[full]["path"]


def _is_url(source: object) -> bool:
    return isinstance(source, str) and source.lower().startswith(("http://", "https://"))


def _looks_like_sample_name(text: str) -> bool:
    """No file suffix and at most a ``content/`` or ``style/`` prefix: meant as a sample name."""
    head, _, tail = text.rpartition("/")
    return head in ("", *KINDS) and os.sep not in tail and "." not in tail and bool(tail)


def fetch_url(url: str, *, progress: bool | None = None) -> Path:
    """Download ``url`` once into nst-tf's private cache and return the local file.

    Uses :func:`nst_tf.fetch.fetch` (time and size limits, http(s) only, only images
    are cached; no TensorFlow needed). The file name is a hash of the URL, so each URL
    is fetched only once. Raises :class:`nst_tf.fetch.FetchError` (an
    :class:`nst_tf.images.ImageError`) naming the URL if it cannot be fetched.
    """
    from .fetch import fetch, total_timeout_default

    return fetch(url, progress=progress, total_timeout=total_timeout_default())


def load(name_or_source: Any, max_size: int | None = 512, *, progress: bool | None = None) -> np.ndarray:
    """Load a sample image, a local file or a URL as float32 ``(H, W, 3)`` in ``[0, 1]``.

    ``name_or_source`` is a sample name (see :func:`names`; a short name such as
    ``"chelsea"`` works when unambiguous), a local path, an ``http(s)://`` URL
    (downloaded once, see :func:`fetch_url`), or anything else that
    :func:`nst_tf.images.load_image` reads (bytes, a file object, a PIL image).
    The image is shrunk so its longest side is at most ``max_size`` (``None``: as is).
    ``progress``: the download's progress line on stderr (``None``: when it is a terminal).

    Raises ``ValueError`` for an unknown sample name (listing the valid ones) and
    :class:`nst_tf.images.ImageError` for a file or URL that cannot be read.
    """
    from nst_tf.decoding import load_image

    source: Any = name_or_source
    if _is_url(source):
        source = fetch_url(source, progress=progress)
    elif isinstance(source, str):
        full = _resolve(source)
        if full is not None:
            source = path(full)
        elif _looks_like_sample_name(source) and not Path(source).exists():
            raise _unknown(source)
    return load_image(source, max_size=max_size)
