"""L-BFGS that runs inside TensorFlow: many cost evaluations per call, no image on the host.

:class:`LBFGS` minimises any function ``f(x)`` of a ``tf.Variable`` ``x`` given as
``function(x) -> (value, gradient)`` or ``(value, gradient, scalars)``. Its whole state lives
in TensorFlow variables on the device that holds ``x``:

* the last ``memory`` correction pairs ``s = x_new - x_old``, ``y = g_new - g_old`` as the rows
  of one ``(2 * memory, x.size)`` matrix (a ring buffer), with their products ``s_i . y_j`` and
  ``y_i . y_j``; the direction ``d = -H g`` (``H`` the L-BFGS inverse-Hessian guess) comes
  from Byrd, Nocedal and Schnabel's compact form: two matrix-vector products over the pairs
  and ``memory x memory`` algebra, the same ``H`` as the two-loop recursion's;
* a line search on ``phi(t) = f(x + t d)`` that looks for the strong Wolfe conditions
  (sufficient decrease ``c1``, curvature ``c2``), bracketing then zooming with safeguarded
  cubic interpolation (Nocedal and Wright, *Numerical Optimization*, algorithms 3.5-3.6;
  after a far too high value, Moré and Thuente's cubic/quadratic choice), written as a state
  machine so that **one loop iteration is one evaluation** of ``f``;
* optional bounds ``lower <= x <= upper`` (a projected L-BFGS in the spirit of L-BFGS-B):
  variables on a bound, or within a small ``eps`` of it, with the gradient pushing towards
  it form the active set (Bertsekas' rule) and take a plain gradient step instead of the
  quasi-Newton one; the free variables take the quasi-Newton step of the L-BFGS matrix's
  free block, ``(Z^T B Z)^-1 g`` (L-BFGS-B's subspace step, by its compact form); the
  direction is the segment from ``x`` to that step projected onto the box, so every trial
  point is feasible (L-BFGS-B finds its active set with a generalised Cauchy point instead);
  the stopping test uses the projected gradient, as scipy's L-BFGS-B does.

:meth:`LBFGS.run` executes up to ``n`` evaluations in one compiled ``tf.while_loop`` and
hands back only scalars (the value and the extra scalars of each evaluation). The point of
the last evaluation (:attr:`LBFGS.trial`) and the best point seen (:attr:`LBFGS.best_x`)
stay variables on the device; read them only when needed.

Memory: ``(2 * memory + 5)`` tensors the size of ``x`` (``memory`` pairs, plus the current
point, its gradient, the direction, the trial point and the best point), on top of what
``function`` needs for one evaluation; between evaluations, for a moment, one more copy of
the pairs (``2 * memory`` tensors: the matrix written anew when a pair is stored), and in a
bounded step the pairs' columns of the free or the active variables, whichever are fewer (at
most half a copy; a whole masked copy under XLA).

Why one module of about 660 lines (the project keeps modules under ~450): it is one algorithm
whose parts share one loop state. The line search is a state machine inside the same
``tf.while_loop`` as the direction and the pair updates, and the bounded step reads the same
pairs; split into modules, those pieces would reach into the same two dozen state variables
(the pairs, the line search's bracket, the active set) from outside, and could no longer be read
next to each other. The two interpolation helpers at the end are
the only parts that stand alone.

>>> x = tf.Variable([3.0, -2.0], dtype=tf.float64)
>>> def f(v):
...     with tf.GradientTape() as tape:
...         tape.watch(v)
...         value = tf.reduce_sum((v - 1.0) ** 2)
...     return value, tape.gradient(value, v)
>>> result = LBFGS(f, x).minimize(50)
>>> result.status, [round(float(v), 6) for v in x.numpy()]
('converged', [1.0, 1.0])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf

__all__ = ["LBFGS", "LBFGSResult", "STATUS", "state_bytes"]

_RUNNING, _CONVERGED, _STALLED, _NONFINITE = 0, 1, 2, 3
#: What :attr:`LBFGS.status` means: still going, converged (``gtol``/``ftol``), no step lowers
#: the cost even along the steepest descent, or the cost at the starting point is NaN / infinite.
STATUS = {_RUNNING: "running", _CONVERGED: "converged", _STALLED: "stalled", _NONFINITE: "nonfinite"}


def state_bytes(size: int, memory: int = 10, dtype: tf.DType = tf.float32) -> int:
    """Bytes the solver keeps on the device for ``size`` variables: ``(2 * memory + 5) * size * itemsize``."""
    return (2 * int(memory) + 5) * int(size) * tf.as_dtype(dtype).size


@dataclass
class LBFGSResult:
    """What :meth:`LBFGS.minimize` returns; ``x`` is left at the last accepted point."""

    value: float
    best_value: float
    evaluations: int
    iterations: int
    status: str
    values: np.ndarray  # one row per evaluation: the value, then the extra scalars


class LBFGS:
    """Limited-memory BFGS with an in-graph strong-Wolfe line search and optional box bounds.

    Args:
        function: ``function(x) -> (value, gradient[, scalars])`` with ``x`` a tensor shaped
            like the variable; ``scalars`` is a dict of extra scalar tensors to record.
        x: the variable to optimise; it holds the current (accepted) point.
        memory: correction pairs kept (scipy's ``maxcor``).
        lower, upper: bounds (scalars or ``None``); :meth:`set_bounds` changes them later.
        gtol: stop when the largest projected-gradient component is at most this.
        ftol: stop when an iteration lowers ``f`` by at most ``ftol * max(|f|, |f_new|, 1)``
            (the defaults are scipy's L-BFGS-B ``gtol``/``ftol``; 0 turns a test off).
        c1, c2: the Wolfe constants (scipy's L-BFGS-B line search uses 1e-3 and 0.9).
        max_line_search: evaluations one line search may take before it gives up.
        scalar_keys: the keys of ``scalars`` to record, in order.
        capacity: the most evaluations one :meth:`run` call may ask for.
        jit_compile: compile the loop with XLA.
    """

    def __init__(
        self,
        function: Callable,
        x: tf.Variable,
        *,
        memory: int = 10,
        lower: float | None = None,
        upper: float | None = None,
        gtol: float = 1e-5,
        ftol: float = 2.220446049250313e-09,
        c1: float = 1e-3,
        c2: float = 0.9,
        max_line_search: int = 20,
        scalar_keys: Sequence[str] = (),
        capacity: int = 100,
        jit_compile: bool = False,
    ):
        if int(memory) < 1:
            raise ValueError("memory must be at least 1.")
        if not 0 < c1 < c2 < 1:
            raise ValueError("The Wolfe constants need 0 < c1 < c2 < 1.")
        self.function = function
        self.x = x
        self.memory = int(memory)
        self.scalar_keys = tuple(scalar_keys)
        self.capacity = int(capacity)
        self.max_line_search = int(max_line_search)
        dtype, shape = x.dtype, x.shape
        self.dtype = dtype
        self._c1, self._c2 = float(c1), float(c2)
        self._gtol, self._ftol = float(gtol), float(ftol)
        self._eps = float(np.finfo(dtype.as_numpy_dtype).eps)

        def variable(value: Any, name: str, dtype: tf.DType = dtype) -> tf.Variable:
            return tf.Variable(value, dtype=dtype, trainable=False, name=name)

        zeros = tf.zeros(shape, dtype)
        self.g = variable(zeros, "lbfgs_gradient")
        self.d = variable(zeros, "lbfgs_direction")
        self.trial = variable(zeros, "lbfgs_trial")
        self.best_x = variable(zeros, "lbfgs_best_x")
        size = int(np.prod(shape))
        # The pairs as the rows of one matrix: s_i in row i, y_i in row memory + i (a ring buffer).
        self._pairs = variable(tf.zeros((2 * self.memory, size), dtype), "lbfgs_pairs")
        # Their products s_i . y_j and y_i . y_j (m x m, float64), updated as each pair arrives.
        self._sy = variable(tf.zeros((self.memory, self.memory), tf.float64), "lbfgs_sy", tf.float64)
        self._yy = variable(tf.zeros((self.memory, self.memory), tf.float64), "lbfgs_yy", tf.float64)
        self._ss = variable(tf.zeros((self.memory, self.memory), tf.float64), "lbfgs_ss", tf.float64)
        self._lower = variable(-np.inf, "lbfgs_lower")
        self._upper = variable(np.inf, "lbfgs_upper")
        scalars = ("f", "best_f", "t", "dphi0", "t_lo", "f_lo", "dphi_lo", "t_hi", "f_hi", "dphi_hi", "gamma", "t_max")
        self._v = {name: variable(0.0, f"lbfgs_{name}") for name in scalars}
        counters = ("count", "head", "started", "zoom", "ls_evals", "force", "status", "evaluations",
                    "iterations", "done", "fallback")
        self._n = {name: variable(0, f"lbfgs_{name}", tf.int32) for name in counters}
        self._records = variable(tf.zeros((self.capacity, 1 + len(self.scalar_keys)), tf.float64), "lbfgs_records",
                                 tf.float64)
        #: Whether the graph projects onto bounds (fixed when built; :meth:`set_bounds` moves them).
        self.bounded = lower is not None or upper is not None
        self.set_bounds(lower, upper)
        self._jit_compile = bool(jit_compile)
        self._run = tf.function(self._run_graph, jit_compile=jit_compile, autograph=False)
        self._reset = tf.function(self._reset_graph, autograph=False)
        self._read_state = tf.function(self._state, autograph=False)
        self.reset()

    # ----- set-up -------------------------------------------------------------------------
    def set_bounds(self, lower: float | None = None, upper: float | None = None) -> None:
        """New bounds (``None``: none on that side) for a solver built with bounds; call :meth:`reset` after.

        A solver built without bounds has no projection in its graph: build it with
        ``lower=-inf`` (or any bound) to change bounds between runs.
        """
        lower = -np.inf if lower is None else float(lower)
        upper = np.inf if upper is None else float(upper)
        if not lower < upper:
            raise ValueError(f"lower ({lower}) must be below upper ({upper}).")
        if not self.bounded and (np.isfinite(lower) or np.isfinite(upper)):
            raise ValueError("This solver was built without bounds; give lower/upper when building it.")
        self._lower.assign(lower)
        self._upper.assign(upper)

    def reset(self) -> None:
        """Forget the history: the next evaluation is at ``x`` as it is now (a fresh start)."""
        self._take(self._reset())

    def _reset_graph(self) -> tuple[tf.Tensor, ...]:
        for name, value in (("count", 0), ("head", 0), ("started", 0), ("zoom", 0), ("ls_evals", 0), ("force", 0),
                            ("status", _RUNNING), ("evaluations", 0), ("iterations", 0), ("done", 0)):
            self._n[name].assign(value)
        self._v["best_f"].assign(np.inf)
        self._v["gamma"].assign(1.0)
        return self._state()

    def _state(self) -> tuple[tf.Tensor, ...]:
        """The scalars the host keeps a copy of, read together (one transfer)."""
        return (self._n["status"].read_value(), self._n["evaluations"].read_value(),
                self._n["iterations"].read_value(), self._n["done"].read_value(), self._v["f"].read_value(),
                self._v["best_f"].read_value())

    def _take(self, state: Sequence[Any]) -> None:
        status, evaluations, iterations, done, value, best = (v.numpy() for v in state)
        self._host: dict[str, Any] = {"status": int(status), "evaluations": int(evaluations), "iterations": int(iterations),
                      "done": int(done), "value": float(value), "best_value": float(best)}

    def refresh(self) -> None:
        """Re-read the scalars below from the device (needed only after an interrupted :meth:`run`)."""
        self._take(self._read_state())

    # ----- what the host may read (copies made at the end of each call) -----------------------------
    @property
    def status(self) -> str:
        return STATUS[self._host["status"]]

    @property
    def evaluations(self) -> int:
        """Evaluations since the last :meth:`reset`."""
        return self._host["evaluations"]

    @property
    def iterations(self) -> int:
        return self._host["iterations"]

    @property
    def value(self) -> float:
        """``f`` at the current (accepted) point ``x``."""
        return self._host["value"]

    @property
    def best_value(self) -> float:
        return self._host["best_value"]

    def last_values(self) -> np.ndarray:
        """The rows (value, scalars...) of the evaluations done by the last :meth:`run` call so far.

        Also right after a :meth:`run` call was interrupted (KeyboardInterrupt): the rows are
        kept on the device as they are made (call :meth:`refresh` first).
        """
        return self._records.numpy()[: self._host["done"]]

    def run(self, evaluations: int) -> np.ndarray:
        """Run up to ``evaluations`` evaluations (fewer if it converges or stalls) in one call.

        Returns one row per evaluation: the value, then the scalars named by ``scalar_keys``.
        """
        evaluations = int(evaluations)
        if not 1 <= evaluations <= self.capacity:
            raise ValueError(f"One run call takes 1 to {self.capacity} evaluations, not {evaluations}.")
        records, state = self._run(tf.constant(evaluations, tf.int32))
        self._take(state)
        return records.numpy()[: self._host["done"]]

    def minimize(self, max_evaluations: int) -> LBFGSResult:
        """Run until converged, stalled or ``max_evaluations`` evaluations in all; keeps going after :meth:`run`."""
        rows = []
        while self.evaluations < max_evaluations and self.status == "running":
            rows.append(self.run(min(self.capacity, max_evaluations - self.evaluations)))
        values = np.concatenate(rows) if rows else np.zeros((0, 1 + len(self.scalar_keys)))
        return LBFGSResult(self.value, self.best_value, self.evaluations, self.iterations, self.status, values)

    # ----- the graph -------------------------------------------------------------------------
    def _dot(self, a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
        return tf.reduce_sum(a * b)

    def _project(self, x: tf.Tensor) -> tf.Tensor:
        return tf.clip_by_value(x, self._lower, self._upper) if self.bounded else x

    def _free(self, x: tf.Tensor, g: tf.Tensor, steepest: tf.Tensor) -> tf.Tensor:
        """True where the quasi-Newton step applies, False for the (epsilon-)active set.

        Active: variables on a bound or within ``eps = min(0.01, |x - P(x - g)|)`` of it with
        the gradient pushing towards it (Bertsekas' projected Newton rule); they take a plain
        gradient step onto the bound instead, and leave the quasi-Newton step to the others
        (what L-BFGS-B's Cauchy point does by fixing the variables that reach a bound).
        ``steepest`` is ``P(x - g) - x``.
        """
        eps = tf.minimum(tf.constant(1e-2, self.dtype), tf.norm(tf.reshape(steepest, [-1])))
        # g > 0 pushes towards the lower bound, g < 0 towards the upper one
        room = tf.where(g > 0, x - self._lower, self._upper - x)
        return tf.logical_not((room <= eps) & tf.not_equal(g, 0.0))

    def _projected_gradient_max(self, x: tf.Tensor, g: tf.Tensor) -> tf.Tensor:
        if not self.bounded:
            return tf.reduce_max(tf.abs(g))
        pg = tf.where(x <= self._lower, tf.minimum(g, 0.0), tf.where(x >= self._upper, tf.maximum(g, 0.0), g))
        return tf.reduce_max(tf.abs(pg))

    def _inverse_hessian_times(self, q: tf.Tensor) -> tf.Tensor:
        """``H q`` in the compact form of Byrd, Nocedal and Schnabel (1994), equation (2.6).

        ``H = gamma I + [S, gamma Y] M [S, gamma Y]^T`` with the ``2k x 2k`` middle matrix
        ``M = [[R^-T (D + gamma Y^T Y) R^-1, -R^-T], [-R^-1, 0]]``, ``R`` the upper triangle of
        ``S^T Y`` (pairs in the order they came), ``D`` its diagonal. It is the same ``H`` as
        the two-loop recursion's, but costs two matrix-vector products over the stored pairs
        (``[S, Y]^T q``, then the combination of the pairs) and some ``m x m`` algebra (in
        float64) instead of ``2 m`` dependent dot products and updates, each a pass over the
        image in its own small loop step.
        """
        m, count, head = self.memory, self._n["count"], self._n["head"]
        gamma = tf.cast(self._v["gamma"], tf.float64)
        flat = tf.reshape(q, [-1])
        pairs = self._pairs.read_value()
        products = tf.cast(tf.linalg.matvec(pairs, flat), tf.float64)  # S^T q, then Y^T q
        positions = tf.range(m)
        order = tf.math.floormod(head + positions, m)  # the slots, oldest first; the newest `count` are in use
        used = tf.cast(positions >= m - count, tf.float64)
        both = used[:, None] * used[None, :]
        sy = tf.gather(tf.gather(self._sy.read_value(), order), order, axis=1) * both
        yy = tf.gather(tf.gather(self._yy.read_value(), order), order, axis=1) * both
        # R with the unused slots as identity rows (their products are zero, so they drop out).
        r = tf.linalg.band_part(sy, 0, -1) + tf.linalg.diag(1.0 - used)
        sq, yq = tf.gather(products[:m], order) * used, tf.gather(products[m:], order) * used
        u = tf.linalg.triangular_solve(r, sq[:, None], lower=False)  # R^-1 S^T q
        w = tf.linalg.diag_part(sy)[:, None] * u + gamma * (tf.matmul(yy, u) - yq[:, None])
        top = tf.linalg.triangular_solve(r, w, lower=False, adjoint=True)
        slot_of = tf.math.floormod(positions - head, m)  # back from chronological order to the slots
        weights = tf.concat([tf.gather(top[:, 0], slot_of), tf.gather(-gamma * u[:, 0], slot_of)], 0)
        combined = tf.linalg.matvec(pairs, tf.cast(weights, self.dtype), transpose_a=True)
        return tf.reshape(self._v["gamma"] * flat + combined, tf.shape(q))

    def _reduced_inverse_times(self, r: tf.Tensor, free: tf.Tensor) -> tf.Tensor:
        """``(Z^T B Z)^-1 r`` on the free variables (``r`` zero elsewhere; the result is too).

        ``B = theta I - W M W^T`` is the L-BFGS matrix (the inverse of :meth:`_inverse_hessian_times`'s
        ``H``) in the compact form of L-BFGS-B (Byrd, Lu, Nocedal and Zhu 1995, equations
        3.3-3.4: ``W = [Y, theta S]``, ``M^-1 = [[-D, L^T], [L, theta S^T S]]``, ``L`` the
        strictly lower triangle of ``S^T Y``, ``theta = 1 / gamma``), and ``Z^T B Z`` its block on
        the free variables: the curvature there, with the active variables held fixed. By the
        Sherman-Morrison-Woodbury formula its inverse is
        ``gamma I + gamma^2 F W (M^-1 - gamma W^T F W)^-1 W^T F`` (``F`` the free mask): the
        pairs' products over the free variables (:meth:`_masked_pair_products`), and the two products over the pairs that
        ``H q`` takes. Masking ``H`` instead (``F H F``) is not the same when variables are
        active, and steered the bounded phase worse than scipy's L-BFGS-B.
        """
        m, count, head = self.memory, self._n["count"], self._n["head"]
        gamma = tf.cast(self._v["gamma"], tf.float64)
        theta = 1.0 / gamma
        pairs = self._pairs.read_value()
        flat, mask = tf.reshape(r, [-1]), tf.reshape(tf.cast(free, self.dtype), [-1])
        products = tf.cast(tf.linalg.matvec(pairs, flat), tf.float64)  # S^T r, then Y^T r
        masked = self._masked_pair_products(pairs, tf.reshape(free, [-1]))  # [S; Y] F [S; Y]^T
        positions = tf.range(m)
        order = tf.math.floormod(head + positions, m)

        def chronological(a: tf.Tensor) -> tf.Tensor:
            return tf.gather(tf.gather(a, order), order, axis=1)

        used = tf.cast(positions >= m - count, tf.float64)
        used2 = tf.concat([used, used], 0)
        sy, ss = chronological(self._sy.read_value()), chronological(self._ss.read_value())
        fss, fsy, fyy = chronological(masked[:m, :m]), chronological(masked[:m, m:]), chronological(masked[m:, m:])
        diagonal = tf.linalg.diag_part(sy)
        lower = tf.linalg.band_part(sy, -1, 0) - tf.linalg.diag(diagonal)
        middle_inverse = tf.concat([tf.concat([-tf.linalg.diag(diagonal), tf.transpose(lower)], 1),
                                    tf.concat([lower, theta * ss], 1)], 0)
        wfw = tf.concat([tf.concat([fyy, theta * tf.transpose(fsy)], 1),
                         tf.concat([theta * fsy, theta * theta * fss], 1)], 0)
        # the unused slots as identity rows and columns: their part of the solution is zero
        system = (middle_inverse - gamma * wfw) * (used2[:, None] * used2[None, :]) + tf.linalg.diag(1.0 - used2)
        wr = tf.concat([tf.gather(products[m:], order), theta * tf.gather(products[:m], order)], 0) * used2
        v = tf.linalg.solve(system, wr[:, None])[:, 0]
        slot_of = tf.math.floormod(positions - head, m)  # W v = Y v_1 + theta S v_2, by slot
        weights = tf.concat([theta * tf.gather(v[m:], slot_of), tf.gather(v[:m], slot_of)], 0)
        wv = tf.linalg.matvec(pairs, tf.cast(weights, self.dtype), transpose_a=True)
        g = self._v["gamma"]
        return tf.reshape(g * flat + g * g * mask * wv, tf.shape(r))

    def _masked_pair_products(self, pairs: tf.Tensor, free: tf.Tensor) -> tf.Tensor:
        """``[S; Y] F [S; Y]^T`` (float64, slot order) from the smaller of the free and the active set.

        The products of all pairs, ``[[S S^T, S Y^T], [Y S^T, Y Y^T]]``, are kept up to date as
        pairs arrive (``_ss``, ``_sy``, ``_yy``), so with few active variables the free block is
        that minus the active columns' products; with few free ones, the free columns' products.
        Either way one pass over the smaller set instead of a masked copy of all the pairs and a
        product over every variable (at 256 px on CPU that was most of the bounded phase's own
        time per evaluation). Under XLA (no data-dependent shapes) the masked product is used.
        """
        if self._jit_compile:
            mask = tf.cast(free, self.dtype)
            return tf.cast(tf.matmul(pairs * mask, pairs, transpose_b=True), tf.float64)
        sy = self._sy.read_value()
        everything = tf.concat([tf.concat([self._ss.read_value(), sy], 1),
                                tf.concat([tf.transpose(sy), self._yy.read_value()], 1)], 0)
        size = tf.size(free)
        active_count = size - tf.reduce_sum(tf.cast(free, tf.int32))

        def columns(where: tf.Tensor) -> tf.Tensor:
            chosen = tf.gather(pairs, tf.where(where)[:, 0], axis=1)
            return tf.cast(tf.matmul(chosen, chosen, transpose_b=True), tf.float64)

        return tf.cond(2 * active_count <= size, lambda: everything - columns(tf.logical_not(free)),
                       lambda: columns(free))

    def _new_direction(self) -> None:
        """Direction, first step and line-search start at the current point (history already updated)."""
        x, g = self.x.read_value(), self.g.read_value()
        if self.bounded:
            steepest = self._project(x - g) - x  # downhill unless x is stationary
            free = self._free(x, g, steepest)
            q = tf.where(free, g, tf.zeros([], self.dtype))
            # With no active variable the reduced matrix is B itself: H q is the cheaper way.
            step = tf.cond(tf.reduce_all(free), lambda: self._inverse_hessian_times(q),
                           lambda: self._reduced_inverse_times(q, free))
            d = tf.where(free, -step, -self._v["gamma"] * g)
            # As L-BFGS-B: search along the segment from x to the full step projected onto the
            # box (feasible for 0 <= t <= 1; longer steps only while no bound is reached).
            d = self._project(x + d) - x
        else:
            steepest = -g
            d = -self._inverse_hessian_times(g)
        dphi0 = self._dot(g, d)
        # Not a descent direction (a poor curvature history, or the projection bent it): forget
        # the history and go downhill.
        bad = tf.logical_not(dphi0 < 0)
        d, dphi0 = tf.cond(bad, lambda: (steepest, self._dot(g, steepest)), lambda: (d, dphi0))
        self._n["fallback"].assign(tf.cast(bad, tf.int32))
        self._n["count"].assign(tf.where(bad, 0, self._n["count"]))
        self._v["gamma"].assign(tf.where(bad, tf.ones([], self.dtype), self._v["gamma"]))
        first = tf.equal(self._n["count"], 0)
        norm = tf.norm(tf.reshape(d, [-1]))
        # scipy's L-BFGS-B rule: the first step (no history) moves x by a unit length, except with
        # finite bounds on both sides, where it tries x - g (its Cauchy point with no history);
        # later steps try the full quasi-Newton step.
        boxed = tf.math.is_finite(self._lower) & tf.math.is_finite(self._upper)
        unit = 1.0 / tf.maximum(norm, tf.constant(1e-30, self.dtype))
        t = tf.where(first & tf.logical_not(boxed), unit, tf.ones([], self.dtype))
        big = tf.constant(1e20, self.dtype)
        if self.bounded:  # the longest step that stays inside the box
            room = tf.math.divide_no_nan(tf.where(d > 0, self._upper, self._lower) - x, d)
            t_max = tf.minimum(tf.reduce_min(tf.where(tf.equal(d, 0.0), big, room)), big)
        else:
            t_max = big
        t = tf.minimum(t, t_max)
        self._v["t_max"].assign(t_max)
        self.d.assign(d)
        self._v["t"].assign(t)
        self._v["dphi0"].assign(dphi0)
        self._v["t_lo"].assign(0.0)
        self._v["f_lo"].assign(self._v["f"])
        self._v["dphi_lo"].assign(dphi0)
        self._n["zoom"].assign(0)
        self._n["ls_evals"].assign(0)
        self._n["force"].assign(0)
        # Nothing left to do: the (projected) gradient vanishes.
        self._n["status"].assign(tf.where(tf.equal(norm, 0.0), _CONVERGED, self._n["status"]))

    def _accept(self, f: tf.Tensor, g: tf.Tensor) -> tf.Tensor:
        """The trial point becomes the current point and the history is updated; True: a new direction is needed."""
        x_old, g_old, f_old = self.x.read_value(), self.g.read_value(), self._v["f"].read_value()
        x_new = self.trial.read_value()
        s, y = x_new - x_old, g - g_old
        pair = tf.stack([tf.reshape(s, [-1]), tf.reshape(y, [-1])])
        gram = tf.matmul(pair, pair, transpose_b=True)  # one pass for s.y and y.y
        sy, yy = gram[0, 1], gram[1, 1]
        keep = sy > self._eps * yy

        def store() -> tf.Tensor:
            head, m = self._n["head"], self.memory
            # The whole matrix written anew (one pass), not scatter_update or a sliced assignment:
            # those turn the variable copy-on-read, and then each of the three reads of the pairs
            # per iteration copies them all (measured: 11 ms an evaluation at 256 px on CPU).
            pairs = self._pairs.read_value()
            pairs = tf.concat([pairs[:head], pair[:1], pairs[head + 1:head + m], pair[1:], pairs[head + m + 1:]], 0)
            self._pairs.assign(pairs)
            # The new row and column of S^T Y and Y^T Y: one product of all pairs with (s, y)
            # (as (s, y) times the pairs' transpose: 3 times faster on CPU than the other way round).
            products = tf.transpose(tf.cast(tf.matmul(pair, pairs, transpose_b=True), tf.float64))
            rows, cols = tf.range(m)[:, None], tf.range(m)[None, :]
            new_sy = tf.where(rows == head, products[m:, 0][None, :], self._sy)  # s_new . y_j
            self._sy.assign(tf.where(cols == head, products[:m, 1][:, None], new_sy))  # s_i . y_new
            new_yy = tf.where(rows == head, products[m:, 1][None, :], self._yy)
            self._yy.assign(tf.where(cols == head, products[m:, 1][:, None], new_yy))
            new_ss = tf.where(rows == head, products[:m, 0][None, :], self._ss)
            self._ss.assign(tf.where(cols == head, products[:m, 0][:, None], new_ss))
            self._n["head"].assign(tf.math.floormod(head + 1, self.memory))
            self._n["count"].assign(tf.minimum(self._n["count"] + 1, self.memory))
            self._v["gamma"].assign(sy / yy)
            return tf.constant(True)

        tf.cond(keep, store, lambda: tf.constant(False))
        self.x.assign(x_new)
        self.g.assign(g)
        self._v["f"].assign(f)
        self._n["iterations"].assign_add(1)
        converged = tf.constant(False)
        if self._gtol > 0:
            converged = self._projected_gradient_max(x_new, g) <= self._gtol
        if self._ftol > 0:  # (not after a fall-back to steepest descent, whose steps may be short)
            scale = tf.maximum(tf.maximum(tf.abs(f_old), tf.abs(f)), tf.ones([], self.dtype))
            converged = converged | (((f_old - f) <= self._ftol * scale) & tf.equal(self._n["fallback"], 0))
        self._n["status"].assign(tf.where(converged, _CONVERGED, self._n["status"]))
        return tf.logical_not(converged)

    def _start(self, f: tf.Tensor, g: tf.Tensor) -> tf.Tensor:
        """The first evaluation: the starting point becomes the current point; True: a direction is needed."""
        self.x.assign(self.trial)  # the starting point, projected onto the bounds
        self.g.assign(g)
        self._v["f"].assign(f)
        self._n["started"].assign(1)
        self._n["status"].assign(tf.where(tf.math.is_finite(f), self._n["status"], _NONFINITE))

        def go() -> tf.Tensor:
            if self._gtol > 0:
                converged = self._projected_gradient_max(self.x.read_value(), g) <= self._gtol
                self._n["status"].assign(tf.where(converged, _CONVERGED, self._n["status"]))
            return tf.constant(True)

        return tf.cond(tf.math.is_finite(f), go, lambda: tf.constant(False))

    def _restart_or_stall(self) -> tf.Tensor:
        """The line search failed: drop the history (True: go downhill), or stop if that was already so."""
        stalled = tf.equal(self._n["count"], 0)
        self._n["status"].assign(tf.where(stalled, _STALLED, self._n["status"]))

        def restart() -> tf.Tensor:
            self._n["count"].assign(0)
            self._v["gamma"].assign(1.0)
            return tf.constant(True)

        return tf.cond(stalled, lambda: tf.constant(False), restart)

    def _line_search(self, f: tf.Tensor, g: tf.Tensor) -> tf.Tensor:
        """One evaluation ``(f, g)`` at ``trial = x + t d``: accept it or choose the next ``t``.

        True when the point was accepted or the search restarts: a new direction is needed.
        """
        v = {name: var.read_value() for name, var in self._v.items()}
        t, f0, dphi0 = v["t"], v["f"], v["dphi0"]
        d = self.d.read_value()
        dphi = self._dot(g, d)  # trial points stay on the segment x + t d inside the box
        decrease = t * dphi0
        finite = tf.math.is_finite(f) & tf.math.is_finite(dphi)
        zoom = tf.equal(self._n["zoom"], 1)
        armijo = finite & (f <= f0 + self._c1 * decrease)
        high = tf.logical_not(armijo) | (f >= v["f_lo"])
        accept = tf.logical_not(high) & (tf.abs(dphi) <= -self._c2 * dphi0)
        # Past the minimum along the line: the bracket is [t, old lo].
        width = tf.where(zoom, v["t_hi"] - v["t_lo"], tf.ones([], self.dtype))
        flip = tf.logical_not(high) & tf.logical_not(accept) & (dphi * width >= 0)
        # Still going down at the longest step the box allows: take it (as Moré-Thuente's stpmax).
        accept = accept | (tf.logical_not(high) & tf.logical_not(flip) & tf.logical_not(zoom) & (t >= v["t_max"]))
        lower_point = tf.logical_not(high) & tf.logical_not(accept)
        t_hi = tf.where(high, t, tf.where(flip, v["t_lo"], v["t_hi"]))
        f_hi = tf.where(high, f, tf.where(flip, v["f_lo"], v["f_hi"]))
        dphi_hi = tf.where(high, dphi, tf.where(flip, v["dphi_lo"], v["dphi_hi"]))
        t_lo = tf.where(lower_point, t, v["t_lo"])
        f_lo = tf.where(lower_point, f, v["f_lo"])
        dphi_lo = tf.where(lower_point, dphi, v["dphi_lo"])
        now_zoom = zoom | high | flip
        # Next trial: extrapolate while the slope is still downhill, else interpolate inside the bracket.
        extrapolated = t + 4.0 * (t - v["t_lo"])
        interpolated = _cubic_step(t_lo, f_lo, dphi_lo, t_hi, f_hi, dphi_hi, finite | tf.logical_not(high))
        # Too high a value: step back towards lo as far as the interpolants say (no 10 % floor).
        backtracked = _backtrack_step(t_lo, f_lo, dphi_lo, t_hi, f_hi, dphi_hi, finite)
        interpolated = tf.where(high, backtracked, interpolated)
        t_next = tf.where(now_zoom, interpolated, tf.minimum(extrapolated, v["t_max"]))
        ls_evals = self._n["ls_evals"] + 1
        tiny = now_zoom & (tf.abs(t_hi - t_lo) <= 1e-12 * tf.maximum(tf.abs(t_lo), tf.abs(t_hi)))
        forced = tf.equal(self._n["force"], 1)
        failed = tf.logical_not(accept) & ((ls_evals >= self.max_line_search) | tiny | forced)
        # Giving up: take this point if it is lower than the start, else re-evaluate the best
        # point found along the line and take that; with no such point, restart (or stall).
        take_this = failed & finite & (f < f0)
        go_back = failed & tf.logical_not(take_this) & (t_lo > 0) & (f_lo < f0) & tf.logical_not(forced)
        self._v["t"].assign(tf.where(go_back, t_lo, t_next))
        for name, value in (("t_lo", t_lo), ("f_lo", f_lo), ("dphi_lo", dphi_lo), ("t_hi", t_hi), ("f_hi", f_hi),
                            ("dphi_hi", dphi_hi)):
            self._v[name].assign(value)
        self._n["zoom"].assign(tf.cast(now_zoom, tf.int32))
        self._n["ls_evals"].assign(ls_evals)
        self._n["force"].assign(tf.cast(go_back, tf.int32))
        restart = failed & tf.logical_not(take_this) & tf.logical_not(go_back)
        branch = tf.where(accept | take_this, 0, tf.where(restart, 1, 2))

        return tf.switch_case(branch, [lambda: self._accept(f, g), self._restart_or_stall, lambda: tf.constant(False)])

    def _run_graph(self, n: tf.Tensor) -> tuple[tf.Tensor, tuple[tf.Tensor, ...]]:
        self._n["done"].assign(0)

        def body(i: tf.Tensor) -> tuple[tf.Tensor]:
            started = tf.equal(self._n["started"], 1)
            x = self.x.read_value()
            trial = self._project(tf.cond(started, lambda: x + self._v["t"] * self.d, lambda: x))
            self.trial.assign(trial)
            out = self.function(self.trial.read_value())
            f, g = out[0], tf.convert_to_tensor(out[1], self.dtype)
            scalars = out[2] if len(out) > 2 else {}
            f = tf.cast(tf.reshape(f, []), self.dtype)
            row = [tf.cast(f, tf.float64)] + [tf.cast(tf.reshape(scalars[k], []), tf.float64) for k in self.scalar_keys]
            self._records.scatter_update(tf.IndexedSlices(tf.stack(row)[tf.newaxis], i[tf.newaxis]))
            self._n["evaluations"].assign_add(1)
            self._n["done"].assign(i + 1)
            better = f < self._v["best_f"]

            def keep_best() -> tf.Tensor:
                self.best_x.assign(self.trial)
                self._v["best_f"].assign(f)
                return tf.constant(True)

            tf.cond(better, keep_best, lambda: tf.constant(False))

            renew = tf.cond(started, lambda: self._line_search(f, g), lambda: self._start(f, g))

            def direction() -> tf.Tensor:
                self._new_direction()
                return tf.constant(True)

            # The direction is built once here, not in each of the three branches that need one
            # (start, accept, restart): the same steps, a third of the graph to trace and optimise.
            tf.cond(renew, direction, lambda: tf.constant(False))
            return (i + 1,)

        def cond(i: tf.Tensor) -> tf.Tensor:
            return (i < n) & tf.equal(self._n["status"], _RUNNING)

        tf.while_loop(cond, body, (tf.constant(0),))
        return self._records.read_value(), self._state()


def _cubic_step(t_lo: tf.Tensor, f_lo: tf.Tensor, d_lo: tf.Tensor, t_hi: tf.Tensor, f_hi: tf.Tensor, d_hi: tf.Tensor,
                usable: tf.Tensor) -> tf.Tensor:
    """The minimiser of the cubic through both ends, kept 10 % inside the bracket (else its middle)."""
    d1 = d_lo + d_hi - 3.0 * (f_lo - f_hi) / (t_lo - t_hi)
    radicand = d1 * d1 - d_lo * d_hi
    d2 = tf.sign(t_hi - t_lo) * tf.sqrt(tf.maximum(radicand, 0.0))
    t = t_hi - (t_hi - t_lo) * (d_hi + d2 - d1) / (d_hi - d_lo + 2.0 * d2)
    low, high = tf.minimum(t_lo, t_hi), tf.maximum(t_lo, t_hi)
    margin = 0.1 * (high - low)
    ok = usable & tf.math.is_finite(t) & (radicand >= 0)
    middle = 0.5 * (t_lo + t_hi)
    inside = tf.clip_by_value(tf.where(tf.math.is_finite(t), t, middle), low + margin, high - margin)
    return tf.where(ok, inside, middle)


def _backtrack_step(t_lo: tf.Tensor, f_lo: tf.Tensor, d_lo: tf.Tensor, t_hi: tf.Tensor, f_hi: tf.Tensor,
                    d_hi: tf.Tensor, usable: tf.Tensor) -> tf.Tensor:
    """After a too high value at ``t_hi``: Moré and Thuente's choice between the cubic's and the
    quadratic's minimiser (the quadratic through ``f_lo``, ``d_lo`` and ``f_hi``), at most two
    thirds of the way from ``t_lo``; the bracket's middle if the values are not usable."""
    width = t_hi - t_lo
    d1 = d_lo + d_hi - 3.0 * (f_lo - f_hi) / (t_lo - t_hi)
    radicand = d1 * d1 - d_lo * d_hi
    d2 = tf.sign(width) * tf.sqrt(tf.maximum(radicand, 0.0))
    cubic = t_hi - width * (d_hi + d2 - d1) / (d_hi - d_lo + 2.0 * d2)
    quadratic = t_lo + 0.5 * width * d_lo / ((f_lo - f_hi) / width + d_lo)
    cubic = tf.where(tf.math.is_finite(cubic) & (radicand >= 0), cubic, quadratic)
    t = tf.where(tf.abs(cubic - t_lo) < tf.abs(quadratic - t_lo), cubic, cubic + 0.5 * (quadratic - cubic))
    low, high = tf.minimum(t_lo, t_lo + 0.66 * width), tf.maximum(t_lo, t_lo + 0.66 * width)
    floor = 1e-3 * tf.abs(width)  # never the same point again
    t = tf.clip_by_value(t, low + tf.where(width > 0, floor, 0.0), high - tf.where(width < 0, floor, 0.0))
    ok = usable & tf.math.is_finite(t)
    return tf.where(ok, t, t_lo + 0.5 * width)
