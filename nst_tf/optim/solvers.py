"""Solvers: move the pixels of a generated image down any cost (lesson 04).

A *cost object* is any callable ``cost(image) -> {"total": ..., ...}`` that takes a batch
``(1, H, W, 3)`` and returns differentiable scalars, ``"total"`` among them, and any others it likes
(the objective of :mod:`nst_tf.losses.objective` returns the weighted ``"content"``, ``"style"`` and
``"tv"``; a sum of :mod:`nst_tf.losses.compose` terms one key per term). The history records every key
(``cost.loss_keys`` if it has them, else those of one trace of it), and a cost that stops being finite
is reported with the weights its ``weight_values()`` names.
:class:`ImageSolver` minimises one over a ``tf.Variable`` image, whatever the cost is: a
plain, a masked or a multiscale run, or a reconstruction from features (lesson 01).

Optimisers: L-BFGS (few evaluations to a good image, the default: :class:`nst_tf.optim.lbfgs.LBFGS`,
which keeps its history and line search in TensorFlow variables and runs many evaluations per
call, handing back only the costs), ``"lbfgs-scipy"`` (``scipy.optimize.minimize(method="L-BFGS-B")``
driven by a compiled value-and-gradient function, with the image copied to the host at every
evaluation; kept for comparison) and Adam (Keras; every step compiled and kept on the device).

L-BFGS spends, by default, the first half of its evaluations on a *preconditioned* image:
instead of the pixels it moves a variable ``z`` with ``image = clip(start + P z, 0, 1)``,
where ``P`` scales each 2-D cosine (DCT) frequency ``f`` of ``z`` by ``1 / f ** precondition``
(:mod:`nst_tf.optim.precondition`). Coarse changes then cost the optimiser
as little as fine ones, so the large shapes of the style arrive in far fewer evaluations; the
remaining evaluations refine the pixels directly (bounded to [0, 1]). ``precondition=0``
works on the pixels from the start. (The default L-BFGS moves the cosine coefficients of ``z``
instead of ``z``, the same steps for half the transforms.) Measurements in benchmarks/README.md.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

import numpy as np
import tensorflow as tf

from .precondition import frequency_scale, precondition_update, spectral_update
from .progress import History, LivePreview, PendingLosses, Watcher, cost_keys

__all__ = [
    "ImageSolver",
    "StyleTransferResult",
]

from ..defaults import LBFGS_CHUNK_SECONDS, LBFGS_MEMORY, OPTIMIZERS, PRECONDITIONED_FRACTION, SCIPY_LBFGS_MEMORY

if TYPE_CHECKING:  # pragma: no cover - typing only (the solver imports it when first used)
    from .lbfgs import LBFGS

Cost = Callable[[tf.Tensor], Mapping[str, tf.Tensor]]


def lbfgs_phases(steps: int, precondition: float) -> list[tuple[float, int]]:
    """``(decay, last evaluation)`` per phase: coarse structure first (preconditioned), then the pixels."""
    if precondition > 0:
        return [(precondition, max(1, math.ceil(PRECONDITIONED_FRACTION * steps))), (0.0, steps)]
    return [(0.0, steps)]


@dataclass
class StyleTransferResult:
    """What a run returns: the image ``(H, W, 3)`` in [0, 1] and the :class:`History`."""

    image: np.ndarray
    history: History
    interrupted: bool = False
    evaluations: int = 0
    seconds: float = 0.0

    def __iter__(self) -> Iterator[Any]:  # allows ``image, history = stylize(...)``
        return iter((self.image, self.history))


class _StopEarly(Exception):
    pass


class ImageSolver:
    """Minimise ``cost`` over the pixels of ``image`` (a ``tf.Variable`` ``(1, H, W, 3)`` in [0, 1]).

    The compiled functions (value and gradient, the preconditioned objective, the in-graph
    L-BFGS) are traced once per solver and serve every run. ``jit_compile`` compiles them
    with XLA (pays on some GPUs; not on CPU).
    """

    def __init__(self, cost: Cost, image: tf.Variable, *, jit_compile: bool = False):
        self.cost, self.image, self.jit_compile = cost, image, jit_compile
        self.components = tf.function(self._components_eager, jit_compile=jit_compile)
        self.value_and_grad = tf.function(self._value_and_grad_eager, jit_compile=jit_compile)
        self.preconditioned = tf.function(self._preconditioned_eager, jit_compile=jit_compile)
        self.lbfgs_objective = tf.function(self._lbfgs_objective_eager, jit_compile=jit_compile)
        self._lbfgs: Any = None  # built on the first L-BFGS run (nst_tf.optim.lbfgs.LBFGS)
        self.lbfgs_seconds: float | None = None  # seconds per evaluation in the last call (sizes the next calls)

    def loss_keys(self) -> tuple[str, ...]:
        """The keys the cost returns, ``"total"`` first: its ``loss_keys``, else read from one trace of it."""
        keys = cost_keys(self.cost)
        if keys is None:
            spec = tf.TensorSpec(tuple(self.image.shape), tf.float32)
            returned = tf.function(self.cost).get_concrete_function(spec).structured_outputs
            if not isinstance(returned, Mapping) or "total" not in returned:
                raise ValueError("A cost object must return a dict of scalars with a 'total' among them.")
            keys = ("total", *(key for key in returned if key != "total"))
        return keys

    # ----- the compiled functions -------------------------------------------------------
    def _components_eager(self, image: tf.Tensor) -> Mapping[str, tf.Tensor]:
        return self.cost(image)

    def _value_and_grad_eager(self, image: tf.Tensor) -> tuple[Mapping[str, tf.Tensor], tf.Tensor]:
        with tf.GradientTape() as tape:
            tape.watch(image)
            components = self.cost(image)
        return components, tape.gradient(components["total"], image)

    def _preconditioned_eager(self, z: tf.Tensor, start: tf.Tensor, scale: tf.Tensor
                              ) -> tuple[Mapping[str, tf.Tensor], tf.Tensor, tf.Tensor]:
        """Costs, their gradient w.r.t. ``z`` and the image ``clip(start + P z, 0, 1)``."""
        with tf.GradientTape() as tape:
            tape.watch(z)
            image = tf.clip_by_value(start + precondition_update(z, scale), 0.0, 1.0)
            components = self.cost(image)
        return components, tape.gradient(components["total"], z), image

    @tf.autograph.experimental.do_not_convert  # explicit tf.cond; nothing for AutoGraph to convert
    def _lbfgs_image_eager(self, x: tf.Tensor) -> tf.Tensor:
        """The image the default L-BFGS's variable stands for: ``clip(image + C^T (scale x), 0, 1)`` or ``x`` itself.

        Preconditioned, ``x`` holds the cosine coefficients ``w = C z`` (:func:`spectral_update`).
        """
        return tf.cond(
            tf.equal(self.lbfgs_mode, 1),
            lambda: tf.clip_by_value(self.image + spectral_update(x, self.lbfgs_scale), 0.0, 1.0),
            lambda: tf.identity(x),
        )

    def _lbfgs_objective_eager(self, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, Mapping[str, tf.Tensor]]:
        """Total cost, its gradient w.r.t. the L-BFGS variable, and the weighted costs (for the history)."""
        with tf.GradientTape() as tape:
            tape.watch(x)
            components = self.cost(self._lbfgs_image_eager(x))
        return components["total"], tape.gradient(components["total"], x), components

    # ----- Adam -------------------------------------------------------------------------
    def make_adam_step(self, learning_rate: float = 0.02, beta_1: float = 0.99, epsilon: float = 0.1
                       ) -> Callable[[], Mapping[str, tf.Tensor]]:
        """A fresh Adam optimiser and a compiled step function bound to it (one trace per call).

        The step returns the costs as tensors and keeps the pixels in [0, 1].
        """
        import keras

        optimizer = keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1, epsilon=epsilon)
        optimizer.build([self.image])

        def step() -> Mapping[str, tf.Tensor]:
            components, gradient = self._value_and_grad_eager(self.image)
            optimizer.apply_gradients([(gradient, self.image)])
            self.image.assign(tf.clip_by_value(self.image, 0.0, 1.0))
            return components

        return tf.function(step, jit_compile=self.jit_compile)

    # ----- running -----------------------------------------------------------------------
    def run(
        self,
        steps: int,
        optimizer: str = "lbfgs",
        *,
        precondition: float,
        learning_rate: float = 0.02,
        callback: Callable[[int, np.ndarray, dict], bool | None] | None = None,
        callback_every: int = 10,
        log_every: int = 10,
        progress: bool = True,
        preview: bool = False,
        preview_every: int = 10,
        make_adam_step: Callable | None = None,
    ) -> StyleTransferResult:
        """Optimise for ``steps`` evaluations of the cost and return the result.

        ``optimizer``: ``"lbfgs"``, ``"lbfgs-scipy"`` or ``"adam"`` (with ``learning_rate``);
        ``precondition``: L-BFGS's frequency decay (0: on the pixels from the start).
        ``callback(step, image, losses)`` every ``callback_every`` steps (``False`` stops);
        the costs are recorded every ``log_every`` Adam steps; ``progress`` shows a bar and
        ``preview`` a live picture every ``preview_every`` steps. Ctrl-C returns the best image
        so far with ``interrupted=True``; a NaN or infinite cost raises ``NonFiniteLossError``.

        ``make_adam_step(learning_rate)`` builds the compiled Adam step (default: :meth:`make_adam_step`).
        """
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"Unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}.")
        from ..image import validate

        steps = validate.count(steps, "steps")
        if optimizer == "adam":
            learning_rate = validate.positive(learning_rate, "learning_rate")
        if not validate._real(precondition, "precondition") >= 0:
            raise ValueError(f"precondition must be 0 or more, not {precondition!r}.")
        live = LivePreview() if preview else None
        watch = Watcher(self.cost, self.image.shape, int(steps), callback, callback_every, progress, live,
                        preview_every, unit="step" if optimizer == "adam" else "evaluation")
        try:
            if optimizer == "adam":
                step = (make_adam_step or self.make_adam_step)(learning_rate)
                self._run_adam(int(steps), step, watch, max(1, int(log_every)))
            elif optimizer == "lbfgs-scipy":
                self._run_scipy_lbfgs(int(steps), watch, float(precondition))
            else:
                self._run_lbfgs(int(steps), watch, float(precondition))
        except KeyboardInterrupt:
            watch.interrupted = True
        finally:
            watch.close()
        if watch.best_image is not None:
            self.image.assign(watch.best_image[np.newaxis])
        return StyleTransferResult(
            image=self.image.numpy()[0],
            history=watch.history,
            interrupted=watch.interrupted,
            evaluations=watch.evaluations,
            seconds=time.perf_counter() - watch.start,
        )

    def _run_adam(self, steps: int, step: Callable[[], Mapping[str, tf.Tensor]], watch: Watcher, log_every: int
                  ) -> None:
        pending = PendingLosses()

        def flush(last: int) -> None:
            for index, values in pending.flush(last):
                watch.record(index, values, image=None)

        try:
            for index in range(1, steps + 1):
                pending.append(step())  # stays on the device; no host round trip per step
                if index % log_every == 0 or index == steps or watch.wants(index):
                    flush(index)
                    if not watch.after_steps(index, self.image):
                        break
        except KeyboardInterrupt:
            flush(watch.evaluations + len(pending))  # steps already applied stay in the history
            raise

    # ----- L-BFGS in TensorFlow ------------------------------------------------------------
    def device_lbfgs(self) -> LBFGS:
        """The in-graph L-BFGS over one variable, built once per solver (one trace for all runs)."""
        if self._lbfgs is None:
            from .lbfgs import LBFGS

            shape = tuple(self.image.shape)
            self.lbfgs_x = tf.Variable(tf.zeros(shape), trainable=False, name="lbfgs_variable")
            self.lbfgs_scale = tf.Variable(tf.ones(shape[1:3]), trainable=False, name="lbfgs_frequency_scale")
            self.lbfgs_mode = tf.Variable(0, trainable=False, name="lbfgs_preconditioned")
            # gtol = ftol = 0: run the evaluations asked for (as with scipy's path).
            self._lbfgs = LBFGS(self.lbfgs_objective, self.lbfgs_x, memory=LBFGS_MEMORY, lower=0.0,
                                upper=1.0, gtol=0.0, ftol=0.0, scalar_keys=self.loss_keys())
            self._lbfgs_image = tf.function(self._lbfgs_image_eager)
        return self._lbfgs

    def _run_lbfgs(self, steps: int, watch: Watcher, precondition: float) -> None:
        """The default L-BFGS (nst_tf.optim.lbfgs): each call into TensorFlow runs many evaluations.

        Only the costs come back per evaluation; the image is read when the callback or the
        preview asks for it, and once at the end (the best image evaluated, as with scipy).
        """
        solver = self.device_lbfgs()
        self._lbfgs_kept = True  # nothing of this run to keep yet
        try:
            for index, (decay, until) in enumerate(lbfgs_phases(steps, precondition)):
                if index:  # the next phase starts from the best image so far
                    self._keep_lbfgs_best()
                height, width = self.image.shape[1:3]
                if decay > 0:  # move w = C z: image = clip(start + P z, 0, 1), start = self.image
                    self.lbfgs_scale.assign(frequency_scale(height, width, decay))
                    self.lbfgs_mode.assign(1)
                    self.lbfgs_x.assign(tf.zeros_like(self.lbfgs_x))
                    solver.set_bounds(None, None)
                else:
                    self.lbfgs_mode.assign(0)
                    self.lbfgs_x.assign(self.image)
                    solver.set_bounds(0.0, 1.0)
                solver.reset()
                self._lbfgs_kept = False
                if not self._device_lbfgs_phase(solver, until, steps, watch):
                    break
        except KeyboardInterrupt:
            solver.refresh()
            self._record_lbfgs_rows(solver, watch, time.perf_counter())  # what ran before the interrupt
            raise
        finally:
            self._keep_lbfgs_best()

    def _keep_lbfgs_best(self) -> None:
        """``self.image`` = the best image the current phase evaluated (on the device)."""
        solver = self._lbfgs
        if not self._lbfgs_kept and np.isfinite(solver.best_value):
            self.image.assign(self._lbfgs_image(solver.best_x))
        self._lbfgs_kept = True

    def trial_image(self) -> np.ndarray:
        """The image of the last L-BFGS evaluation, copied to the host (only for the callback and the preview)."""
        return self._lbfgs_image(self._lbfgs.trial).numpy()

    def _record_lbfgs_rows(self, solver: LBFGS, watch: Watcher, seconds_before: float, rows: np.ndarray | None = None
                           ) -> None:
        """Append the evaluations of the last ``solver.run`` call that the history lacks."""
        rows = solver.last_values() if rows is None else rows
        done_before = solver.evaluations - len(rows)  # evaluations of this phase before that call
        first = watch.evaluations - watch.phase_start - done_before  # rows already in the history
        now = time.perf_counter()
        for index in range(max(0, first), len(rows)):
            share = (index + 1) / len(rows)  # evaluations take the same time: spread the call's time
            seconds = seconds_before + share * (now - seconds_before) - watch.start
            values = dict(zip(solver.scalar_keys, rows[index, 1:]))
            watch.record(watch.evaluations + 1, values, image=None, seconds=seconds)

    def _device_lbfgs_phase(self, solver: LBFGS, until: int, steps: int, watch: Watcher) -> bool:
        """Evaluations up to number ``until``, a chunk per call; False if told to stop (or stalled)."""
        watch.phase_start = watch.evaluations
        per_evaluation = self.lbfgs_seconds  # from earlier calls (None: the first call traces the graph)
        while watch.evaluations < until:
            step = watch.evaluations
            count = min(until, watch.next_event(step)) - step
            count = min(count, solver.capacity)
            if per_evaluation is not None:  # about LBFGS_CHUNK_SECONDS per call
                count = min(count, max(1, int(LBFGS_CHUNK_SECONDS / max(per_evaluation, 1e-9))))
            else:
                count = 1  # the first call traces the graph
            started = time.perf_counter()
            rows = solver.run(count)
            self._record_lbfgs_rows(solver, watch, started, rows)
            per_evaluation = self.lbfgs_seconds = (time.perf_counter() - started) / max(1, len(rows))
            if len(rows) and not watch.after_steps(watch.evaluations, image=self.trial_image):
                return False
            if solver.status != "running":  # converged (a zero gradient) or no step lowers the cost
                break
        return watch.evaluations < steps

    # ----- scipy's L-BFGS-B -----------------------------------------------------------------
    def _run_scipy_lbfgs(self, steps: int, watch: Watcher, precondition: float) -> None:
        for decay, until in lbfgs_phases(steps, precondition):
            if watch.best_image is not None:  # the next phase starts from the best image so far
                self.image.assign(watch.best_image[np.newaxis])
            if not self._scipy_phase(decay, until, steps, watch):
                break

    def _scipy_phase(self, precondition: float, until: int, steps: int, watch: Watcher) -> bool:
        """scipy's L-BFGS-B from the current image up to evaluation ``until``; False if told to stop."""
        from scipy.optimize import Bounds, minimize
        from threadpoolctl import threadpool_limits

        shape = tuple(self.image.shape)
        if precondition > 0:
            # Move z, not the pixels: image = clip(start + P z, 0, 1). The clip keeps every
            # evaluated image (and so the result) in [0, 1]; its gradient is zero outside.
            start = tf.constant(self.image)
            scale = tf.constant(frequency_scale(shape[1], shape[2], precondition))

            def evaluate(x: np.ndarray) -> tuple[Mapping[str, tf.Tensor], tf.Tensor, Any]:
                return self.preconditioned(tf.constant(x.reshape(shape), tf.float32), start, scale)

            x0, bounds = np.zeros(int(np.prod(shape))), None
        else:

            # the pixels are x itself: no copy back from the device
            def evaluate(x: np.ndarray) -> tuple[Mapping[str, tf.Tensor], tf.Tensor, Any]:
                return (*self.value_and_grad(tf.constant(x.reshape(shape), tf.float32)), x.reshape(shape))

            x0, bounds = self.image.numpy().astype(np.float64).ravel(), Bounds(0.0, 1.0)
        stopped = []

        def value_and_gradient(x: np.ndarray) -> tuple[float, np.ndarray]:
            components, gradient, image = evaluate(x)
            values = {key: float(value) for key, value in components.items()}
            pixels = np.asarray(image)
            step = watch.evaluations + 1
            watch.record(step, values, image=pixels)
            if not watch.after_steps(step, None, pixels) or step >= steps:
                stopped.append(step)
                raise _StopEarly
            if step >= until:
                raise _StopEarly
            return values["total"], gradient.numpy().astype(np.float64).ravel()

        # scipy's L-BFGS-B update is tiny; BLAS threads left spinning after it steal cores from
        # TensorFlow's convolutions (measured: ~20 % per evaluation on 2 cores).
        with threadpool_limits(limits=1, user_api="blas"):
            try:
                minimize(
                    value_and_gradient,
                    x0,
                    jac=True,
                    method="L-BFGS-B",
                    bounds=bounds,
                    options={"maxfun": steps, "maxiter": steps, "maxcor": SCIPY_LBFGS_MEMORY, "ftol": 0.0, "gtol": 0.0},
                )
            except _StopEarly:
                pass
        return not stopped and watch.evaluations < steps
