"""Reading pictures: any file Pillow opens becomes a float RGB array, upright and safely decoded.

:func:`decode_image` reads anything Pillow reads (JPEG, PNG, WebP, BMP, TIFF, GIF,
palette, grayscale, 16-bit, CMYK, with or without transparency), turns the
picture upright according to its EXIF orientation, flattens transparency onto
white and optionally shrinks it. Every problem with the file itself (missing,
empty, truncated, not an image, too small, too large to decode safely) becomes
an :class:`ImageError` with a one-line message that names the file.

Memory stays bounded by the decoded 8-bit picture plus the target: a large picture is
reduced by an integer factor band by band before it becomes float32 (and JPEG is decoded
at 1/2, 1/4 or 1/8 scale directly). Resizing and conversions live in :mod:`nst_tf.image.arrays`;
:func:`nst_tf.image.load_image` is the front door (sample names, URLs, arrays too).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import warnings
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from .._runtime.errors import one_line
from .arrays import MIN_SIZE, fit_within, resize_image

__all__ = ["ImageError", "decode_image"]

_ORIENTATION_TAG = 0x0112


class ImageError(ValueError):
    """An image file could not be read or written; the message is one line naming the file."""


# --------------------------------------------------------------------------- loading


def decode_image(source: Any, max_size: int | None = None, *, min_size: int = MIN_SIZE) -> np.ndarray:
    """Read an image as a float32 RGB array of shape ``(H, W, 3)`` with values in ``[0, 1]``.

    ``source`` is a path (``str`` / ``os.PathLike``), the file's bytes, a binary
    file-like object or a ``PIL.Image.Image``. The image is turned upright from its
    EXIF orientation, transparency is flattened onto white, and if ``max_size`` is
    given it is shrunk (never enlarged) so that its longest side is at most
    ``max_size`` pixels, keeping the aspect ratio. Images with a side shorter than
    ``min_size`` pixels (before or after shrinking) are rejected.

    Raises :class:`ImageError` (one line, naming the file) for anything wrong with
    the file; ``ValueError`` / ``TypeError`` for bad arguments.
    """
    _check_size_arguments(max_size, min_size)
    name = _source_name(source)
    if isinstance(source, Image.Image):
        return _decode(source, name, max_size, min_size, use_draft=False)
    with _open(source, name) as im:
        return _decode(im, name, max_size, min_size, use_draft=True)


def _check_size_arguments(max_size: int | None, min_size: int) -> None:
    """Reject nonsensical ``max_size`` / ``min_size`` values (programming errors)."""
    if not isinstance(min_size, int) or min_size < 1:
        raise ValueError(f"min_size must be a positive integer, got {min_size!r}")
    if max_size is None:
        return
    if not isinstance(max_size, int) or max_size < 1:
        raise ValueError(f"max_size must be a positive integer or None, got {max_size!r}")
    if max_size < min_size:
        raise ValueError(f"max_size ({max_size}) is smaller than min_size ({min_size})")


def _source_name(source: Any) -> str:
    """How error messages refer to ``source``."""
    if isinstance(source, (str, os.PathLike)):
        return os.fsdecode(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "the image data"
    name = getattr(source, "filename", None) or getattr(source, "name", None)
    if isinstance(name, (str, os.PathLike)) and os.fsdecode(name):
        return os.fsdecode(name)
    return "the image"


def _open(source: Any, name: str) -> Image.Image:
    """``Image.open`` the source (header only), turning every failure into :class:`ImageError`."""
    if isinstance(source, (str, os.PathLike)):
        _check_readable_file(Path(source), name)
        fp: Any = source
    elif isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise ImageError(f"{name} is empty (0 bytes)")
        fp = io.BytesIO(bytes(source))
    elif hasattr(source, "read"):
        fp = source
    else:
        raise TypeError(
            "load_image() expects a path, bytes, a binary file object or a PIL image, "
            f"not {type(source).__name__}"
        )
    try:
        with warnings.catch_warnings():
            # Pillow only warns between 1x and 2x MAX_IMAGE_PIXELS; we refuse both.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(fp)
    except MemoryError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageError(_bomb_message(name)) from err
    except UnidentifiedImageError as err:
        raise ImageError(f"{name} is not an image file Pillow can read") from err
    except Exception as err:  # OSError, SyntaxError, ValueError... from a broken header
        raise ImageError(_read_failure(name, err)) from err


def _check_readable_file(path: Path, name: str) -> None:
    """Missing file, folder or empty file -> :class:`ImageError` before Pillow sees it."""
    try:
        if path.is_dir():
            raise ImageError(f"{name} is a folder, not an image file")
        size = path.stat().st_size
    except FileNotFoundError as err:
        raise ImageError(f"{name} does not exist") from err
    except OSError as err:
        raise ImageError(_read_failure(name, err)) from err
    if size == 0:
        raise ImageError(f"{name} is empty (0 bytes)")


def _decode(im: Image.Image, name: str, max_size: int | None, min_size: int, *, use_draft: bool) -> np.ndarray:
    """Check the header size, decode the pixels, shrink in 8 bits, orient, convert to float.

    Memory stays bounded by the decoded 8-bit picture plus the (small) target: a large
    picture is first reduced by an integer factor band by band in its own colour depth
    (:func:`_shrink_integer`), and only the result becomes float32 for the final
    Lanczos step. JPEG is even decoded at 1/2, 1/4 or 1/8 scale directly.
    """
    width, height = im.size  # from the header: nothing decoded yet
    _check_pixel_limit(width, height, name)
    target = _checked_target(width, height, name, max_size, min_size)
    orientation = _exif_orientation(im)
    try:
        with _strict_truncation():
            if use_draft and target != (height, width):
                # JPEG can decode at 1/2, 1/4 or 1/8 scale directly (never below the target).
                im.draft(im.mode, (target[1], target[0]))
            im.load()
            small = _shrink_integer(im, target, name)
    except (ImageError, MemoryError):
        raise
    except Exception as err:  # truncated or corrupt pixel data
        raise ImageError(_read_failure(name, err)) from err
    small, turned = _exif_upright(small, orientation)
    array = _to_float_rgb(small, name)
    if turned:
        target = (target[1], target[0])
    if array.shape[:2] != target:
        array = resize_image(array, size=target)
    return array


#: Modes that :meth:`PIL.Image.Image.reduce` averages correctly as they are.
_REDUCIBLE_MODES = ("L", "LA", "RGB", "RGBA", "I", "F")
#: Pixels per band converted and reduced at a time (bounds the temporary copies).
_BAND_PIXELS = 1 << 22


def _reducible_mode(im: Image.Image) -> str:
    """The mode to convert ``im`` to before averaging pixels (same depth, no palette)."""
    mode = im.mode
    if mode in _REDUCIBLE_MODES:
        return mode
    if mode.startswith("I;16"):
        return "I"
    if mode == "1":
        return "L"
    return "RGBA" if _has_transparency(im) else "RGB"


def _shrink_integer(im: Image.Image, target: tuple[int, int], name: str) -> Image.Image:
    """``im`` box-averaged down to about twice ``target``, in its own colour depth.

    Works on bands of rows, so a palette or 16-bit picture is never converted at full
    size; the result keeps 8 bits (or the picture's own depth) and is only about twice
    ``target``, leaving the final, exact resize to :func:`nst_tf.image.arrays.resize_image`. Pictures less
    than four times ``target`` are returned as they are.
    """
    width, height = im.size
    factor = min(width / max(target[1], 1), height / max(target[0], 1)) / 2
    if factor < 2:
        return im
    mode = _reducible_mode(im)
    out_w, out_h = max(1, round(width / factor)), max(1, round(height / factor))
    step = height / out_h  # source rows per output row (fractional: BOX weighs partial rows)
    rows = max(1, int(_BAND_PIXELS // (width * math.ceil(step + 1))))
    result = Image.new(mode, (out_w, out_h))
    try:
        for first in range(0, out_h, rows):
            last = min(first + rows, out_h)
            y0, y1 = first * step, last * step
            top, bottom = int(math.floor(y0)), min(height, int(math.ceil(y1)))
            band = im.crop((0, top, width, bottom))
            if band.mode != mode:
                band = band.convert(mode)
            piece = band.resize((out_w, last - first), Image.Resampling.BOX,
                                box=(0, y0 - top, width, min(y1 - top, bottom - top)))
            result.paste(piece, (0, first))
    except ValueError as err:
        raise ImageError(f"{name} uses the {im.mode} colour mode, which cannot be converted to RGB") from err
    if "transparency" in im.info and mode == im.mode:
        result.info["transparency"] = im.info["transparency"]
    return result


def _check_pixel_limit(width: int, height: int, name: str) -> None:
    """Refuse images above ``PIL.Image.MAX_IMAGE_PIXELS`` before any pixel is decoded."""
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and width * height > limit:
        raise ImageError(_bomb_message(name, width, height))


def _bomb_message(name: str, width: int | None = None, height: int | None = None) -> str:
    """The one-line refusal for a possible decompression bomb."""
    limit = Image.MAX_IMAGE_PIXELS
    size = f" ({width}x{height} px)" if width is not None else ""
    return (
        f"{name} is too large to decode safely{size}; the limit is {limit:,} pixels "
        "(PIL.Image.MAX_IMAGE_PIXELS)"
    )


def _checked_target(width: int, height: int, name: str, max_size: int | None, min_size: int) -> tuple[int, int]:
    """The ``(height, width)`` to end up with, or :class:`ImageError` if it would be too small."""
    if min(width, height) < min_size:
        raise ImageError(
            f"{name} is {width}x{height} px; images must be at least {min_size} px on each side"
        )
    target = fit_within(height, width, max_size)
    if min(target) < min_size:
        raise ImageError(
            f"{name} is {width}x{height} px; shrunk to fit {max_size} px it would be "
            f"{target[1]}x{target[0]} px, under the {min_size} px minimum (use a larger max_size)"
        )
    return target


@contextlib.contextmanager
def _strict_truncation() -> Iterator[None]:
    """Make sure Pillow raises on truncated files while decoding (restores the setting after)."""
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    if not previous:
        yield
        return
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous


def _exif_orientation(im: Image.Image) -> int:
    """The EXIF orientation tag (1-8; 1 when missing or unreadable), read from the header."""
    try:
        orientation = int(im.getexif().get(_ORIENTATION_TAG, 1))
    except Exception:
        return 1
    return orientation if orientation in range(1, 9) else 1


#: How each EXIF orientation is undone (as ``PIL.ImageOps.exif_transpose`` does it).
_EXIF_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _exif_upright(im: Image.Image, orientation: int) -> tuple[Image.Image, bool]:
    """Undo the EXIF ``orientation``; returns the image and whether it was turned 90 degrees.

    A broken EXIF block gives orientation 1: it must not make a decodable picture unreadable.
    """
    method = _EXIF_TRANSPOSE.get(orientation)
    if method is None:
        return im, False
    info = dict(im.info)
    upright = im.transpose(method)
    if "transparency" in info:
        upright.info["transparency"] = info["transparency"]
    return upright, orientation in (5, 6, 7, 8)


def _to_float_rgb(im: Image.Image, name: str) -> np.ndarray:
    """Pixels of any Pillow mode as float32 RGB ``(H, W, 3)`` in [0, 1], alpha flattened on white."""
    mode = im.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        gray = _high_depth_gray(im)
        return np.repeat(gray[:, :, None], 3, axis=2)
    try:
        if _has_transparency(im):
            rgba = np.asarray(im.convert("RGBA"), dtype=np.float32) / 255.0
            alpha = rgba[:, :, 3:]
            return np.ascontiguousarray(rgba[:, :, :3] * alpha + (1.0 - alpha), dtype=np.float32)
        return np.asarray(im.convert("RGB"), dtype=np.float32) / np.float32(255.0)
    except ValueError as err:  # e.g. a colour mode Pillow cannot turn into RGB
        raise ImageError(f"{name} uses the {mode} colour mode, which cannot be converted to RGB") from err


def _has_transparency(im: Image.Image) -> bool:
    """True for modes with an alpha band and for images with a transparency key (palette, tRNS)."""
    bands = im.getbands()
    return "A" in bands or "a" in bands or "transparency" in im.info


def _high_depth_gray(im: Image.Image) -> np.ndarray:
    """16-bit (``I;16*``), 32-bit integer (``I``) or float (``F``) grayscale as float32 (H, W) in [0, 1].

    ``I;16`` and ``I`` data is scaled by 65535 (``I`` comes from 16-bit files);
    ``I`` beyond that range by the 32-bit maximum. ``F`` data already in [0, 1] is
    kept, otherwise it is read as 0-255 or 0-65535 data.
    """
    values = np.asarray(im).astype(np.float64)
    values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    peak = float(values.max(initial=0.0))
    if im.mode == "F":
        scale = 1.0 if peak <= 1.0 else 255.0 if peak <= 255.0 else 65535.0 if peak <= 65535.0 else peak
    elif im.mode == "I" and peak > 65535.0:
        scale = float(2**31 - 1)
    else:
        scale = 65535.0
    return np.clip(values / scale, 0.0, 1.0).astype(np.float32)


def _read_failure(name: str, err: BaseException) -> str:
    """One-line message for an image that could not be read or decoded."""
    if isinstance(err, PermissionError):
        return f"{name} cannot be read (permission denied)"
    if isinstance(err, OSError) and "truncated" in str(err).lower():
        return f"{name} is truncated or damaged: {one_line(err)}"
    return f"{name} is damaged or not a readable image: {one_line(err)}"
