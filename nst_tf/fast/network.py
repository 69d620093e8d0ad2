"""The transformation network of Johnson et al. (2016): build it, list its layers, run it (lesson 06)."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Callable, cast, overload

import numpy as np

import keras
import tensorflow as tf

from ..image.types import ImageBatch

if TYPE_CHECKING:  # pragma: no cover - typing only
    from keras import KerasTensor

from .layers import CropToMatch, InstanceNormalization, PadToMultiple, ReflectionPad2D

__all__ = ["transform_net", "with_package_norm", "layer_table", "stylize_fast"]


class _Seeds:
    """A different, reproducible initialiser seed for each convolution (no global state)."""

    def __init__(self, seed: int | None):
        self.seed, self.count = seed, 0

    def initializer(self) -> str | keras.initializers.Initializer:
        if self.seed is None:
            return "glorot_uniform"
        self.count += 1
        return keras.initializers.GlorotUniform(seed=int(self.seed) * 1009 + self.count)


def _conv(x: KerasTensor, filters: int, kernel: int, name: str, seeds: _Seeds, *, strides: int = 1,
          activation: str | None = None, use_bias: bool = False) -> KerasTensor:
    """Mirror padding, then a 'valid' convolution: the output keeps the size (divided by ``strides``)."""
    x = ReflectionPad2D(kernel // 2, name=f"{name}_pad")(x)
    return keras.layers.Conv2D(filters, kernel, strides=strides, padding="valid", use_bias=use_bias,
                               activation=activation, kernel_initializer=seeds.initializer(), name=name)(x)


def _normalise(x: KerasTensor, name: str, norm: Callable[..., keras.layers.Layer]) -> KerasTensor:
    """``norm(name=name)`` applied to ``x``; it must make a Keras layer (TypeError naming ``norm`` if not)."""
    layer = norm(name=name)
    if not isinstance(layer, keras.layers.Layer):
        raise TypeError(f"norm must make a Keras layer when called as norm(name=...); it made a {type(layer).__name__}.")
    return layer(x)


def _conv_norm_relu(x: KerasTensor, filters: int, kernel: int, name: str, seeds: _Seeds,
                    norm: Callable[..., keras.layers.Layer], *, strides: int = 1) -> KerasTensor:
    x = _conv(x, filters, kernel, f"{name}_conv", seeds, strides=strides)
    x = _normalise(x, f"{name}_norm", norm)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def _residual_block(x: KerasTensor, filters: int, name: str, seeds: _Seeds,
                    norm: Callable[..., keras.layers.Layer]) -> KerasTensor:
    """``x + IN(conv(relu(IN(conv(x)))))``: the block can only add detail to what it gets."""
    shortcut = x
    x = _conv_norm_relu(x, filters, 3, f"{name}_a", seeds, norm)
    x = _conv(x, filters, 3, f"{name}_b_conv", seeds)
    x = _normalise(x, f"{name}_b_norm", norm)
    return keras.layers.Add(name=f"{name}_add")([shortcut, x])


def _upsample(x: KerasTensor, filters: int, name: str, seeds: _Seeds,
              norm: Callable[..., keras.layers.Layer]) -> KerasTensor:
    """Resize-convolution: nearest-neighbour x2, then a 3x3 conv (no checkerboard, unlike Conv2DTranspose)."""
    x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"{name}_resize")(x)
    return _conv_norm_relu(x, filters, 3, name, seeds, norm)


def transform_net(
    filters: int = 32, residual_blocks: int = 5, name: str = "transform_net", *, seed: int | None = None,
    norm: Callable[..., keras.layers.Layer] | None = None,
) -> keras.Model:
    """The image transformation network of Johnson et al. (2016), lesson 06.

    ``(B, H, W, 3)`` RGB in [0, 1] -> ``(B, H, W, 3)`` in [0, 1], for any ``H, W`` (at
    least 8 px): mirror-pad to a multiple of 4, a 9x9 convolution, two stride-2
    convolutions (``filters`` -> ``2 filters`` -> ``4 filters`` channels at a quarter
    of the size), ``residual_blocks`` residual blocks, two resize-convolutions back up,
    a 9x9 convolution to 3 channels with a sigmoid, and a crop back to the input size.
    Every convolution but the last is followed by instance normalisation, and by a ReLU except
    the second convolution of each residual block (Johnson et al.'s blocks add to their input).
    With the defaults it has about 1.7 million weights. ``seed`` makes the
    initial weights reproducible.

    ``norm`` replaces :class:`InstanceNormalization` (the default): a Keras layer class, or any
    function, that ``norm(name=...)`` turns into a layer with its interface, a per-channel
    normalisation with a learned scale and shift (lesson 06 trains with the student's
    ``InstanceNorm``). A network with a layer that is not nst-tf's can only be loaded again
    where that class is defined: :func:`with_package_norm` gives the same network with the
    package's layers, for :func:`nst_tf.fast.save_model`.
    """
    if int(filters) < 1 or int(residual_blocks) < 0:
        raise ValueError("filters must be at least 1 and residual_blocks at least 0.")
    if norm is None:
        norm = InstanceNormalization
    elif not callable(norm):
        raise TypeError(f"norm must be a Keras layer class or a function that makes one, not {type(norm).__name__}.")
    seeds = _Seeds(seed)
    content_image = keras.Input(shape=(None, None, 3), name="content_image")
    x = PadToMultiple(4, name="pad_to_multiple_of_4")(content_image)
    x = _conv_norm_relu(x, filters, 9, "in", seeds, norm)
    x = _conv_norm_relu(x, 2 * filters, 3, "down1", seeds, norm, strides=2)
    x = _conv_norm_relu(x, 4 * filters, 3, "down2", seeds, norm, strides=2)
    for index in range(1, int(residual_blocks) + 1):
        x = _residual_block(x, 4 * filters, f"res{index}", seeds, norm)
    x = _upsample(x, 2 * filters, "up1", seeds, norm)
    x = _upsample(x, filters, "up2", seeds, norm)
    # sigmoid(t) = (tanh(t / 2) + 1) / 2: the paper's scaled tanh, mapped to [0, 1].
    x = _conv(x, 3, 9, "out_conv", seeds, activation="sigmoid", use_bias=True)
    generated_image = CropToMatch(name="crop_to_input")([x, content_image])
    return keras.Model(content_image, generated_image, name=name)


def with_package_norm(model: keras.Model) -> keras.Model:
    """``model``, a :func:`transform_net` built with another ``norm``, rebuilt with :class:`InstanceNormalization`.

    Every weight is copied: convolutions as they are, each normalisation layer's ``gamma`` and
    ``beta`` by name (whatever order its class made them in), and its ``epsilon`` if it has one.
    The result computes the same function and saves and loads with :func:`nst_tf.fast.save_model`
    anywhere nst-tf is installed; a network that already uses the package's layers is returned as it is.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a Keras model made by fast.transform_net, not {type(model).__name__}.")
    names = {layer.name for layer in model.layers}
    norms = [layer for layer in model.layers if layer.name.endswith("_norm")]
    if "in_conv" not in names or not norms:
        raise ValueError("model must be a network made by fast.transform_net (it has no in_conv or *_norm layers).")
    if all(type(layer) is InstanceNormalization for layer in norms):
        return model
    blocks = sum(1 for name in names if name.startswith("res") and name.endswith("_add"))
    rebuilt = transform_net(model.get_layer("in_conv").filters, blocks, model.name)
    for layer in rebuilt.layers:
        source = model.get_layer(layer.name)
        if isinstance(layer, InstanceNormalization):
            missing = [part for part in ("gamma", "beta") if getattr(source, part, None) is None]
            if missing:
                raise ValueError(f"model's layer {source.name} has no {' or '.join(missing)} weight to copy.")
            layer.gamma.assign(source.gamma)
            layer.beta.assign(source.beta)
            layer.epsilon = float(getattr(source, "epsilon", layer.epsilon))
        else:
            layer.set_weights(source.get_weights())
    return rebuilt


def layer_table(model: keras.Model, height: int = 256, width: int = 256, *, skip_pads: bool = True) -> list[tuple]:
    """``[(layer name, kind, output shape, weights)]`` for an input of ``height x width`` (lesson 06).

    A text stand-in for ``keras.utils.plot_model``: it runs a zero image through the
    model once and records each layer's output shape. Padding layers are left out
    unless ``skip_pads=False``.
    """
    outputs = [layer.output for layer in model.layers[1:]]
    probe = keras.Model(model.input, outputs)
    values = probe(tf.zeros((1, height, width, 3)), training=False)
    rows = []
    for layer, value in zip(model.layers[1:], values):
        if skip_pads and isinstance(layer, ReflectionPad2D):
            continue
        rows.append((layer.name, type(layer).__name__, tuple(value.shape[1:]), layer.count_params()))
    return rows


# Running a trained network: one compiled function per model.
_COMPILED: "weakref.WeakKeyDictionary[keras.Model, Callable]" = weakref.WeakKeyDictionary()


def _compiled(model: keras.Model) -> Callable:
    """One ``tf.function`` per model that accepts any batch size and image size without retracing."""
    function = _COMPILED.get(model)
    if function is None:

        def apply_model(batch: tf.Tensor) -> tf.Tensor:
            return model(batch, training=False)

        function = tf.function(apply_model, input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)],
                               autograph=False)
        _COMPILED[model] = function
    return function


@overload
def stylize_fast(model: keras.Model, images: list[ImageBatch] | tuple[ImageBatch, ...], *, batch_size: int = 8
                 ) -> list[np.ndarray]: ...


@overload
def stylize_fast(model: keras.Model, images: np.ndarray, *, batch_size: int = 8) -> np.ndarray: ...


def stylize_fast(model: keras.Model, images: ImageBatch | list[ImageBatch] | tuple[ImageBatch, ...], *,
                 batch_size: int = 8) -> np.ndarray | list[np.ndarray]:
    """Stylize one image ``(H, W, 3)``, a batch ``(N, H, W, 3)`` or a list of images in one pass each (lesson 06).

    Values in [0, 1] (uint8 is scaled). Returns float32 NumPy arrays of the same
    shape(s) in [0, 1]. A batch is run ``batch_size`` images at a time.
    """
    if isinstance(images, (list, tuple)):
        return [cast(np.ndarray, stylize_fast(model, image, batch_size=batch_size)) for image in images]
    from ..image import validate

    batch = validate.image_batch(images, "images", min_side=4)  # uint8 scaled, NaN and out-of-range refused
    single = np.ndim(images) == 3 if not tf.is_tensor(images) else len(images.shape) == 3
    function = _compiled(model)
    step = validate.count(batch_size, "batch_size")
    outputs = [function(batch[start : start + step]).numpy() for start in range(0, int(batch.shape[0]), step)]
    result = np.clip(np.concatenate(outputs, axis=0), 0.0, 1.0).astype(np.float32)
    return result[0] if single else result
