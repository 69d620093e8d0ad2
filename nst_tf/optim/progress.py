"""Watching an optimisation: progress bars, loss history, a live preview and the run's bookkeeping (lesson 04)."""

from __future__ import annotations

import io
import time
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes

__all__ = ["LOSS_KEYS", "cost_keys", "weights_of", "History", "PendingLosses", "ProgressBar", "LivePreview", "in_notebook", "NonFiniteLossError", "Watcher"]

#: The keys of a style transfer's costs; any cost object may return others (``"total"`` always among them).
LOSS_KEYS = ("total", "content", "style", "tv")
_NOT_LOSSES = ("step", "time")


def cost_keys(cost: object) -> tuple[str, ...] | None:
    """The keys a cost object returns, ``"total"`` first: its ``loss_keys`` attribute, or None if it has none."""
    keys = getattr(cost, "loss_keys", None)
    if keys is None:
        return None
    keys = tuple(keys)
    if "total" not in keys:
        raise ValueError(f"A cost object must return a 'total' cost; its keys are {keys}.")
    return ("total", *(key for key in keys if key != "total"))


def weights_of(cost: object) -> dict[str, float]:
    """``{"<name>_weight": value}`` of a cost object that carries weights (``weight_values()``), else ``{}``."""
    values = getattr(cost, "weight_values", None)
    return dict(values()) if callable(values) else {}


class NonFiniteLossError(FloatingPointError):
    """The cost became NaN or infinite."""


class History(dict):
    """The losses of a run, one list per key: ``step``, the cost's keys, ``time``.

    A style transfer's keys are ``total``, ``content``, ``style`` and ``tv`` (the default); any cost
    object's are its own (``keys=None``: those of the first :meth:`append`). ``history["style"]`` is a
    plain list of floats; ``history.plot()`` draws them.
    """

    def __init__(self, keys: Sequence[str] | None = LOSS_KEYS):
        self.loss_keys: tuple[str, ...] | None = None if keys is None else tuple(keys)
        super().__init__({key: [] for key in ("step", *(self.loss_keys or ()), "time")})

    def append(self, step: int, losses: Mapping[str, float], seconds: float) -> None:
        if self.loss_keys is None:  # the first costs name the keys, "total" first
            self.loss_keys = ("total", *(key for key in losses if key not in ("total", *_NOT_LOSSES)))
            time_column = self.pop("time")
            self.update({key: [] for key in self.loss_keys})
            self["time"] = time_column
        self["step"].append(int(step))
        for key in self.loss_keys:
            self[key].append(float(losses[key]))
        self["time"].append(float(seconds))

    def last(self) -> dict[str, float]:
        return {key: values[-1] for key, values in self.items() if values}

    def plot(self, ax: Axes | None = None, keys: Iterable[str] | None = None, log: bool = True) -> Axes:
        """Each loss (default: every key of the cost) against the step, on a log scale; returns the Axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3))
        for key in (self.loss_keys or ()) if keys is None else keys:
            if any(self[key]):
                ax.plot(self["step"], self[key], label=key)
        if log:
            ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("weighted cost")
        ax.legend()
        return ax


class PendingLosses:
    """The costs of steps that ran on the device but were not read yet (lessons 04 and 06).

    A training loop appends each step's ``{key: scalar tensor}`` without reading it, so
    no step waits for a copy to the host; every few steps :meth:`flush` reads all of them
    in one transfer and returns ``[(step, {key: float})]``, numbered so that the last is
    ``last``. Nothing is returned twice, even if the caller stops half-way through a list.
    """

    def __init__(self) -> None:
        self._steps: list[Mapping] = []

    def __len__(self) -> int:
        return len(self._steps)

    def append(self, losses: Mapping) -> None:
        self._steps.append(losses)

    def flush(self, last: int) -> list[tuple[int, dict[str, float]]]:
        if not self._steps:
            return []
        import tensorflow as tf  # only a run that has tensors gets here

        pending, self._steps = self._steps, []
        stacked = {key: np.asarray(tf.stack([losses[key] for losses in pending])) for key in pending[0]}
        first = int(last) - len(pending) + 1
        return [(first + offset, {key: float(values[offset]) for key, values in stacked.items()})
                for offset in range(len(pending))]


def format_losses(losses: Mapping[str, float]) -> dict[str, str]:
    return {key: f"{value:.3g}" for key, value in losses.items() if key not in _NOT_LOSSES}


class ProgressBar:
    """A ``tqdm.auto`` bar (a widget in notebooks, text in a terminal) showing the losses."""

    def __init__(self, total: int, enabled: bool = True, description: str = "stylizing", unit: str = "step"):
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=description, unit=unit, leave=True, dynamic_ncols=True)

    def update(self, count: int, losses: Mapping[str, float] | None = None) -> None:
        if self.bar is None:
            return
        if losses:
            self.bar.set_postfix(format_losses(losses), refresh=False)
        self.bar.update(count)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def in_notebook() -> bool:
    """True inside a Jupyter / Colab kernel."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def _png_bytes(image: np.ndarray) -> bytes:
    from PIL import Image

    pixels = (np.clip(np.asarray(image), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


class LivePreview:
    """One image and one loss plot that update in place in a notebook (ipywidgets).

    Outside a notebook it does nothing, so scripts can pass ``preview=True`` safely.
    """

    def __init__(self, width: int = 320, show_losses: bool = True):
        self.active = in_notebook()
        if not self.active:
            return
        import ipywidgets as widgets
        from IPython.display import display

        self.image = widgets.Image(format="png", width=width)
        self.plot = widgets.Output() if show_losses else None
        children = [self.image] + ([self.plot] if self.plot is not None else [])
        display(widgets.HBox(children))

    def update(self, image: np.ndarray, history: History | None = None) -> None:
        if not self.active:
            return
        self.image.value = _png_bytes(image)
        if self.plot is not None and history is not None and history["step"]:
            import matplotlib.pyplot as plt
            from IPython.display import display

            with self.plot:
                self.plot.clear_output(wait=True)
                fig, ax = plt.subplots(figsize=(4, 2.6))
                history.plot(ax=ax)
                fig.tight_layout()
                display(fig)
                plt.close(fig)


class Watcher:
    """A run's bookkeeping, shared by every solver: history, best image, progress, callbacks.

    ``cost`` is the cost object (its weights name the culprits when the cost stops being
    finite); ``shape`` the generated image's ``(1, H, W, 3)``.
    """

    def __init__(self, cost: Callable[..., Mapping[str, Any]], shape: Sequence[int | None], steps: int,
                 callback: Callable[..., Any] | None, callback_every: int, progress: bool, live: Any,
                 preview_every: int, unit: str = "step") -> None:
        self.cost, self.shape = cost, tuple(shape)
        self.steps = steps
        self.callback, self.callback_every = callback, max(1, int(callback_every))
        self.live, self.preview_every = live, max(1, int(preview_every))
        self.history = History(cost_keys(cost))
        self.bar = ProgressBar(steps, enabled=progress, unit=unit)  # "evaluation" for L-BFGS, "step" for Adam
        self.start = time.perf_counter()
        self.evaluations = 0
        self.best_total = np.inf
        self.best_image: np.ndarray | None = None
        self.interrupted = False
        self.phase_start = 0  # evaluations before the current L-BFGS phase
        self._shown = 0

    def wants(self, step: int) -> bool:
        return (self.callback is not None and step % self.callback_every == 0) or (
            self.live is not None and step % self.preview_every == 0
        )

    def next_event(self, step: int) -> int:
        """The first step after ``step`` at which the callback, the preview or the end wants the image."""
        events = [self.steps]
        if self.callback is not None:
            events.append((step // self.callback_every + 1) * self.callback_every)
        if self.live is not None:
            events.append((step // self.preview_every + 1) * self.preview_every)
        return min(events)

    def record(self, step: int, values: Mapping[str, float], image: Any, seconds: float | None = None) -> None:
        total = float(values["total"])
        if not np.isfinite(total):
            named = ", ".join(f"{key}={value:g}" for key, value in weights_of(self.cost).items())
            culprits = f"the weights are probably too large ({named})" if named else "the cost is probably too large"
            raise NonFiniteLossError(
                f"The cost became {total} at step {step}: {culprits} or the learning rate too high; try smaller values."
            )
        self.evaluations = step
        self.history.append(step, values, time.perf_counter() - self.start if seconds is None else seconds)
        if image is not None and total < self.best_total:
            self.best_total = total
            self.best_image = np.asarray(image, dtype=np.float32).reshape(self.shape)[0].copy()

    def after_steps(self, step: int, variable: Any = None, image: Any = None) -> bool:
        """Progress, preview and callback after ``step``; returns False to stop."""
        self.bar.update(step - self._shown, self.history.last())
        self._shown = step
        preview = self.live is not None and (step % self.preview_every == 0 or step == self.steps)
        if not preview and not (self.callback is not None and step % self.callback_every == 0):
            return True  # nobody wants the image: do not copy it from the device
        if image is None:
            image = variable.numpy()
        elif callable(image):  # read from the device only now that it is needed
            image = np.asarray(image())
        array = np.clip(np.asarray(image, dtype=np.float32).reshape(self.shape)[0], 0.0, 1.0)
        if preview:
            self.live.update(array, self.history)
        if self.callback is not None and step % self.callback_every == 0:
            return self.callback(step, array, self.history.last()) is not False
        return True

    def close(self) -> None:
        self.bar.close()
