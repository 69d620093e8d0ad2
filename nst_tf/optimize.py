"""The optimisation loop on the pixels (lesson 04).

The generated image is the only trainable variable; the network is frozen. Each step
runs the image through VGG, compares its activations with targets computed once from
the content and style images, and moves the pixels down the gradient of

    content_weight * content_loss + style_weight * style_loss + tv_weight * tv_loss.

Optimisers: L-BFGS (few evaluations to a good image, the default: :class:`nst_tf.lbfgs.LBFGS`,
which keeps its history and line search in TensorFlow variables and runs many evaluations per
call, handing back only the costs), ``"lbfgs-scipy"`` (``scipy.optimize.minimize(method="L-BFGS-B")``
driven by a compiled value-and-gradient function, with the image copied to the host at every
evaluation; kept for comparison) and Adam (Keras; every step compiled and kept on the device).

L-BFGS spends, by default, the first half of its evaluations on a *preconditioned* image:
instead of the pixels it moves a variable ``z`` with ``image = clip(start + P z, 0, 1)``,
where ``P`` scales each 2-D cosine (DCT) frequency ``f`` of ``z`` by ``1 / f ** precondition``.
Coarse changes then cost the optimiser as little as fine ones, so the large shapes of the
style arrive in far fewer evaluations; the remaining evaluations refine the pixels directly
(bounded to [0, 1]). ``precondition=0`` works on the pixels from the start. Measurements
in benchmarks/README.md.

>>> image, history = stylize("content/chelsea", "style/swirls", size=128, steps=50)  # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence, Union

import numpy as np
import tensorflow as tf

from . import losses as L
from .features import FeatureExtractor, feature_extractor
from .gram import StyleStatistic
from .gram import style_statistic as lookup_statistic
from .progress import History, LivePreview, PendingLosses, ProgressBar

__all__ = [
    "DEFAULT_CONTENT_LAYERS",
    "DEFAULT_STYLE_LAYERS",
    "DEFAULT_WEIGHTS",
    "DEFAULT_STEPS",
    "DEFAULT_PRECONDITION",
    "PRECONDITIONED_FRACTION",
    "NonFiniteLossError",
    "StyleTransfer",
    "StyleTransferResult",
    "stylize",
    "prepare_image",
    "frequency_scale",
    "precondition_update",
]

from .defaults import DEFAULT_CONTENT_LAYERS
from .defaults import DEFAULT_STYLE_LAYERS
from .defaults import DEFAULT_WEIGHTS
from .defaults import OPTIMIZERS
from .defaults import LBFGS_MEMORY
from .defaults import LBFGS_CHUNK_SECONDS
from .defaults import DEFAULT_STEPS
from .defaults import DEFAULT_PRECONDITION
from .defaults import PRECONDITIONED_FRACTION
from .defaults import INITS


class NonFiniteLossError(FloatingPointError):
    """The cost became NaN or infinite."""


def frequency_scale(height: int, width: int, decay: float) -> np.ndarray:
    """``(height, width)`` factors ``1 / f ** decay`` for the 2-D DCT-II frequencies ``f``.

    ``f = sqrt((k / 2H)^2 + (l / 2W)^2)`` cycles per pixel for coefficient ``(k, l)``; the
    constant term uses the lowest non-zero frequency ``1 / (2 max(H, W))`` instead of 0. The
    factors are divided by their root mean square so that a random ``z`` keeps its size.
    ``decay=0`` gives all ones (no preconditioning).
    """
    if decay < 0:
        raise ValueError("The preconditioner's decay must be 0 or more.")
    rows = np.arange(height)[:, None] / (2.0 * height)
    cols = np.arange(width)[None, :] / (2.0 * width)
    frequency = np.maximum(np.sqrt(rows**2 + cols**2), 1.0 / (2.0 * max(height, width)))
    scale = frequency ** (-float(decay))
    return (scale / np.sqrt(np.mean(scale**2))).astype(np.float32)


def _dct_2d(images: tf.Tensor, inverse: bool = False) -> tf.Tensor:
    """Orthonormal 2-D DCT-II (or its inverse) over the two last axes."""
    kind = 3 if inverse else 2
    rows_done = tf.signal.dct(images, type=kind, norm="ortho")  # along the last axis
    swapped = tf.signal.dct(tf.linalg.matrix_transpose(rows_done), type=kind, norm="ortho")
    return tf.linalg.matrix_transpose(swapped)


def precondition_update(z: tf.Tensor, scale: tf.Tensor) -> tf.Tensor:
    """``P z`` for a batch ``z`` of shape ``(B, H, W, C)``: each channel's DCT times ``scale`` ``(H, W)``, back.

    ``P`` is symmetric and positive definite (an orthonormal transform, a positive diagonal,
    the transform back), so L-BFGS on ``z`` is L-BFGS on the image with ``P^2`` as its
    starting guess of the inverse Hessian.
    """
    channels_first = tf.transpose(z, [0, 3, 1, 2])
    spectrum = _dct_2d(channels_first) * scale
    return tf.transpose(_dct_2d(spectrum, inverse=True), [0, 2, 3, 1])


def _as_image_array(image, name: str = "image", min_side: int | None = None) -> np.ndarray:
    """Checked float32 ``(H, W, 3)`` in [0, 1]: uint8 scaled, other ranges refused (:mod:`nst_tf.validate`)."""
    from .validate import image_array

    return image_array(image, name, min_side=min_side)


def prepare_image(source, max_size: int | None = None, name: str = "image") -> np.ndarray:
    """An image array (H, W, 3) in [0, 1] from an array, a file path, a URL or a sample name."""
    from . import images

    if isinstance(source, (str, os.PathLike)):
        from . import data

        return data.load(source, max_size=max_size)
    array = _as_image_array(source, name)  # at least images.MIN_SIZE, like a file
    return images.resize_image(array, max_size) if max_size else array


def _resize_to(image: np.ndarray, height: int, width: int) -> np.ndarray:
    from . import images

    return images.resize_image(image, size=(height, width))


def _scaled_style(style: np.ndarray, content_shape: tuple[int, int], style_scale: float) -> np.ndarray:
    """The style image with its long side ``style_scale`` times the content's long side."""
    from . import images

    target = max(int(round(max(content_shape) * style_scale)), images.MIN_SIZE)
    height, width = style.shape[:2]
    factor = target / max(height, width)
    return _resize_to(style, max(int(round(height * factor)), 1), max(int(round(width * factor)), 1))


@dataclass
class StyleTransferResult:
    """What a run returns: the image ``(H, W, 3)`` in [0, 1] and the :class:`History`."""

    image: np.ndarray
    history: History
    interrupted: bool = False
    evaluations: int = 0
    seconds: float = 0.0

    def __iter__(self):  # allows ``image, history = stylize(...)``
        return iter((self.image, self.history))


@dataclass
class _Targets:
    content: dict = field(default_factory=dict)
    style: dict = field(default_factory=dict)


class StyleTransfer(L.WeightedCosts):
    """Gatys-style transfer as an object a lesson can inspect and step through.

    Args:
        content_image: ``(H, W, 3)`` in [0, 1]; the output has its size.
        style_images: one ``(h, w, 3)`` image or a list of them (any sizes).
        style_blend: one weight per style image (normalised to sum to 1); default equal.
            The blended target is the weighted mean of the styles' statistics, which has the
            same minimiser as the weighted sum of the separate style costs.
        content_layers, style_layers: Keras layer names; ``style_layers`` may be a dict
            ``{layer: lambda_l}`` of relative per-layer weights.
        content_weight, style_weight, tv_weight: the weights of the three costs. They are
            ``tf.Variable`` s inside, so changing them (``st.style_weight = 1e-2``) never retraces.
        content_normalization, style_normalization: ``"mse"``, ``"course"`` or ``"gatys"``.
        style_statistic: ``"gram"``, ``"gram_centered"``, ``"mean_std"`` or a function.
        tv_kind: ``"l2"``, ``"l1"`` or ``"sum_abs"`` (see :func:`nst_tf.losses.tv_loss`).
        weights, net, pooling, normalize: which VGG (see :func:`nst_tf.features.feature_extractor`);
            ``normalize`` (default) gives every channel a mean activation of 1, so the loss
            weights mean the same on every backbone.
        init: ``"content"``, ``"noise"``, ``"style"`` or an image array of the content's size.
        seed: for the noise initialisation.
        jit_compile: compile the step with XLA (pays on some GPUs; not on CPU).
        extractor: a ready :class:`FeatureExtractor` to reuse (skips ``weights``/``net``).
    """

    def __init__(
        self,
        content_image,
        style_images,
        *,
        style_blend: Sequence[float] | None = None,
        content_layers: Sequence[str] = DEFAULT_CONTENT_LAYERS,
        style_layers: Union[Sequence[str], Mapping[str, float]] = DEFAULT_STYLE_LAYERS,
        content_weight: float = DEFAULT_WEIGHTS["content_weight"],
        style_weight: float = DEFAULT_WEIGHTS["style_weight"],
        tv_weight: float = DEFAULT_WEIGHTS["tv_weight"],
        content_normalization: str = "mse",
        style_normalization: str = "mse",
        style_statistic: Union[str, StyleStatistic] = "gram",
        tv_kind: str = "l2",
        weights: str | os.PathLike | None = "auto",
        net: str = "vgg19",
        pooling: str = "max",
        normalize: bool = True,
        init: Union[str, np.ndarray] = "content",
        seed: int = 0,
        jit_compile: bool = False,
        extractor: FeatureExtractor | None = None,
    ):
        self.content_image = _as_image_array(content_image, "content_image", min_side=0)
        single = isinstance(style_images, (np.ndarray, tf.Tensor)) and len(style_images.shape) == 3
        styles = [style_images] if single else list(style_images)
        style_names = ["style_image"] if single else [f"style_images[{index}]" for index in range(len(styles))]
        self.style_images = [_as_image_array(style, name, min_side=0) for style, name in zip(styles, style_names)]
        if not self.style_images:
            raise ValueError("Give at least one style image.")
        self.style_blend = self._blend_weights(style_blend, len(self.style_images))
        for normalization in (content_normalization, style_normalization):
            if normalization not in L.NORMALIZATIONS:
                raise ValueError(f"Unknown normalization {normalization!r}; choose one of {', '.join(L.NORMALIZATIONS)}.")
        if tv_kind not in L.TV_KINDS:
            raise ValueError(f"Unknown TV kind {tv_kind!r}; choose one of {', '.join(L.TV_KINDS)}.")
        self.content_layers = [content_layers] if isinstance(content_layers, str) else list(content_layers)
        self.style_layer_weights = L.normalize_layer_weights(
            [style_layers] if isinstance(style_layers, str) else style_layers
        )
        self.content_normalization = content_normalization
        self.style_normalization = style_normalization
        self.statistic = lookup_statistic(style_statistic)
        self.tv_kind = tv_kind
        self.seed = int(seed)
        layers = list(dict.fromkeys(self.content_layers + list(self.style_layer_weights)))
        self.extractor = extractor or feature_extractor(
            layers, weights=weights, net=net, pooling=pooling, normalize=normalize
        )
        missing = [name for name in layers if name not in self.extractor.layers]
        if missing:
            raise ValueError(f"The given extractor does not compute {missing}.")
        from .validate import image_array  # sides the deepest layer can take, before TensorFlow sees them

        for name, picture in zip(["content_image", *style_names], [self.content_image, *self.style_images]):
            image_array(picture, name, min_side=getattr(self.extractor, "min_side", 0))
        self._init_weights(content_weight, style_weight, tv_weight)
        self.targets = self._compute_targets()
        self.image = tf.Variable(self._initial_image(init)[np.newaxis], dtype=tf.float32, name="generated_image")
        self._value_and_grad = tf.function(self._value_and_grad_eager, jit_compile=jit_compile)
        self._components = tf.function(self._components_eager, jit_compile=jit_compile)
        self._preconditioned = tf.function(self._preconditioned_eager, jit_compile=jit_compile)
        self._lbfgs_objective = tf.function(self._lbfgs_objective_eager, jit_compile=jit_compile)
        self._lbfgs_solver = None  # built on the first L-BFGS run (nst_tf.lbfgs.LBFGS)
        self._lbfgs_seconds = None  # seconds per evaluation in the last call (sizes the next calls)
        self.jit_compile = jit_compile

    # ----- weights -------------------------------------------------------------------
    @staticmethod
    def _blend_weights(style_blend, count: int) -> list[float]:
        blend = [1.0] * count if style_blend is None else [float(w) for w in style_blend]
        if len(blend) != count:
            raise ValueError(f"Got {len(blend)} style blend weights for {count} style images.")
        if any(w < 0 for w in blend) or sum(blend) <= 0:
            raise ValueError("Style blend weights must be non-negative and not all zero.")
        return [w / sum(blend) for w in blend]

    # ----- targets, computed once ---------------------------------------------------
    def _compute_targets(self) -> _Targets:
        targets = _Targets()
        content_features = self.extractor(self.content_image[np.newaxis])
        targets.content = {name: tf.constant(content_features[name]) for name in self.content_layers}
        blended: dict[str, tf.Tensor] = {}
        for weight, style in zip(self.style_blend, self.style_images):
            style_features = self.extractor(style[np.newaxis])
            for name in self.style_layer_weights:
                statistic = weight * self.statistic(style_features[name])
                blended[name] = blended[name] + statistic if name in blended else statistic
        targets.style = {name: tf.constant(value) for name, value in blended.items()}
        return targets

    def _initial_image(self, init) -> np.ndarray:
        height, width = self.content_image.shape[:2]
        if isinstance(init, str):
            if init == "content":
                return self.content_image.copy()
            if init == "noise":
                return np.random.default_rng(self.seed).uniform(0.0, 1.0, (height, width, 3)).astype(np.float32)
            if init == "style":
                return _resize_to(self.style_images[0], height, width)
            raise ValueError(f"Unknown init {init!r}; choose one of {', '.join(INITS)} or pass an image.")
        array = _as_image_array(init, "init", min_side=0)
        if array.shape[:2] != (height, width):
            array = _resize_to(array, height, width)
        return array

    # ----- the costs -------------------------------------------------------------------
    def _components_eager(self, image: tf.Tensor) -> dict[str, tf.Tensor]:
        features = self.extractor.model(image, training=False)
        content = tf.add_n(
            [
                L.content_loss(self.targets.content[name], features[name], self.content_normalization)
                for name in self.content_layers
            ]
        ) / float(len(self.content_layers))
        return self._weigh(content, self._style_cost(features), L.tv_loss(image, self.tv_kind))

    def _style_cost(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """The (unweighted) style cost of the generated image's features; subclasses may override."""
        return L.style_loss(
            self.targets.style, features, self.style_layer_weights, self.style_normalization, self.statistic
        )

    def _value_and_grad_eager(self, image: tf.Tensor):
        with tf.GradientTape() as tape:
            tape.watch(image)
            components = self._components_eager(image)
        return components, tape.gradient(components["total"], image)

    def _preconditioned_eager(self, z: tf.Tensor, start: tf.Tensor, scale: tf.Tensor):
        """Costs, their gradient w.r.t. ``z`` and the image ``clip(start + P z, 0, 1)``."""
        with tf.GradientTape() as tape:
            tape.watch(z)
            image = tf.clip_by_value(start + precondition_update(z, scale), 0.0, 1.0)
            components = self._components_eager(image)
        return components, tape.gradient(components["total"], z), image

    def _lbfgs_image_eager(self, x: tf.Tensor) -> tf.Tensor:
        """The image the default L-BFGS's variable stands for: ``clip(image + P x, 0, 1)`` or ``x`` itself."""
        return tf.cond(
            tf.equal(self._lbfgs_mode, 1),
            lambda: tf.clip_by_value(self.image + precondition_update(x, self._lbfgs_scale), 0.0, 1.0),
            lambda: tf.identity(x),
        )

    def _lbfgs_objective_eager(self, x: tf.Tensor):
        """Total cost, its gradient w.r.t. the L-BFGS variable, and the weighted costs (for the history)."""
        with tf.GradientTape() as tape:
            tape.watch(x)
            components = self._components_eager(self._lbfgs_image_eager(x))
        return components["total"], tape.gradient(components["total"], x), components

    def loss_components(self, image: tf.Tensor) -> dict[str, tf.Tensor]:
        """The weighted costs of a batch ``(1, H, W, 3)`` as tensors, differentiable (not compiled).

        Use it under your own ``tf.GradientTape``; :meth:`value_and_gradient` is the compiled version.
        """
        return self._components_eager(tf.convert_to_tensor(image, tf.float32))

    def losses(self, image=None) -> dict[str, float]:
        """The weighted costs of ``image`` (default: the current generated image) as floats."""
        image = self.image if image is None else tf.convert_to_tensor(_as_image_array(image)[np.newaxis])
        return {key: float(value) for key, value in self._components(tf.convert_to_tensor(image)).items()}

    def value_and_gradient(self, image=None):
        """``(weighted costs dict, gradient of the total w.r.t. the image)``, compiled."""
        image = self.image if image is None else tf.convert_to_tensor(image, tf.float32)
        return self._value_and_grad(tf.convert_to_tensor(image))

    @property
    def generated_image(self) -> np.ndarray:
        """The current image, ``(H, W, 3)`` in [0, 1]."""
        return self.image.numpy()[0]

    def reset(self, init="content") -> None:
        self.image.assign(self._initial_image(init)[np.newaxis])

    # ----- Adam -------------------------------------------------------------------------
    def make_adam_step(self, learning_rate: float = 0.02, beta_1: float = 0.99, epsilon: float = 0.1):
        """A fresh Adam optimiser and a compiled step function bound to it (one trace per call).

        The step returns the weighted costs as tensors and keeps the pixels in [0, 1].
        """
        import keras

        optimizer = keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1, epsilon=epsilon)
        optimizer.build([self.image])

        def step():
            components, gradient = self._value_and_grad_eager(self.image)
            optimizer.apply_gradients([(gradient, self.image)])
            self.image.assign(tf.clip_by_value(self.image, 0.0, 1.0))
            return components

        return tf.function(step, jit_compile=self.jit_compile)

    # ----- running -----------------------------------------------------------------------
    def run(
        self,
        steps: int = DEFAULT_STEPS,
        optimizer: str = "lbfgs",
        *,
        learning_rate: float = 0.02,
        precondition: float = DEFAULT_PRECONDITION,
        callback: Callable[[int, np.ndarray, dict], bool | None] | None = None,
        callback_every: int = 10,
        log_every: int = 10,
        progress: bool = True,
        preview: bool = False,
        preview_every: int = 10,
    ) -> StyleTransferResult:
        """Optimise for ``steps`` evaluations of the cost and return the result.

        ``learning_rate`` is Adam's; ``precondition`` is L-BFGS's frequency decay (see the
        module's docstring; 0 optimises the pixels directly).

        ``callback(step, image, losses)`` is called every ``callback_every`` steps with the
        image as an array; returning ``False`` stops early. On Ctrl-C (KeyboardInterrupt) the
        best image so far (L-BFGS; the current one with Adam) is returned with ``interrupted=True``. A NaN or infinite cost raises
        :class:`NonFiniteLossError`.
        """
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"Unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}.")
        if int(steps) < 1:
            raise ValueError("steps must be at least 1.")
        if not float(precondition) >= 0:
            raise ValueError(f"precondition must be 0 or more, not {precondition!r}.")
        live = LivePreview() if preview else None
        watch = _Watcher(self, int(steps), callback, callback_every, progress, live, preview_every)
        try:
            if optimizer == "adam":
                self._run_adam(int(steps), learning_rate, watch, max(1, int(log_every)))
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
            image=self.generated_image,
            history=watch.history,
            interrupted=watch.interrupted,
            evaluations=watch.evaluations,
            seconds=time.perf_counter() - watch.start,
        )

    def _run_adam(self, steps: int, learning_rate: float, watch: "_Watcher", log_every: int) -> None:
        step = self.make_adam_step(learning_rate)
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

    def _lbfgs_phases(self, steps: int, precondition: float) -> list[tuple[float, int]]:
        """``(decay, last evaluation)`` per phase: coarse structure first (preconditioned), then the pixels."""
        if precondition > 0:
            return [(precondition, max(1, math.ceil(PRECONDITIONED_FRACTION * steps))), (0.0, steps)]
        return [(0.0, steps)]

    def _device_lbfgs(self):
        """The in-graph L-BFGS over one variable, built once per transfer (one trace for all runs)."""
        if self._lbfgs_solver is None:
            from .lbfgs import LBFGS
            from .progress import LOSS_KEYS

            shape = tuple(self.image.shape)
            self._lbfgs_x = tf.Variable(tf.zeros(shape), trainable=False, name="lbfgs_variable")
            self._lbfgs_scale = tf.Variable(tf.ones(shape[1:3]), trainable=False, name="lbfgs_frequency_scale")
            self._lbfgs_mode = tf.Variable(0, trainable=False, name="lbfgs_preconditioned")
            # gtol = ftol = 0: run the evaluations asked for (as with scipy's path).
            self._lbfgs_solver = LBFGS(self._lbfgs_objective, self._lbfgs_x, memory=LBFGS_MEMORY, lower=0.0,
                                       upper=1.0, gtol=0.0, ftol=0.0, scalar_keys=LOSS_KEYS)
            self._lbfgs_image = tf.function(self._lbfgs_image_eager)
        return self._lbfgs_solver

    def _run_lbfgs(self, steps: int, watch: "_Watcher", precondition: float) -> None:
        """The default L-BFGS (nst_tf.lbfgs): each call into TensorFlow runs many evaluations.

        Only the costs come back per evaluation; the image is read when the callback or the
        preview asks for it, and once at the end (the best image evaluated, as with scipy).
        """
        solver = self._device_lbfgs()
        phases = self._lbfgs_phases(steps, precondition)
        self._lbfgs_kept = True  # nothing of this run to keep yet
        try:
            for index, (decay, until) in enumerate(phases):
                if index:  # the next phase starts from the best image so far
                    self._keep_lbfgs_best()
                height, width = self.image.shape[1:3]
                if decay > 0:  # move z: image = clip(start + P z, 0, 1), start = self.image
                    self._lbfgs_scale.assign(frequency_scale(height, width, decay))
                    self._lbfgs_mode.assign(1)
                    self._lbfgs_x.assign(tf.zeros_like(self._lbfgs_x))
                    solver.set_bounds(None, None)
                else:
                    self._lbfgs_mode.assign(0)
                    self._lbfgs_x.assign(self.image)
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
        solver = self._lbfgs_solver
        if not self._lbfgs_kept and np.isfinite(solver.best_value):
            self.image.assign(self._lbfgs_image(solver.best_x))
        self._lbfgs_kept = True

    def _lbfgs_trial_image(self) -> np.ndarray:
        """The image of the last evaluation, copied to the host (only for the callback and the preview)."""
        return self._lbfgs_image(self._lbfgs_solver.trial).numpy()

    def _record_lbfgs_rows(self, solver, watch: "_Watcher", seconds_before: float, rows=None) -> None:
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

    def _device_lbfgs_phase(self, solver, until: int, steps: int, watch: "_Watcher") -> bool:
        """Evaluations up to number ``until``, a chunk per call; False if told to stop (or stalled)."""
        watch.phase_start = watch.evaluations
        per_evaluation = self._lbfgs_seconds  # from earlier calls (None: the first call traces the graph)
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
            per_evaluation = self._lbfgs_seconds = (time.perf_counter() - started) / max(1, len(rows))
            if len(rows) and not watch.after_steps(watch.evaluations, image=self._lbfgs_trial_image):
                return False
            if solver.status != "running":  # converged (a zero gradient) or no step lowers the cost
                break
        return watch.evaluations < steps

    def _run_scipy_lbfgs(self, steps: int, watch: "_Watcher", precondition: float) -> None:
        if precondition > 0:
            # Coarse structure first (preconditioned), then the fine detail on the pixels.
            phases = [(precondition, max(1, math.ceil(PRECONDITIONED_FRACTION * steps))), (0.0, steps)]
        else:
            phases = [(0.0, steps)]
        for decay, until in phases:
            if watch.best_image is not None:  # the next phase starts from the best image so far
                self.image.assign(watch.best_image[np.newaxis])
            if not self._lbfgs_phase(decay, until, steps, watch):
                break

    def _lbfgs_phase(self, precondition: float, until: int, steps: int, watch: "_Watcher") -> bool:
        """scipy's L-BFGS-B from the current image up to evaluation ``until``; False if told to stop."""
        from scipy.optimize import Bounds, minimize
        from threadpoolctl import threadpool_limits

        shape = tuple(self.image.shape)
        if precondition > 0:
            # Move z, not the pixels: image = clip(start + P z, 0, 1). The clip keeps every
            # evaluated image (and so the result) in [0, 1]; its gradient is zero outside.
            start = tf.constant(self.image)
            scale = tf.constant(frequency_scale(shape[1], shape[2], precondition))

            def evaluate(x):
                return self._preconditioned(tf.constant(x.reshape(shape), tf.float32), start, scale)

            x0, bounds = np.zeros(int(np.prod(shape))), None
        else:

            def evaluate(x):  # the pixels are x itself: no copy back from the device
                return (*self._value_and_grad(tf.constant(x.reshape(shape), tf.float32)), x.reshape(shape))

            x0, bounds = self.image.numpy().astype(np.float64).ravel(), Bounds(0.0, 1.0)
        stopped = []

        def value_and_gradient(x: np.ndarray):
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
                    options={"maxfun": steps, "maxiter": steps, "maxcor": 20, "ftol": 0.0, "gtol": 0.0},
                )
            except _StopEarly:
                pass
        return not stopped and watch.evaluations < steps


class _StopEarly(Exception):
    pass


class _Watcher:
    """Bookkeeping shared by both optimisers: history, best image, progress, callbacks."""

    def __init__(self, transfer, steps, callback, callback_every, progress, live, preview_every):
        self.transfer = transfer
        self.steps = steps
        self.callback, self.callback_every = callback, max(1, int(callback_every))
        self.live, self.preview_every = live, max(1, int(preview_every))
        self.history = History()
        self.bar = ProgressBar(steps, enabled=progress)
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

    def record(self, step: int, values: Mapping[str, float], image, seconds: float | None = None) -> None:
        total = float(values["total"])
        if not np.isfinite(total):
            weights = self.transfer
            raise NonFiniteLossError(
                f"The cost became {total} at step {step}: the weights are probably too large "
                f"(content_weight={weights.content_weight:g}, style_weight={weights.style_weight:g}, "
                f"tv_weight={weights.tv_weight:g}) or the learning rate too high; try smaller values."
            )
        self.evaluations = step
        self.history.append(step, values, time.perf_counter() - self.start if seconds is None else seconds)
        if image is not None and total < self.best_total:
            self.best_total = total
            self.best_image = np.asarray(image, dtype=np.float32).reshape(self.transfer.image.shape)[0].copy()

    def after_steps(self, step: int, variable=None, image=None) -> bool:
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
        array = np.clip(np.asarray(image, dtype=np.float32).reshape(self.transfer.image.shape)[0], 0.0, 1.0)
        if preview:
            self.live.update(array, self.history)
        if self.callback is not None and step % self.callback_every == 0:
            return self.callback(step, array, self.history.last()) is not False
        return True

    def close(self) -> None:
        self.bar.close()


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
    **options,
) -> StyleTransferResult:
    """Stylize ``content_image`` with ``style_image`` (one or a list) and return ``(image, history)``.

    Images may be arrays ``(H, W, 3)`` in [0, 1], file paths, URLs or sample names such
    as ``"content/chelsea"``. ``size`` is the output's longest side (``None`` keeps the
    content's size); the style image is resized to ``style_scale`` times that.
    Other keyword arguments go to :class:`StyleTransfer` (``content_weight``,
    ``style_weight``, ``tv_weight``, ``style_layers``, ``content_layers``, ``init``,
    ``seed``, ``style_blend``, ``weights``, ``net``, ``normalize``, ...).

    >>> image, history = stylize("content/chelsea", "style/swirls", size=128, steps=50)  # doctest: +SKIP
    """
    from .memory import check_run, check_style_scale
    from .validate import min_size

    min_size(size)
    check_style_scale(style_scale)
    content = prepare_image(content_image, size, "content_image")
    styles_in = style_image if isinstance(style_image, (list, tuple)) else [style_image]
    raw_styles = [prepare_image(style, name="style_image") for style in styles_in]
    check_run(content.shape[:2], [style.shape[:2] for style in raw_styles], style_scale, optimizer, options)
    styles = [_scaled_style(style, content.shape[:2], style_scale) for style in raw_styles]
    transfer = StyleTransfer(content, styles, **options)
    return transfer.run(
        steps,
        optimizer,
        learning_rate=learning_rate,
        precondition=precondition,
        callback=callback,
        callback_every=callback_every,
        log_every=log_every,
        progress=progress,
        preview=preview,
    )
