"""Training photos for the fast network: a ``tf.data`` pipeline of random crops (lesson 06).

The photos can live wherever TensorFlow's file system layer reaches (``tf.io.gfile``): a
local folder, a ``gs://`` bucket, HDFS and the like. One pipeline serves one process, one
machine with several GPUs, or a cluster of workers:

* **One seeded stream of examples.** Example ``j`` of the stream is a random crop (seeded
  by ``(seed, j)``) of one photo; the photos are visited in a new seeded order every pass
  over the collection (an *epoch*). Training step ``s`` with a global batch of ``B``
  photos uses examples ``s * B`` to ``(s + 1) * B - 1``: nothing depends on the number of
  devices or workers, and a run resumed from a checkpoint at step ``s`` continues with
  exactly the examples it would have seen without the interruption.
* **Sharding by example, that is by file read.** With ``num_shards`` input pipelines (one
  per worker, see :func:`distributed_training_images`), pipeline ``p`` decodes only
  examples ``p, p + P, p + 2P, ...``: within an epoch every photo is read by exactly one
  worker, and the pipelines' batches, taken in turn, are the global batch. This is the
  file-level sharding that ``tf.data.experimental.AutoShardPolicy.FILE`` does for record
  files, without its two snags for a folder of pictures: ``FILE`` needs reader datasets
  (TFRecord, text lines) and gives every worker a fixed subset of files, so the order
  depends on the cluster's size and a collection with fewer files than workers stalls.
* **Decoded and cropped in parallel** (``num_parallel_calls=AUTOTUNE``, order kept), then
  batched and prefetched. Up to :data:`IN_MEMORY_LIMIT` pictures, or any number with
  ``cache=True``, are decoded once (in parallel threads) and kept in memory, shrunk to
  ``2 * size``; larger collections are read as needed.
* **Unreadable pictures are skipped**, and the reason (not an image, too small, truncated,
  permission denied ...) recorded in a :class:`SkippedPictures` that
  :func:`nst_tf.fast.train` reports once, at the end.
"""

from __future__ import annotations

import concurrent.futures
import io
import os
import threading
from pathlib import Path
from typing import Callable, Sequence, Union

import numpy as np
import tensorflow as tf

__all__ = [
    "IN_MEMORY_LIMIT",
    "DECODE_PARALLEL",
    "SkippedPictures",
    "image_files",
    "training_sources",
    "training_images",
    "distributed_training_images",
]

from ..defaults import IMAGE_SUFFIXES
from ..image.download import is_remote
from .._runtime.logs import get_logger

_log = get_logger(__name__)

#: A collection of at most this many pictures is decoded once and kept in memory; larger ones stream.
IN_MEMORY_LIMIT = 256
#: Pictures decoded at the same time when streaming from disk: each holds a whole 8-bit picture
#: (hundreds of MB for a huge one), so the decoding memory stays bounded.
DECODE_PARALLEL = 4
#: How many of the first pictures of a streamed collection are tried before giving up on it.
_PROBE = 32

Source = Union[Path, str]


_is_remote = is_remote


class SkippedPictures:
    """The pictures a pipeline could not use, each with its reason (thread-safe; shared by the decoders).

    ``warn_each=True`` also prints a warning the first time each one is met; otherwise
    :meth:`report` prints one line for all of them, e.g. at the end of training.
    """

    def __init__(self, *, warn_each: bool = False):
        self.reasons: dict[str, str] = {}
        self.warn_each = bool(warn_each)
        self._lock = threading.Lock()

    def add(self, name: str, reason: str) -> None:
        with self._lock:
            if name in self.reasons:
                return
            self.reasons[name] = reason
        if self.warn_each:
            _log.warning(f"skipping a training picture: {reason}")

    def __len__(self) -> int:
        return len(self.reasons)

    def summary(self, examples: int = 3) -> str:
        """One line: how many were skipped and why (the first few)."""
        with self._lock:
            items = list(self.reasons.items())
        shown = "; ".join(reason for _name, reason in items[:examples])
        more = f"; and {len(items) - examples} more" if len(items) > examples else ""
        noun = "picture" if len(items) == 1 else "pictures"
        return f"skipped {len(items)} unreadable training {noun}: {shown}{more}"

    def report(self) -> None:
        """Print :meth:`summary` as one warning on stderr, if anything was skipped."""
        if self.reasons:
            _log.warning(self.summary())


# --------------------------------------------------------------------------- finding and reading pictures


def _is_picture_name(name: str) -> bool:
    base = name.rstrip("/").rsplit("/", 1)[-1]
    return base.lower().endswith(IMAGE_SUFFIXES) and not base.startswith(".")


def image_files(folder: str | os.PathLike) -> list[Source]:
    """The picture files in ``folder`` and its subfolders, sorted (hidden files skipped).

    A local folder gives :class:`~pathlib.Path` objects; a location such as
    ``gs://bucket/photos`` is listed with ``tf.io.gfile`` and gives strings.
    """
    if _is_remote(folder):
        root = str(folder).rstrip("/")
        if not tf.io.gfile.isdir(root):
            raise ValueError(f"{folder} is not a folder of images.")
        found = []
        for directory, _subdirectories, files in tf.io.gfile.walk(root):
            found += [f"{directory.rstrip('/')}/{name}" for name in files if _is_picture_name(name)]
        return sorted(found)
    local = Path(folder).expanduser()
    if not local.is_dir():
        raise ValueError(f"{os.fspath(folder)} is not a folder of images.")
    return sorted(
        path for path in local.rglob("*")
        if path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".") and path.is_file()
    )


def training_sources(images: str | os.PathLike | Sequence | None = None) -> list:
    """What :func:`training_images` reads: files (``Path`` or ``gs://...`` strings) or sample names."""
    from ..image import samples as data

    if images is None:
        return list(data.names("content"))
    if isinstance(images, (str, os.PathLike)):
        sources = image_files(images)
        if not sources:
            raise ValueError(f"{os.fspath(images)} holds no image files ({' '.join(IMAGE_SUFFIXES)}).")
        return sources
    sources = [s if isinstance(s, Path) or _is_remote(s) else (Path(s) if Path(s).is_file() else s) for s in images]
    if not sources:
        raise ValueError("The list of training images is empty.")
    return sources


def _reason(error: BaseException, name: str) -> str:
    """The error's message on one line, naming the file."""
    text = " ".join(str(getattr(error, "message", None) or error).split()) or type(error).__name__
    return (text if name in text else f"{name}: {text}")[:300]


def read_picture(source: Source, max_size: int) -> tuple[np.ndarray | None, str]:
    """``(uint8 (H, W, 3) shrunk to max_size, "")``, or ``(None, reason naming the file)`` if it cannot be used."""
    from ..image.decode import ImageError
    from ..image.load import load_image

    name = os.fspath(source) if isinstance(source, os.PathLike) else str(source)
    try:
        if isinstance(source, Path):
            image = load_image(source, max_size=max_size)
        elif _is_remote(source):
            with tf.io.gfile.GFile(source, "rb") as handle:
                buffer = io.BytesIO(handle.read())
            buffer.name = name
            image = load_image(buffer, max_size=max_size)
        else:  # a sample name (or URL) that nst_tf.image.samples knows
            image = load_image(source, max_size=max_size)
    except (ImageError, OSError, tf.errors.OpError, ValueError) as error:
        return None, _reason(error, name)
    return np.rint(np.asarray(image) * 255.0).astype(np.uint8), ""


# --------------------------------------------------------------------------- the stream of examples


def _examples(count: int, seed: int, start: int) -> tf.data.Dataset:
    """Endless ``(j, file index)`` from example ``start`` on: every epoch a new seeded order of ``count`` files."""
    first_epoch = start // count
    seed_tensor = tf.constant(int(seed), tf.int64)

    @tf.autograph.experimental.do_not_convert
    def epoch_order(epoch: tf.Tensor) -> tf.data.Dataset:
        order = tf.random.experimental.stateless_shuffle(tf.range(count, dtype=tf.int64),
                                                         seed=tf.stack([seed_tensor, epoch]))
        return tf.data.Dataset.from_tensor_slices(order)

    orders = tf.data.Dataset.range(first_epoch, np.iinfo(np.int64).max).flat_map(epoch_order)
    return orders.enumerate(start=first_epoch * count).skip(start - first_epoch * count)


@tf.autograph.experimental.do_not_convert
def _random_crop(picture: tf.Tensor, seed: tf.Tensor, size: int) -> tf.Tensor:
    """A random square crop (side between ``size`` and the picture's shorter side) resized to ``size``, maybe flipped."""
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 3)
    picture = tf.image.convert_image_dtype(picture, tf.float32)
    shape = tf.shape(picture)
    shorter = tf.minimum(shape[0], shape[1])
    smallest = tf.minimum(size, shorter)
    fraction = tf.random.stateless_uniform([], seeds[0])
    side = smallest + tf.cast(fraction * tf.cast(shorter - smallest + 1, tf.float32), tf.int32)
    side = tf.minimum(side, shorter)
    crop = tf.image.stateless_random_crop(picture, tf.stack([side, side, 3]), seeds[1])
    crop = tf.image.resize(crop, [size, size], method="bilinear", antialias=True)
    crop = tf.image.stateless_random_flip_left_right(crop, seeds[2])
    return tf.clip_by_value(crop, 0.0, 1.0)


def _decode_all(sources: Sequence, max_size: int, skipped: SkippedPictures) -> list[np.ndarray]:
    """Every readable picture, decoded in parallel threads (Pillow decodes without holding the GIL)."""
    workers = max(1, min(8, os.cpu_count() or 1, len(sources)))
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(lambda source: read_picture(source, max_size), sources))
    pictures = []
    for source, (picture, reason) in zip(sources, results):
        if picture is None:
            skipped.add(os.fspath(source) if isinstance(source, os.PathLike) else str(source), reason)
        else:
            pictures.append(picture)
    return pictures


class NoReadablePictures(ValueError):
    """A whole pass over the training images read none: training cannot make progress."""


def stalled_reason(error: BaseException) -> str | None:
    """The message of a :class:`NoReadablePictures` raised inside the input pipeline (TensorFlow wraps it)."""
    text = str(error)
    marker = "NoReadablePictures: "
    if marker not in text:
        return None
    return " ".join(text.split(marker, 1)[1].splitlines()[0].split())


def _in_memory_pictures(sources: Sequence, max_size: int, skipped: SkippedPictures
                        ) -> tuple[int, Callable[[tf.Tensor], tf.Tensor]]:
    """``(count, index -> (H, W, 3) uint8)``: the pictures packed end to end in one flat uint8 tensor."""
    pictures = _decode_all(sources, max_size, skipped)
    if not pictures:
        raise ValueError(f"None of the {len(sources)} training images could be read, e.g. "
                         f"{next(iter(skipped.reasons.values()))}.")
    flat = tf.constant(np.concatenate([p.reshape(-1) for p in pictures]))
    shapes = tf.constant(np.array([p.shape[:2] for p in pictures], np.int64))
    offsets = tf.constant(np.cumsum([0] + [p.size for p in pictures[:-1]], dtype=np.int64))

    @tf.autograph.experimental.do_not_convert
    def picture(index: tf.Tensor) -> tf.Tensor:
        height, width = shapes[index][0], shapes[index][1]
        values = flat[offsets[index] : offsets[index] + height * width * 3]
        return tf.reshape(values, tf.stack([height, width, 3]))

    return len(pictures), picture


def _streamed_pictures(sources: Sequence, max_size: int, skipped: SkippedPictures
                       ) -> tuple[int, Callable[[tf.Tensor], tf.Tensor]]:
    """``(count, index -> (H, W, 3) uint8, empty if unreadable)``: each picture read when its example comes."""
    names = [os.fspath(s) if isinstance(s, os.PathLike) else str(s) for s in sources]
    kinds = list(sources)
    for source in kinds[:_PROBE]:  # a collection with nothing readable would make the filter wait forever
        if read_picture(source, max_size)[0] is not None:
            break
    else:
        raise ValueError(f"None of the first {min(len(kinds), _PROBE)} training images could be read, "
                         f"e.g. {read_picture(kinds[0], max_size)[1]}.")

    failures = [0]  # unreadable pictures in a row: a whole pass of them means none is left

    def load(index: tf.Tensor) -> np.ndarray:
        position = int(index.numpy())
        picture, reason = read_picture(kinds[position], max_size)
        if picture is None:
            skipped.add(names[position], reason)
            failures[0] += 1
            if failures[0] >= max(len(kinds), 1) + DECODE_PARALLEL:  # the filter would wait for ever
                raise NoReadablePictures(f"none of the {len(kinds)} training images can be read any more "
                                         f"(they changed while training), e.g. {reason}")
            return np.zeros((0, 0, 3), np.uint8)
        failures[0] = 0
        return picture

    @tf.autograph.experimental.do_not_convert
    def picture(index: tf.Tensor) -> tf.Tensor:
        values = tf.py_function(load, [index], tf.uint8)
        values.set_shape([None, None, 3])
        return values

    return len(sources), picture


# --------------------------------------------------------------------------- the pipeline


def training_images(
    images: str | os.PathLike | Sequence | None = None,
    *,
    size: int = 256,
    batch_size: int = 4,
    seed: int = 0,
    start: int = 0,
    num_shards: int = 1,
    shard: int = 0,
    cache: bool = False,
    skipped: SkippedPictures | None = None,
) -> tf.data.Dataset:
    """Endless batches ``(batch_size, size, size, 3)`` of random crops in [0, 1] (lesson 06).

    ``images``: a folder (searched recursively for :data:`IMAGE_SUFFIXES`), local or any
    ``tf.io.gfile`` location such as ``gs://bucket/coco/train2014``; a list of files or
    sample names; or ``None`` for the sample content photos that ship with nst-tf
    (:func:`nst_tf.image.samples.names`). Each crop is a random square whose side lies between
    ``size`` and the picture's shorter side, resized to ``size`` (so one photo gives views
    at several scales), flipped left-right half the time. Pictures are first shrunk to at
    most ``2 * size`` pixels. A real model wants tens of thousands of photos, e.g. COCO
    (``train2014/``, 83k pictures).

    ``batch_size`` is the size of the batches *this* pipeline yields. ``start`` skips the
    first examples of the stream (a resumed run passes ``steps done * global batch``);
    ``num_shards`` and ``shard`` keep only examples ``shard, shard + num_shards, ...``
    (see the module's docstring). ``cache=True`` decodes every picture once and keeps it
    in memory (up to ``12 * size**2`` bytes per photo, 0.8 MB at 256 px, on every worker), which
    collections of up to :data:`IN_MEMORY_LIMIT` pictures get anyway. Unreadable pictures
    are skipped and recorded in ``skipped`` (default: a warning for each).
    """
    size, batch_size, start = int(size), int(batch_size), int(start)
    num_shards, shard = int(num_shards), int(shard)
    if size < 16 or batch_size < 1:
        raise ValueError(f"size must be at least 16 px and batch_size at least 1, got {size} and {batch_size}.")
    if start < 0 or num_shards < 1 or not 0 <= shard < num_shards:
        raise ValueError(f"need start >= 0 and 0 <= shard < num_shards, got {start}, {shard}, {num_shards}.")
    skipped = SkippedPictures(warn_each=True) if skipped is None else skipped
    max_size = 2 * size
    sources = training_sources(images)
    in_memory = cache or images is None or len(sources) <= IN_MEMORY_LIMIT
    make = _in_memory_pictures if in_memory else _streamed_pictures
    count, picture = make(sources, max_size, skipped)
    seed_tensor = tf.constant(int(seed), tf.int64)

    @tf.autograph.experimental.do_not_convert
    def example(j: tf.Tensor, index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return picture(index), tf.stack([seed_tensor, j])

    @tf.autograph.experimental.do_not_convert
    def readable(values: tf.Tensor, crop_seed: tf.Tensor) -> tf.Tensor:
        return tf.size(values) > 0

    @tf.autograph.experimental.do_not_convert
    def crop(values: tf.Tensor, crop_seed: tf.Tensor) -> tf.Tensor:
        return _random_crop(values, crop_seed, size)

    dataset = _examples(count, seed, start)
    if num_shards > 1:
        dataset = dataset.shard(num_shards, shard)
    dataset = dataset.map(example, num_parallel_calls=DECODE_PARALLEL if not in_memory else tf.data.AUTOTUNE,
                          deterministic=True)
    if not in_memory:
        dataset = dataset.filter(readable)
    dataset = dataset.map(crop, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def distributed_training_images(
    strategy: tf.distribute.Strategy,
    images: str | os.PathLike | Sequence | None = None,
    *,
    global_batch_size: int,
    size: int = 256,
    seed: int = 0,
    start_step: int = 0,
    cache: bool = False,
    skipped: SkippedPictures | None = None,
) -> tf.distribute.DistributedDataset:
    """:func:`training_images` spread over ``strategy``'s workers and replicas (a distributed dataset).

    ``global_batch_size`` is the number of photos per step over all replicas (a multiple
    of their number). Every worker builds its own pipeline (shard ``input_pipeline_id``
    of ``num_input_pipelines``) with batches of ``global_batch_size / replicas`` photos,
    one per local replica and step; step ``s`` of the run sees the same photos and crops
    whatever the strategy, starting at ``start_step``.
    """
    global_batch_size = int(global_batch_size)

    def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
        return training_images(
            images, size=size, batch_size=context.get_per_replica_batch_size(global_batch_size), seed=seed,
            start=int(start_step) * global_batch_size, num_shards=context.num_input_pipelines,
            shard=context.input_pipeline_id, cache=cache, skipped=skipped,
        )

    return strategy.distribute_datasets_from_function(dataset_fn)

