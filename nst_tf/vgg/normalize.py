"""Gatys' normalised VGG: every channel's mean activation is 1 (lesson 03).

Gatys, Ecker and Bethge (CVPR 2016): *"We normalized the network by scaling the weights
such that the mean activation of each convolutional filter over images and positions is
equal to one."* A VGG conv base has only convolutions, ReLUs and pooling, and each of
them commutes with a positive factor per channel: multiplying layer ``l``'s kernel by
``s_l[out] / s_{l-1}[in]`` and its bias by ``s_l[out]`` multiplies that layer's output
channel ``out`` by ``s_l[out]`` and changes nothing else. Choosing ``s_l = 1 / m_l``,
where ``m_l`` is the channel's mean activation over a fixed set of reference images (and
all positions), gives a network whose every channel has mean 1 on that set.

Channels that rarely fire need a floor. On the offline VGG16 (fine-tuned for edge
detection) half of block2_conv2's channels have a mean activation below 1e-4 of their
typical input size: dividing by that mean would blow them up ten thousandfold, and the
first generated image that excites them would see nothing else. So each channel is
divided by ``max(mean, RARE_FLOOR * size)``, where ``size`` is the channel's mean absolute
value *before* the ReLU. Both scale with the channel, so the result is still exactly
the same for a rescaled copy of the network. The ratio ``mean / size`` is roughly the
share of positions where the channel fires (exactly that when its positive and negative
values are equally large), so a channel that fires at least ~20 % of the time has mean
1, and a rarer one is scaled as if it fired that often: when a generated image excites
it, it answers at most a few times louder than a common channel, not twenty or ten
thousand times. A channel whose pre-activation is 0 everywhere (it can never fire)
keeps the scale 1; the channels that never fire on the reference images and those under
the floor are reported once.

Why 0.2 (measured on the offline VGG16, benchmarks/README.md, "How the default weights
were picked"): with 0.05 the 1690 never- or rarely-firing channels of its 4224 answered
about 20x louder than the others and dominated the cost, so the fast network learnt
stripes and the optimiser invented pink tints the painting does not have; 0.1 still
gave stripes; 0.2 gives neither. On that edge-detection net 1522 channels fire often
enough to reach mean 1 and the rest sit on the floor (nst-tf says how many when it first
normalises a net, so the figure for any other backbone is printed, not assumed).

Why it matters: the content cost grows with the square of a layer's activations and a
Gram cost with their fourth power. Pretrained VGGs differ wildly in scale - the offline
VGG16's mean activation falls from ~27 in block1 to ~1 in block5, ImageNet VGG19's rises
into the hundreds - so loss weights tuned on one would be wrong by orders of magnitude
on the other. After normalisation they mean the same thing on every backbone, and a
rescaled copy of a network (any positive factor per channel) gives *exactly* the same
normalised features.

The means are measured layer by layer from the bottom in one pass: because the folded
output of layer ``l`` is exactly ``s_l`` times the original one, whatever was done to the
layers below, the original network's means are the normalised network's scales. The scales are
cached on disk per backbone, keyed by a hash of the weights' content, in nst-tf's one cache folder
(``$NST_TF_CACHE``, else ``$XDG_CACHE_HOME/nst-tf``; :func:`nst_tf._runtime.env.cache_dir`), and in
memory when that is not writable.

>>> vgg = load_vgg("offline")                # normalised: normalize=True is the default  # doctest: +SKIP
>>> raw = load_vgg("offline", normalize=False)                                            # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - typing only (Keras is imported when a model is built)
    import keras

from .._runtime.env import cache_dir
from .._runtime.logs import get_logger
from ..image import samples
from ..image.arrays import resize_image
from ..image.load import load_image
from .layers import conv_layer_names, layer_names
from .preprocess import caffe_preprocess

_log = get_logger(__name__)

__all__ = [
    "REFERENCE_SIZE",
    "RARE_FLOOR",
    "reference_names",
    "reference_images",
    "weights_digest",
    "channel_statistics",
    "scales_from_statistics",
    "fold_scales",
    "Normalization",
    "normalization_for",
    "normalize_weights",
    "normalize_model",
]

#: Long side, in pixels, of each reference image when the means are measured.
REFERENCE_SIZE = 256
#: A channel is divided by ``max(mean activation, RARE_FLOOR * mean |pre-activation|)``.
RARE_FLOOR = 0.2
#: Changes whenever the reference set, its size or the procedure changes (part of the cache key).
_PROCEDURE = f"nst-tf normalisation v2: per-image means over positions, max pooling, floor {RARE_FLOOR}"

#: Scales computed in this process, by digest (the disk cache's fallback and first stop).
_MEMORY: dict[str, "Normalization"] = {}
#: Digests whose dead channels were already reported in this process.
_REPORTED: set[str] = set()


# --------------------------------------------------------------------------------------
# The reference images
# --------------------------------------------------------------------------------------


def reference_names() -> list[str]:
    """The sample images the means are taken over: every photo and painting in ``data/``."""
    return sorted(samples.names())


def reference_images(size: int = REFERENCE_SIZE) -> list[np.ndarray]:
    """The reference images, each ``(h, w, 3)`` in [0, 1] with its long side ``size``."""
    loaded = []
    for name in reference_names():
        loaded.append(resize_image(load_image(name), int(size)))
    return loaded


# --------------------------------------------------------------------------------------
# The arithmetic
# --------------------------------------------------------------------------------------


def weights_digest(conv_weights: Mapping[str, Sequence[np.ndarray]], order: Sequence[str]) -> str:
    """SHA-256 of the conv layers' names, shapes and float32 values, plus the procedure's version."""
    digest = hashlib.sha256(_PROCEDURE.encode())
    digest.update(f"size={REFERENCE_SIZE};images={','.join(reference_names())}".encode())
    for name in order:
        for array in conv_weights[name]:
            array = np.ascontiguousarray(array, dtype=np.float32)
            digest.update(f"{name}{array.shape}".encode())
            digest.update(array.tobytes())
    return digest.hexdigest()


def channel_statistics(
    conv_outputs: Callable[[np.ndarray], Mapping[str, tuple]],
    images: Sequence[np.ndarray],
    order: Sequence[str],
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``(means, sizes)`` per channel of the layers ``order``: over positions, then over images.

    ``conv_outputs(batch)`` maps a ``(1, h, w, 3)`` batch to ``{layer: (mean activation,
    mean |pre-activation|)}``, each of shape ``(channels,)`` (one value per image, so
    images of different shapes weigh the same).
    """
    means: dict[str, np.ndarray] = {}
    sizes: dict[str, np.ndarray] = {}
    for image in images:
        outputs = conv_outputs(np.asarray(image, np.float32)[np.newaxis])
        for name in order:
            mean, size = (np.asarray(value, dtype=np.float64).reshape(-1) for value in outputs[name])
            means[name] = means[name] + mean if name in means else mean
            sizes[name] = sizes[name] + size if name in sizes else size
    count = len(images)
    return {name: means[name] / count for name in order}, {name: sizes[name] / count for name in order}


def scales_from_statistics(
    means: Mapping[str, np.ndarray], sizes: Mapping[str, np.ndarray], floor: float | None = None
) -> tuple[dict[str, np.ndarray], dict[str, list[int]], dict[str, list[int]]]:
    """``(scales, dead, rare)``: ``1 / max(mean, floor * size)`` per channel (1 where that is 0).

    ``floor`` defaults to :data:`RARE_FLOOR`.

    ``dead`` lists the channels whose mean activation is 0, ``rare`` those (alive) under the floor.
    """
    floor = RARE_FLOOR if floor is None else float(floor)
    scales, dead, rare = {}, {}, {}
    for name, mean in means.items():
        mean = np.asarray(mean, dtype=np.float64)
        divisor = np.maximum(mean, floor * np.asarray(sizes[name], dtype=np.float64))
        positive = divisor > 0
        scales[name] = np.where(positive, 1.0 / np.where(positive, divisor, 1.0), 1.0).astype(np.float32)
        never = np.flatnonzero(mean <= 0)
        seldom = np.flatnonzero((mean > 0) & (mean < divisor))
        if never.size:
            dead[name] = [int(i) for i in never]
        if seldom.size:
            rare[name] = [int(i) for i in seldom]
    return scales, dead, rare


def fold_scales(
    conv_weights: Mapping[str, Sequence[np.ndarray]],
    scales: Mapping[str, np.ndarray],
    order: Sequence[str],
) -> dict[str, list[np.ndarray]]:
    """Multiply layer ``l``'s output channels by ``scales[l]``: kernel by ``s_l[out] / s_{l-1}[in]``, bias by ``s_l``.

    ``order`` lists the conv layers from the bottom; the first layer's inputs (the image)
    are not scaled. Layers missing from ``scales`` keep scale 1.
    """
    folded, below = {}, None
    for name in order:
        kernel, bias = (np.asarray(w, dtype=np.float64) for w in conv_weights[name])
        out = np.asarray(scales.get(name, np.ones(kernel.shape[-1])), dtype=np.float64)
        kernel = kernel * out
        if below is not None:
            kernel = kernel / below[:, np.newaxis]
        folded[name] = [kernel.astype(np.float32), (bias * out).astype(np.float32)]
        below = out
    return folded


# --------------------------------------------------------------------------------------
# Computed once per backbone, cached
# --------------------------------------------------------------------------------------


@dataclass
class Normalization:
    """The result for one backbone, per conv layer: ``scales``, the ``means`` and ``sizes`` they
    come from, the ``dead`` and ``rare`` channels, and where it came from (``source``)."""

    digest: str
    scales: dict[str, np.ndarray]
    means: dict[str, np.ndarray]
    sizes: dict[str, np.ndarray]
    dead: dict[str, list[int]] = field(default_factory=dict)
    rare: dict[str, list[int]] = field(default_factory=dict)
    source: str = "computed"  # "computed", "disk" or "memory"
    seconds: float = 0.0
    path: Path | None = None

    @classmethod
    def from_statistics(cls, digest: str, means: Mapping[str, np.ndarray], sizes: Mapping[str, np.ndarray],
                        **extra: Any
                        ) -> "Normalization":
        scales, dead, rare = scales_from_statistics(means, sizes)
        return cls(digest, scales, dict(means), dict(sizes), dead, rare, **extra)

    @property
    def dead_count(self) -> int:
        return sum(len(channels) for channels in self.dead.values())

    @property
    def rare_count(self) -> int:
        return sum(len(channels) for channels in self.rare.values())

    @property
    def channel_count(self) -> int:
        """All channels of the normalised layers."""
        return sum(len(scale) for scale in self.scales.values())


def _cache_file(digest: str) -> Path:
    return cache_dir() / f"vgg-normalization-{digest[:40]}.npz"


def _read_cache(path: Path, digest: str, shapes: Mapping[str, int]) -> Normalization | None:
    """The cached statistics, or ``None`` when the file is missing; ``ValueError`` when it is unusable."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            if str(stored["digest"]) != digest:
                raise ValueError("it belongs to other weights")
            means = {name: np.asarray(stored[f"mean/{name}"], dtype=np.float64) for name in shapes}
            sizes = {name: np.asarray(stored[f"size/{name}"], dtype=np.float64) for name in shapes}
    except ValueError:
        raise
    except Exception as error:  # noqa: BLE001 - a damaged file raises many kinds (OSError, BadZipFile, KeyError ...)
        raise ValueError(f"{type(error).__name__}: {error}") from None
    for name, channels in shapes.items():
        for value in (means[name], sizes[name]):
            if value.shape != (channels,) or not np.all(np.isfinite(value)) or np.any(value < 0):
                raise ValueError(f"bad values for {name}")
    return Normalization.from_statistics(digest, means, sizes, source="disk", path=path)


def _write_cache(path: Path, result: Normalization) -> None:
    """Write atomically (a temporary file renamed into place); raises ``OSError`` when not writable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            arrays = {f"mean/{name}": value for name, value in result.means.items()}
            arrays.update({f"size/{name}": value for name, value in result.sizes.items()})
            np.savez(stream, digest=np.array(result.digest), **arrays)  # type: ignore[arg-type]  # numpy's stub
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def normalization_for(
    conv_weights: Mapping[str, Sequence[np.ndarray]],
    order: Sequence[str],
    conv_outputs: Callable[[np.ndarray], Mapping[str, tuple]],
    *,
    use_cache: bool = True,
    images: Sequence[np.ndarray] | None = None,
) -> Normalization:
    """The scales that normalise the net with ``conv_weights`` (measured with ``conv_outputs``).

    Looks in this process's memory, then in the disk cache; otherwise measures the
    statistics over :func:`reference_images` and stores them (in memory only when the
    cache folder is not writable). A damaged cache file is measured again and replaced.
    """
    digest = weights_digest(conv_weights, order)
    if use_cache and digest in _MEMORY:
        cached = _MEMORY[digest]
        return Normalization(digest, cached.scales, cached.means, cached.sizes, cached.dead, cached.rare,
                             "memory", 0.0, cached.path)
    path = _cache_file(digest)
    shapes = {name: int(np.shape(conv_weights[name][1])[0]) for name in order}
    if use_cache:
        try:
            found = _read_cache(path, digest, shapes)
        except ValueError as error:
            _log.warning(f"the normalisation cache {path} is unusable ({error}); measuring again")
            found = None
        if found is not None:
            _MEMORY[digest] = found
            return found
    started = time.perf_counter()
    reference = reference_images() if images is None else images
    means, sizes = channel_statistics(conv_outputs, reference, order)
    result = Normalization.from_statistics(digest, means, sizes, seconds=time.perf_counter() - started)
    if use_cache:
        try:
            _write_cache(path, result)
            result.path = path
        except OSError as error:
            reason = error.strerror or type(error).__name__
            _log.warning(f"cannot write the normalisation cache in {path.parent} ({reason}); keeping it in memory")
        _MEMORY[digest] = result
    return result


#: One step of a VGG conv base, bottom first: ``(conv layer name, kernel, bias)``, or ``("pool", None, None)``.
Step = tuple[str, Any, Any]


def statistics_function(base: keras.Model, order: Sequence[str]) -> Callable[[np.ndarray], dict[str, tuple]]:
    """``batch -> {layer: (mean activation, mean |pre-activation|)}`` for a Keras VGG conv base.

    Runs the base's own kernels and biases with TensorFlow ops in one compiled pass
    (convolution, bias, ReLU, 2x2 max pooling), taking RGB in [0, 1] like the extractors.
    """
    import keras

    steps: list[Step] = []
    for layer in base.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel, bias = layer.get_weights()
            steps.append((layer.name, kernel, bias))
        elif isinstance(layer, keras.layers.MaxPooling2D):
            steps.append(("pool", None, None))
    return _statistics_of_steps(steps, order)


def _steps_of_weights(conv_weights: Mapping[str, Sequence[np.ndarray]], net: str) -> list[Step]:
    """The steps of a VGG conv base given by its conv layers' [kernel, bias] (each block's convolutions, then its pool)."""
    steps: list[Step] = []
    for name in layer_names(net):
        if name.endswith("_pool"):
            steps.append(("pool", None, None))
        else:
            kernel, bias = conv_weights[name]
            steps.append((name, kernel, bias))
    return steps


def _statistics_of_steps(steps: Sequence[Step], order: Sequence[str]) -> Callable[[np.ndarray], dict[str, tuple]]:
    """The statistics function over ``steps``; TensorFlow sees the weights only when it is first called
    (a net whose scales are cached never copies them)."""
    wanted = set(order)
    deepest = max(i for i, (name, _, _) in enumerate(steps) if name in wanted)
    compiled: list[Callable] = []

    def build() -> Callable:
        import tensorflow as tf

        kept = [(name, None if kernel is None else tf.constant(kernel), None if bias is None else tf.constant(bias))
                for name, kernel, bias in steps[: deepest + 1]]

        @tf.function(input_signature=[tf.TensorSpec((1, None, None, 3), tf.float32)])
        def run(batch: tf.Tensor) -> dict[str, tuple]:
            x = caffe_preprocess(batch)
            found = {}
            for name, kernel, bias in kept:
                if kernel is None:
                    x = tf.nn.max_pool2d(x, 2, 2, "VALID")
                    continue
                pre = tf.nn.conv2d(x, kernel, 1, "SAME") + bias
                x = tf.nn.relu(pre)
                if name in wanted:
                    found[name] = (tf.reduce_mean(x, axis=(0, 1, 2)), tf.reduce_mean(tf.abs(pre), axis=(0, 1, 2)))
            return found

        return lambda batch: run(tf.constant(batch, tf.float32))

    def statistics(batch: np.ndarray) -> dict[str, tuple]:
        if not compiled:
            compiled.append(build())
        return compiled[0](batch)

    return statistics


def normalize_weights(
    conv_weights: Mapping[str, Sequence[np.ndarray]], net: str, *, use_cache: bool = True
) -> tuple[Normalization, dict[str, list[np.ndarray]]]:
    """The normalisation of the VGG conv base with these conv layers' [kernel, bias], and the folded weights.

    Channels that never or rarely fire on the reference images are reported once per process,
    at DEBUG level (``nst-tf --verbose``): a student meets the floor only in the lesson that
    explains it, "Under the hood".
    """
    order = conv_layer_names(net)
    result = normalization_for(conv_weights, order, _statistics_of_steps(_steps_of_weights(conv_weights, net), order),
                               use_cache=use_cache)
    if (result.dead or result.rare) and result.digest not in _REPORTED:
        _REPORTED.add(result.digest)
        _log.debug(
            f"{result.dead_count} of {result.channel_count} channels never fire on the reference images and "
            f"{result.rare_count} more fire rarely; these are divided by {RARE_FLOOR:g} x their mean "
            "|pre-activation| instead of their mean activation"
        )
    return result, fold_scales(conv_weights, result.scales, order)


def normalize_model(base: keras.Model, net: str, *, use_cache: bool = True) -> Normalization:
    """Fold the normalisation into the conv layers of a Keras VGG conv base (in place).

    ``base`` is a ``keras.applications.VGG16/19`` conv base (caffe-preprocessed input).
    Returns the :class:`Normalization` used (see :func:`normalize_weights`).
    """
    conv_weights = {name: base.get_layer(name).get_weights() for name in conv_layer_names(net)}
    result, folded = normalize_weights(conv_weights, net, use_cache=use_cache)
    for name, values in folded.items():
        base.get_layer(name).set_weights(values)
    return result
