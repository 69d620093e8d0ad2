"""Images in and out: load any picture as a float RGB array, resize it, save results safely.

Conventions used everywhere in nst-tf:

* a single image is an array of shape ``(height, width, 3)``, dtype ``float32``,
  RGB, values in ``[0, 1]``;
* a *batch* is a ``tf.Tensor`` of shape ``(1, height, width, 3)`` (what the VGG
  feature extractor eats); :func:`to_batch` and :func:`to_numpy_image` convert.

:func:`load_image` reads anything Pillow reads (JPEG, PNG, WebP, BMP, TIFF, GIF,
palette, grayscale, 16-bit, CMYK, with or without transparency), turns the
picture upright according to its EXIF orientation, flattens transparency onto
white and optionally shrinks it. Every problem with the file itself (missing,
empty, truncated, not an image, too small, too large to decode safely) becomes
an :class:`ImageError` with a one-line message that names the file.

:func:`save_image` (defined in :mod:`nst_tf.saving`, importable from here too) writes
atomically, so a crash never leaves half a picture behind.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

if TYPE_CHECKING:  # pragma: no cover - typing only; TensorFlow is imported lazily
    import tensorflow as tf

__all__ = [
    "ImageError",
    "MIN_SIZE",
    "SAVE_FORMATS",
    "load_image",
    "resize_image",
    "prepare_image",
    "fit_size",
    "scaled_style",
    "save_image",
    "to_batch",
    "to_numpy_image",
    "same_file",
]

#: Saving lives in :mod:`nst_tf.saving`; these names stay importable from here (lessons, CLI).
_FROM_SAVING = ("SAVE_FORMATS", "save_image", "same_file")

#: Smallest accepted side in pixels: VGG halves the image in 5 pooling stages.
MIN_SIZE = 32

_ORIENTATION_TAG = 0x0112


class ImageError(ValueError):
    """An image file could not be read or written; the message is one line naming the file."""


# --------------------------------------------------------------------------- loading


def load_image(source: Any, max_size: int | None = None, *, min_size: int = MIN_SIZE) -> np.ndarray:
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
    ``target``, leaving the final, exact resize to :func:`resize_image`. Pictures less
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
    target = _fit_within(height, width, max_size)
    if min(target) < min_size:
        raise ImageError(
            f"{name} is {width}x{height} px; shrunk to fit {max_size} px it would be "
            f"{target[1]}x{target[0]} px, under the {min_size} px minimum (use a larger max_size)"
        )
    return target


def _fit_within(height: int, width: int, max_size: int | None) -> tuple[int, int]:
    """``(height, width)`` scaled so the longest side is at most ``max_size``; never enlarged."""
    longest = max(height, width)
    if max_size is None or longest <= max_size:
        return height, width
    scale = max_size / longest
    return max(1, round(height * scale)), max(1, round(width * scale))


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
        return f"{name} is truncated or damaged: {_one_line(err)}"
    return f"{name} is damaged or not a readable image: {_one_line(err)}"


def _one_line(err: BaseException) -> str:
    """An exception's text squeezed onto one line (or its type name when it has no text)."""
    text = " ".join(str(err).split())
    if isinstance(err, OSError) and err.strerror and not text:
        text = err.strerror
    return text or type(err).__name__


# --------------------------------------------------------------------------- resizing


def resize_image(
    image: np.ndarray, max_size: int | None = None, *, size: tuple[int, int] | None = None
) -> np.ndarray:
    """Resize a float RGB image ``(H, W, 3)``; returns a new float32 array in [0, 1].

    ``max_size``: shrink (never enlarge) so the longest side is at most ``max_size``,
    keeping the aspect ratio. ``size=(height, width)``: exactly that size. With
    neither, a float32 copy is returned. Resampling is Pillow's antialiased Lanczos
    filter on the float data (per channel), clipped back to [0, 1].
    """
    if max_size is not None and size is not None:
        raise ValueError("give either max_size or size, not both")
    array = to_numpy_image(image)
    height, width = array.shape[:2]
    if size is not None:
        target = _checked_size(size)
    else:
        if max_size is not None and (not isinstance(max_size, int) or max_size < 1):
            raise ValueError(f"max_size must be a positive integer or None, got {max_size!r}")
        target = _fit_within(height, width, max_size)
    if target == (height, width):
        return array.copy()
    return _lanczos(array, target)


def _checked_size(size: tuple[int, int]) -> tuple[int, int]:
    """Validate ``size=(height, width)``."""
    try:
        height, width = (int(side) for side in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be (height, width), got {size!r}") from None
    if height < 1 or width < 1:
        raise ValueError(f"size must be positive, got {size!r}")
    return height, width


def _lanczos(array: np.ndarray, target: tuple[int, int]) -> np.ndarray:
    """Antialiased Lanczos resampling of float32 ``(H, W, 3)`` to ``target=(height, width)``."""
    height, width = target
    channels = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(array[:, :, c])).resize(
                (width, height), Image.Resampling.LANCZOS
            )
        )
        for c in range(array.shape[2])
    ]
    return np.clip(np.stack(channels, axis=2), 0.0, 1.0).astype(np.float32)


def prepare_image(source: Any, max_size: int | None = None, name: str = "image") -> np.ndarray:
    """An image array (H, W, 3) in [0, 1] from an array, a file path, a URL or a sample name.

    ``max_size``: the longest side at most that many pixels (shrunk, never enlarged).
    """
    if isinstance(source, (str, os.PathLike)):
        from . import data

        return data.load(source, max_size=max_size)
    from .validate import image_array

    array = image_array(source, name)  # at least MIN_SIZE, like a file
    return resize_image(array, max_size) if max_size else array


def fit_size(shape: tuple[int, int], long_side: int) -> tuple[int, int]:
    """``(height, width)`` scaled so that the longest side is ``long_side`` (may enlarge)."""
    height, width = shape
    scale = long_side / max(height, width)
    return max(int(round(height * scale)), 1), max(int(round(width * scale)), 1)


def scaled_style(style: np.ndarray, content_shape: tuple[int, int], style_scale: float) -> np.ndarray:
    """The style image with its long side ``style_scale`` times the content's long side (at least MIN_SIZE)."""
    target = max(int(round(max(content_shape) * style_scale)), MIN_SIZE)
    return resize_image(style, size=fit_size(style.shape[:2], target))


# --------------------------------------------------------------------------- conversions


def to_batch(image: Any) -> "tf.Tensor":
    """``(H, W, 3)`` image -> ``(1, H, W, 3)`` float32 tensor; a ``(N, H, W, 3)`` batch passes through.

    uint8 input is scaled to [0, 1]; float input is only cast to float32.
    """
    import tensorflow as tf

    tensor = tf.convert_to_tensor(image)
    if tensor.shape.rank not in (3, 4) or tensor.shape[-1] != 3:
        raise ValueError(f"expected an image (H, W, 3) or a batch (N, H, W, 3), got shape {tensor.shape}")
    if tensor.dtype == tf.uint8:
        tensor = tf.cast(tensor, tf.float32) / 255.0
    elif tensor.dtype != tf.float32:
        tensor = tf.cast(tensor, tf.float32)
    return tensor[tf.newaxis] if tensor.shape.rank == 3 else tensor


def to_numpy_image(image: Any) -> np.ndarray:
    """Tensor/array ``(1, H, W, 3)`` or ``(H, W, 3)`` -> float32 ``(H, W, 3)`` clipped to [0, 1].

    uint8 input is scaled by 1/255; NaNs become 0.
    """
    array = _rgb_array(image)
    if array.dtype == np.uint8:
        return array.astype(np.float32) / np.float32(255.0)
    array = np.nan_to_num(array.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    return np.clip(array, 0.0, 1.0)


def _rgb_array(image: Any) -> np.ndarray:
    """Any array/tensor ``(H, W, 3)`` or ``(1, H, W, 3)`` as a NumPy ``(H, W, 3)`` array (dtype kept)."""
    if hasattr(image, "numpy") and not isinstance(image, np.ndarray):
        image = image.numpy()
    array = np.asarray(image)
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected an RGB image of shape (H, W, 3) or (1, H, W, 3), got {array.shape}")
    if array.dtype != np.uint8 and not np.issubdtype(array.dtype, np.floating) and array.dtype != np.bool_:
        raise ValueError(f"expected float values in [0, 1] or uint8, got dtype {array.dtype}")
    return array


def __getattr__(name: str):
    if name in _FROM_SAVING:  # loaded on first use: nst_tf.saving imports this module
        from . import saving

        return getattr(saving, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
