"""Training a transformation network for one style: Adam on the perceptual loss (lesson 06).

:func:`train` runs the whole thing from small parts, each with one job:

* :func:`_build` makes the loss, the network, Adam and the step counter in the strategy's scope;
* :class:`_Checkpoints` restores the latest checkpoint and saves one every so often, never
  twice for the same step (under a multi-worker strategy only the chief keeps files);
* :func:`_compile_steps` compiles the training step (``strategy.run`` over the replicas)
  and the preview step;
* :class:`_LossLog` reads the costs from the device every few steps (one transfer, with
  :class:`nst_tf.optim.progress.PendingLosses`), refuses a NaN cost, keeps the history and the
  progress bar;
* :func:`_run_steps` is the loop: step, log, checkpoint, preview and callback.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, NoReturn, Sequence, Union

import numpy as np

import keras
import tensorflow as tf

from ..vgg.extractor import feature_extractor
from ..image.load import load_image
from ..image.types import ImageSource
from ..optim.progress import History, LivePreview, NonFiniteLossError, PendingLosses, ProgressBar
from . import photos as fast_data
from .photos import image_files
from ..defaults import DEFAULT_FAST_CONTENT_LAYER, DEFAULT_FAST_STYLE_LAYERS, DEFAULT_FAST_WEIGHTS
from .loss import PerceptualLoss
from .network import transform_net

__all__ = ["FastTrainingResult", "train"]


@dataclass
class FastTrainingResult:
    """What :func:`train` returns; unpacks as ``model, history = train(...)``.

    ``previews`` is a list of ``(step, image)`` with the preview image stylized by the
    network at that step; ``step`` the number of steps done (including resumed ones).
    """

    model: keras.Model
    history: History
    previews: list = field(default_factory=list)
    step: int = 0
    interrupted: bool = False
    seconds: float = 0.0
    checkpoint: str | None = None

    def __iter__(self) -> Iterator[Any]:
        return iter((self.model, self.history))


def _replicas(strategy: tf.distribute.Strategy) -> int:
    return int(strategy.num_replicas_in_sync)


def _preview_array(preview_image: ImageSource | None, images: str | os.PathLike | Sequence | None, size: int
                   ) -> np.ndarray:
    """The picture used for previews: given, or the first training picture, at most ``max(2 * size, 128)`` px."""
    from ..image import samples as data

    limit = max(2 * size, 128)
    if preview_image is not None:
        return load_image(preview_image, limit)
    if images is None or not isinstance(images, (str, os.PathLike)):
        first = data.names("content")[0] if images is None else list(images)[0]
        return load_image(first, limit)
    for path in image_files(images):
        picture = fast_data.read_picture(path, limit)[0]
        if picture is not None:
            return picture.astype(np.float32) / 255.0
    raise ValueError(f"{os.fspath(images)} holds no readable image for the preview.")


@dataclass
class _Parts:
    """What one training run updates: the network, its optimiser and the step counter (all in one scope)."""

    model: keras.Model
    loss: PerceptualLoss
    optimizer: keras.optimizers.Optimizer
    step: tf.Variable


def _build(strategy: tf.distribute.Strategy, style_image: ImageSource, model: keras.Model | None, *,
           learning_rate: float, size: int, style_size: int | None, filters: int, residual_blocks: int, seed: int,
           norm: Callable[..., keras.layers.Layer] | None = None, **loss_options: Any) -> _Parts:
    """The loss, the network (``model`` or a new one), Adam and the step counter, made in ``strategy.scope()``."""
    # VGG is loaded (and cached) outside any strategy; PerceptualLoss copies it into this one.
    feature_extractor([loss_options["content_layer"]], weights=loss_options["weights"], net=loss_options["net"])
    with strategy.scope():
        loss = PerceptualLoss(style_image, style_size=style_size or max(size, 64), **loss_options)
        model = model or transform_net(filters, residual_blocks, seed=seed, norm=norm)
        optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
        optimizer.build(model.trainable_variables)
        step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    return _Parts(model, loss, optimizer, step)


class _Checkpoints:
    """The last 3 checkpoints in ``folder`` (none if ``folder`` is ``None``); restored first with ``resume``."""

    def __init__(self, parts: _Parts, folder: str | os.PathLike | None, strategy: tf.distribute.Strategy, *,
                 resume: bool) -> None:
        self.counter = parts.step
        self.manager = None
        restored = None
        if folder is not None:
            from .distribute import ChiefCheckpoints

            checkpoint = tf.train.Checkpoint(model=parts.model, optimizer=parts.optimizer, step=parts.step)
            self.manager = ChiefCheckpoints(checkpoint, folder, strategy, max_to_keep=3)
            restored = self.manager.restore_latest() if resume else None
        #: The step of the last checkpoint, and its path (``None`` before the first one).
        self.step = int(self.counter.numpy())
        self.path = restored if self.manager is not None and self.step else None

    def due(self, index: int, every: int) -> bool:
        return self.manager is not None and index % max(1, int(every)) == 0

    def save(self) -> str | None:
        """A checkpoint of the current step, unless there is one already; returns the latest path."""
        done = int(self.counter.numpy())
        if self.manager is not None and done != self.step:
            self.step, self.path = done, self.manager.save(checkpoint_number=done)
        return self.path

    def close(self) -> None:
        """Leave only the chief's checkpoints: a worker's scratch folder goes, even after a stop."""
        if self.manager is not None:
            self.manager.discard_scratch()


def _compile_steps(parts: _Parts, strategy: tf.distribute.Strategy) -> tuple[Callable, Callable]:
    """``(train_step(iterator) -> mean costs, preview_step(picture batch) -> images)``, both ``tf.function`` s."""
    model, loss, optimizer = parts.model, parts.loss, parts.optimizer

    def replica_step(content_images: tf.Tensor) -> dict[str, tf.Tensor]:
        with tf.GradientTape() as tape:
            generated_images = model(content_images, training=True)
            components = loss(content_images, generated_images)
            # Each replica sees batch_size / replicas photos; the optimiser sums the gradients.
            scaled = components["total"] / _replicas(strategy)
        gradients = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return components

    # No Python control flow depends on tensors here, so AutoGraph is not needed.
    @functools.partial(tf.function, autograph=False)
    def train_step(iterator: Iterator[tf.Tensor]) -> dict[str, tf.Tensor]:
        per_replica = strategy.run(replica_step, args=(next(iterator),))
        parts.step.assign_add(1)
        return {key: strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None)
                for key, value in per_replica.items()}

    def apply_model(images: tf.Tensor) -> tf.Tensor:
        return model(images, training=False)

    @functools.partial(tf.function, autograph=False)
    def preview_step(picture: tf.Tensor) -> tf.Tensor:
        outputs = strategy.run(apply_model, args=(picture,))
        return strategy.experimental_local_results(outputs)[0]

    return train_step, preview_step


class _LossLog:
    """The costs of the steps, read from the device every few steps into ``history`` and the progress bar."""

    def __init__(self, history: History, bar: ProgressBar, advice: str):
        self.history, self.bar, self.advice = history, bar, advice
        self.pending = PendingLosses()
        self.began = time.perf_counter()

    def add(self, losses: Mapping[str, tf.Tensor]) -> None:
        self.pending.append(losses)  # stays on the device: no host round trip per step

    def flush(self, index: int) -> dict:
        """Read the pending costs (steps up to ``index``); returns the last step's costs."""
        count = len(self.pending)
        for step, values in self.pending.flush(index):
            if not np.isfinite(values["total"]):
                raise NonFiniteLossError(f"The training cost became {values['total']} at step {step}: {self.advice}")
            self.history.append(step, values, time.perf_counter() - self.began)
        if count:
            self.bar.update(count, self.history.last())
        return self.history.last()

    def seconds(self) -> float:
        return time.perf_counter() - self.began


@dataclass
class _Schedule:
    """When the loop logs, saves and previews."""

    steps: int
    log_every: int
    checkpoint_every: int
    preview_every: int

    def previewing(self, index: int) -> bool:
        return self.preview_every > 0 and (index % self.preview_every == 0 or index == self.steps)

    def logging(self, index: int) -> bool:
        return index % max(1, int(self.log_every)) == 0 or index == self.steps or self.previewing(index)


def _run_steps(result: FastTrainingResult, start: int, schedule: _Schedule, train_step: Callable,
               preview_step: Callable, iterator: Iterator[tf.Tensor], log: _LossLog, checkpoints: _Checkpoints,
               preview_picture: np.ndarray | None, live: LivePreview | None,
               callback: Callable[[int, np.ndarray, dict], bool | None] | None) -> None:
    """Steps ``start + 1 .. schedule.steps``; stops early when ``callback`` returns ``False``."""
    from .._runtime.watchdog import disarm

    for index in range(start + 1, schedule.steps + 1):
        log.add(train_step(iterator))
        disarm()  # a cluster's start-up is over once a step has run
        if schedule.logging(index):
            losses = log.flush(index)
        result.step = index
        if checkpoints.due(index, schedule.checkpoint_every):
            result.checkpoint = checkpoints.save()
        if schedule.previewing(index) and preview_picture is not None:
            image = preview_step(tf.constant(preview_picture[np.newaxis])).numpy()[0]
            result.previews.append((index, image))
            if live is not None:
                live.update(image, result.history)
            if callback is not None and callback(index, image, losses) is False:
                break


def train(
    style_image: ImageSource,
    images: str | os.PathLike | Sequence | None = None,
    *,
    steps: int = 2000,
    batch_size: int = 4,
    size: int = 256,
    learning_rate: float = 1e-3,
    content_weight: float = DEFAULT_FAST_WEIGHTS["content_weight"],
    style_weight: float = DEFAULT_FAST_WEIGHTS["style_weight"],
    tv_weight: float = DEFAULT_FAST_WEIGHTS["tv_weight"],
    content_layer: str = DEFAULT_FAST_CONTENT_LAYER,
    style_layers: Union[Sequence[str], Mapping[str, float]] = DEFAULT_FAST_STYLE_LAYERS,
    style_size: int | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: int = 500,
    resume: bool = True,
    cache: bool = False,
    preview_every: int | None = None,
    preview_image: ImageSource | None = None,
    preview: bool = False,
    callback: Callable[[int, np.ndarray, dict], bool | None] | None = None,
    progress: bool = True,
    log_every: int = 10,
    strategy: tf.distribute.Strategy | None = None,
    seed: int = 0,
    weights: str | os.PathLike | None = "auto",
    net: str = "vgg16",
    normalize: bool = True,
    filters: int = 32,
    residual_blocks: int = 5,
    model: keras.Model | None = None,
    norm: Callable[..., keras.layers.Layer] | None = None,
) -> FastTrainingResult:
    """Train a transformation network for one style (Johnson et al., 2016; lesson 06).

    Args:
        style_image: ``(h, w, 3)`` in [0, 1], a path, URL or sample name.
        images: the training photos: a folder, a list of files, or ``None`` for the few
            sample photos that ship with nst-tf (fine for a demo; a real model wants a
            large set such as COCO). See :func:`training_images`.
        steps: total number of Adam steps (a resumed run continues up to ``steps``).
        batch_size: photos per step, over all replicas and workers (a multiple of their
            number); ``nst-tf train-fast --batch-size`` is per replica instead.
        size: side of the square training crops in pixels.
        learning_rate: Adam's step size.
        content_weight, style_weight, tv_weight: the weights of the perceptual loss.
        content_layer, style_layers, style_size, weights, net, normalize: see :class:`PerceptualLoss`;
            ``style_size`` defaults to ``size`` (at least 64 px).
        checkpoint_dir: where ``tf.train.CheckpointManager`` keeps the last 3 checkpoints
            (every ``checkpoint_every`` steps, at the end and on Ctrl-C); with ``resume``
            an existing checkpoint there is restored first. Under a multi-worker strategy
            only the chief keeps checkpoints, and every worker resumes from its latest
            (:class:`nst_tf.fast.distribute.ChiefCheckpoints`), so the folder must be one
            they all read. A resumed run goes on with the very crops it would have seen.
        cache: decode every training picture once and keep it in memory (see
            :func:`nst_tf.fast.photos.training_images`); unreadable pictures are skipped
            and reported once, at the end.
        preview_every: stylize the preview picture every so many steps (default: 5 times
            per run; 0 for never); the images are in ``result.previews``, shown live
            with ``preview=True`` in a notebook and passed to ``callback(step, image,
            losses)``, which may return ``False`` to stop.
        progress: a tqdm bar with the losses.
        strategy: a ``tf.distribute`` strategy (default: the current one). The model,
            optimiser and VGG are built in ``strategy.scope()`` and each step runs
            through ``strategy.run``, so one GPU, several GPUs, a cluster or a TPU run this
            code (:func:`nst_tf.fast.distribute.make_strategy` makes one by name). Every
            worker reads its own share of the photos, and step ``s`` sees the same crops
            whatever the strategy (:func:`nst_tf.fast.photos.distributed_training_images`).
        seed: the initial weights and the random crops.
        filters, residual_blocks: the network's size (see :func:`transform_net`).
        model: continue training this network instead of building a new one.
        norm: the new network's normalisation layer instead of :class:`InstanceNormalization`
            (see :func:`transform_net`; lesson 06 trains with the student's ``InstanceNorm``).
            Not with ``model``, which already has its layers.

    Returns:
        :class:`FastTrainingResult`, which unpacks as ``model, history``.
    """
    from ..image import validate

    steps, batch_size = validate.count(steps, "steps"), validate.count(batch_size, "batch_size")
    size = validate.count(size, "size", 16)
    learning_rate = validate.positive(learning_rate, "learning_rate")
    for name, value in (("content_weight", content_weight), ("style_weight", style_weight), ("tv_weight", tv_weight)):
        if value is not None:
            validate.weight(value, name)
    validate.count(checkpoint_every, "checkpoint_every")
    if norm is not None and model is not None:
        raise ValueError("norm builds a new network; model already has its normalisation layers: give one of them.")
    if norm is not None and not callable(norm):
        raise TypeError(f"norm must be a Keras layer class or a function that makes one, not {type(norm).__name__}.")
    strategy = strategy or tf.distribute.get_strategy()
    if batch_size < 1 or batch_size % _replicas(strategy):
        raise ValueError(
            f"batch_size ({batch_size}) must be a positive multiple of the number of replicas ({_replicas(strategy)})."
        )
    schedule = _Schedule(steps, log_every, checkpoint_every,
                         max(steps // 5, 1) if preview_every is None else int(preview_every))
    skipped = fast_data.SkippedPictures()
    sources = fast_data.training_sources(images)  # checked before VGG is built
    preview_picture = _preview_array(preview_image, images, size) if schedule.preview_every > 0 else None

    parts = _build(strategy, style_image, model, learning_rate=learning_rate, size=size, style_size=style_size,
                   filters=filters, residual_blocks=residual_blocks, seed=seed, norm=norm, content_layer=content_layer,
                   style_layers=style_layers, content_weight=content_weight, style_weight=style_weight,
                   tv_weight=tv_weight, weights=weights, net=net, normalize=normalize)
    checkpoints = _Checkpoints(parts, checkpoint_dir, strategy, resume=resume)
    start = checkpoints.step
    iterator = iter(fast_data.distributed_training_images(
        strategy, sources, global_batch_size=batch_size, size=size, seed=seed, start_step=start, cache=cache,
        skipped=skipped))
    train_step, preview_step = _compile_steps(parts, strategy)

    result = FastTrainingResult(model=parts.model, history=History(), step=start, checkpoint=checkpoints.path)
    live = LivePreview() if preview else None
    bar = ProgressBar(steps, enabled=progress, description="training")
    bar.update(start)
    log = _LossLog(result.history, bar, f"lower the learning rate ({learning_rate:g}) or the weights "
                   f"(content_weight={content_weight:g}, style_weight={style_weight:g}, tv_weight={tv_weight:g}).")
    signals_before = _signals_so_far()
    try:  # however the run ends, no scratch folder of a worker stays behind (checkpoints.close below)
        try:
            _run_steps(result, start, schedule, train_step, preview_step, iterator, log, checkpoints, preview_picture,
                       live, callback)
        except KeyboardInterrupt:
            result.interrupted = True
        except (tf.errors.OpError, RuntimeError) as error:
            if _signals_so_far() > signals_before:
                # SIGTERM or Ctrl-C came while TensorFlow raised (in a cluster: a stopped worker's collective
                # fails on the others); the stop wins, as a KeyboardInterrupt would have.
                result.interrupted = True
            elif not isinstance(error, tf.errors.OpError):
                raise
            else:
                _raise_stalled(error)
        finally:
            with contextlib.suppress(Exception):
                log.flush(int(parts.step.numpy()))
            bar.close()
            result.step = int(parts.step.numpy())
            result.seconds = log.seconds()
        from .distribute import _workers

        if not (result.interrupted and _workers(strategy) > 1):  # a stopped worker cannot join a cluster's save
            result.checkpoint = checkpoints.save()  # the end of the run (or where Ctrl-C stopped it), unless just saved
    finally:
        checkpoints.close()
    skipped.report()
    return result


def _signals_so_far() -> int:
    """How many SIGTERMs and Ctrl-Cs the command line's handler has seen (:mod:`nst_tf._runtime.signals`)."""
    from .._runtime.signals import signals_received

    return len(signals_received())


def _raise_stalled(error: Exception) -> NoReturn:
    """The input pipeline's own errors as one line (:class:`NoReadablePictures`); any other error as it is."""
    reason = fast_data.stalled_reason(error)
    if reason is None:
        raise error
    raise fast_data.NoReadablePictures(reason) from None
