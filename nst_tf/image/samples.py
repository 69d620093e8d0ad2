"""Sample content and style images that ship with nst-tf, found by name (:func:`nst_tf.image.load_image` loads them).

The samples work offline: the content photos are scikit-image's public-domain / CC0
sample images, the style images are painted by the project's own script
(``data/make_styles.py``). ``data/README.md`` lists each file's source and licence.

>>> from nst_tf.image import samples
>>> samples.names("style")                   # doctest: +SKIP
['style/cubist', 'style/mosaic', 'style/swirls', 'style/waves']
>>> samples.path("swirls")                   # short names work when unambiguous  # doctest: +SKIP

The files sit in ``nst_tf/_sample_data/`` in an installed wheel and in ``data/`` at
the top of a development checkout; :func:`data_dir` finds them.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

__all__ = ["KINDS", "data_dir", "manifest", "names", "path", "resolve", "looks_like_sample_name", "unknown_sample"]

#: The kinds of sample image.
KINDS = ("content", "style")

_PACKAGE_DIR = Path(__file__).resolve().parent.parent  # nst_tf/
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


def resolve(name: str) -> str | None:
    """The full sample name for ``name`` (full, or a unique short name), or ``None``."""
    try:
        entries = _manifest(data_dir())
    except FileNotFoundError:  # no samples installed: local files and URLs still work
        return None
    if name in entries:
        return name
    matches = [full for full in entries if full.split("/", 1)[-1] == name]
    return matches[0] if len(matches) == 1 else None


def unknown_sample(name: str) -> ValueError:
    return ValueError(f"unknown sample image {name!r}; valid names: {', '.join(names())}")


def path(name: str) -> Path:
    """The file of the sample ``name`` (``"style/waves"``, or ``"waves"`` if unambiguous)."""
    full = resolve(name)
    if full is None:
        raise unknown_sample(name)
    return data_dir() / _manifest(data_dir())[full]["path"]


def looks_like_sample_name(text: str) -> bool:
    """No file suffix and at most a ``content/`` or ``style/`` prefix: meant as a sample name."""
    head, _, tail = text.rpartition("/")
    return head in ("", *KINDS) and os.sep not in tail and "." not in tail and bool(tail)
