"""The one place that decides lesson sizes: fast mode for CI, CPU defaults, GPU sizes.

Set ``NST_TF_FAST=1`` to make every lesson shrink its images and steps (CI runs the
notebooks this way). Notebooks call :func:`lesson_settings` in their config cell.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


def fast_mode() -> bool:
    """True when ``NST_TF_FAST`` is set to 1/true/yes (the notebooks are being tested)."""
    return os.environ.get("NST_TF_FAST", "").strip().lower() in ("1", "true", "yes", "on")


def has_gpu() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


@dataclass(frozen=True)
class LessonSettings:
    """Image size (longest side, px) and number of optimisation steps for a lesson."""

    size: int
    steps: int
    fast: bool
    gpu: bool

    def describe(self) -> str:
        where = "GPU" if self.gpu else "CPU"
        mode = "fast mode (NST_TF_FAST=1)" if self.fast else "lesson defaults"
        return f"{mode} on {where}: images {self.size} px, {self.steps} steps"


def lesson_settings(cpu: tuple[int, int] = (256, 100), gpu: tuple[int, int] = (512, 300),
                    fast: tuple[int, int] = (64, 6)) -> LessonSettings:
    """Pick ``(size, steps)``: ``fast`` under ``NST_TF_FAST=1``, else ``gpu`` on a GPU, else ``cpu``."""
    is_fast, is_gpu = fast_mode(), (False if fast_mode() else has_gpu())
    size, steps = fast if is_fast else (gpu if is_gpu else cpu)
    return LessonSettings(size=size, steps=steps, fast=is_fast, gpu=is_gpu)
