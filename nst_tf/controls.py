"""The controls artists ask for: colours, several styles, stroke size, regions, big prints (lesson 05).

Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style Transfer" (CVPR), and the
options of jcjohnson/neural-style, on top of the engine in :mod:`nst_tf.optimize`:

* **Colour preservation**, two ways. ``"luminance"``: stylize only the brightness (the Y
  channel of YIQ) and put the content photo's colour (I and Q) back afterwards
  (:func:`luminance_transfer`, :func:`recombine_luminance`). ``"histogram"``: first move the
  style image's colour histogram to the content's (:func:`match_colors`), then stylize.
* **Several styles** blended with weights (``style_blend``) and the **style scale**
  (``style_scale``: the style image is resized to that many times the output's size, so
  strokes come out larger above 1 and smaller below).
* **Spatial control**: one mask per style (:class:`MaskedStyleTransfer`); each style is
  matched only inside its region.
* **High resolution by coarse-to-fine** (:func:`stylize_multiscale`): stylize small,
  upsample, continue at the next size, up to the requested size, with per-level time and
  peak memory.

:func:`stylize` does all of it and is what the command-line tool calls; it accepts every
argument of :func:`nst_tf.optimize.stylize` and returns the same kind of result.

>>> result = stylize("content/chelsea", "style/waves", size=256, preserve_colors="luminance")  # doctest: +SKIP
>>> result = stylize("content/chelsea", ["style/waves", "style/swirls"],
...                  style_masks=[left_half, right_half], size=256)  # doctest: +SKIP
>>> result = stylize("content/chelsea", "style/waves", size=2048)  # coarse-to-fine  # doctest: +SKIP
"""

from __future__ import annotations

import gc
import math
import os
import re
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence, Union

import numpy as np
import tensorflow as tf

from . import images
from . import losses as L
from . import validate
from .optimize import (
    DEFAULT_PRECONDITION,
    DEFAULT_STEPS,
    StyleTransfer,
    StyleTransferResult,
    _scaled_style,
    prepare_image,
)
from .memory import check_run
from .progress import History

__all__ = [
    "PRESERVE_COLORS",
    "YIQ_FROM_RGB",
    "RGB_FROM_YIQ",
    "rgb_to_yiq",
    "yiq_to_rgb",
    "luminance_image",
    "style_luminance",
    "recombine_luminance",
    "luminance_transfer",
    "match_colors",
    "load_mask",
    "downsample_mask",
    "masked_statistic",
    "MaskedStyleTransfer",
    "pyramid_sizes",
    "level_steps",
    "LevelReport",
    "MultiscaleResult",
    "peak_memory_bytes",
    "reset_peak_memory",
    "stylize_multiscale",
    "stylize",
]

from .defaults import PRESERVE_COLORS

# --------------------------------------------------------------------------------------
# Colour: YIQ, luminance-only transfer, histogram matching
# --------------------------------------------------------------------------------------

#: RGB -> YIQ (the NTSC / FCC matrix; Y is the luma ``0.299 R + 0.587 G + 0.114 B``).
YIQ_FROM_RGB = np.array(
    [
        [0.299, 0.587, 0.114],
        [0.59590059, -0.27455667, -0.32134392],
        [0.21153661, -0.52273617, 0.31119955],
    ],
    dtype=np.float64,
)
#: YIQ -> RGB, the exact inverse of :data:`YIQ_FROM_RGB`.
RGB_FROM_YIQ = np.linalg.inv(YIQ_FROM_RGB)


def _apply_colour_matrix(image, matrix: np.ndarray):
    """``image[..., 3] @ matrix.T`` for NumPy arrays (float32 out) and TensorFlow tensors."""
    if isinstance(image, (tf.Tensor, tf.Variable)):
        return tf.tensordot(tf.cast(image, tf.float32), tf.constant(matrix.T, tf.float32), axes=1)
    array = np.asarray(image, dtype=np.float32)
    if array.shape[-1:] != (3,):
        raise ValueError(f"Expected colours in the last axis (..., 3), got shape {array.shape}.")
    return (array.astype(np.float64) @ matrix.T).astype(np.float32)


def rgb_to_yiq(image):
    """RGB ``(..., 3)`` in [0, 1] -> YIQ ``(..., 3)``: luminance Y in [0, 1], chroma I and Q around 0 (lesson 05)."""
    return _apply_colour_matrix(image, YIQ_FROM_RGB)


def yiq_to_rgb(image):
    """YIQ ``(..., 3)`` -> RGB ``(..., 3)`` (not clipped; values can leave [0, 1]) (lesson 05)."""
    return _apply_colour_matrix(image, RGB_FROM_YIQ)


def luminance_image(image) -> np.ndarray:
    """The luminance Y of an RGB image ``(H, W, 3)``, repeated on three channels (a grey RGB image)."""
    luminance = rgb_to_yiq(images.to_numpy_image(image))[..., 0]
    return np.repeat(np.clip(luminance, 0.0, 1.0)[..., np.newaxis], 3, axis=-1)


def style_luminance(style_image, content_image=None) -> np.ndarray:
    """The style's grey image; given ``content_image``, with its luminance mean and std moved to the content's.

    ``Y_S' = (Y_S - mean(Y_S)) * std(Y_C) / std(Y_S) + mean(Y_C)`` (Gatys et al. 2017), repeated on
    three channels and clipped to [0, 1]. Without it a dark painting would darken a bright photo.
    """
    if content_image is None:
        return luminance_image(style_image)
    style_y = luminance_image(style_image)[..., 0]
    content_y = luminance_image(content_image)[..., 0]
    scale = content_y.std() / max(float(style_y.std()), 1e-6)
    matched = (style_y - style_y.mean()) * scale + content_y.mean()
    return np.repeat(np.clip(matched, 0.0, 1.0)[..., np.newaxis], 3, axis=-1).astype(np.float32)


def recombine_luminance(generated_image, content_image) -> np.ndarray:
    """The generated image's luminance with the content image's colour (I and Q), as RGB in [0, 1].

    Use it after any transfer to keep the photo's colours (post-hoc colour preservation).
    ``content_image`` is resized to the generated image's size if they differ. Where the new
    brightness with the old colour falls outside what RGB can show (a saturated red made
    brighter), that pixel's I and Q are scaled down together until it fits: its brightness and
    hue stay, only its saturation drops (clipping each channel would change all three).
    """
    generated = images.to_numpy_image(generated_image)
    content = images.to_numpy_image(content_image)
    if content.shape[:2] != generated.shape[:2]:
        content = images.resize_image(content, size=generated.shape[:2])
    luminance = np.clip(rgb_to_yiq(generated)[..., :1], 0.0, 1.0)
    chroma = yiq_to_rgb(np.concatenate([np.zeros_like(luminance), rgb_to_yiq(content)[..., 1:]], axis=-1))
    return _add_chroma_within_gamut(luminance, chroma)


def _add_chroma_within_gamut(luminance: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """``luminance + t * chroma`` per pixel with the largest ``t`` in [0, 1] that keeps RGB in [0, 1].

    ``luminance`` ``(H, W, 1)`` in [0, 1]; ``chroma`` ``(H, W, 3)``: the RGB offset of the I and Q
    channels (the Y column of the YIQ-to-RGB matrix is all ones, so RGB = Y + chroma).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        room = np.where(chroma > 0, (1.0 - luminance) / chroma, np.where(chroma < 0, -luminance / chroma, np.inf))
    scale = np.clip(np.min(room, axis=-1, keepdims=True), 0.0, 1.0)
    return np.clip(luminance + scale * chroma, 0.0, 1.0).astype(np.float32)


def match_colors(style_image, content_image) -> np.ndarray:
    """The style image with each RGB channel's histogram matched to the content image's.

    ``skimage.exposure.match_histograms(style, content, channel_axis=-1)``: the painting keeps
    its strokes and textures but takes on the photo's palette. Used before stylizing.
    """
    from skimage.exposure import match_histograms

    style = images.to_numpy_image(style_image)
    content = images.to_numpy_image(content_image)
    matched = match_histograms(style, content, channel_axis=-1)
    return np.clip(matched, 0.0, 1.0).astype(np.float32)


def luminance_transfer(content_image, style_image, *, match_luminance: bool = True, **kwargs) -> StyleTransferResult:
    """Style transfer on the luminance only, then the content's colours back (Gatys et al. 2017).

    Content and style are turned into grey images (their Y channel on three channels; with
    ``match_luminance`` the style's Y gets the content's mean and std), those are stylized, and
    the result's Y is recombined with the content's I and Q. Other arguments as :func:`stylize`.
    """
    return stylize(content_image, style_image, preserve_colors="luminance", match_luminance=match_luminance, **kwargs)


# --------------------------------------------------------------------------------------
# Spatial control: masks
# --------------------------------------------------------------------------------------


def load_mask(source, size: tuple[int, int] | None = None) -> np.ndarray:
    """A mask ``(H, W)`` float32 in [0, 1] from a file path or an array, resized to ``size=(H, W)``.

    Arrays may be ``(H, W)`` (or ``(H, W, 1)`` / ``(H, W, 3)``, averaged over channels); bool
    and uint8 (0-255) are converted. Image files are read as grey (white = 1, black = 0).
    """
    if isinstance(source, (str, os.PathLike)):
        # Decoded straight to (about) the size needed: a huge mask never exists in float.
        mask = images.load_image(source, max_size=None if size is None else max(size), min_size=1).mean(axis=-1)
    else:
        mask = np.asarray(source.numpy() if hasattr(source, "numpy") else source)
        scale = 255.0 if mask.dtype == np.uint8 else 1.0
        mask = mask.astype(np.float32) / np.float32(scale)
        if mask.ndim == 3 and mask.shape[-1] in (1, 3):
            mask = mask.mean(axis=-1)
        if mask.ndim != 2:
            raise ValueError(f"A mask must be a 2-D array (height, width); got shape {tuple(mask.shape)}.")
        if not np.all(np.isfinite(mask)) or mask.min(initial=0.0) < -1e-6 or mask.max(initial=0.0) > 1 + 1e-6:
            raise ValueError("Mask values must be finite and in [0, 1] (or uint8 0-255, or bool).")
    mask = np.clip(mask.astype(np.float32), 0.0, 1.0)
    if size is not None and tuple(mask.shape) != tuple(size):
        resized = tf.image.resize(mask[np.newaxis, :, :, np.newaxis], size, method="bilinear", antialias=True)
        mask = np.clip(resized.numpy()[0, :, :, 0], 0.0, 1.0)
    return mask


def downsample_mask(mask, shape: tuple[int, int]) -> tf.Tensor:
    """A mask ``(H, W)`` brought to a layer's ``(h, w)`` the way VGG shrinks its input.

    Repeated 2x2 average pooling ("valid", so odd sides round down as in VGG's max pooling):
    each value is the fraction of the layer position's pixels that lie inside the region. If
    the halvings do not land exactly on ``shape``, an area resize finishes the job.
    """
    current = tf.convert_to_tensor(mask, tf.float32)[tf.newaxis, :, :, tf.newaxis]
    height, width = int(shape[0]), int(shape[1])
    while (current.shape[1], current.shape[2]) != (height, width) and (
        current.shape[1] // 2 >= height and current.shape[2] // 2 >= width
    ):
        current = tf.nn.avg_pool2d(current, 2, 2, "VALID")
    if (current.shape[1], current.shape[2]) != (height, width):
        current = tf.image.resize(current, (height, width), method="area")
    return current[0, :, :, 0]


def masked_statistic(features: tf.Tensor, mask: tf.Tensor, statistic: str = "gram", epsilon: float = 1e-5) -> tf.Tensor:
    """A style statistic of the positions inside a mask: features ``(1, h, w, C)``, mask ``(h, w)``.

    ``"gram"``: ``sum_p m_p F_p F_p^T / sum_p m_p`` -- the Gram matrix of the features times
    ``sqrt(m)``, divided by the mask's sum instead of the number of positions (for a 0/1 mask:
    the Gram of the region alone). ``"gram_centered"`` subtracts the region's mean first;
    ``"mean_std"`` gives the region's per-channel mean and std ``(1, 2, C)``. An empty mask
    gives zeros (never NaN).
    """
    weights = tf.cast(mask, features.dtype)[tf.newaxis, :, :, tf.newaxis]
    total = tf.reduce_sum(weights)
    if statistic in ("gram_centered", "mean_std"):
        mean = tf.math.divide_no_nan(tf.reduce_sum(features * weights, axis=(1, 2), keepdims=True), total)
        if statistic == "mean_std":
            variance = tf.math.divide_no_nan(tf.reduce_sum(weights * tf.square(features - mean), axis=(1, 2)), total)
            return tf.stack([mean[:, 0, 0, :], tf.sqrt(variance + epsilon)], axis=1)
        features = features - mean
    elif statistic != "gram":
        raise ValueError(f"No masked version of the style statistic {statistic!r}; use 'gram', 'gram_centered' or 'mean_std'.")
    return tf.math.divide_no_nan(tf.einsum("bijc,bijd->bcd", features * weights, features), total)


@dataclass
class _MaskedTargets:
    content: dict = field(default_factory=dict)
    style: list = field(default_factory=list)  # one {layer: target} per style image


class MaskedStyleTransfer(StyleTransfer):
    """:class:`~nst_tf.optimize.StyleTransfer` where each style image paints only its own region.

    Args:
        content_image, style_images: as for ``StyleTransfer``.
        style_masks: one mask per style image: a file path or an array ``(H, W)`` in [0, 1]
            (resized to the content's size). Masks may overlap with fractional values to blend.
        **kwargs: any ``StyleTransfer`` argument except ``style_blend`` (the masks do the blending).

    Per style ``i`` and layer ``l`` the mask is average-pooled to the layer's size
    (``m_il``, :func:`downsample_mask`) and the generated image's Gram matrix is taken over
    the region only (:func:`masked_statistic`); the style's own Gram is of the whole style
    image (targets are per style, not blended). The cost is

        style_loss = sum_i sum_l lambda_l * mean(m_il) * E_il,

    where ``E_il`` is the usual per-layer style cost and ``mean(m_il)`` the region's share of
    the image: one all-ones mask gives exactly ``StyleTransfer``'s cost, and a style whose
    mask is all zeros costs zero and pulls on no pixel.
    """

    def __init__(self, content_image, style_images, style_masks, **kwargs):
        if kwargs.get("style_blend") is not None:
            raise ValueError("style_blend cannot be combined with style_masks; blend with overlapping fractional masks.")
        statistic = kwargs.get("style_statistic", "gram")
        if not isinstance(statistic, str):
            raise ValueError("Spatial masks need a named style statistic: 'gram', 'gram_centered' or 'mean_std'.")
        self.statistic_name = statistic
        height, width = images.to_numpy_image(content_image).shape[:2]
        count = 1 if _is_single_image(style_images) else len(list(style_images))
        self.style_masks = _prepare_masks(style_masks, count, (height, width))
        super().__init__(content_image, style_images, **kwargs)

    def _compute_targets(self) -> _MaskedTargets:
        targets = _MaskedTargets()
        content_features = self.extractor(self.content_image[np.newaxis])
        targets.content = {name: tf.constant(content_features[name]) for name in self.content_layers}
        shapes = {name: tuple(content_features[name].shape[1:3]) for name in self.style_layer_weights}
        #: ``layer_masks[i][layer]``: style ``i``'s mask at that layer's resolution ``(h, w)``.
        self.layer_masks = [
            {name: tf.constant(downsample_mask(mask, shape)) for name, shape in shapes.items()} for mask in self.style_masks
        ]
        self.mask_shares = [{name: float(tf.reduce_mean(m)) for name, m in masks.items()} for masks in self.layer_masks]
        for style in self.style_images:
            style_features = self.extractor(style[np.newaxis])
            targets.style.append({name: tf.constant(self.statistic(style_features[name])) for name in shapes})
        return targets

    def _style_terms_from_features(self, features) -> list[tf.Tensor]:
        terms = []
        for targets, masks, shares in zip(self.targets.style, self.layer_masks, self.mask_shares):
            per_layer = []
            for name, weight in self.style_layer_weights.items():
                generated = masked_statistic(features[name], masks[name], self.statistic_name)
                difference = tf.reduce_mean(tf.square(generated - targets[name]))
                if self.style_normalization != "mse":
                    difference = difference / 4.0
                per_layer.append((weight * shares[name]) * difference)
            terms.append(tf.add_n(per_layer))
        return terms

    def style_terms(self, image=None) -> tf.Tensor:
        """Each style's cost ``(num_styles,)`` (before ``style_weight``), differentiable (eager)."""
        image = self.image if image is None else image
        image = tf.convert_to_tensor(image, tf.float32)
        if image.shape.rank == 3:
            image = image[tf.newaxis]
        features = self.extractor.model(image, training=False)
        return tf.stack(self._style_terms_from_features(features))

    def _style_cost(self, features) -> tf.Tensor:
        """Each style matched in its own region (the engine adds content and TV around it)."""
        return tf.add_n(self._style_terms_from_features(features))


def _is_single_image(style_images) -> bool:
    return isinstance(style_images, (np.ndarray, tf.Tensor)) and len(style_images.shape) == 3


def _prepare_masks(style_masks, count: int, size: tuple[int, int]) -> list[np.ndarray]:
    """Validate the masks (one per style) and resize them to ``size``."""
    if isinstance(style_masks, (str, os.PathLike)) or (
        isinstance(style_masks, (np.ndarray, tf.Tensor)) and len(style_masks.shape) == 2
    ):
        style_masks = [style_masks]
    masks = list(style_masks)
    if len(masks) != count:
        raise ValueError(f"Got {len(masks)} style masks for {count} style images; give one mask per style image.")
    return [load_mask(mask, size) for mask in masks]


# --------------------------------------------------------------------------------------
# Memory of this process
# --------------------------------------------------------------------------------------


def _proc_status(key: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            found = re.search(rf"^{key}:\s+(\d+)\s+kB", handle.read(), re.MULTILINE)
    except OSError:
        return None
    return int(found.group(1)) * 1024 if found else None


def peak_memory_bytes() -> int | None:
    """Peak resident memory of this process in bytes (Linux ``VmHWM``; else ``ru_maxrss``).

    Counts everything TensorFlow allocates (unlike ``tracemalloc``). Since the last
    :func:`reset_peak_memory` where Linux allows it, else since the process started.
    """
    peak = _proc_status("VmHWM")
    if peak is not None:
        return peak
    try:
        import resource
        import sys

        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(maxrss if sys.platform == "darwin" else maxrss * 1024)
    except (ImportError, OSError):  # pragma: no cover - Windows
        return None


def reset_peak_memory() -> bool:
    """Restart the peak-memory count at the current usage (Linux ``/proc/self/clear_refs``); True if done."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


# --------------------------------------------------------------------------------------
# Coarse-to-fine
# --------------------------------------------------------------------------------------


def pyramid_sizes(size: int | None, start_size: int = 256, levels: Sequence[int] | None = None) -> list[int]:
    """The long sides of the levels, smallest first, ending at ``size``.

    ``levels`` given: checked (strictly increasing, each at least ``images.MIN_SIZE``, the last
    equal to ``size`` when ``size`` is given). Otherwise sizes halve from ``size`` until one is
    at most ``start_size``: ``pyramid_sizes(2048)`` is ``[256, 512, 1024, 2048]``,
    ``pyramid_sizes(700)`` is ``[175, 350, 700]``.
    """
    if levels is not None:
        sizes = [int(level) for level in levels]
        if not sizes:
            raise ValueError("levels is empty; give at least one size.")
        if any(b <= a for a, b in zip(sizes, sizes[1:])):
            raise ValueError(f"levels must be strictly increasing, got {sizes}.")
        if sizes[0] < images.MIN_SIZE:
            raise ValueError(f"The smallest level ({sizes[0]} px) is under the {images.MIN_SIZE} px minimum.")
        if size is not None and sizes[-1] != int(size):
            raise ValueError(f"The last level ({sizes[-1]} px) must equal size ({size} px).")
        return sizes
    if size is None:
        raise ValueError("Give size or levels.")
    size, start_size = int(size), int(start_size)
    if start_size < images.MIN_SIZE:
        raise ValueError(f"start_size must be at least {images.MIN_SIZE} px, got {start_size}.")
    if size <= start_size:
        return [size]
    count = math.ceil(math.log2(size / start_size))
    return [max(int(round(size / 2**k)), images.MIN_SIZE) for k in range(count, -1, -1)]


def level_steps(steps: int, count: int, steps_per_level: int | Sequence[int] | None = None) -> list[int]:
    """Optimisation steps per level: given, or ``steps`` at the first level halving to no less than ``steps // 4``.

    The finer levels start from the upsampled coarse result, so they need fewer steps.
    """
    if steps_per_level is None:
        floor = max(int(steps) // 4, 1)
        return [max(int(steps) // 2**k, floor) for k in range(count)]
    if isinstance(steps_per_level, (int, np.integer)):
        result = [int(steps_per_level)] * count
    else:
        result = [int(s) for s in steps_per_level]
        if len(result) != count:
            raise ValueError(f"Got {len(result)} steps_per_level for {count} levels.")
    if any(s < 1 for s in result):
        raise ValueError("Every level needs at least 1 step.")
    return result


@dataclass
class LevelReport:
    """One level of a coarse-to-fine run: its size ``(height, width)``, steps, time and peak memory."""

    index: int
    size: tuple[int, int]
    steps: int
    evaluations: int
    seconds: float  # the whole level: setup (style targets, network) and optimisation
    setup_seconds: float  # building the level's StyleTransfer (targets computed once)
    peak_memory: int | None  # bytes resident at the peak (VmHWM) during this level
    loss: float
    image: np.ndarray = field(repr=False, default=None)  # this level's result (colours as the final one)


@dataclass
class MultiscaleResult(StyleTransferResult):
    """A :class:`~nst_tf.optimize.StyleTransferResult` with one :class:`LevelReport` per level.

    ``history`` joins the levels' histories (steps and times continue from level to level).
    """

    levels: list = field(default_factory=list)

    def report(self) -> str:
        """The levels as a Markdown table: size, steps, seconds, peak resident memory."""
        lines = [
            "| level | size (h x w) | steps | setup (s) | optimisation (s) | s/step | peak memory (GiB) |",
            "|---|---|---|---|---|---|---|",
        ]
        for level in self.levels:
            memory = "n/a" if level.peak_memory is None else f"{level.peak_memory / 2**30:.2f}"
            optimisation = level.seconds - level.setup_seconds
            per_step = optimisation / max(level.evaluations, 1)
            lines.append(
                f"| {level.index} | {level.size[0]} x {level.size[1]} | {level.evaluations} | "
                f"{level.setup_seconds:.1f} | {optimisation:.1f} | {per_step:.2f} | {memory} |"
            )
        return "\n".join(lines)


def _fit_size(shape: tuple[int, int], long_side: int) -> tuple[int, int]:
    height, width = shape
    scale = long_side / max(height, width)
    return max(int(round(height * scale)), 1), max(int(round(width * scale)), 1)


def _join_histories(histories: Sequence[History]) -> History:
    joined = History()
    step_offset, time_offset = 0, 0.0
    for history in histories:
        for index, step in enumerate(history["step"]):
            losses = {key: history[key][index] for key in ("total", "content", "style", "tv")}
            joined.append(step + step_offset, losses, history["time"][index] + time_offset)
        if history["step"]:
            step_offset += history["step"][-1]
            time_offset += history["time"][-1]
    return joined


def stylize_multiscale(content_image, style_image, *, size: int | None = None, **kwargs) -> MultiscaleResult:
    """High resolution by coarse-to-fine (Gatys et al. 2017): small first, then larger.

    The first level stylizes a small copy (long side ``start_size`` or less); each next level
    starts from the previous result upsampled (``init``) and adds detail at twice the size,
    until the long side is ``size``. Big structures come from the coarse levels, where VGG's
    receptive fields cover much of the picture; the fine levels only add texture, so they
    need fewer steps. Arguments as :func:`stylize` (``levels``, ``start_size``,
    ``steps_per_level``, ``level_callback`` ...); the result carries one :class:`LevelReport`
    per level (time, peak memory, image).
    """
    return stylize(content_image, style_image, size=size, multiscale=True, **kwargs)


def _validate(preserve_colors, style_scale, multiscale, max_single_size, levels) -> None:
    from .memory import check_style_scale

    check_style_scale(style_scale)
    if preserve_colors not in PRESERVE_COLORS:
        raise ValueError(f"Unknown preserve_colors {preserve_colors!r}; choose None, 'luminance' or 'histogram'.")
    if not isinstance(style_scale, (int, float, np.number)) or not np.isfinite(style_scale) or style_scale <= 0:
        raise ValueError(f"style_scale must be a positive number, got {style_scale!r}.")
    if multiscale not in ("auto", True, False):
        raise ValueError(f"multiscale must be 'auto', True or False, got {multiscale!r}.")
    if int(max_single_size) < images.MIN_SIZE:
        raise ValueError(f"max_single_size must be at least {images.MIN_SIZE} px, got {max_single_size}.")
    if levels is not None:
        if multiscale is False:
            raise ValueError("levels were given but multiscale=False; drop one of them.")
        pyramid_sizes(None, levels=levels)


def stylize(
    content_image,
    style_image,
    *,
    size: int | None = 384,
    steps: int = DEFAULT_STEPS,
    optimizer: str = "lbfgs",
    style_scale: float = 1.0,
    progress: bool = True,
    preview: bool = False,
    callback=None,
    callback_every: int = 10,
    learning_rate: float = 0.02,
    precondition: float = DEFAULT_PRECONDITION,
    log_every: int = 10,
    preserve_colors: str | None = None,
    match_luminance: bool = True,
    style_masks: Sequence | None = None,
    style_blend: Sequence[float] | None = None,
    multiscale: Union[str, bool] = "auto",
    max_single_size: int = 1024,
    levels: Sequence[int] | None = None,
    start_size: int = 256,
    steps_per_level: int | Sequence[int] | None = None,
    level_callback: Callable[[LevelReport, np.ndarray], None] | None = None,
    enlarge: bool = True,
    **options,
) -> MultiscaleResult:
    """:func:`nst_tf.optimize.stylize` with the artist's controls; what ``nst-tf stylize`` calls.

    Same arguments and result as the engine's ``stylize`` (images as arrays, paths, URLs or
    sample names; ``size`` the output's long side; other keywords go to ``StyleTransfer``),
    plus:

    Args:
        preserve_colors: ``None``, ``"luminance"`` (stylize Y only, keep the content's I/Q;
            ``match_luminance`` moves the style's Y mean/std to the content's) or
            ``"histogram"`` (match the style's colour histograms to the content first).
        style_scale: the style image's long side as a multiple of the output's (> 0; above 1
            gives larger strokes). Kept relative at every level of a coarse-to-fine run.
        style_blend: one weight per style image (normalised); not with ``style_masks``.
        style_masks: one mask per style image (path or ``(H, W)`` array in [0, 1]); each
            style is matched only inside its mask (:class:`MaskedStyleTransfer`).
        multiscale: ``"auto"`` (coarse-to-fine when the long side is above ``max_single_size``
            or ``levels`` are given), ``True`` or ``False``.
        levels, start_size, steps_per_level: the pyramid (see :func:`pyramid_sizes`,
            :func:`level_steps`; ``steps`` is the first level's count).
        level_callback: ``f(report, image)`` after each level (``callback`` and the progress
            bar count the steps of each level from 1).
        enlarge: if the content is smaller than ``size``, enlarge it (default) so the output
            has the long side asked for; ``False`` keeps the engine's behaviour (never enlarge).
        precondition: L-BFGS's preconditioner (see :mod:`nst_tf.optimize`; 0 = on the pixels).

    Returns:
        a :class:`MultiscaleResult` (a ``StyleTransferResult``; ``levels`` has one report
        per level, a single one when not coarse-to-fine).
    """
    _validate(preserve_colors, style_scale, multiscale, max_single_size, levels)
    if style_masks is not None and style_blend is not None:
        raise ValueError("style_blend cannot be combined with style_masks; blend with overlapping fractional masks.")
    if size is None and levels is not None:
        size = levels[-1]
    validate.min_size(size)
    content = prepare_image(content_image, size, "content_image")
    if size is not None and enlarge and max(content.shape[:2]) < int(size):
        content = images.resize_image(content, size=_fit_size(content.shape[:2], int(size)))
    styles_in = style_image if isinstance(style_image, (list, tuple)) else [style_image]
    styles = [prepare_image(style, name="style_image") for style in styles_in]
    long_side = max(content.shape[:2])
    if levels is not None and levels[-1] != long_side:
        raise ValueError(f"The last level ({levels[-1]} px) must equal the output's long side ({long_side} px).")
    use_pyramid = multiscale is True or (multiscale == "auto" and (levels is not None or long_side > int(max_single_size)))
    sizes = pyramid_sizes(long_side, start_size, levels) if use_pyramid else [long_side]
    step_counts = level_steps(steps, len(sizes), steps_per_level if use_pyramid else None)
    masks = None if style_masks is None else _prepare_masks(style_masks, len(styles), content.shape[:2])
    check_run(content.shape[:2], [style.shape[:2] for style in styles], style_scale, optimizer, options)

    run_content, run_styles, init = content, styles, options.pop("init", "content")
    if preserve_colors == "histogram":
        run_styles = [match_colors(style, content) for style in styles]
    elif preserve_colors == "luminance":
        run_content = luminance_image(content)
        run_styles = [style_luminance(style, content if match_luminance else None) for style in styles]
        if not isinstance(init, str):
            init = luminance_image(prepare_image(init))

    def finish(image: np.ndarray) -> np.ndarray:
        return recombine_luminance(image, content) if preserve_colors == "luminance" else image

    run = dict(optimizer=optimizer, learning_rate=learning_rate, callback=callback, callback_every=callback_every,
               log_every=log_every, progress=progress, preview=preview,
               precondition=precondition)
    reports, histories, extra = [], [], dict(options)
    interrupted, evaluations, started = False, 0, time.perf_counter()
    image = None
    for index, (long, level_steps_count) in enumerate(zip(sizes, step_counts)):
        shape = _fit_size(content.shape[:2], long)
        level_content = run_content if shape == run_content.shape[:2] else images.resize_image(run_content, size=shape)
        level_styles = [_scaled_style(style, shape, float(style_scale)) for style in run_styles]
        level_init = init if image is None else images.resize_image(image, size=shape)
        reset_peak_memory()
        level_start = time.perf_counter()
        if masks is None:
            transfer = StyleTransfer(level_content, level_styles, style_blend=style_blend, init=level_init, **extra)
        else:
            level_masks = [load_mask(mask, shape) for mask in masks]
            transfer = MaskedStyleTransfer(level_content, level_styles, level_masks, init=level_init, **extra)
        extra["extractor"] = transfer.extractor  # build the network once
        setup_seconds = time.perf_counter() - level_start
        result = transfer.run(level_steps_count, **run)
        image = result.image
        del transfer
        gc.collect()
        report = LevelReport(
            index=index,
            size=shape,
            steps=level_steps_count,
            evaluations=result.evaluations,
            seconds=time.perf_counter() - level_start,
            setup_seconds=setup_seconds,
            peak_memory=peak_memory_bytes(),
            loss=result.history["total"][-1] if result.history["total"] else float("nan"),
            image=finish(image),
        )
        reports.append(report)
        histories.append(result.history)
        evaluations += result.evaluations
        if level_callback is not None:
            level_callback(report, report.image)
        if result.interrupted:
            interrupted = True
            break
    if image.shape[:2] != content.shape[:2]:  # interrupted early: still the size asked for
        image = images.resize_image(image, size=content.shape[:2])
    return MultiscaleResult(
        image=finish(image),
        history=_join_histories(histories),
        interrupted=interrupted,
        evaluations=evaluations,
        seconds=time.perf_counter() - started,
        levels=reports,
    )
