"""Image arrays: resizing and conversions (the lowest layer of :mod:`nst_tf.image`; Pillow and NumPy only).

Conventions used everywhere in nst-tf:

* a single image is an array of shape ``(height, width, 3)``, dtype ``float32``,
  RGB, values in ``[0, 1]``;
* a *batch* is a ``tf.Tensor`` of shape ``(1, height, width, 3)`` (what the VGG
  feature extractor eats); :func:`to_batch` and :func:`to_numpy_image` convert.

Reading pictures is :func:`nst_tf.image.load_image`, writing them :func:`nst_tf.image.save_image`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

if TYPE_CHECKING:  # pragma: no cover - typing only; TensorFlow is imported lazily
    import tensorflow as tf

__all__ = [
    "MIN_SIZE",
    "resize_image",
    "fit_within",
    "fit_size",
    "scaled_style",
    "to_batch",
    "to_numpy_image",
]

#: Smallest accepted side in pixels: VGG halves the image in 5 pooling stages.
MIN_SIZE = 32

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
        target = fit_within(height, width, max_size)
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


def fit_within(height: int, width: int, max_size: int | None) -> tuple[int, int]:
    """``(height, width)`` scaled so the longest side is at most ``max_size``; never enlarged."""
    longest = max(height, width)
    if max_size is None or longest <= max_size:
        return height, width
    scale = max_size / longest
    return max(1, round(height * scale)), max(1, round(width * scale))


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
