"""The controls artists ask for, and the one ``stylize`` that has them all (lesson 05).

Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style Transfer" (CVPR), and the
options of jcjohnson/neural-style, on top of the engine in :mod:`nst_tf.transfer.style_transfer`:

* **Colour preservation**, two ways (:mod:`nst_tf.image.colour`). ``"luminance"``: stylize only the
  brightness (the Y channel of YIQ) and put the content photo's colour (I and Q) back
  afterwards (:func:`luminance_transfer`, :func:`recombine_luminance`). ``"histogram"``: first
  move the style image's colour histogram to the content's (:func:`match_colors`), then stylize.
* **Several styles** blended with weights (``style_blend``) and the **style scale**
  (``style_scale``: the style image is resized to that many times the output's size, so
  strokes come out larger above 1 and smaller below).
* **Spatial control** (:mod:`nst_tf.losses.masks`): one mask per style (``style_masks``,
  :class:`MaskedStyleTransfer`); each style is matched only inside its region.
* **High resolution by coarse-to-fine** (:mod:`nst_tf.optim.pyramid`, :func:`stylize_multiscale`):
  stylize small, upsample, continue at the next size, up to the requested size, with
  per-level time and peak memory.

:func:`stylize` does all of it; it is ``nst_tf.stylize`` and what ``nst-tf stylize`` calls. It keeps
its last transfer (up to :data:`KEEP_MAX_PIXELS`): a next call of the same size and options gives it the
new pictures and weights instead of tracing a new solver, and paints what a new one would
(:meth:`StyleTransfer.retarget`; :func:`forget_transfers` lets it go; ``benchmarks/bench_calls.py``).
The colour and mask pieces lesson 05 shows live in :mod:`nst_tf.image.colour` and :mod:`nst_tf.losses.masks`.

>>> result = stylize("content/chelsea", "style/waves", size=256, preserve_colors="luminance")  # doctest: +SKIP
>>> result = stylize("content/chelsea", ["style/waves", "style/swirls"],
...                  style_masks=[left_half, right_half], size=256)  # doctest: +SKIP
>>> result = stylize("content/chelsea", "style/waves", size=2048)  # coarse-to-fine  # doctest: +SKIP
"""

from __future__ import annotations

import gc
import os
import time
from typing import Any, Callable, Mapping, Sequence, Union

import numpy as np

from ..image import arrays as images, validate
from ..image.colour import luminance_image, match_colors, recombine_luminance, style_luminance
from ..defaults import DEFAULT_PRECONDITION, DEFAULT_STEPS, DEFAULT_WEIGHTS, PRESERVE_COLORS
from ..image.arrays import scaled_style
from ..image.load import load_image
from ..image.types import Image, ImageSource
from ..losses.masks import load_mask, prepare_masks
from ..vgg import extractor as _vgg_extractor
from ..optim.memory import check_run, peak_memory_bytes
from .style_transfer import StyleTransfer
from ..optim.pyramid import LevelReport, MultiscaleResult, join_histories, level_steps, pyramid_sizes
from ..optim.solvers import StyleTransferResult

__all__ = [
    "luminance_transfer",
    "stylize_multiscale",
    "stylize",
    "forget_transfers",
]

#: The transfer of the last ``stylize`` run, by what shapes its compiled graphs (see :func:`_graph_key`).
#: A next run of that key gives it new pictures (:meth:`StyleTransfer.retarget`) instead of building and
#: tracing a new one: a lesson's short runs at one size spent ~3.5 s each on tracing before.
_KEPT: dict[tuple, StyleTransfer] = {}
#: Largest output (pixels) whose transfer is kept: its L-BFGS history (~25 copies of the image) stays in memory.
KEEP_MAX_PIXELS = 384 * 384
#: Arguments that change no compiled graph: the weights are variables, ``init`` and ``seed`` the first image.
_NOT_IN_GRAPH = ("content_weight", "style_weight", "tv_weight", "init", "seed")
_UNKEYABLE = object()


def forget_transfers() -> None:
    """Drop the transfer ``stylize`` keeps for its next run (its network, solver and L-BFGS history)."""
    _KEPT.clear()


_vgg_extractor.CLEAR_HOOKS.append(forget_transfers)  # nst_tf.clear_cache() lets go of the kept network too


def _frozen(value: Any) -> Any:
    """``value`` as part of a dict key: numbers, strings and objects (by identity) as they are, sequences as
    tuples, mappings as tuples of items; ``_UNKEYABLE`` for an array or anything else unhashable."""
    if isinstance(value, (str, bytes, int, float, bool, type(None))):
        return (type(value).__name__, value)
    if isinstance(value, os.PathLike):
        return ("path", os.fspath(value))
    if isinstance(value, Mapping):
        items = tuple((_frozen(key), _frozen(item)) for key, item in value.items())
        return _UNKEYABLE if any(_UNKEYABLE in pair for pair in items) else ("map", items)
    if isinstance(value, (list, tuple)):
        items = tuple(_frozen(item) for item in value)
        return _UNKEYABLE if _UNKEYABLE in items else ("seq", items)
    if isinstance(value, np.ndarray) or getattr(value, "shape", None) is not None:
        return _UNKEYABLE
    try:
        hash(value)
    except TypeError:
        return _UNKEYABLE
    return ("object", id(value), value)  # a function or an extractor: the same object only


def _graph_key(shape: tuple[int, int], style_count: int, masked: bool, bounded: bool, options: Mapping[str, Any]
               ) -> tuple | None:
    """What a transfer's compiled graphs depend on, or None when its transfer is not kept (too large, the
    bounded-memory path, or an argument that cannot be compared cheaply)."""
    if bounded or shape[0] * shape[1] > KEEP_MAX_PIXELS:
        return None
    items = tuple((name, _frozen(value)) for name, value in sorted(options.items()) if name not in _NOT_IN_GRAPH)
    if any(value is _UNKEYABLE for _, value in items):
        return None
    # the class too (a test, or a user, that swaps StyleTransfer gets its own), and the weights the environment names
    return (StyleTransfer, os.environ.get("NST_TF_WEIGHTS"), tuple(shape), style_count if masked else 0, masked, items)


def _kept_transfer(key: tuple | None, content: Image, styles: list[Image], *, style_blend: Sequence[float] | None,
                   masks: list[Image] | None, init: Any, options: Mapping[str, Any]) -> StyleTransfer | None:
    """The kept transfer of ``key``, given these pictures and weights; None if there is none or they do not fit."""
    transfer = _KEPT.pop(key, None) if key is not None else None
    if transfer is None:
        return None
    try:
        transfer.retarget(content, styles, style_blend=style_blend, style_masks=masks, init=init,
                          seed=options.get("seed", 0))
    except ValueError:  # pictures it cannot take (a statistic of another shape ...): a new transfer says why
        return None
    for name in ("content_weight", "style_weight", "tv_weight"):
        setattr(transfer, name, options.get(name, DEFAULT_WEIGHTS[name]))
    return transfer


def luminance_transfer(content_image: ImageSource, style_image: ImageSource | Sequence[ImageSource], *,
                       match_luminance: bool = True, **kwargs: Any) -> StyleTransferResult:
    """Style transfer on the luminance only, then the content's colours back (Gatys et al. 2017).

    Content and style are turned into grey images (their Y channel on three channels; with
    ``match_luminance`` the style's Y gets the content's mean and std), those are stylized, and
    the result's Y is recombined with the content's I and Q. Other arguments as :func:`stylize`.
    """
    return stylize(content_image, style_image, preserve_colors="luminance", match_luminance=match_luminance, **kwargs)



def stylize_multiscale(content_image: ImageSource, style_image: ImageSource | Sequence[ImageSource], *,
                       size: int | None = None, **kwargs: Any) -> MultiscaleResult:
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


def _validate(preserve_colors: str | None, style_scale: float, multiscale: str | bool, max_single_size: int,
              levels: Sequence[int] | None) -> None:
    from ..optim.memory import check_style_scale

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
    content_image: ImageSource,
    style_image: ImageSource | Sequence[ImageSource],
    *,
    size: int | None = 384,
    steps: int = DEFAULT_STEPS,
    optimizer: str = "lbfgs",
    style_scale: float = 1.0,
    progress: bool = True,
    preview: bool = False,
    callback: Callable[[int, Image, dict[str, float]], bool | None] | None = None,
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
    bounded_memory: Union[str, bool] = "auto",
    **options: Any,
) -> MultiscaleResult:
    """Stylize ``content_image`` with ``style_image`` (one or a list) and return ``(image, history)``.

    The one ``stylize``: ``nst_tf.stylize``, ``nst_tf.transfer.style_transfer.stylize`` and ``nst-tf stylize``
    all call it. Images may be arrays ``(H, W, 3)`` in [0, 1], file paths, URLs or sample
    names such as ``"content/chelsea"``. Other keyword arguments go to
    :class:`~nst_tf.transfer.style_transfer.StyleTransfer` (``content_weight``, ``style_weight``,
    ``tv_weight``, ``style_layers``, ``content_layers``, ``init``, ``seed``, ``weights``,
    ``net``, ``normalize``, ``extractor``, ...).

    Args:
        size: the output's longest side in pixels: a larger photo is shrunk to it, a smaller
            one is **never enlarged** (it keeps its size); ``None`` keeps the content's size.
        steps: optimisation steps (L-BFGS: cost evaluations); with a pyramid, the first level's.
        optimizer: ``"lbfgs"`` (default), ``"lbfgs-scipy"`` or ``"adam"`` (``learning_rate``).
        progress, preview, callback, callback_every, log_every: see :meth:`StyleTransfer.run`.
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
        precondition: L-BFGS's preconditioner (see :mod:`nst_tf.optim.solvers`; 0 = on the pixels).
        bounded_memory: ``"auto"`` (default: the bounded-memory path of :mod:`nst_tf.losses.highres` at
            each level whose plain run would not fit the memory estimate), ``True`` or ``False``.

    Returns:
        a :class:`MultiscaleResult` (a ``StyleTransferResult``; ``levels`` has one report
        per level, a single one when not coarse-to-fine).

    A call of the same size and options as the last one (up to :data:`KEEP_MAX_PIXELS`, not on the
    bounded-memory path) runs on the last call's compiled solver with the new pictures and weights:
    the same result without seconds of tracing.
    """
    _validate(preserve_colors, style_scale, multiscale, max_single_size, levels)
    # Numbers first, before any picture is read or any network built (as the command line checks its options).
    validate.count(steps, "steps")
    validate.positive(learning_rate, "learning_rate")
    for name in ("content_weight", "style_weight", "tv_weight"):
        if name in options:
            validate.weight(options[name], name)
    if style_masks is not None and style_blend is not None:
        raise ValueError("style_blend cannot be combined with style_masks; blend with overlapping fractional masks.")
    if size is None and levels is not None:
        size = levels[-1]
    validate.min_size(size)
    content = load_image(content_image, size, name="content_image")  # shrunk to size, never enlarged
    styles_in = style_image if isinstance(style_image, (list, tuple)) else [style_image]
    styles = [load_image(style, name="style_image") for style in styles_in]
    long_side = max(content.shape[:2])
    if levels is not None and levels[-1] != long_side:
        raise ValueError(f"The last level ({levels[-1]} px) must equal the output's long side ({long_side} px).")
    use_pyramid = multiscale is True or (multiscale == "auto" and (levels is not None or long_side > int(max_single_size)))
    sizes = pyramid_sizes(long_side, start_size, levels) if use_pyramid else [long_side]
    step_counts = level_steps(steps, len(sizes), steps_per_level if use_pyramid else None)
    masks = None if style_masks is None else prepare_masks(style_masks, len(styles), content.shape[:2])
    style_shapes = [style.shape[:2] for style in styles]
    check_run(content.shape[:2], style_shapes, style_scale, optimizer, options, bounded=bounded_memory)

    run_content, run_styles, init = content, styles, options.pop("init", "content")
    if preserve_colors == "histogram":
        run_styles = [match_colors(style, content) for style in styles]
    elif preserve_colors == "luminance":
        run_content = luminance_image(content)
        run_styles = [style_luminance(style, content if match_luminance else None) for style in styles]
        if not isinstance(init, str):
            init = luminance_image(load_image(init, name="init"))

    def finish(image: np.ndarray) -> np.ndarray:
        return recombine_luminance(image, content) if preserve_colors == "luminance" else image

    run: dict[str, Any] = dict(optimizer=optimizer, learning_rate=learning_rate, callback=callback,
                               callback_every=callback_every, log_every=log_every, progress=progress, preview=preview,
                               precondition=precondition)
    reports, histories, extra = [], [], dict(options)
    interrupted, evaluations, started = False, 0, time.perf_counter()
    image: np.ndarray | None = None
    for index, (long, level_steps_count) in enumerate(zip(sizes, step_counts)):
        shape = images.fit_size(content.shape[:2], long)
        level_content = run_content if shape == run_content.shape[:2] else images.resize_image(run_content, size=shape)
        level_styles = [scaled_style(style, shape, float(style_scale)) for style in run_styles]
        level_init = init if image is None else images.resize_image(image, size=shape)
        level_start = time.perf_counter()
        level_masks = None if masks is None else [load_mask(mask, shape) for mask in masks]
        bounded = check_run(shape, style_shapes, style_scale, optimizer, options, bounded=bounded_memory)
        key = _graph_key(shape, len(level_styles), level_masks is not None, bounded, extra)
        transfer = _kept_transfer(key, level_content, level_styles, style_blend=style_blend, masks=level_masks,
                                  init=level_init, options=extra)
        if transfer is None:
            forget_transfers()  # one kept at a time: its memory goes before a new one is built
            transfer = StyleTransfer(level_content, level_styles, style_blend=style_blend, style_masks=level_masks,
                                     init=level_init, bounded_memory=bounded, **extra)
        extra["extractor"] = transfer.extractor  # build the network once
        setup_seconds = time.perf_counter() - level_start
        result = transfer.run(level_steps_count, **run)
        image = result.image
        if key is not None and not result.interrupted:
            _KEPT[key] = transfer
        del transfer
        gc.collect()
        finished = finish(image)
        report = LevelReport(
            index=index,
            size=shape,
            steps=level_steps_count,
            evaluations=result.evaluations,
            seconds=time.perf_counter() - level_start,
            setup_seconds=setup_seconds,
            peak_memory=peak_memory_bytes(),
            loss=result.history["total"][-1] if result.history["total"] else float("nan"),
            image=finished,
        )
        reports.append(report)
        histories.append(result.history)
        evaluations += result.evaluations
        if level_callback is not None:
            level_callback(report, finished)
        if result.interrupted:
            interrupted = True
            break
    assert image is not None  # levels has at least one size (pyramid_sizes)
    if image.shape[:2] != content.shape[:2]:  # interrupted early: still the size asked for
        image = images.resize_image(image, size=content.shape[:2])
    return MultiscaleResult(
        image=finish(image),
        history=join_histories(histories),
        interrupted=interrupted,
        evaluations=evaluations,
        seconds=time.perf_counter() - started,
        levels=reports,
    )
