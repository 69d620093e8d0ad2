"""Gatys-style transfer as one object (lesson 04): it holds an objective, a generated image and the solvers.

The generated image is the only trainable variable; the network is frozen. Each step
runs the image through VGG, compares its activations with targets computed once from
the content and style images, and moves the pixels down the gradient of

    content_weight * content_loss + style_weight * style_loss + tv_weight * tv_loss.

The pieces live apart: the cost (targets and weighted costs) in :mod:`nst_tf.losses.objective`, the
solvers (L-BFGS in TensorFlow with its DCT preconditioner, scipy's L-BFGS-B, Adam) in
:mod:`nst_tf.optim.solvers`; :class:`StyleTransfer` holds one of each with the image they share.
The one ``stylize``, with every control, is :func:`nst_tf.transfer.controls.stylize` (``nst_tf.stylize``).

>>> transfer = StyleTransfer(content_image, style_image)   # doctest: +SKIP
>>> result = transfer.run(steps=50)                        # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import Any, Callable, Mapping, Sequence, Union

import numpy as np
import tensorflow as tf

from ..vgg.extractor import FeatureExtractor
from ..losses.gram import StyleStatistic
from ..image.arrays import resize_image
from ..image.types import Image, ImageSource
from ..losses.objective import Objective
from ..optim.solvers import ImageSolver, StyleTransferResult
from ..defaults import DEFAULT_CONTENT_LAYERS, DEFAULT_PRECONDITION, DEFAULT_STEPS, DEFAULT_STYLE_LAYERS, DEFAULT_WEIGHTS, INITS


__all__ = ["StyleTransfer", "MaskedStyleTransfer"]

class StyleTransfer:
    """Gatys-style transfer as an object a lesson can inspect and step through.

    It *holds* an objective (``transfer.objective``: a cost object that returns its weighted costs and
    ``"total"``), the generated image and an :class:`~nst_tf.optim.solvers.ImageSolver` that moves it
    (``transfer.solver``). From the arguments below it builds an :class:`~nst_tf.losses.objective.Objective`;
    or give a ready one, ``StyleTransfer(objective=content + 30 * style + 200 * tv)`` (terms of
    :mod:`nst_tf.losses.compose`), and the cost arguments are not used. The objective's attributes
    (``targets``, ``extractor``, ``layer_masks``, the weights ...) read through the transfer, and setting
    a weight (``transfer.style_weight = 1e-2``) sets the objective's.

    Args:
        content_image: ``(H, W, 3)`` in [0, 1]; the output has its size. With ``objective`` it may be left
            out: then the objective's content image (of its content term) is used.
        style_images: one ``(h, w, 3)`` image or a list of them (any sizes); not with ``objective``.
        objective: a ready cost object (see above) instead of the cost arguments.
        style_blend: one weight per style image (normalised to sum to 1); default equal.
            The blended target is the weighted mean of the styles' statistics, which has the
            same minimiser as the weighted sum of the separate style costs.
        style_masks: one mask per style image (path or ``(H, W)`` array in [0, 1]); each style
            is matched only inside its region (lesson 05; see :class:`MaskedStyleTransfer`).
        content_layers, style_layers: Keras layer names; ``style_layers`` may be a dict
            ``{layer: lambda_l}`` of relative per-layer weights.
        content_weight, style_weight, tv_weight: the weights of the three costs. They are
            ``tf.Variable`` s inside, so changing them (``st.style_weight = 1e-2``) never retraces.
        content_normalization, style_normalization: ``"mse"``, ``"course"`` or ``"gatys"``.
        style_statistic: ``"gram"``, ``"gram_centered"``, ``"mean_std"`` or a function.
        tv_kind: ``"l2"``, ``"l1"`` or ``"sum_abs"`` (see :func:`nst_tf.losses.tv_loss`).
        weights, net, pooling, normalize: which VGG (see :func:`nst_tf.vgg.extractor.feature_extractor`);
            ``normalize`` (default) gives every channel a mean activation of 1, so the loss
            weights mean the same on every backbone.
        init: ``"content"``, ``"noise"``, ``"style"`` or an image array of the content's size.
        seed: for the noise initialisation.
        jit_compile: compile the step with XLA (pays on some GPUs; not on CPU).
        extractor: a ready :class:`FeatureExtractor` to reuse (skips ``weights``/``net``).
        bounded_memory: the bounded-memory path (:mod:`nst_tf.losses.highres`); :func:`stylize` chooses it. With a
            ready ``objective`` (a sum of content, style and TV terms sharing one extractor) the transfer minimises
            :class:`~nst_tf.losses.highres.BoundedCost` ``(objective)``; a sum it cannot compute raises ValueError.
    """

    def __init__(
        self,
        content_image: ImageSource | None = None,
        style_images: ImageSource | Sequence[ImageSource] | None = None,
        *,
        objective: Callable[[tf.Tensor], Mapping[str, tf.Tensor]] | None = None,
        style_blend: Sequence[float] | None = None,
        style_masks: Sequence | None = None,
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
        bounded_memory: bool = False,
    ) -> None:
        from ..image.validate import image_array

        if objective is None:
            if content_image is None or style_images is None:
                raise TypeError("StyleTransfer needs a content_image and style_images, or a ready objective=.")
            objective = Objective(
                content_image, style_images, style_blend=style_blend, style_masks=style_masks,
                content_layers=content_layers, style_layers=style_layers, content_weight=content_weight,
                style_weight=style_weight, tv_weight=tv_weight, content_normalization=content_normalization,
                style_normalization=style_normalization, style_statistic=style_statistic, tv_kind=tv_kind,
                extractor=extractor,
                extractor_options=dict(weights=weights, net=net, pooling=pooling, normalize=normalize),
                bounded_memory=bounded_memory,
            )
        else:
            if not callable(objective):
                raise TypeError(f"objective must be a cost object (callable on an image), got {type(objective).__name__}.")
            if style_images is not None:
                raise TypeError("Give style_images or a ready objective=, not both (the objective holds its styles).")
        if not isinstance(bounded_memory, (bool, np.bool_)):
            raise TypeError(f"bounded_memory must be True or False, got {bounded_memory!r}.")
        self.objective = objective
        if content_image is None:
            content_image = self._from_objective("content_image")
            if content_image is None:
                raise ValueError("The objective has no content term: pass content_image= (the output's size).")
        self.content_image = image_array(content_image, "content_image", min_side=0)
        #: What the solver minimises: the objective, or a ready sum of terms on the bounded-memory path.
        self.cost = objective
        if bounded_memory and getattr(objective, "bounded", None) is None:
            from ..losses.highres import BoundedCost

            self.cost = BoundedCost(objective, size=self.content_image.shape[:2])
        self.style_images = self._from_objective("style_images") or []
        self.seed = int(seed)
        self.jit_compile = jit_compile
        self.image = tf.Variable(self._initial_image(init)[np.newaxis], dtype=tf.float32, name="generated_image")
        self.solver = ImageSolver(self.cost, self.image, jit_compile=jit_compile)

    def _from_objective(self, attribute: str) -> Any:
        """The objective's ``attribute``, or that of the first of its parts (terms) that has it."""
        found = getattr(self.objective, attribute, None)
        for term in getattr(self.objective, "parts", {}).values():
            found = getattr(term, attribute, None) if found is None else found
        return found

    # ----- the objective, read and set through the transfer ----------------------------------
    def __getattr__(self, name: str) -> Any:
        if name == "objective" or "objective" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(self.__dict__["objective"], name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.endswith("_weight") and "objective" in self.__dict__ and hasattr(self.__dict__["objective"], name):
            setattr(self.__dict__["objective"], name, value)  # the objective's tf.Variable: nothing retraces
        else:
            super().__setattr__(name, value)

    def __call__(self, image: tf.Tensor) -> dict[str, tf.Tensor]:
        """The objective's weighted costs of a batch ``(1, H, W, 3)``, differentiable (eager)."""
        return dict(self.cost(image))

    def _initial_image(self, init: str | Image) -> Image:
        from ..image.validate import image_array

        height, width = self.content_image.shape[:2]
        if isinstance(init, str):
            if init == "content":
                return self.content_image.copy()
            if init == "noise":
                return np.random.default_rng(self.seed).uniform(0.0, 1.0, (height, width, 3)).astype(np.float32)
            if init == "style":
                if not self.style_images:
                    raise ValueError("init='style' needs a style image; the objective has none.")
                return resize_image(self.style_images[0], size=(height, width))
            raise ValueError(f"Unknown init {init!r}; choose one of {', '.join(INITS)} or pass an image.")
        array = image_array(init, "init", min_side=0)
        if array.shape[:2] != (height, width):
            array = resize_image(array, size=(height, width))
        return array

    # ----- the costs of an image ------------------------------------------------------------
    def loss_components(self, image: tf.Tensor) -> dict[str, tf.Tensor]:
        """The weighted costs of a batch ``(1, H, W, 3)`` as tensors, differentiable (not compiled).

        Use it under your own ``tf.GradientTape``; :meth:`value_and_gradient` is the compiled version.
        """
        return self(tf.convert_to_tensor(image, tf.float32))

    def losses(self, image: tf.Tensor | None = None) -> dict[str, float]:
        """The weighted costs of ``image`` (default: the current generated image) as floats."""
        from ..image.validate import image_array

        image = self.image if image is None else tf.convert_to_tensor(image_array(image)[np.newaxis])
        return {key: float(value) for key, value in self.solver.components(tf.convert_to_tensor(image)).items()}

    def value_and_gradient(self, image: tf.Tensor | None = None) -> tuple[Mapping[str, tf.Tensor], tf.Tensor]:
        """``(weighted costs dict, gradient of the total w.r.t. the image)``, compiled."""
        image = self.image if image is None else tf.convert_to_tensor(image, tf.float32)
        return self.solver.value_and_grad(tf.convert_to_tensor(image))

    @property
    def generated_image(self) -> np.ndarray:
        """The current image, ``(H, W, 3)`` in [0, 1]."""
        return self.image.numpy()[0]

    def reset(self, init: str | Image = "content") -> None:
        self.image.assign(self._initial_image(init)[np.newaxis])

    def retarget(self, content_image: ImageSource, style_images: ImageSource | Sequence[ImageSource], *,
                 style_blend: Sequence[float] | None = None, style_masks: Sequence | None = None,
                 init: str | Image = "content", seed: int | None = None) -> None:
        """Other pictures for this transfer (a content image of the same size), and the image started afresh.

        The objective's targets are assigned (:meth:`Objective.retarget <nst_tf.losses.objective.Objective.retarget>`),
        so the solver compiled for this transfer runs on at once: what :meth:`run` does next is what a new
        ``StyleTransfer`` of these pictures and the same options would do, without its seconds of tracing
        (``nst_tf.stylize`` reuses its last transfer so). ``init`` and ``seed`` as for the constructor.
        ValueError, with nothing changed, for pictures that do not fit (then build a new transfer).
        """
        retarget = getattr(self.objective, "retarget", None)
        if retarget is None:
            raise ValueError(f"This transfer's objective ({type(self.objective).__name__}) takes no other pictures.")
        retarget(content_image, style_images, style_blend=style_blend, style_masks=style_masks)
        self.content_image = self._from_objective("content_image")
        self.style_images = self._from_objective("style_images") or []
        self.seed = self.seed if seed is None else int(seed)
        self.reset(init)

    # ----- optimising -------------------------------------------------------------------------
    def make_adam_step(self, learning_rate: float = 0.02, beta_1: float = 0.99, epsilon: float = 0.1
                       ) -> Callable[[], Mapping[str, tf.Tensor]]:
        """A fresh Adam optimiser and a compiled step function bound to it (one trace per call).

        The step returns the weighted costs as tensors and keeps the pixels in [0, 1].
        """
        return self.solver.make_adam_step(learning_rate, beta_1, epsilon)

    def run(self, steps: int = DEFAULT_STEPS, optimizer: str = "lbfgs", *, precondition: float = DEFAULT_PRECONDITION,
            **options: Any) -> StyleTransferResult:
        """Optimise for ``steps`` evaluations of the cost and return the result (:meth:`ImageSolver.run
        <nst_tf.optim.solvers.ImageSolver.run>`).

        ``optimizer``: ``"lbfgs"`` (default), ``"lbfgs-scipy"`` or ``"adam"``; ``precondition`` is
        L-BFGS's frequency decay (see :mod:`nst_tf.optim.solvers`; 0 optimises the pixels directly).
        Keyword ``options``: ``learning_rate`` (Adam's, default 0.02), ``callback``,
        ``callback_every`` (10), ``log_every`` (10), ``progress`` (True), ``preview`` (False),
        ``preview_every`` (10).

        ``callback(step, image, losses)`` is called every ``callback_every`` steps with the
        image as an array; returning ``False`` stops early. On Ctrl-C (KeyboardInterrupt) the
        best image so far (L-BFGS; the current one with Adam) is returned with ``interrupted=True``. A NaN or infinite cost raises
        :class:`NonFiniteLossError`.
        """
        return self.solver.run(steps, optimizer, precondition=precondition, make_adam_step=self.make_adam_step,
                               **options)


class MaskedStyleTransfer(StyleTransfer):
    """:class:`StyleTransfer` where each style image paints only its own region (lesson 05).

    Args:
        content_image, style_images: as for ``StyleTransfer``.
        style_masks: one mask per style image: a file path or an array ``(H, W)`` in [0, 1]
            (resized to the content's size). Masks may overlap with fractional values to blend.
        **kwargs: any ``StyleTransfer`` argument except ``style_blend`` (the masks do the blending).

    Per style ``i`` and layer ``l`` the mask is average-pooled to the layer's size
    (``m_il``, :func:`nst_tf.losses.masks.downsample_mask`) and the generated image's Gram matrix is
    taken over the region only (:func:`nst_tf.losses.masks.masked_statistic`); the style's own Gram
    is of the whole style image (targets are per style, not blended). The cost is

        style_loss = sum_i sum_l lambda_l * mean(m_il) * E_il,

    where ``E_il`` is the usual per-layer style cost and ``mean(m_il)`` the region's share of
    the image (:func:`nst_tf.losses.style_loss` with ``masks``): one all-ones mask gives
    exactly ``StyleTransfer``'s cost, and a style whose mask is all zeros costs zero and
    pulls on no pixel.
    """

    def __init__(self, content_image: ImageSource, style_images: ImageSource | Sequence[ImageSource],
                 style_masks: Sequence[ImageSource], **kwargs: Any) -> None:
        super().__init__(content_image, style_images, style_masks=style_masks, **kwargs)

    def style_terms(self, image: tf.Tensor | None = None) -> tf.Tensor:
        """Each style's cost ``(num_styles,)`` (before ``style_weight``), differentiable (eager)."""
        image = self.image if image is None else image
        image = tf.convert_to_tensor(image, tf.float32)
        if image.shape.rank == 3:
            image = image[tf.newaxis]
        features = self.extractor.model(image, training=False)
        return tf.stack(self.style_terms_of(features))
