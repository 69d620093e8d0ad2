"""Real-time style transfer: a network that learns to stylize in one pass (lesson 06).

Optimising the pixels (lesson 04) needs hundreds of VGG forward and backward passes
for every picture. Johnson, Alahi and Fei-Fei (2016, "Perceptual Losses for Real-Time
Style Transfer and Super-Resolution", https://arxiv.org/abs/1603.08155) train a
*transformation network* once per style instead: it maps any photo to its stylized
version in a single forward pass, and its training loss is the same content, style
and total-variation cost as before (the "perceptual loss"), averaged over many photos.

* :func:`transform_net` builds the network (RGB in [0, 1] -> RGB in [0, 1], any size);
* :class:`PerceptualLoss` scores a batch of outputs against their photos and one style;
* :func:`training_images` is the ``tf.data`` pipeline of random crops;
* :func:`train` puts them together (Adam, checkpoints, ``tf.distribute``);
* :func:`stylize_fast`, :func:`save_model` and :func:`load_model` use the result.

>>> model, history = train("style/swirls", steps=2000, size=256)      # doctest: +SKIP
>>> save_model(model, "swirls.keras")                                   # doctest: +SKIP
>>> stylized = stylize_fast(load_model("swirls.keras"), photo)          # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
import weakref
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence, Union

import numpy as np

import keras
import tensorflow as tf

from . import losses as L
from .features import FeatureExtractor, feature_extractor
from .gram import style_statistic
from .optimize import DEFAULT_STYLE_LAYERS, NonFiniteLossError, prepare_image
from .progress import History, LivePreview, ProgressBar

__all__ = [
    "DEFAULT_FAST_CONTENT_LAYER",
    "DEFAULT_FAST_STYLE_LAYERS",
    "DEFAULT_FAST_WEIGHTS",
    "IMAGE_SUFFIXES",
    "ModelError",
    "ReflectionPad2D",
    "InstanceNormalization",
    "PadToMultiple",
    "CropToMatch",
    "instance_norm",
    "transform_net",
    "PerceptualLoss",
    "image_files",
    "training_images",
    "FastTrainingResult",
    "train",
    "stylize_fast",
    "save_model",
    "load_model",
    "layer_table",
]

from .defaults import DEFAULT_FAST_CONTENT_LAYER
from .defaults import DEFAULT_FAST_STYLE_LAYERS
from .defaults import DEFAULT_FAST_WEIGHTS


class ModelError(ValueError):
    """A file is not a usable transformation network (the message is one line)."""


# --------------------------------------------------------------------------------------
# The layers of the transformation network
# --------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="nst_tf")
class ReflectionPad2D(keras.layers.Layer):
    """Pad height and width by ``padding`` pixels, mirroring the image at its border.

    Zero padding would show the network a dark frame around every picture, and it
    learns to paint one; mirrored borders look like more of the picture.
    ``(B, H, W, C) -> (B, H + 2p, W + 2p, C)``; needs ``H, W > padding``.
    """

    def __init__(self, padding: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, inputs):
        p = self.padding
        return tf.pad(inputs, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT")

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        grow = lambda side: None if side is None else side + 2 * self.padding  # noqa: E731
        return (batch, grow(height), grow(width), channels)

    def get_config(self):
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

    def __init__(self, epsilon: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        channels = input_shape[-1]
        self.gamma = self.add_weight(shape=(channels,), initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=(channels,), initializer="zeros", name="beta")

    def call(self, inputs):
        return instance_norm(inputs, self.epsilon) * self.gamma + self.beta

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="nst_tf")
class PadToMultiple(keras.layers.Layer):
    """Mirror-pad the bottom and right edges so height and width are multiples of ``multiple``.

    The network halves the image twice and doubles it twice; on a multiple of 4 it
    comes back at exactly the input's size. :class:`CropToMatch` removes the padding.
    """

    def __init__(self, multiple: int = 4, **kwargs):
        super().__init__(**kwargs)
        self.multiple = int(multiple)

    def call(self, inputs):
        shape = tf.shape(inputs)
        pad_height = (-shape[1]) % self.multiple
        pad_width = (-shape[2]) % self.multiple
        # "SYMMETRIC" (edge pixel repeated) also works on images only a few pixels wide.
        return tf.pad(inputs, [[0, 0], [0, pad_height], [0, pad_width], [0, 0]], mode="SYMMETRIC")

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        up = lambda side: None if side is None else -(-side // self.multiple) * self.multiple  # noqa: E731
        return (batch, up(height), up(width), channels)

    def get_config(self):
        return {**super().get_config(), "multiple": self.multiple}


@keras.saving.register_keras_serializable(package="nst_tf")
class CropToMatch(keras.layers.Layer):
    """``[images, reference] -> images[:, :H, :W]`` where ``H, W`` are the reference's height and width."""

    def call(self, inputs):
        images, reference = inputs
        shape = tf.shape(reference)
        return images[:, : shape[1], : shape[2], :]

    def compute_output_shape(self, input_shapes):
        images, reference = input_shapes
        return (images[0], reference[1], reference[2], images[3])


# --------------------------------------------------------------------------------------
# The transformation network
# --------------------------------------------------------------------------------------


class _Seeds:
    """A different, reproducible initialiser seed for each convolution (no global state)."""

    def __init__(self, seed: int | None):
        self.seed, self.count = seed, 0

    def initializer(self):
        if self.seed is None:
            return "glorot_uniform"
        self.count += 1
        return keras.initializers.GlorotUniform(seed=int(self.seed) * 1009 + self.count)


def _conv(x, filters: int, kernel: int, name: str, seeds: _Seeds, *, strides: int = 1, activation=None,
          use_bias: bool = False):
    """Mirror padding, then a 'valid' convolution: the output keeps the size (divided by ``strides``)."""
    x = ReflectionPad2D(kernel // 2, name=f"{name}_pad")(x)
    return keras.layers.Conv2D(filters, kernel, strides=strides, padding="valid", use_bias=use_bias,
                               activation=activation, kernel_initializer=seeds.initializer(), name=name)(x)


def _conv_norm_relu(x, filters: int, kernel: int, name: str, seeds: _Seeds, *, strides: int = 1):
    x = _conv(x, filters, kernel, f"{name}_conv", seeds, strides=strides)
    x = InstanceNormalization(name=f"{name}_norm")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def _residual_block(x, filters: int, name: str, seeds: _Seeds):
    """``x + IN(conv(relu(IN(conv(x)))))``: the block can only add detail to what it gets."""
    shortcut = x
    x = _conv_norm_relu(x, filters, 3, f"{name}_a", seeds)
    x = _conv(x, filters, 3, f"{name}_b_conv", seeds)
    x = InstanceNormalization(name=f"{name}_b_norm")(x)
    return keras.layers.Add(name=f"{name}_add")([shortcut, x])


def _upsample(x, filters: int, name: str, seeds: _Seeds):
    """Resize-convolution: nearest-neighbour x2, then a 3x3 conv (no checkerboard, unlike Conv2DTranspose)."""
    x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"{name}_resize")(x)
    return _conv_norm_relu(x, filters, 3, name, seeds)


def transform_net(
    filters: int = 32, residual_blocks: int = 5, name: str = "transform_net", *, seed: int | None = None
) -> keras.Model:
    """The image transformation network of Johnson et al. (2016), lesson 06.

    ``(B, H, W, 3)`` RGB in [0, 1] -> ``(B, H, W, 3)`` in [0, 1], for any ``H, W`` (at
    least 8 px): mirror-pad to a multiple of 4, a 9x9 convolution, two stride-2
    convolutions (``filters`` -> ``2 filters`` -> ``4 filters`` channels at a quarter
    of the size), ``residual_blocks`` residual blocks, two resize-convolutions back up,
    a 9x9 convolution to 3 channels with a sigmoid, and a crop back to the input size.
    Every convolution but the last is followed by instance normalisation and a ReLU.
    With the defaults it has about 1.7 million weights. ``seed`` makes the
    initial weights reproducible.
    """
    if int(filters) < 1 or int(residual_blocks) < 0:
        raise ValueError("filters must be at least 1 and residual_blocks at least 0.")
    seeds = _Seeds(seed)
    content_image = keras.Input(shape=(None, None, 3), name="content_image")
    x = PadToMultiple(4, name="pad_to_multiple_of_4")(content_image)
    x = _conv_norm_relu(x, filters, 9, "in", seeds)
    x = _conv_norm_relu(x, 2 * filters, 3, "down1", seeds, strides=2)
    x = _conv_norm_relu(x, 4 * filters, 3, "down2", seeds, strides=2)
    for index in range(1, int(residual_blocks) + 1):
        x = _residual_block(x, 4 * filters, f"res{index}", seeds)
    x = _upsample(x, 2 * filters, "up1", seeds)
    x = _upsample(x, filters, "up2", seeds)
    # sigmoid(t) = (tanh(t / 2) + 1) / 2: the paper's scaled tanh, mapped to [0, 1].
    x = _conv(x, 3, 9, "out_conv", seeds, activation="sigmoid", use_bias=True)
    generated_image = CropToMatch(name="crop_to_input")([x, content_image])
    return keras.Model(content_image, generated_image, name=name)


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


# --------------------------------------------------------------------------------------
# The perceptual loss
# --------------------------------------------------------------------------------------


def _distributed_copy(extractor: FeatureExtractor) -> keras.Model:
    """The extractor's VGG rebuilt inside the current ``tf.distribute`` scope (mirrored weights)."""
    clone = keras.models.clone_model(extractor.vgg)
    clone.set_weights(extractor.vgg.get_weights())
    clone.trainable = False
    clone.nst_description = extractor.description  # type: ignore[attr-defined]
    clone.nst_normalized = extractor.normalized  # type: ignore[attr-defined]
    return clone


class PerceptualLoss(L.WeightedCosts):
    """Content, style and total-variation costs of a *batch* of generated images (lesson 06).

    ``loss(content_images, generated_images)`` returns the weighted costs
    ``{"content", "style", "tv", "total"}`` (scalars, means over the batch), computed
    with :func:`nst_tf.losses.content_loss`, :func:`~nst_tf.losses.style_loss` and
    :func:`~nst_tf.losses.tv_loss`. The style targets (Gram matrices) come from
    ``style_image`` once; the content targets are each photo's own features, so the
    content part of VGG runs only up to ``content_layer``.

    Args:
        style_image: ``(h, w, 3)`` in [0, 1], a path or a sample name.
        content_layer: default ``block2_conv2`` as in Johnson et al. (see
            :data:`DEFAULT_FAST_CONTENT_LAYER`).
        style_layers: names, or ``{layer: lambda_l}``; default the lesson-04 layers.
        content_weight, style_weight, tv_weight: ``tf.Variable`` s inside; assigning
            ``loss.style_weight = 0.2`` takes effect without retracing.
        style_size: the style image's longest side in pixels (``None``: as given).
        weights, net, normalize: which VGG (see :func:`nst_tf.features.feature_extractor`);
            VGG16 by default, like the paper and the offline weights; normalised by default.

    Built inside ``strategy.scope()``, it keeps its own mirrored copy of VGG.
    """

    def __init__(
        self,
        style_image,
        *,
        content_layer: str = DEFAULT_FAST_CONTENT_LAYER,
        style_layers: Union[Sequence[str], Mapping[str, float]] = DEFAULT_FAST_STYLE_LAYERS,
        content_weight: float = DEFAULT_FAST_WEIGHTS["content_weight"],
        style_weight: float = DEFAULT_FAST_WEIGHTS["style_weight"],
        tv_weight: float = DEFAULT_FAST_WEIGHTS["tv_weight"],
        style_size: int | None = None,
        weights: str | os.PathLike | None = "auto",
        net: str = "vgg16",
        normalize: bool = True,
        extractor: FeatureExtractor | None = None,
    ):
        for label, value in (("content_weight", content_weight), ("style_weight", style_weight),
                             ("tv_weight", tv_weight)):
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"{label} must be a finite number >= 0, got {value!r}.")
        self.content_layer = str(content_layer)
        self.style_layer_weights = L.normalize_layer_weights(
            [style_layers] if isinstance(style_layers, str) else style_layers
        )
        layers = list(dict.fromkeys([self.content_layer, *self.style_layer_weights]))
        extractor = extractor or feature_extractor(layers, weights=weights, net=net, normalize=normalize)
        vgg = _distributed_copy(extractor) if tf.distribute.has_strategy() else extractor.vgg
        self.extractor = FeatureExtractor(vgg, layers, extractor.net, extractor.weights)
        self.content_extractor = FeatureExtractor(vgg, [self.content_layer], extractor.net, extractor.weights)
        self.style_image = prepare_image(style_image, style_size)
        gram = style_statistic("gram")
        features = self.extractor(self.style_image[np.newaxis])
        self.style_targets = {name: tf.constant(gram(features[name])) for name in self.style_layer_weights}
        self._init_weights(content_weight, style_weight, tv_weight)

    def __call__(self, content_images, generated_images) -> dict[str, tf.Tensor]:
        """Weighted costs of ``generated_images`` ``(B, H, W, 3)`` for their ``content_images``."""
        content_target = tf.stop_gradient(self.content_extractor.model(content_images, training=False)[
            self.content_layer])
        features = self.extractor.model(generated_images, training=False)
        content = L.content_loss(content_target, features[self.content_layer])
        style = L.style_loss(self.style_targets, features, self.style_layer_weights)
        tv = L.tv_loss(generated_images)
        return self._weigh(content, style, tv)

    def evaluate(self, model: keras.Model, content_images) -> dict[str, float]:
        """The weighted costs of ``model`` on a fixed batch ``(B, H, W, 3)``, as floats."""
        content_images = tf.convert_to_tensor(content_images, tf.float32)
        values = self(content_images, model(content_images, training=False))
        return {key: float(value) for key, value in values.items()}


# --------------------------------------------------------------------------------------
# Training images: a tf.data pipeline of random crops (nst_tf/fast_data.py)
# --------------------------------------------------------------------------------------

from . import fast_data  # noqa: E402
from .fast_data import DECODE_PARALLEL, IMAGE_SUFFIXES, IN_MEMORY_LIMIT, image_files, training_images  # noqa: E402


# --------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------


@dataclass
class FastTrainingResult:
    """What :func:`train` returns; unpacks as ``model, history = train(...)``.

    ``previews`` is a list of ``(step, image)`` with the preview image stylized by the
    network at that step; ``step`` the number of steps done (including resumed ones).
    """

    model: keras.Model
    history: History
    previews: list = field(default_factory=list)
    step: int = 0
    interrupted: bool = False
    seconds: float = 0.0
    checkpoint: str | None = None

    def __iter__(self):
        return iter((self.model, self.history))


def _replicas(strategy) -> int:
    return int(strategy.num_replicas_in_sync)


def _preview_array(preview_image, images, size: int) -> np.ndarray:
    """The picture used for previews: given, or the first training picture, at most ``max(2 * size, 128)`` px."""
    from . import data

    limit = max(2 * size, 128)
    if preview_image is not None:
        return prepare_image(preview_image, limit)
    if images is None or not isinstance(images, (str, os.PathLike)):
        first = data.names("content")[0] if images is None else list(images)[0]
        return prepare_image(first, limit)
    for path in image_files(images):
        picture = fast_data.read_picture(path, limit)[0]
        if picture is not None:
            return picture.astype(np.float32) / 255.0
    raise ValueError(f"{os.fspath(images)} holds no readable image for the preview.")


def train(
    style_image,
    images: str | os.PathLike | Sequence | None = None,
    *,
    steps: int = 2000,
    batch_size: int = 4,
    size: int = 256,
    learning_rate: float = 1e-3,
    content_weight: float = DEFAULT_FAST_WEIGHTS["content_weight"],
    style_weight: float = DEFAULT_FAST_WEIGHTS["style_weight"],
    tv_weight: float = DEFAULT_FAST_WEIGHTS["tv_weight"],
    content_layer: str = DEFAULT_FAST_CONTENT_LAYER,
    style_layers: Union[Sequence[str], Mapping[str, float]] = DEFAULT_FAST_STYLE_LAYERS,
    style_size: int | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: int = 500,
    resume: bool = True,
    cache: bool = False,
    preview_every: int | None = None,
    preview_image=None,
    preview: bool = False,
    callback: Callable[[int, np.ndarray, dict], bool | None] | None = None,
    progress: bool = True,
    log_every: int = 10,
    strategy: tf.distribute.Strategy | None = None,
    seed: int = 0,
    weights: str | os.PathLike | None = "auto",
    net: str = "vgg16",
    normalize: bool = True,
    filters: int = 32,
    residual_blocks: int = 5,
    model: keras.Model | None = None,
) -> FastTrainingResult:
    """Train a transformation network for one style (Johnson et al., 2016; lesson 06).

    Args:
        style_image: ``(h, w, 3)`` in [0, 1], a path, URL or sample name.
        images: the training photos: a folder, a list of files, or ``None`` for the few
            sample photos that ship with nst-tf (fine for a demo; a real model wants a
            large set such as COCO). See :func:`training_images`.
        steps: total number of Adam steps (a resumed run continues up to ``steps``).
        batch_size: photos per step, over all replicas and workers (a multiple of their
            number); ``nst-tf train-fast --batch-size`` is per replica instead.
        size: side of the square training crops in pixels.
        learning_rate: Adam's step size.
        content_weight, style_weight, tv_weight: the weights of the perceptual loss.
        content_layer, style_layers, style_size, weights, net, normalize: see :class:`PerceptualLoss`;
            ``style_size`` defaults to ``size`` (at least 64 px).
        checkpoint_dir: where ``tf.train.CheckpointManager`` keeps the last 3 checkpoints
            (every ``checkpoint_every`` steps, at the end and on Ctrl-C); with ``resume``
            an existing checkpoint there is restored first. Under a multi-worker strategy
            only the chief keeps checkpoints, and every worker resumes from its latest
            (:class:`nst_tf.fast_distribute.ChiefCheckpoints`), so the folder must be one
            they all read. A resumed run goes on with the very crops it would have seen.
        cache: decode every training picture once and keep it in memory (see
            :func:`nst_tf.fast_data.training_images`); unreadable pictures are skipped
            and reported once, at the end.
        preview_every: stylize the preview picture every so many steps (default: 5 times
            per run; 0 for never); the images are in ``result.previews``, shown live
            with ``preview=True`` in a notebook and passed to ``callback(step, image,
            losses)``, which may return ``False`` to stop.
        progress: a tqdm bar with the losses.
        strategy: a ``tf.distribute`` strategy (default: the current one). The model,
            optimiser and VGG are built in ``strategy.scope()`` and each step runs
            through ``strategy.run``, so one GPU, several GPUs, a cluster or a TPU run this
            code (:func:`nst_tf.fast_distribute.make_strategy` makes one by name). Every
            worker reads its own share of the photos, and step ``s`` sees the same crops
            whatever the strategy (:func:`nst_tf.fast_data.distributed_training_images`).
        seed: the initial weights and the random crops.
        filters, residual_blocks: the network's size (see :func:`transform_net`).
        model: continue training this network instead of building a new one.

    Returns:
        :class:`FastTrainingResult`, which unpacks as ``model, history``.
    """
    steps, batch_size, size = int(steps), int(batch_size), int(size)
    if steps < 1:
        raise ValueError("steps must be at least 1.")
    if not np.isfinite(learning_rate) or learning_rate <= 0:
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}.")
    strategy = strategy or tf.distribute.get_strategy()
    if batch_size < 1 or batch_size % _replicas(strategy):
        raise ValueError(
            f"batch_size ({batch_size}) must be a positive multiple of the number of replicas ({_replicas(strategy)})."
        )
    preview_every = max(steps // 5, 1) if preview_every is None else int(preview_every)
    skipped = fast_data.SkippedPictures()
    sources = fast_data.training_sources(images)  # checked before VGG is built
    preview_picture = _preview_array(preview_image, images, size) if preview_every > 0 else None

    # VGG is loaded (and cached) outside any strategy; PerceptualLoss copies it into this one.
    feature_extractor([content_layer], weights=weights, net=net)
    with strategy.scope():
        loss = PerceptualLoss(
            style_image, content_layer=content_layer, style_layers=style_layers, content_weight=content_weight,
            style_weight=style_weight, tv_weight=tv_weight, style_size=style_size or max(size, 64),
            weights=weights, net=net, normalize=normalize,
        )
        model = model or transform_net(filters, residual_blocks, seed=seed)
        optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
        optimizer.build(model.trainable_variables)
        step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step)
    manager = None
    if checkpoint_dir is not None:
        from .fast_distribute import ChiefCheckpoints

        manager = ChiefCheckpoints(checkpoint, checkpoint_dir, strategy, max_to_keep=3)
        if resume:
            manager.restore_latest()
    start = int(step.numpy())
    saved = {"step": start, "path": manager.latest_checkpoint if manager is not None and start else None}
    iterator = iter(fast_data.distributed_training_images(
        strategy, sources, global_batch_size=batch_size, size=size, seed=seed, start_step=start, cache=cache,
        skipped=skipped))

    def replica_step(content_images):
        with tf.GradientTape() as tape:
            generated_images = model(content_images, training=True)
            components = loss(content_images, generated_images)
            # Each replica sees batch_size / replicas photos; the optimiser sums the gradients.
            scaled = components["total"] / _replicas(strategy)
        gradients = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return components

    # No Python control flow depends on tensors here, so AutoGraph is not needed.
    @functools.partial(tf.function, autograph=False)
    def train_step(iterator):
        per_replica = strategy.run(replica_step, args=(next(iterator),))
        step.assign_add(1)
        return {key: strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None)
                for key, value in per_replica.items()}

    def apply_model(images):
        return model(images, training=False)

    @functools.partial(tf.function, autograph=False)
    def preview_step(picture):
        outputs = strategy.run(apply_model, args=(picture,))
        return strategy.experimental_local_results(outputs)[0]

    result = FastTrainingResult(model=model, history=History(), step=start, checkpoint=saved["path"])
    live = LivePreview() if preview else None
    bar = ProgressBar(steps, enabled=progress, description="training")
    bar.update(start)
    began = time.perf_counter()
    pending: list[dict] = []

    def flush(index: int) -> dict:
        if not pending:
            return result.history.last()
        stacked = {key: np.asarray(tf.stack([p[key] for p in pending])) for key in pending[0]}
        first = index - len(pending) + 1
        for offset in range(len(pending)):
            values = {key: float(stacked[key][offset]) for key in stacked}
            if not np.isfinite(values["total"]):
                raise NonFiniteLossError(
                    f"The training cost became {values['total']} at step {first + offset}: lower the "
                    f"learning rate ({learning_rate:g}) or the weights (content_weight={content_weight:g}, "
                    f"style_weight={style_weight:g}, tv_weight={tv_weight:g})."
                )
            result.history.append(first + offset, values, time.perf_counter() - began)
        bar.update(len(pending), result.history.last())
        pending.clear()
        return result.history.last()

    def save_checkpoint() -> None:
        done = int(step.numpy())
        if manager is not None and done != saved["step"]:
            saved["step"], saved["path"] = done, manager.save(checkpoint_number=done)
            result.checkpoint = saved["path"]

    try:
        for index in range(start + 1, steps + 1):
            pending.append(train_step(iterator))
            previewing = preview_every > 0 and (index % preview_every == 0 or index == steps)
            if index % max(1, int(log_every)) == 0 or index == steps or previewing:
                losses = flush(index)
            result.step = index
            if manager is not None and index % max(1, int(checkpoint_every)) == 0:
                save_checkpoint()
            if previewing:
                image = preview_step(tf.constant(preview_picture[np.newaxis])).numpy()[0]
                result.previews.append((index, image))
                if live is not None:
                    live.update(image, result.history)
                if callback is not None and callback(index, image, losses) is False:
                    break
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        with contextlib.suppress(Exception):
            flush(int(step.numpy()))
        bar.close()
        result.step = int(step.numpy())
        result.seconds = time.perf_counter() - began
    save_checkpoint()  # the end of the run (or where Ctrl-C stopped it), unless just saved
    skipped.report()
    return result


# --------------------------------------------------------------------------------------
# Using a trained network
# --------------------------------------------------------------------------------------

_COMPILED: "weakref.WeakKeyDictionary[keras.Model, Callable]" = weakref.WeakKeyDictionary()


def _compiled(model: keras.Model) -> Callable:
    """One ``tf.function`` per model that accepts any batch size and image size without retracing."""
    function = _COMPILED.get(model)
    if function is None:

        def apply_model(batch):
            return model(batch, training=False)

        function = tf.function(apply_model, input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)],
                               autograph=False)
        _COMPILED[model] = function
    return function


def stylize_fast(model: keras.Model, images, *, batch_size: int = 8):
    """Stylize one image ``(H, W, 3)``, a batch ``(N, H, W, 3)`` or a list of images in one pass each (lesson 06).

    Values in [0, 1] (uint8 is scaled). Returns float32 NumPy arrays of the same
    shape(s) in [0, 1]. A batch is run ``batch_size`` images at a time.
    """
    if isinstance(images, (list, tuple)):
        return [stylize_fast(model, image, batch_size=batch_size) for image in images]
    from .images import to_batch

    batch = to_batch(images)
    single = tf.convert_to_tensor(images).shape.rank == 3
    function = _compiled(model)
    step = max(1, int(batch_size))
    outputs = [function(batch[start : start + step]).numpy() for start in range(0, int(batch.shape[0]), step)]
    result = np.clip(np.concatenate(outputs, axis=0), 0.0, 1.0).astype(np.float32)
    return result[0] if single else result


def save_model(model: keras.Model, path: str | os.PathLike, *, overwrite: bool = True) -> Path:
    """Write ``model`` to ``path`` (must end in ``.keras``) atomically: a crash leaves no half file.

    Written through :func:`nst_tf.safefile.publish` (temporary file, fsync, then into
    place); ``overwrite=False`` never replaces an existing file (:class:`ModelError`).
    """
    out = Path(path).expanduser()
    if out.suffix != ".keras":
        raise ModelError(f"cannot save {os.fspath(path)}: the file name must end in .keras")
    if not out.parent.is_dir():
        raise ModelError(f"cannot save {os.fspath(path)}: the folder {os.fspath(out.parent)} does not exist")
    from .safefile import FileExists, publish

    umask = os.umask(0o022)
    os.umask(umask)
    try:  # mkstemp makes the file private (0600): give it the usual permissions
        publish(lambda temporary: model.save(temporary, overwrite=True), out, overwrite=overwrite,
                suffix=".keras", mode=0o666 & ~umask)
    except FileExists:
        raise ModelError(f"{os.fspath(path)} already exists (created while we were training); "
                         "add --overwrite to replace it") from None
    return out


def load_model(path: str | os.PathLike) -> keras.Model:
    """Load a network saved with :func:`save_model` / ``model.save``; :class:`ModelError` if it is not one.

    The custom layers of this module are registered with Keras, so plain
    ``keras.models.load_model(path)`` works too once ``nst_tf.fast`` is imported.
    """
    source = Path(path).expanduser()
    name = os.fspath(path)
    if not source.is_file():
        raise ModelError(f"{name} does not exist" if not source.exists() else f"{name} is not a file")
    if source.suffix != ".keras":
        raise ModelError(f"{name} is not a .keras model file")
    if not zipfile.is_zipfile(source):
        raise ModelError(f"{name} is not a valid .keras model (not a zip archive)")
    from .modelcheck import UnsafeModelError, check_config

    try:  # only the layer types our networks use, read from config.json before Keras builds anything
        check_config(source, name)
    except UnsafeModelError as error:
        raise ModelError(str(error)) from None
    try:
        model = keras.models.load_model(source, compile=False, safe_mode=True)
    except Exception as error:  # noqa: BLE001 - zip, JSON, h5 and Keras errors all mean "not a model"
        reason = " ".join(str(error).split()) or type(error).__name__
        raise ModelError(f"{name} is not a valid .keras model ({reason})") from None
    shapes = [tuple(t.shape) for t in (*model.inputs, *model.outputs)] if isinstance(model, keras.Model) else []
    if len(shapes) != 2 or any(len(s) != 4 or s[-1] != 3 for s in shapes):
        raise ModelError(f"{name} is a Keras model but not an image-to-image network (RGB in, RGB out)")
    return model
