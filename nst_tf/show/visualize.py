"""Looking inside the network: feature maps, filters, activation maximisation, reconstructions (lesson 01).

Four ways to see what a layer of VGG responds to:

* :func:`feature_grid` tiles a layer's activations for one image, one small map per channel;
* :func:`filters_as_tiles` draws the first layer's 3x3 RGB filters (the only ones that
  live in pixel space);
* :func:`activation_maximization` paints an image that makes one channel fire as much as
  possible (Erhan et al. 2009; the regularisers follow Olah, Mordvintsev & Schubert,
  "Feature Visualization", Distill 2017, and their Lucid library);
* :func:`reconstruct` starts from noise and pushes the pixels until a layer's activations
  (content) or their Gram matrices (style) match those of a target image — the two rows
  of Fig. 1 in Gatys, Ecker & Bethge (2015).
"""

from __future__ import annotations

import math
import os
from typing import Any, Sequence, Union

import keras
import numpy as np
import tensorflow as tf

from ..defaults import DEFAULT_PRECONDITION, INITS
from ..image.types import Image, ImageBatch, ImageSource
from ..vgg.extractor import FeatureExtractor, feature_extractor, load_vgg

__all__ = [
    "feature_grid",
    "filters_as_tiles",
    "activation_maximization",
    "fourier_image",
    "reconstruct",
    "COLOR_CORRELATION_SQRT",
]

# --------------------------------------------------------------------------------------
# Tiles for display
# --------------------------------------------------------------------------------------


def _tile(tiles: np.ndarray, columns: int, padding: int, fill: float) -> np.ndarray:
    """``(n, h, w, ...)`` -> one picture with the tiles in rows of ``columns``, ``padding`` px apart."""
    n, h, w = tiles.shape[:3]
    rows = math.ceil(n / columns)
    out = np.full(
        (rows * (h + padding) - padding, columns * (w + padding) - padding, *tiles.shape[3:]), fill, np.float32
    )
    for index, tile in enumerate(tiles):
        row, col = divmod(index, columns)
        out[row * (h + padding) : row * (h + padding) + h, col * (w + padding) : col * (w + padding) + w] = tile
    return out


def feature_grid(
    features: ImageBatch, channels: Union[int, Sequence[int]] = 16, *, columns: int | None = None, padding: int = 1
) -> np.ndarray:
    """Tile one image's feature maps into a grey picture for ``plt.imshow`` (lesson 01).

    Args:
        features: activations of one layer, ``(1, h, w, C)`` or ``(h, w, C)``.
        channels: how many channels to show (the first ``channels``), or a list of indices.
        columns: tiles per row; default about square.
        padding: pixels between tiles (drawn white).

    Returns:
        ``(rows*(h+padding)-padding, columns*(w+padding)-padding)`` float32 in [0, 1]; each
        map is scaled from its own minimum (0) to maximum (1), so a dead channel is black.
    """
    maps = np.asarray(features, dtype=np.float32)
    if maps.ndim == 4:
        if maps.shape[0] != 1:
            raise ValueError(f"feature_grid shows one image; got a batch of {maps.shape[0]}.")
        maps = maps[0]
    if maps.ndim != 3:
        raise ValueError(f"Expected activations (1, h, w, C) or (h, w, C), got shape {maps.shape}.")
    indices = list(range(min(int(channels), maps.shape[-1]))) if isinstance(channels, (int, float, np.number)) \
        else list(channels)
    if not indices:
        raise ValueError("Show at least one channel.")
    tiles = np.moveaxis(maps[..., indices], -1, 0)  # (n, h, w)
    low = tiles.min(axis=(1, 2), keepdims=True)
    span = tiles.max(axis=(1, 2), keepdims=True) - low
    tiles = np.where(span > 0, (tiles - low) / np.where(span > 0, span, 1.0), 0.0)
    columns = columns or math.ceil(math.sqrt(len(indices)))
    return _tile(tiles, columns, padding, fill=1.0)


def _vgg_of(model: keras.Model | FeatureExtractor | None, weights: str | os.PathLike | None = "auto", net: str = "vgg19",
            normalize: bool = True) -> keras.Model:
    """The VGG Keras model behind ``model`` (a model, a :class:`FeatureExtractor`, or ``None``: load one)."""
    if model is None:
        return load_vgg(weights, net, normalize=normalize)
    return model.vgg if isinstance(model, FeatureExtractor) else model


def _first_conv_kernel(model: keras.Model | FeatureExtractor | None) -> np.ndarray:
    kernel = _vgg_of(model).get_layer("block1_conv1").get_weights()[0]  # (3, 3, 3 in, 64 out)
    return np.asarray(kernel, dtype=np.float32)


def filters_as_tiles(model: keras.Model | FeatureExtractor | None = None, *, columns: int = 8, padding: int = 1
                     ) -> np.ndarray:
    """The first layer's 64 filters as small RGB pictures in one grid (lesson 01).

    ``model`` is a VGG from :func:`nst_tf.load_vgg`, a :class:`FeatureExtractor` or
    ``None`` (the default VGG). Each filter is ``3x3`` pixels x 3 colours. VGG's
    preprocessing feeds it BGR, so the colour axis is flipped back to RGB here. Each filter
    is scaled on its own so that grey is a weight of 0, brighter a positive and darker a
    negative weight for that colour.

    Returns ``(rows*(3+padding)-padding, columns*(3+padding)-padding, 3)`` in [0, 1]; with
    the defaults 8 x 8 tiles: ``(31, 31, 3)``. Show it with ``interpolation="nearest"``.
    """
    kernel = _first_conv_kernel(model)[:, :, ::-1, :]  # BGR input channels -> RGB
    tiles = np.moveaxis(kernel, -1, 0)  # (64, 3, 3, 3)
    largest = np.abs(tiles).max(axis=(1, 2, 3), keepdims=True)
    tiles = 0.5 + 0.5 * tiles / np.where(largest > 0, largest, 1.0)
    return _tile(tiles, columns, padding, fill=1.0)


# --------------------------------------------------------------------------------------
# Activation maximisation
# --------------------------------------------------------------------------------------

#: Square root of the colour covariance of natural images (ImageNet), as used by Lucid.
#: Multiplying three uncorrelated numbers by it gives colours that vary the way photos do.
COLOR_CORRELATION_SQRT = np.array(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=np.float32
)
_COLOR_MATRIX = COLOR_CORRELATION_SQRT / np.max(np.linalg.norm(COLOR_CORRELATION_SQRT, axis=0))


def _spectrum_scale(height: int, width: int) -> np.ndarray:
    """``1 / frequency`` for each entry of a real 2-D FFT, so low frequencies get large steps."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    frequency = np.sqrt(fx**2 + fy**2)
    # The constant term gets the scale of the lowest non-zero frequency; sqrt(h w) keeps
    # the transform unitary so learning rates are comparable with the pixel version.
    return (np.sqrt(height * width) / np.maximum(frequency, 1.0 / max(height, width))).astype(np.float32)


def fourier_image(spectrum: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """Pixels ``(1, height, width, 3)`` (unbounded) from a scaled Fourier spectrum.

    ``spectrum`` has shape ``(2, 3, height, width // 2 + 1)``: real and imaginary parts per
    colour. Each coefficient is multiplied by ``1/frequency`` before the inverse FFT, so
    an equal-sized gradient step changes smooth, large-scale patterns much more than
    pixel-level noise — the high-frequency "adversarial" noise that plain pixel
    optimisation produces is damped.
    """
    scale = tf.constant(_spectrum_scale(height, width))
    coefficients = tf.complex(spectrum[0] * scale, spectrum[1] * scale)
    pixels = tf.signal.irfft2d(coefficients, fft_length=[height, width])  # (3, H, W)
    return tf.transpose(pixels, (1, 2, 0))[tf.newaxis] / 4.0


def _to_rgb(pixels: tf.Tensor, decorrelate: bool) -> tf.Tensor:
    """Unbounded values -> RGB in (0, 1): optional colour decorrelation, then a sigmoid."""
    if decorrelate:
        pixels = tf.einsum("bhwc,dc->bhwd", pixels, tf.constant(_COLOR_MATRIX))
    return tf.sigmoid(pixels)


def _check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"Unknown {name} {value!r}; choose one of {', '.join(map(repr, choices))}.")


def activation_maximization(
    layer: str,
    channel: int,
    *,
    size: int = 128,
    steps: int = 256,
    learning_rate: float = 0.05,
    jitter: int = 8,
    scale: float = 0.05,
    parameterization: str = "fourier",
    decorrelate: bool = True,
    seed: int = 0,
    extractor: FeatureExtractor | keras.Model | None = None,
    weights: str | os.PathLike | None = "auto",
    net: str = "vgg19",
    normalize: bool = True,
) -> np.ndarray:
    """An image that makes one channel of one layer fire strongly (lesson 01).

    Gradient ascent (Adam) on the mean activation of ``channel`` in ``layer``, starting
    from faint noise. Left alone, the optimiser finds high-frequency patterns that excite
    the channel but look like nothing; three tricks from Lucid keep it readable:

    * ``jitter``: each step sees the image rolled by a random shift of up to ``jitter``
      pixels and ``scale``-d by a random factor in ``[1 - scale, 1 + scale]``, so only
      patterns that work wherever they are survive (transformation robustness);
    * ``parameterization="fourier"``: optimise a spectrum scaled by 1/frequency instead of
      the pixels (see :func:`fourier_image`); ``"pixels"`` optimises the pixels directly;
    * ``decorrelate``: colours are mixed by :data:`COLOR_CORRELATION_SQRT`, so steps move
      along natural colour directions. A sigmoid keeps every pixel in (0, 1).

    ``jitter=0, scale=0, parameterization="pixels", decorrelate=False`` switches all three
    off. ``steps=0`` returns the starting image. The objective is the channel's mean
    *before* its ReLU, so a channel that is silent at the start still gets a gradient.
    The step is one compiled ``tf.function`` (traced once per call). ``extractor`` reuses a
    ready :class:`FeatureExtractor` or VGG model; otherwise :func:`nst_tf.load_vgg` is called
    with ``weights``, ``net`` and ``normalize`` (a positive scale per channel changes only
    the size of the objective, which Adam ignores, so the picture is the same either way).

    Returns:
        ``(size, size, 3)`` float32 in [0, 1].
    """
    _check_choice("parameterization", parameterization, ("fourier", "pixels"))
    vgg = _vgg_of(extractor, weights, net, normalize)
    convs = [candidate.name for candidate in vgg.layers if "_conv" in candidate.name]
    if layer not in convs:
        raise ValueError(f"Pick one of this VGG's convolution layers ({convs[0]} ... {convs[-1]}), not {layer!r}.")
    conv = vgg.get_layer(layer)
    kernel, bias = conv.get_weights()
    if not 0 <= int(channel) < kernel.shape[-1]:
        raise ValueError(f"{layer} has channels 0 to {kernel.shape[-1] - 1}; got {channel}.")
    if int(steps) < 0 or int(size) < 16:
        raise ValueError("Need steps >= 0 and size >= 16.")
    channel, size = int(channel), int(size)
    # The network up to the layer's input; the channel itself is computed here *before* its
    # ReLU, so a channel that is silent on the grey start image still gets a gradient.
    below = keras.Model(vgg.inputs, conv.input)
    channel_kernel = tf.constant(kernel[..., channel : channel + 1])
    channel_bias = float(bias[channel])

    rng = np.random.default_rng(seed)
    if parameterization == "fourier":
        shape = (2, 3, size, size // 2 + 1)
        make_pixels = lambda p: fourier_image(p, size, size)  # noqa: E731
    else:
        shape = (1, size, size, 3)
        make_pixels = lambda p: p  # noqa: E731
    params = tf.Variable(0.01 * rng.standard_normal(shape).astype(np.float32), name="params")
    random = tf.random.Generator.from_seed(seed)
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
    optimizer.build([params])

    def image() -> tf.Tensor:
        return _to_rgb(make_pixels(params), decorrelate)

    def transformed(picture: tf.Tensor) -> tf.Tensor:
        if jitter > 0:
            shift = random.uniform([2], -jitter, jitter + 1, dtype=tf.int32)
            picture = tf.roll(picture, shift=shift, axis=[1, 2])
        if scale > 0:
            factor = random.uniform([], 1.0 - scale, 1.0 + scale)
            side = tf.cast(tf.round(factor * size), tf.int32)
            picture = tf.image.resize(picture, tf.stack([side, side]), method="bilinear")
        return picture

    @tf.function
    def step() -> tf.Tensor:
        with tf.GradientTape() as tape:
            inputs = below(transformed(image()), training=False)
            pre_activation = tf.nn.conv2d(inputs, channel_kernel, 1, "SAME") + channel_bias
            objective = tf.reduce_mean(pre_activation)
        gradient = tape.gradient(objective, params)
        optimizer.apply_gradients([(-gradient, params)])  # ascent
        return objective

    for _ in range(int(steps)):
        step()
    return image().numpy()[0]


# --------------------------------------------------------------------------------------
# Reconstructions from features
# --------------------------------------------------------------------------------------


def reconstruct(
    target_image: ImageSource,
    layers: Union[str, Sequence[str]],
    *,
    kind: str = "content",
    size: int | None = 128,
    steps: int = 100,
    seed: int = 0,
    init: str | Image = "noise",
    tv_weight: float | None = None,
    weights: str | os.PathLike | None = "auto",
    net: str = "vgg19",
    pooling: str = "avg",
    normalize: bool = True,
    extractor: FeatureExtractor | None = None,
    progress: bool = False,
    **options: Any,
) -> Image:
    """Rebuild an image from what some layers keep of it, starting from noise (lessons 01 and 02).

    ``kind="content"`` matches the activations of ``layers`` themselves (Gatys et al. 2015,
    Fig. 1, top row): shallow layers keep almost every pixel, deep layers keep the
    objects and their arrangement but not the exact colours and textures.
    ``kind="style"`` matches only their Gram matrices (Fig. 1, bottom row): the result is
    a texture with the target's colours and strokes, arranged anywhere.

    Each layer's cost is divided by the size of its target (the mean square of its
    activations, or of its Gram matrix), so every layer counts about equally whatever its
    scale, and ``tv_weight`` means the same at every depth (default ``0.3`` for content,
    ``0.01`` for style; it smooths away the pixel noise that deep layers cannot see). As
    in the paper's figures, max pooling is replaced by average pooling (``pooling="avg"``),
    which passes gradients to every pixel and gives smoother pictures.

    The objective is one term, ``weight * ContentTerm(...)`` or ``weight * StyleTerm(...)``, plus
    ``tv_weight * TVTerm()`` (:mod:`nst_tf.losses.compose`), minimised by L-BFGS
    (:class:`nst_tf.optim.solvers.ImageSolver`) for ``steps`` evaluations of the cost. Other keyword
    arguments: ``tv_kind``, ``normalization`` (the term's), ``statistic`` (a style term's) and ``jit_compile``.

    Args:
        target_image: ``(H, W, 3)`` in [0, 1], or a sample name such as ``"content/chelsea"``.
        layers: one Keras layer name or a list (``"block1_conv1"``).
        size: longest side of the result (``None``: the target's size).
        init: ``"noise"`` (seeded uniform noise), ``"content"`` or ``"style"`` (the target itself) or an image.
        weights, net, pooling, normalize: which VGG (see :func:`nst_tf.vgg.extractor.feature_extractor`);
            or pass a ready ``extractor`` that computes ``layers``.

    Returns:
        ``(H, W, 3)`` float32 in [0, 1].
    """
    from ..image.load import load_image
    from ..image import validate
    from ..image.validate import image_array
    from ..losses.compose import ContentTerm, StyleTerm, TVTerm
    from ..losses.gram import gram_matrix
    from ..optim.solvers import ImageSolver

    _check_choice("kind", kind, ("content", "style"))
    unknown = sorted(set(options) - {"tv_kind", "normalization", "statistic", "jit_compile"})
    if unknown:
        raise TypeError(f"reconstruct() got an unexpected keyword argument {unknown[0]!r}")
    layers = [layers] if isinstance(layers, str) else list(layers)
    image = load_image(target_image, size)
    if extractor is None:
        extractor = feature_extractor(layers, weights=weights, net=net, pooling=pooling, normalize=normalize)
    features = extractor(image[np.newaxis])
    normalization = options.get("normalization", "mse")
    term: Any
    if kind == "content":
        scale = float(np.mean([float(tf.reduce_mean(tf.square(features[name]))) for name in layers]))
        term = (1.0 / max(scale, 1e-12)) * ContentTerm(image, layers, normalization=normalization, extractor=extractor)
        tv_weight = 0.3 if tv_weight is None else tv_weight
    else:
        # The style term divides these per-layer weights by their sum; the term's weight undoes that.
        layer_weights = {
            name: 1.0 / max(float(tf.reduce_mean(tf.square(gram_matrix(features[name])))), 1e-12) for name in layers
        }
        term = (sum(layer_weights.values()) / len(layers)) * StyleTerm(
            image, layer_weights, normalization=normalization, statistic=options.get("statistic", "gram"),
            extractor=extractor)
        tv_weight = 0.01 if tv_weight is None else tv_weight
    objective = term + validate.weight(tv_weight, "tv_weight") * TVTerm(options.get("tv_kind", "l2"))
    if isinstance(init, str):  # "content" and "style" both start from the target itself
        _check_choice("init", init, INITS)
        start = np.random.default_rng(int(seed)).uniform(0.0, 1.0, image.shape).astype(np.float32) \
            if init == "noise" else image.copy()
    else:
        start = image_array(init, "init", min_side=0)
        if start.shape != image.shape:
            from ..image.arrays import resize_image

            start = resize_image(start, size=image.shape[:2])
    solver = ImageSolver(objective, tf.Variable(start[np.newaxis], dtype=tf.float32, name="generated_image"),
                         jit_compile=bool(options.get("jit_compile", False)))
    return solver.run(int(steps), "lbfgs", precondition=DEFAULT_PRECONDITION, progress=progress).image

