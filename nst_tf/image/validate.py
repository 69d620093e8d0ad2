"""One place that checks what notebook users hand to the public functions.

Every public function (``stylize``, ``gram_matrix``, ``content_loss``, ``style_loss``,
``style_layer_loss``, ``tv_loss``, a feature extractor's call) checks its arguments
here, so a mistake gives a ``ValueError`` whose message says what was expected and
what to do, instead of a white picture or a TensorFlow error full of op names.

The rules:

* **Images** are ``(H, W, 3)`` or ``(1, H, W, 3)``, RGB. ``uint8`` is scaled by 1/255
  (a ``np.asarray(pil_image)`` works); floats must lie in ``[0, 1]`` (a little
  rounding outside is clipped), and values outside are refused, not clipped into a
  white or black picture; NaN is refused. Sides below :data:`nst_tf.image.arrays.MIN_SIZE`
  are refused before TensorFlow sees them (VGG halves the image five times).
* **Activations** are a 4-D batch ``(B, nH, nW, nC)`` (a single ``(nH, nW, nC)`` map
  is a batch of one); a 2-D "unrolled" matrix gets a message on how to reshape it.
  ``uint8`` is scaled by 1/255 like an image, other integers are cast to float32.
* **Two tensors that are compared** must have the same shape; **layer names** must
  match between targets, activations and weights; **weights** must be finite and
  not negative.

Value checks (range, NaN) need the numbers, so they run only eagerly; inside a
``tf.function`` the shape checks run once while tracing and add nothing to the
compiled step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping

import numpy as np

from .arrays import MIN_SIZE

if TYPE_CHECKING:  # pragma: no cover - typing only; the functions import TensorFlow when called
    import tensorflow as tf

__all__ = [
    "image_array",
    "image_batch",
    "activations",
    "same_shape",
    "same_layers",
    "layer_weights",
    "min_size",
    "weight",
    "positive",
    "count",
    "common_float",
]

#: Floats this far outside [0, 1] count as rounding and are accepted (clipped where an image is returned):
#: one grey level, as resampling (Lanczos ringing) and float32 arithmetic produce. Further out is refused.
TOLERANCE = 1 / 255


def _describe(shape: tuple) -> str:
    return "(" + ", ".join("?" if side is None else str(side) for side in shape) + ")"


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()
    return np.asarray(value)


def image_array(image: Any, name: str = "image", *, min_side: int | None = None,
                keep_float: bool = False) -> np.ndarray:
    """``image`` as float32 ``(H, W, 3)`` in [0, 1], or ``ValueError`` saying what is wrong.

    Accepts NumPy arrays, tensors, nested lists and PIL images; ``(1, H, W, 3)``
    loses its batch axis. ``min_side`` (default :data:`nst_tf.image.arrays.MIN_SIZE`) is the
    smallest height or width accepted; 0 turns the check off.
    """
    if hasattr(image, "mode") and hasattr(image, "size") and hasattr(image, "convert"):  # a PIL image
        image = np.asarray(image.convert("RGB"))
    array = _numpy(image)
    if array.dtype == object:
        raise ValueError(f"{name} must be an array of numbers, got an array of Python objects")
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim == 2:
        raise ValueError(f"{name} has shape {_describe(array.shape)}: a grey picture? expected RGB (H, W, 3); "
                         "use np.stack([image] * 3, axis=-1)")
    if array.ndim == 4:
        raise ValueError(f"{name} is a batch of {array.shape[0]} images {_describe(array.shape)}; "
                         "give one image (H, W, 3) or a batch of one (1, H, W, 3)")
    if array.ndim != 3 or array.shape[-1] != 3:
        hint = "; drop the alpha channel with image[..., :3]" if array.ndim == 3 and array.shape[-1] == 4 else ""
        raise ValueError(f"{name} has shape {_describe(array.shape)}; expected an RGB image (H, W, 3){hint}")
    array = _scaled(array, name, keep_float)
    smallest = MIN_SIZE if min_side is None else int(min_side)
    if smallest and min(array.shape[:2]) < smallest:
        raise ValueError(f"{name} is {array.shape[1]}x{array.shape[0]} px; it must be at least {smallest} px "
                         "on each side (VGG halves the image at every pooling layer)")
    return array


def _scaled(array: np.ndarray, name: str, keep_float: bool = False) -> np.ndarray:
    """uint8 / bool / float pixels as float32 in [0, 1] (refusing values outside)."""
    if array.dtype == np.uint8:
        return array.astype(np.float32) / np.float32(255.0)
    if array.dtype == np.bool_:
        return array.astype(np.float32)
    if np.issubdtype(array.dtype, np.integer):
        smallest, largest = (int(array.min()), int(array.max())) if array.size else (0, 0)
        if smallest >= 0 and largest <= 1:
            return array.astype(np.float32)
        raise ValueError(f"{name} has {array.dtype} values from {smallest} to {largest}; give uint8 (0-255) or floats in "
                         "[0, 1], e.g. image.astype('uint8') or image / 255")
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"{name} has dtype {array.dtype}; give uint8 (0-255) or floats in [0, 1]")
    if not keep_float or array.dtype not in (np.float32, np.float64):
        array = array.astype(np.float32, copy=False)
    if array.size == 0:
        return array
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    low, high = float(array.min()), float(array.max())
    if low < -TOLERANCE or high > 1 + TOLERANCE:
        hint = " (0-255 data? divide by 255)" if high > 1.5 and low >= 0 else ""
        raise ValueError(f"{name} has values from {low:g} to {high:g}; float images must be in [0, 1]{hint}")
    return np.clip(array, 0.0, 1.0)


def _is_tensor(value: Any) -> bool:
    import tensorflow as tf

    return isinstance(value, (tf.Tensor, tf.Variable)) or tf.is_tensor(value)


def image_batch(images: Any, name: str = "images", *, min_side: int | None = None) -> tf.Tensor:
    """A float32 ``tf.Tensor`` batch ``(B, H, W, 3)`` in [0, 1] from an image or a batch.

    Tensors and variables stay tensors (gradients still flow through them); their
    values are checked only when running eagerly. Arrays go through :func:`image_array`.
    """
    import tensorflow as tf

    smallest = MIN_SIZE if min_side is None else int(min_side)
    if not _is_tensor(images):
        array = _numpy(images)
        if array.ndim == 4 and array.shape[0] != 1:
            if array.shape[-1] != 3:
                raise ValueError(f"{name} has shape {_describe(array.shape)}; expected RGB images (B, H, W, 3)")
            array = _scaled(array, name, keep_float=True)
            _check_sides(array.shape[1:3], name, smallest)
            return tf.convert_to_tensor(array)
        return tf.convert_to_tensor(image_array(array, name, min_side=smallest, keep_float=True)[np.newaxis])
    tensor = tf.convert_to_tensor(images)
    if tensor.shape.rank == 3:
        tensor = tensor[tf.newaxis]
    if tensor.shape.rank != 4 or tensor.shape[-1] not in (3, None):
        shown = _describe(tuple(tensor.shape)) if tensor.shape.rank is not None else "(unknown)"
        raise ValueError(f"{name} has shape {shown}; expected an RGB image (H, W, 3) or a batch (B, H, W, 3)")
    _check_sides(tuple(tensor.shape[1:3]), name, smallest)
    if tensor.dtype == tf.uint8:
        return tf.cast(tensor, tf.float32) / 255.0
    if not tensor.dtype.is_floating:
        tensor = tf.cast(tensor, tf.float32)
    if tf.executing_eagerly() and tf.size(tensor) > 0:
        low, high = float(tf.reduce_min(tensor)), float(tf.reduce_max(tensor))
        if not (np.isfinite(low) and np.isfinite(high)):
            raise ValueError(f"{name} contains NaN or infinite values")
        if low < -TOLERANCE or high > 1 + TOLERANCE:
            hint = " (0-255 data? divide by 255)" if high > 1.5 and low >= 0 else ""
            raise ValueError(f"{name} has values from {low:g} to {high:g}; float images must be in [0, 1]{hint}")
    return tensor


def _check_sides(sides: tuple, name: str, smallest: int) -> None:
    known = [int(side) for side in sides if side is not None]
    if smallest and known and min(known) < smallest:
        shown = "x".join(str(side) for side in reversed(tuple(sides)))
        raise ValueError(f"{name}: the image is {shown} px; it must be at least {smallest} px on each side "
                         "(VGG halves it at every pooling layer)")


def activations(features: Any, name: str = "features") -> tf.Tensor:
    """``features`` as a float ``tf.Tensor`` ``(B, nH, nW, nC)``; a 3-D map becomes a batch of one."""
    import tensorflow as tf

    tensor = tf.convert_to_tensor(features) if _is_tensor(features) else tf.convert_to_tensor(_numpy(features))
    rank = tensor.shape.rank
    if rank == 2:
        raise ValueError(
            f"{name}: expected a 4-D batch (1, H, W, C) of activations, got a 2-D tensor (H·W, C) of shape "
            f"{_describe(tuple(tensor.shape))}: reshape it with tf.reshape({name}, (1, H, W, C)) "
            "using the layer's height and width"
        )
    if rank == 3:
        tensor = tensor[tf.newaxis]
    elif rank != 4:
        raise ValueError(f"{name}: expected a 4-D batch (1, H, W, C) of activations, got a {rank}-D tensor "
                         f"of shape {_describe(tuple(tensor.shape)) if rank is not None else '(unknown)'}")
    if tensor.dtype == tf.uint8:
        return tf.cast(tensor, tf.float32) / 255.0
    if tensor.dtype.is_integer or tensor.dtype.is_bool:
        return tf.cast(tensor, tf.float32)
    if not tensor.dtype.is_floating:
        raise ValueError(f"{name}: expected float activations, got dtype {tensor.dtype.name}")
    return tensor


def common_float(first: tf.Tensor, second: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Two float tensors of one type: mixed float64/float32 (NumPy's default and TensorFlow's) are both
    converted to float32, not refused with TensorFlow's internal error; one type is left as it is."""
    import tensorflow as tf

    if first.dtype == second.dtype:
        return first, second
    return tf.cast(first, tf.float32), tf.cast(second, tf.float32)


def same_shape(first: Any, second: Any, first_name: str, second_name: str) -> None:
    """Refuse two activations that cannot be compared element by element (no broadcasting)."""
    a, b = tuple(first.shape), tuple(second.shape)
    if len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b)):
        return
    raise ValueError(
        f"{first_name} has shape {_describe(a)} but {second_name} has shape {_describe(b)}; compare the "
        "activations of the same layer for images of the same size (batch, height, width and channels must match)"
    )


def same_layers(required: Iterable[str], available: Mapping[str, Any], required_from: str,
                available_name: str) -> None:
    """Every layer named in ``required`` must be a key of ``available``; the message names the missing ones."""
    missing = [name for name in required if name not in available]
    if missing:
        have = ", ".join(map(str, available)) or "nothing"
        raise ValueError(
            f"{available_name} has no {', '.join(map(str, missing))} (named in {required_from}); it has: {have}"
        )


def layer_weights(weights: Mapping[str, Any], name: str = "layer weights") -> dict[str, float]:
    """``{layer: weight}`` as floats; NaN, infinite and negative weights are refused, naming the layer."""
    checked: dict[str, float] = {}
    for layer, weight in weights.items():
        try:
            value = float(weight)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: the weight of {layer} must be a number, got {weight!r}") from None
        if not np.isfinite(value):
            raise ValueError(f"{name}: the weight of {layer} is {value}; weights must be finite numbers")
        if value < 0:
            raise ValueError(f"{name}: the weight of {layer} is {value:g}; weights must not be negative")
        checked[str(layer)] = value
    return checked


def min_size(size: Any, name: str = "size") -> None:
    """An output size (long side in pixels) must be a whole number of at least ``MIN_SIZE``."""
    if size is None:
        return
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or int(size) < MIN_SIZE:
        raise ValueError(f"{name} must be a whole number of pixels, at least {MIN_SIZE}; got {size!r}")


# --------------------------------------------------------------------------- numbers (issue 28)


def _real(value: Any, name: str) -> float:
    """``value`` as a float, or ``TypeError`` naming ``name`` (strings, ``None`` and booleans are not numbers)."""
    if isinstance(value, (bool, np.bool_)) or value is None or isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    try:
        return float(_numpy(value)) if not isinstance(value, (int, float)) else float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None


def weight(value: Any, name: str) -> float:
    """A cost weight: a finite number >= 0 (``style_weight=-30`` used to be accepted and destroy the image)."""
    number = _real(value, name)
    if not np.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if number < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return number


def positive(value: Any, name: str) -> float:
    """A finite number > 0 (a learning rate, a scale)."""
    number = _real(value, name)
    if not (np.isfinite(number) and number > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return number


def count(value: Any, name: str, minimum: int = 1) -> int:
    """A whole number of at least ``minimum`` (steps, a batch size): ``2.5`` and ``-3`` are refused."""
    if isinstance(value, (bool, np.bool_)) or value is None or isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a whole number, got {value!r}")
    if isinstance(value, (int, np.integer)):
        number = int(value)
    else:
        real = _real(value, name)
        if not (np.isfinite(real) and real == int(real)):
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        number = int(real)
    if number < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value!r}")
    return number
