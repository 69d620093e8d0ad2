"""The custom layers of the transformation network (lesson 06).

Registered with Keras under ``nst_tf>ClassName`` (for example ``nst_tf>ReflectionPad2D``),
so a saved ``.keras`` network loads again; :mod:`nst_tf._runtime.modelcheck` allows exactly these
classes in a model file.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

__all__ = ["ReflectionPad2D", "InstanceNormalization", "PadToMultiple", "CropToMatch", "instance_norm"]


@keras.saving.register_keras_serializable(package="nst_tf")
class ReflectionPad2D(keras.layers.Layer):
    """Pad height and width by ``padding`` pixels, mirroring the image at its border.

    Zero padding would show the network a dark frame around every picture, and it
    learns to paint one; mirrored borders look like more of the picture.
    ``(B, H, W, C) -> (B, H + 2p, W + 2p, C)``; needs ``H, W > padding``.
    """

    def __init__(self, padding: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        p = self.padding
        return tf.pad(inputs, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT")

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        batch, height, width, channels = input_shape
        grow = lambda side: None if side is None else side + 2 * self.padding  # noqa: E731
        return (batch, grow(height), grow(width), channels)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "padding": self.padding}


def instance_norm(features: tf.Tensor, epsilon: float = 1e-5) -> tf.Tensor:
    """Normalise each channel of each image over its positions (Ulyanov et al., 2016).

    ``(B, H, W, C) -> (B, H, W, C)``: for every image ``b`` and channel ``c``,
    ``(x - mean) / sqrt(variance + epsilon)`` with mean and variance over ``H, W``.
    Unlike batch normalisation, an image's result does not depend on the rest of the
    batch, and the contrast of the input photo is divided away (lesson 06).
    """
    mean, variance = tf.nn.moments(features, axes=[1, 2], keepdims=True)
    return (features - mean) * tf.math.rsqrt(variance + epsilon)


@keras.saving.register_keras_serializable(package="nst_tf")
class InstanceNormalization(keras.layers.Layer):
    """:func:`instance_norm` followed by a learned scale ``gamma`` and shift ``beta`` per channel.

    The same as ``keras.layers.GroupNormalization(groups=-1)``, written out.
    """

    def __init__(self, epsilon: float = 1e-5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        channels = input_shape[-1]
        self.gamma = self.add_weight(shape=(channels,), initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=(channels,), initializer="zeros", name="beta")

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        return instance_norm(inputs, self.epsilon) * self.gamma + self.beta

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="nst_tf")
class PadToMultiple(keras.layers.Layer):
    """Mirror-pad the bottom and right edges so height and width are multiples of ``multiple``.

    The network halves the image twice and doubles it twice; on a multiple of 4 it
    comes back at exactly the input's size. :class:`CropToMatch` removes the padding.
    """

    def __init__(self, multiple: int = 4, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.multiple = int(multiple)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        shape = tf.shape(inputs)
        pad_height = (-shape[1]) % self.multiple
        pad_width = (-shape[2]) % self.multiple
        # "SYMMETRIC" (edge pixel repeated) also works on images only a few pixels wide.
        return tf.pad(inputs, [[0, 0], [0, pad_height], [0, pad_width], [0, 0]], mode="SYMMETRIC")

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        batch, height, width, channels = input_shape
        up = lambda side: None if side is None else -(-side // self.multiple) * self.multiple  # noqa: E731
        return (batch, up(height), up(width), channels)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "multiple": self.multiple}


@keras.saving.register_keras_serializable(package="nst_tf")
class CropToMatch(keras.layers.Layer):
    """``[images, reference] -> images[:, :H, :W]`` where ``H, W`` are the reference's height and width."""

    def call(self, inputs: tuple[tf.Tensor, tf.Tensor]) -> tf.Tensor:
        images, reference = inputs
        shape = tf.shape(reference)
        return images[:, : shape[1], : shape[2], :]

    def compute_output_shape(self, input_shapes: tuple[tuple[int | None, ...], tuple[int | None, ...]]
                             ) -> tuple[int | None, ...]:
        images, reference = input_shapes
        return (images[0], reference[1], reference[2], images[3])
