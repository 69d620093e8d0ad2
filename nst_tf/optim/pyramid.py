"""Coarse-to-fine (lesson 05): the sizes and steps of the levels, and what each level reports.

Gatys et al. 2017: stylize small, upsample, continue at the next size, up to the requested
size. :func:`nst_tf.transfer.controls.stylize` runs the levels; this module plans them
(:func:`pyramid_sizes`, :func:`level_steps`) and holds the result types.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..image import arrays as images
from .progress import History
from .solvers import StyleTransferResult

__all__ = ["pyramid_sizes", "level_steps", "LevelReport", "MultiscaleResult", "join_histories"]


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
    peak_memory: int | None  # the process's peak resident bytes (VmHWM) so far, read after this level
    loss: float
    image: np.ndarray | None = field(repr=False, default=None)  # this level's result (colours as the final one)


@dataclass
class MultiscaleResult(StyleTransferResult):
    """A :class:`~nst_tf.transfer.style_transfer.StyleTransferResult` with one :class:`LevelReport` per level.

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


def join_histories(histories: Sequence[History]) -> History:
    joined = History(histories[0].loss_keys if histories else None)
    step_offset, time_offset = 0, 0.0
    for history in histories:
        for index, step in enumerate(history["step"]):
            losses = {key: history[key][index] for key in history.loss_keys or ()}
            joined.append(step + step_offset, losses, history["time"][index] + time_offset)
        if history["step"]:
            step_offset += history["step"][-1]
            time_offset += history["time"][-1]
    return joined
