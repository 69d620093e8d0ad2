"""Caffe-style VGG preprocessing, written once: RGB in [0, 1] -> BGR, 0-255, ImageNet mean subtracted.

:class:`VGGPreprocess` is the first layer of every model :func:`nst_tf.vgg.load_vgg` builds, so callers
never do it by hand; :func:`caffe_preprocess` is the same arithmetic on a tensor (the normalisation's
statistics run it, :mod:`nst_tf.vgg.normalize`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import keras

if TYPE_CHECKING:  # pragma: no cover - typing only
    import tensorflow as tf

__all__ = ["VGG_MEAN_BGR", "caffe_preprocess", "VGGPreprocess"]

#: ImageNet channel means in BGR order, as subtracted by ``keras.applications.vgg19``.
VGG_MEAN_BGR = (103.939, 116.779, 123.68)


def caffe_preprocess(images: Any, dtype: str = "float32") -> Any:
    """RGB ``(..., 3)`` in [0, 1] -> caffe VGG input: ``keras.applications.vgg19.preprocess_input(255 * images)``."""
    images = keras.ops.cast(images, dtype) * 255.0
    return images[..., ::-1] - keras.ops.convert_to_tensor(VGG_MEAN_BGR, dtype=dtype)


@keras.saving.register_keras_serializable(package="nst_tf")
class VGGPreprocess(keras.layers.Layer):
    """RGB in [0, 1] -> caffe-style VGG input (BGR, 0-255, ImageNet mean subtracted).

    Matches ``keras.applications.vgg19.preprocess_input(255 * image)``.
    """

    def call(self, images: tf.Tensor) -> tf.Tensor:
        return caffe_preprocess(images, self.compute_dtype)
