"""The package's image types, named once so signatures say what they take (issue 25).

* :data:`Image`: one picture, a float32 NumPy array ``(H, W, 3)`` with values in [0, 1]; what
  :func:`~nst_tf.image.load_image` and :func:`~nst_tf.stylize` return and what
  :func:`~nst_tf.image.save_image` and :func:`~nst_tf.show_image` take;
* :data:`ImageBatch`: the tensors the network and the costs work on, float32 ``(1, H, W, 3)``
  (or ``(N, H, W, 3)``) with values in [0, 1], a ``tf.Tensor`` / ``tf.Variable`` or a NumPy array;
* :data:`ImageSource`: whatever :func:`~nst_tf.image.load_image` accepts: a sample name
  (``"content/chelsea"``), a path, an ``http(s)://`` URL, the file's bytes, a binary file object,
  a ``PIL.Image.Image``, or an array / tensor ``(H, W, 3)`` or ``(1, H, W, 3)``.

Importing this module does not import TensorFlow: ``tf.Tensor`` appears only as a string that a
type checker resolves (``TYPE_CHECKING``).
"""

from __future__ import annotations

import os
from typing import IO, TYPE_CHECKING, TypeAlias, Union

import numpy as np
import PIL.Image

if TYPE_CHECKING:  # pragma: no cover - seen by type checkers only
    import tensorflow as tf

__all__ = ["Image", "ImageBatch", "ImageSource"]

#: One picture: float32 ``(H, W, 3)``, values in [0, 1] (what ``load_image`` and ``stylize`` return).
Image: TypeAlias = np.ndarray

#: A batch of pictures as the network and the costs take it: float32 ``(1, H, W, 3)`` (or ``(N, H, W, 3)``),
#: values in [0, 1]; a ``tf.Tensor``, a ``tf.Variable`` or a NumPy array.
ImageBatch: TypeAlias = Union[np.ndarray, "tf.Tensor", "tf.Variable"]

#: What ``load_image`` reads: a sample name, path or URL (``str``), a path object, the file's bytes,
#: a binary file object, a PIL image, or an array / tensor ``(H, W, 3)`` or ``(1, H, W, 3)``.
ImageSource: TypeAlias = Union[str, "os.PathLike[str]", bytes, bytearray, IO[bytes], PIL.Image.Image, np.ndarray,
                               "tf.Tensor"]
