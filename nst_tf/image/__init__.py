"""Pictures in and out (no TensorFlow, except :mod:`~nst_tf.image.colour`), from the bottom up.

* :mod:`~nst_tf.image.types`: the named types :data:`Image` ``(H, W, 3)``, :data:`ImageBatch` ``(1, H, W, 3)``
  and :data:`ImageSource` (what :func:`load_image` accepts);
* :mod:`~nst_tf.image.arrays`: resizing and conversions (``(H, W, 3)`` float32 in [0, 1], batches);
* :mod:`~nst_tf.image.decode`: reading files safely (:class:`ImageError`);
* :mod:`~nst_tf.image.validate`: checking what users hand to the public functions;
* :mod:`~nst_tf.image.save`: :func:`save_image`, written atomically;
* :mod:`~nst_tf.image.download`: URLs, fetched once into the cache (:class:`FetchError`);
* :mod:`~nst_tf.image.samples`: the sample photos and paintings, by name;
* :mod:`~nst_tf.image.load`: :func:`load_image`, the one way to read a picture (name, path, URL, bytes, array);
* :mod:`~nst_tf.image.colour`: YIQ, luminance and histogram matching (lesson 05; imports TensorFlow).
"""

from __future__ import annotations

from .arrays import MIN_SIZE, resize_image, to_batch, to_numpy_image
from .decode import ImageError
from .download import FetchError
from .load import load_image
from .save import SAVE_FORMATS, save_image
from .types import Image, ImageBatch, ImageSource

__all__ = ["MIN_SIZE", "resize_image", "to_batch", "to_numpy_image", "ImageError", "FetchError", "load_image",
           "SAVE_FORMATS", "save_image", "Image", "ImageBatch", "ImageSource"]
