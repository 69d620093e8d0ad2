"""Saving pictures safely: the output side of :mod:`nst_tf.image.arrays`.

:func:`save_image` writes atomically (temporary file, ``fsync``, ``os.replace``, through
:func:`nst_tf._runtime.safefile.publish`) so a crash never leaves half a picture behind, and refuses to
overwrite the input images when told which they are. Problems become
:class:`~nst_tf.image.decode.ImageError` with a one-line message that names the file.
``nst_tf.save_image`` and ``nst_tf.image.arrays.save_image`` are this function.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Iterable

import numpy as np
from PIL import Image

from .._runtime.errors import one_line
from .decode import ImageError
from .arrays import _rgb_array, to_numpy_image

__all__ = ["SAVE_FORMATS", "save_image", "same_file"]

#: Output file extensions understood by :func:`save_image` and the Pillow format each means.
SAVE_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}


def save_image(
    image: Any,
    path: str | os.PathLike[str],
    *,
    quality: int = 95,
    protect: Iterable[str | os.PathLike[str]] = (),
    overwrite: bool = True,
) -> Path:
    """Write ``image`` to ``path`` atomically and return the path.

    ``image``: array or tensor ``(H, W, 3)`` or ``(1, H, W, 3)``, float in [0, 1]
    (clipped) or uint8. The format follows the extension (``.png .jpg .jpeg .webp
    .bmp .tif .tiff``); ``quality`` is used for JPEG and WebP. The picture is written
    to a temporary file in the same folder, flushed to disk and moved onto ``path``
    in one step, so no partial file is ever left (:func:`nst_tf._runtime.safefile.publish`). With
    ``overwrite=False`` an existing ``path`` is never replaced, not even one created
    while the picture was being encoded. ``path`` must not be one of the
    files in ``protect`` (the inputs) and its folder must exist; otherwise, and on
    any write failure, :class:`ImageError` is raised.
    """
    out = Path(path)
    name = os.fspath(path)
    fmt = _save_format(out, name)
    _refuse_protected(out, name, protect)
    _check_output_folder(out, name)
    if not isinstance(quality, int) or not 1 <= quality <= 100:
        raise ValueError(f"quality must be an integer from 1 to 100, got {quality!r}")
    picture = Image.fromarray(_to_uint8(image))
    _write_atomically(picture, out, name, fmt, _save_options(fmt, quality), overwrite)
    return out


def _save_format(out: Path, name: str) -> str:
    """Pillow format name for the output extension, or :class:`ImageError`."""
    fmt = SAVE_FORMATS.get(out.suffix.lower())
    if fmt is None:
        known = " ".join(SAVE_FORMATS)
        shown = out.suffix or "no extension"
        raise ImageError(f"cannot save {name}: unknown image format '{shown}' (use one of {known})")
    return fmt


def _refuse_protected(out: Path, name: str, protect: Iterable[Any]) -> None:
    """Raise if ``out`` is (resolves to, or is the same file as) one of the ``protect`` paths."""
    if isinstance(protect, (str, os.PathLike)):
        protect = [protect]
    for item in protect:
        if isinstance(item, (str, os.PathLike)) and same_file(out, Path(item)):
            raise ImageError(
                f"refusing to overwrite the input file {name}; choose another output name"
            )


def same_file(a: Path, b: Path) -> bool:
    """True if ``a`` and ``b`` name the same file (same inode, or equal resolved paths)."""
    with contextlib.suppress(OSError):
        if os.path.samefile(a, b):
            return True
    try:
        return a.resolve() == b.resolve()
    except (OSError, RuntimeError):
        return os.path.abspath(a) == os.path.abspath(b)


def _check_output_folder(out: Path, name: str) -> None:
    """The output's folder must exist (it is not created) and ``out`` must not be a folder."""
    folder = out.parent
    if not folder.exists():
        raise ImageError(f"cannot save {name}: the folder {os.fspath(folder)} does not exist")
    if not folder.is_dir():
        raise ImageError(f"cannot save {name}: {os.fspath(folder)} is not a folder")
    if out.is_dir():
        raise ImageError(f"cannot save {name}: it is a folder")


def _to_uint8(image: Any) -> np.ndarray:
    """Array/tensor ``(H, W, 3)`` or ``(1, H, W, 3)``, float in [0, 1] or uint8 -> uint8 ``(H, W, 3)``."""
    array = _rgb_array(image)
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    return np.rint(to_numpy_image(array) * 255.0).astype(np.uint8)  # NaNs to 0, clipped to [0, 1]


def _save_options(fmt: str, quality: int) -> dict[str, Any]:
    """Encoder options per format."""
    if fmt == "JPEG":
        # Full-resolution colour (4:4:4) at high quality: stylised images have fine colour detail.
        return {"quality": quality, "subsampling": 0 if quality >= 90 else 2}
    if fmt == "WEBP":
        return {"quality": quality}
    if fmt == "TIFF":
        return {"compression": "tiff_deflate"}
    return {}


def _write_atomically(picture: Image.Image, out: Path, name: str, fmt: str, options: dict[str, Any],
                      overwrite: bool = True) -> None:
    """Save through :func:`nst_tf._runtime.safefile.publish`: temporary file, fsync, then into place."""
    from .._runtime.safefile import FileExists, publish

    def write(temporary: str) -> None:
        with open(temporary, "wb") as handle:
            picture.save(handle, format=fmt, **options)

    try:
        publish(write, out, overwrite=overwrite)
    except FileExists:
        raise ImageError(f"{name} already exists (created while we were working); add --overwrite to replace it") \
            from None
    except (OSError, ValueError) as err:
        if isinstance(err, ImageError):
            raise
        raise ImageError(f"cannot save {name}: {one_line(err)}") from err
