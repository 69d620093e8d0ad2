"""The one way to read a picture: :func:`load_image` takes a sample name, a path, a URL, bytes or an array.

>>> image = load_image("content/chelsea")               # a sample (see nst_tf.image.samples)  # doctest: +SKIP
>>> image = load_image("swirls", max_size=256)          # short names work when unambiguous  # doctest: +SKIP
>>> image = load_image("my_photo.jpg")                  # any local file  # doctest: +SKIP
>>> image = load_image("https://example.org/cat.png")   # downloaded once, then cached  # doctest: +SKIP
>>> image = load_image(array)                           # an array or tensor, checked  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image

from .arrays import MIN_SIZE, resize_image
from .decode import decode_image
from .download import fetch, is_url, total_timeout_default
from .samples import looks_like_sample_name, path as sample_path, resolve, unknown_sample
from .types import Image, ImageSource
from .validate import image_array

__all__ = ["load_image"]


def load_image(source: ImageSource, max_size: int | None = None, *, name: str = "image", min_size: int = MIN_SIZE,
               progress: bool | None = None) -> Image:
    """Any picture as a float32 RGB array ``(H, W, 3)`` in [0, 1].

    ``source``: a sample name (``"content/chelsea"``, or ``"chelsea"`` when unambiguous), a local
    path, an ``http(s)://`` URL (downloaded once, :func:`nst_tf.image.download.fetch`; ``progress``
    shows its progress line), the file's bytes, a binary file object, a ``PIL.Image.Image``, or an
    array / tensor ``(H, W, 3)`` or ``(1, H, W, 3)`` (uint8, or floats in [0, 1]). Files are turned
    upright from their EXIF orientation, transparency is flattened onto white.

    ``max_size``: shrink (never enlarge) so the longest side is at most that many pixels.
    ``name``: what an error about an array calls it (e.g. ``"content_image"``). Sides under
    ``min_size`` pixels are refused.

    Raises ``ValueError`` for an unknown sample name (listing the valid ones),
    :class:`nst_tf.image.ImageError` (one line, naming the file or URL) for a file that cannot be read,
    and ``ValueError`` / ``TypeError`` naming ``name`` for a bad array.
    """
    if not _array_like(source):  # a name, path, URL, bytes, file object or PIL image (else decode_image's TypeError)
        if is_url(source):
            source = fetch(source, progress=progress, total_timeout=total_timeout_default())
        elif isinstance(source, str):
            full = resolve(source)
            if full is not None:
                source = sample_path(full)
            elif looks_like_sample_name(source) and not Path(source).exists():
                raise unknown_sample(source)
        return decode_image(source, max_size=max_size, min_size=min_size)
    array = image_array(source, name, min_side=min_size)
    return resize_image(array, max_size) if max_size else array


def _array_like(source: Any) -> bool:
    """An array, a tensor or nested lists of numbers (not a file, a name or a PIL image)."""
    if isinstance(source, (str, os.PathLike, bytes, bytearray, PIL.Image.Image)) or hasattr(source, "read"):
        return False
    return isinstance(source, (np.ndarray, list, tuple)) or hasattr(source, "__array__") or hasattr(source, "numpy")
