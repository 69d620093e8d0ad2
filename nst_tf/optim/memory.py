"""How much memory a run will need, checked before it starts (no TensorFlow import).

A style transfer at ``H x W`` pixels holds, at its peak:

* the VGG activations of every layer up to the deepest one used, for the forward
  pass and again for the gradients (:func:`activation_bytes`, times
  :data:`BACKWARD_FACTOR`), at the output size and, while the style targets are
  computed (forward only), at the style size;
* the optimiser's history: scipy's L-BFGS-B keeps ``2 * maxcor + 6`` float64
  vectors of ``3 H W`` numbers (``maxcor`` = 20 here, so about 368 bytes a pixel);
  Adam keeps its two moments, the image and the gradient in float32;
* TensorFlow itself and the network's weights (:data:`BASE_BYTES`).

:func:`check_stylize` compares that with the memory this process can still get
(``MemAvailable`` and the cgroup limit on Linux; the free memory of the first GPU as
``nvidia-smi`` reports it, for the activations, when there is one) and raises
:class:`MemoryEstimateError` naming the largest size that fits. The environment
variable ``NST_TF_MEMORY_LIMIT_MB`` sets the budget by hand (for shared machines,
and for tests). For the plain path the estimate errs on the large side; for the bounded
path it ran up to 9 % under the peaks measured at 2048 and 4096 px, which the 15 %
headroom covers. ``benchmarks/bench_memory.py`` and ``benchmarks/README.md`` compare it
with measured peaks.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from typing import Iterable, Sequence, cast

from ..defaults import LBFGS_MEMORY, SCIPY_LBFGS_MEMORY
from .._runtime.env import megabytes_from_environment
from ..vgg.sizes import BACKWARD_FACTOR, activation_bytes, bounded_activation_bytes, highres_prefix_blocks

__all__ = [
    "MemoryEstimateError",
    "MAX_STYLE_SCALE",
    "BASE_BYTES",
    "estimate_stylize_bytes",
    "optimizer_bytes",
    "available_bytes",
    "check_stylize",
    "check_style_scale",
    "largest_size_that_fits",
    "check_run",
    "peak_memory_bytes",
    "choose_bounded",
]

#: Largest ``style_scale``: a style image 4 times the output's side already needs 16 times its memory.
MAX_STYLE_SCALE = 4.0
#: TensorFlow's runtime, the VGG weights and Python's own objects, measured at about 0.8-1 GB.
BASE_BYTES = 1 << 30
#: Share of the available memory a run may plan to use.
HEADROOM = 0.85
#: scipy's L-BFGS-B history length (``maxcor``), as :mod:`nst_tf.optim.solvers` runs it (``"lbfgs-scipy"``).
LBFGS_HISTORY = SCIPY_LBFGS_MEMORY

class MemoryEstimateError(ValueError):
    """The run would not fit in memory; the message names a size that does."""


def check_style_scale(style_scale: float, option: str = "style_scale") -> None:
    """``style_scale`` must be a positive number of at most :data:`MAX_STYLE_SCALE`."""
    try:
        value = float(style_scale)
    except (TypeError, ValueError):
        raise ValueError(f"{option} must be a positive number, got {style_scale!r}.") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{option} must be a positive number, got {style_scale!r}.")
    if value > MAX_STYLE_SCALE:
        raise ValueError(f"{option} must be at most {MAX_STYLE_SCALE:g} (the style image that many times the "
                         f"output's size), got {style_scale!r}.")


def _fit(shape: tuple[int, int], long_side: int) -> tuple[int, int]:
    height, width = shape
    scale = long_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def estimate_stylize_bytes(
    shape: tuple[int, int],
    style_shapes: Sequence[tuple[int, int]] = (),
    layers: Iterable[str] = ("block5_conv1",),
    *,
    net: str = "vgg19",
    optimizer: str = "lbfgs",
    split: bool = False,
    bounded: bool = False,
) -> int | tuple[int, int]:
    """Peak bytes of a style transfer whose result is ``shape = (height, width)``.

    ``style_shapes``: the style images' sizes as they enter the network. With
    ``split``, returns ``(host, device)``: the optimiser's history and the base on the
    host, the activations on the accelerator. ``bounded``: the activations of the bounded-memory path
    (:func:`bounded_activation_bytes`; the style targets are computed on it too).
    """
    layers = list(layers)
    height, width = shape
    pixels = 3 * height * width
    history, state = optimizer_bytes(pixels, optimizer)
    if bounded:
        run: float = bounded_activation_bytes(height, width, layers, net)
        targets: float = max((bounded_activation_bytes(h, w, layers, net) / BACKWARD_FACTOR for h, w in style_shapes),
                      default=0)
    else:
        run = BACKWARD_FACTOR * activation_bytes(height, width, layers, net)
        targets = max((activation_bytes(h, w, layers, net) for h, w in style_shapes), default=0)
    device = int(max(run, targets) + state)
    host = int(BASE_BYTES + history)
    return (host, device) if split else host + device


def optimizer_bytes(values: int, optimizer: str = "lbfgs") -> tuple[int, int]:
    """``(host, device)`` bytes the optimiser keeps for an image of ``values`` numbers (3 H W).

    All three keep a few image-sized float32 copies (the image, its gradient, Adam's moments):
    ``4 * 4 * values`` on the host side of the estimate. ``"lbfgs-scipy"`` adds scipy's float64
    work array and copies, ``(2 maxcor + 6) * 8 * values``. The default ``"lbfgs"`` keeps its
    state on the device in float32 (:func:`nst_tf.optim.lbfgs.state_bytes`: ``2 m + 5`` images), the
    variable it moves (one more) and, for a moment between evaluations, a copy of at most its
    ``2 m`` stored pairs: ``(4 m + 6) * 4 * values`` (m = ``LBFGS_MEMORY``).
    """
    copies = 4 * 4 * values
    if optimizer == "adam":
        return copies, 0
    if optimizer == "lbfgs-scipy":
        return copies + (2 * LBFGS_HISTORY + 6) * 8 * values, 0
    return copies, (4 * LBFGS_MEMORY + 6) * 4 * values


def peak_memory_bytes() -> int | None:
    """Peak resident memory of this process so far, in bytes (Linux ``VmHWM``; else ``ru_maxrss``).

    Counts everything TensorFlow allocates (unlike ``tracemalloc``). Only reads: resetting the
    count (``/proc/self/clear_refs``) is the benchmarks' business (benchmarks/bench_highres.py).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:") and line.split()[-1] == "kB":
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
        import sys

        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(maxrss if sys.platform == "darwin" else maxrss * 1024)
    except (ImportError, OSError):  # pragma: no cover - Windows
        return None


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_available() -> int | None:
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit_file, encoding="ascii") as handle:
                text = handle.read().strip()
            if text == "max":
                return None
            limit = int(text)
            if limit >= 1 << 60:  # cgroup v1's "no limit"
                return None
            with open(usage_file, encoding="ascii") as handle:
                usage = int(handle.read().strip())
            return max(limit - usage, 0)
        except (OSError, ValueError):
            continue
    return None


def _rlimit_available() -> int | None:
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError):
        return None
    return None if soft in (resource.RLIM_INFINITY, -1) else int(soft)


def _gpu_free_bytes() -> int | None:
    """Free memory of the first visible NVIDIA GPU, or ``None`` (no GPU, hidden, or no nvidia-smi)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return None
    tool = shutil.which("nvidia-smi")
    if tool is None:
        return None
    try:
        answer = subprocess.run([tool, "--query-gpu=index,memory.free", "--format=csv,noheader,nounits"],
                                capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    rows = {}
    for line in answer.splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
            rows[parts[0]] = int(parts[1]) * 1024 * 1024
    if not rows:
        return None
    first = visible.split(",")[0].strip() if visible else min(rows, key=int)
    return rows.get(first, next(iter(rows.values())))


def available_bytes() -> tuple[int | None, int | None]:
    """``(host, gpu)`` bytes this process can still use; ``None`` where unknown (or no GPU).

    ``NST_TF_MEMORY_LIMIT_MB`` replaces the host figure (and means: no GPU check).
    """
    limit = megabytes_from_environment("NST_TF_MEMORY_LIMIT_MB")
    if limit is not None:
        return limit, None
    candidates = [value for value in (_meminfo_available(), _cgroup_available(), _rlimit_available())
                  if value is not None]
    return (min(candidates) if candidates else None), _gpu_free_bytes()


def _fits(shape: tuple[int, int], style_shapes: Sequence[tuple[int, int]], layers: Iterable[str], net: str,
          optimizer: str, host_budget: int | None, gpu_budget: int | None, bounded: bool = False) -> bool:
    host, device = cast("tuple[int, int]", estimate_stylize_bytes(shape, style_shapes, layers, net=net,
                                                                  optimizer=optimizer, split=True, bounded=bounded))
    if gpu_budget is None:
        host, device = host + device, 0
    return (host_budget is None or host <= host_budget) and (gpu_budget is None or device <= gpu_budget)


def largest_size_that_fits(shape: tuple[int, int], style_shapes: Sequence[tuple[int, int]], layers: Iterable[str],
                           net: str, optimizer: str, host_budget: int | None, gpu_budget: int | None,
                           style_scale: float | None = None, bounded: bool = False) -> int:
    """Largest long side (a multiple of 16, at least 32) whose run fits; 0 if none does."""
    long_side = max(shape)
    low, high = 0, long_side // 16
    while low < high:  # binary search over multiples of 16
        middle = (low + high + 1) // 2
        side = middle * 16
        factor = side / long_side
        styles = [_fit(s, max(32, round(max(s) * factor))) for s in style_shapes]
        if _fits(_fit(shape, side), styles, layers, net, optimizer, host_budget, gpu_budget, bounded):
            low = middle
        else:
            high = middle - 1
    return low * 16 if low * 16 >= 32 else 0


def _gigabytes(count: float) -> str:
    return f"{count / 1e9:.1f} GB"


def choose_bounded(shape: tuple[int, int], style_shapes: Sequence[tuple[int, int]], layers: Iterable[str], *,
                   content_layers: Iterable[str] | None = None, net: str = "vgg19", optimizer: str = "lbfgs",
                   bounded: str | bool = "auto", budgets: tuple[int | None, int | None] | None = None) -> bool:
    """Whether a run at ``shape`` takes the bounded-memory path: ``bounded`` itself when True/False;
    with ``"auto"``, True when the plain path's estimate does not fit the budget. ``content_layers``
    in block 1 cannot take it (:func:`highres_prefix_blocks`): False with ``"auto"``, ValueError with True.
    """
    if bounded not in ("auto", True, False):
        raise ValueError(f"bounded_memory must be 'auto', True or False, got {bounded!r}.")
    usable = content_layers is None or highres_prefix_blocks(content_layers) > 0
    if bounded is True and not usable:
        raise ValueError(f"bounded_memory needs content layers below block 1, got {list(content_layers or ())}.")
    if isinstance(bounded, bool) or not usable:
        return bool(bounded) and usable
    host_budget, gpu_budget = budgets if budgets is not None else _budgets()
    return not _fits(shape, style_shapes, list(layers), net, optimizer, host_budget, gpu_budget)


def _budgets() -> tuple[int | None, int | None]:
    host_budget, gpu_budget = available_bytes()
    host_budget = None if host_budget is None else int(host_budget * HEADROOM)
    gpu_budget = None if gpu_budget is None else int(gpu_budget * HEADROOM)
    return host_budget, gpu_budget


def check_stylize(
    shape: tuple[int, int],
    style_shapes: Sequence[tuple[int, int]] = (),
    layers: Iterable[str] = ("block5_conv1",),
    *,
    net: str = "vgg19",
    optimizer: str = "lbfgs",
    option: str = "size",
    bounded: str | bool = "auto",
    content_layers: Iterable[str] | None = None,
) -> bool:
    """Raise :class:`MemoryEstimateError` if a run at ``shape`` would not fit; the message names a size that does.

    ``option`` is how the message names the size (``"--size"`` on the command line). ``bounded``
    (``"auto"``, True, False): whether the bounded-memory path may be (or must be) used; returns
    whether it is. ``content_layers`` (default: the block-1 test is skipped) decide whether the
    bounded path can serve the run at all.
    """
    layers = list(layers)
    budgets = _budgets()
    host_budget, gpu_budget = budgets
    use = choose_bounded(shape, style_shapes, layers, content_layers=content_layers, net=net, optimizer=optimizer,
                         bounded=bounded, budgets=budgets)
    usable = content_layers is None or highres_prefix_blocks(content_layers) > 0
    if _fits(shape, style_shapes, layers, net, optimizer, host_budget, gpu_budget, use):
        return use
    host, device = cast("tuple[int, int]", estimate_stylize_bytes(shape, style_shapes, layers, net=net,
                                                                  optimizer=optimizer, split=True, bounded=use))
    if gpu_budget is None:
        need, have, where = host + device, host_budget, "memory"
    elif host > (host_budget or host):
        need, have, where = host, host_budget, "memory"
    else:
        need, have, where = device, gpu_budget, "GPU memory"
    # the largest size that fits on the best path allowed
    best = use or (bounded == "auto" and usable)
    side = largest_size_that_fits(shape, style_shapes, layers, net, optimizer, host_budget, gpu_budget,
                                  bounded=best)
    size_text = f"{shape[1]}x{shape[0]} px"
    path = " on the bounded-memory path" if use else ""
    advice = (f"use {option} {side} or less" if option.startswith("-") else f"use {option}={side} or less") \
        if side else "there is not enough memory even at the smallest size"
    raise MemoryEstimateError(
        f"a {size_text} run needs about {_gigabytes(need)} of {where}{path} but about {_gigabytes(have or 0)} is "
        f"available; {advice}"
    )


def check_run(shape: tuple[int, int], style_shapes: Sequence[tuple[int, int]], style_scale: float, optimizer: str,
              options: dict, option: str = "size", bounded: str | bool = "auto") -> bool:
    """:func:`check_stylize` for ``stylize(...)``'s arguments: the output ``shape``, the style
    images' sizes before scaling, ``style_scale``, the optimiser and the keyword ``options``
    (``content_layers``, ``style_layers``, ``net``, ``extractor``, ``style_statistic``) and ``bounded``
    (``"auto"``, True, False); returns whether the run takes the bounded-memory path."""
    from ..defaults import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS

    layers: list[str] = []
    content = options.get("content_layers", DEFAULT_CONTENT_LAYERS)
    content = [content] if isinstance(content, str) else list(content)
    statistic = options.get("style_statistic", "gram")
    if bounded == "auto" and not (isinstance(statistic, str) and statistic in ("gram", "gram_centered", "mean_std")):
        bounded = False  # a statistic of your own: the plain path only
    for key, default in (("content_layers", DEFAULT_CONTENT_LAYERS), ("style_layers", DEFAULT_STYLE_LAYERS)):
        value = options.get(key, default)
        layers += [value] if isinstance(value, str) else list(value)
    net = getattr(options.get("extractor"), "net", None) or options.get("net", "vgg19")
    target = max(int(round(max(shape) * float(style_scale))), 32)
    two = cast("tuple[int, int]", tuple(shape))
    return check_stylize(two, [_fit(cast("tuple[int, int]", tuple(s)), target) for s in style_shapes], layers, net=net,
                         optimizer=optimizer, option=option, bounded=bounded, content_layers=content)
