"""``nst-tf train-fast`` and ``nst-tf apply``: train a fast style network, then use it (lesson 06).

    nst-tf train-fast style/swirls --images ~/coco/train2014 -o swirls.keras --steps 40000
    nst-tf train-fast style/swirls -o swirls-demo.keras --steps 300 --size 128   # the sample photos
    nst-tf apply swirls.keras photo.jpg -o photo-swirls.png
    nst-tf apply swirls.keras holiday/ more.jpg -o stylized/                    # one file per input

:mod:`nst_tf.cli` adds these commands with :func:`register_train_fast` and
:func:`register_apply`; options, checks, messages and exit codes come from
:mod:`nst_tf.cli.common`, as for ``stylize``. Nothing here imports TensorFlow until the
arguments and input files have been checked, so mistakes are reported at once, as one line
``nst-tf: error: ...`` with exit status 2, and nothing is written.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from . import common as core
from ..image import download as fetch
from ..defaults import DEFAULT_FAST_WEIGHTS, FAST_TRAINING, IMAGE_SUFFIXES, STRATEGIES
from ..image.save import same_file
from .._runtime.quiet import stderr_fd_silenced

__all__ = ["register_train_fast", "register_apply", "run_train_fast", "run_apply"]

#: Bytes of decoded inputs ``apply`` keeps between checking them and stylizing them.
_DECODED_BUDGET = 1 << 30
#: Free space a trained network needs (about 7 MB at the defaults), and a checkpoint (weights and Adam's moments).
_MODEL_BYTES = 32 << 20
_CHECKPOINT_BYTES = 3 * _MODEL_BYTES


# --------------------------------------------------------------------------- register


def register_train_fast(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add ``train-fast`` to the ``nst-tf`` command line."""
    parser = subparsers.add_parser(
        "train-fast",
        help="train a network that stylizes any photo in one pass (Johnson et al. 2016)",
        description="Train a transformation network for the style STYLE on the photos in --images "
                    "(a real model wants many, e.g. COCO's train2014 folder, and a GPU; without --images "
                    "the few sample photos that ship with nst-tf are used, enough for a demo). "
                    "Use the result with 'nst-tf apply'.",
        epilog=core.exit_status_epilog("the training failed (e.g. the cost became NaN: lower the learning rate)",
                                       "in both cases the network so far is written, and checkpointed with "
                                       "--checkpoint-dir",
                                       also_2="a TPU or the cluster's other workers that did not answer within "
                                              "NST_TF_CLUSTER_TIMEOUT_S (120 s for a TPU, 600 s for a cluster's "
                                              "first step)"),
    )
    parser.add_argument("style", metavar="STYLE", help="the style picture: a file, URL or sample name (style/swirls)")
    parser.add_argument("--images", metavar="DIR",
                        help="folder of training photos, searched recursively: a local folder or any location "
                             "TensorFlow reads, such as gs://bucket/photos (default: the sample photos)")
    parser.add_argument("-o", "--output", metavar="MODEL.keras", required=True,
                        help="where to write the trained network (a .keras file)")
    parser.add_argument("--steps", type=core.positive_int, default=FAST_TRAINING["steps"], metavar="N",
                        help="training steps; with --checkpoint-dir a resumed run continues up to N "
                             "(default: %(default)s)")
    parser.add_argument("--size", type=core.size_px, default=FAST_TRAINING["size"], metavar="PX",
                        help="side of the square training crops in pixels (default: %(default)s)")
    parser.add_argument("--batch-size", type=core.positive_int, default=FAST_TRAINING["batch_size"], metavar="B",
                        help="photos per step on each replica (GPU, TPU core or worker); the global batch is "
                             "B times the number of replicas, printed at the start (default: %(default)s)")
    parser.add_argument("--learning-rate", type=core.positive_float, default=FAST_TRAINING["learning_rate"],
                        metavar="LR",
                        help="Adam's step size (default: %(default)s)")
    group = core.add_cost_arguments(parser, DEFAULT_FAST_WEIGHTS)
    group.add_argument("--style-size", type=core.size_px, metavar="PX",
                       help="longest side of the style picture; smaller gives finer strokes "
                            "(default: --size, at least 64)")
    parser.add_argument("--checkpoint-dir", metavar="D",
                        help="keep checkpoints here and resume from the latest one found there")
    parser.add_argument("--checkpoint-every", type=core.positive_int, default=FAST_TRAINING["checkpoint_every"],
                        metavar="N",
                        help="steps between checkpoints (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, metavar="S",
                        help="seed for the initial weights and the random crops (default: 0)")
    _add_distribute_arguments(parser)
    core.add_common_arguments(parser, "weights", "overwrite", "progress")
    parser.set_defaults(run=run_train_fast)


def _add_distribute_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "several GPUs, machines or a TPU",
        "A cluster is described by the TF_CONFIG variable of each worker; run the same command on every "
        "worker. Worker 0 (or the 'chief' task) writes the checkpoints and the model; --checkpoint-dir must "
        "be a folder all workers read (shared disk, gs://...). After a restart every worker resumes from "
        "the latest checkpoint, with the same crops it would have seen.")
    group.add_argument("--distribute", choices=STRATEGIES, default="auto",
                       help="auto: a cluster if TF_CONFIG describes one, else all local GPUs (mirrored), else "
                            "one device; none: one device; mirrored: all local GPUs; multi-worker: the "
                            "cluster of TF_CONFIG; tpu: the TPU --tpu (default: %(default)s)")
    group.add_argument("--tpu", metavar="NAME",
                       help="the TPU for --distribute tpu: its name or grpc:// address, 'local' on a TPU VM "
                            "(default: the one the environment names, as on Colab)")
    group.add_argument("--cache", action="store_true",
                       help="decode every training photo once and keep it in memory on each worker (up to "
                            "12 x size^2 bytes a photo); collections of up to 256 photos are kept anyway")


def register_apply(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add ``apply`` to the ``nst-tf`` command line."""
    parser = subparsers.add_parser(
        "apply",
        help="stylize photos with a network from 'nst-tf train-fast' (one pass each)",
        description="Stylize each INPUT (an image file, a folder of images, a URL or a sample name) with "
                    "the network MODEL.keras. With one input, OUT is the image to write (or a folder); with "
                    "several inputs or a folder, OUT is a folder (created if needed) that gets one image per "
                    "input with the same name.",
        epilog=core.exit_status_epilog("a failed run", "what was written is removed"),
    )
    parser.add_argument("model", metavar="MODEL.keras", help="the trained network")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="images or folders of images")
    parser.add_argument("-o", "--output", metavar="OUT", required=True,
                        help="an image file (one input) or a folder (any number of inputs)")
    parser.add_argument("--trust-model", action="store_true",
                        help="load MODEL.keras even on a Keras release with known safe_mode bypasses "
                             "(only for a model you made or fully trust)")
    core.add_common_arguments(parser, "size", "overwrite", "progress")
    parser.set_defaults(size=1024, run=run_apply)


# --------------------------------------------------------------------------- shared checks


_is_url, _is_remote = fetch.is_url, fetch.is_remote


def _start_strategy(args: argparse.Namespace) -> Any:
    """The ``--distribute`` strategy, made quietly and first (``MultiWorkerMirroredStrategy`` must be)."""
    name = args.distribute
    if args.tpu is not None and name == "auto":
        name = "tpu"
    elif args.tpu is not None and name != "tpu":
        raise core.CLIError(f"--tpu {args.tpu} needs --distribute tpu (or auto), not {name}")
    if not args.verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from .._runtime.watchdog import CLUSTER_SECONDS, Watchdog, limit_seconds

    cluster = name == "multi-worker" or (name == "auto" and "cluster" in os.environ.get("TF_CONFIG", ""))
    watch = None
    if name == "tpu":  # bounded: an unreachable TPU used to hang with no output, ignoring SIGTERM
        watch = Watchdog(f"the TPU {args.tpu or '(from the environment)'}", limit_seconds())
    elif cluster:  # bounded until the first step, which needs every worker
        watch = Watchdog("the other workers of the cluster (TF_CONFIG)", limit_seconds(CLUSTER_SECONDS),
                         advice="check that every worker runs and can reach the others")
    if watch is not None:
        watch.start()  # before stderr is silenced: its one line must be seen
    with stderr_fd_silenced(not args.verbose and "tensorflow" not in sys.modules):
        from ..fast import distribute as fast_distribute

        try:
            strategy = fast_distribute.make_strategy(name, tpu=args.tpu)
        except fast_distribute.DistributeError as error:
            raise core.CLIError(str(error)) from None
        finally:
            if watch is not None and not cluster:
                watch.stop()
        return strategy


def _pictures_in(folder: Path, recursive: bool) -> list[Path]:
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in found if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
                  and p.is_file())


# --------------------------------------------------------------------------- train-fast


def run_train_fast(args: argparse.Namespace) -> int:
    """``nst-tf train-fast``: check everything, train, write the model atomically."""
    from .._runtime.watchdog import disarm

    try:
        return _train_fast(args)
    finally:
        disarm()  # a cluster's start-up watch ends with the run, whatever happened


def _train_fast(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    out = core.check_output(args.output, [args.style], args.overwrite, suffixes=(".keras",),
                            need_bytes=_MODEL_BYTES)
    weights = core.check_weights(args.weights)
    images: str | None = None
    if args.images is not None and _is_remote(args.images):
        images = args.images  # listed once TensorFlow is loaded
    elif args.images is not None:
        folder = Path(args.images).expanduser()
        if not folder.is_dir():
            raise core.CLIError(f"--images {args.images}: " + ("not a folder" if folder.exists() else "no such folder"))
        if not _pictures_in(folder, recursive=True):
            raise core.CLIError(f"--images {args.images} holds no image files ({' '.join(IMAGE_SUFFIXES)})")
        images = os.fspath(folder)
    if args.checkpoint_dir is not None and not _is_remote(args.checkpoint_dir) \
            and Path(args.checkpoint_dir).expanduser().exists() \
            and not Path(args.checkpoint_dir).expanduser().is_dir():
        raise core.CLIError(f"--checkpoint-dir {args.checkpoint_dir} exists and is not a folder")
    if args.checkpoint_dir is not None and not _is_remote(args.checkpoint_dir):
        from .._runtime.outputs import OutputError, probe_folder

        try:  # a full or read-only folder is said now, not as "out of memory" at the first checkpoint
            probe_folder(args.checkpoint_dir, _CHECKPOINT_BYTES, shown=f"--checkpoint-dir {args.checkpoint_dir}")
        except OutputError as error:
            raise core.CLIError(str(error)) from None
    style_size = args.style_size or max(args.size, 64)
    # The fetcher needs no TensorFlow, so the style is read (and a URL checked) before anything starts.
    style_image = core.load_input(args.style, max_size=style_size, progress=None if args.progress else False)
    strategy = _start_strategy(args)  # before TensorFlow runs anything else (multi-worker needs that)

    core.import_tensorflow(args.verbose)
    from .. import fast
    from ..fast import distribute as fast_distribute

    if images and _is_remote(images):
        try:
            if not fast.image_files(images):
                raise core.CLIError(f"--images {args.images} holds no image files ({' '.join(IMAGE_SUFFIXES)})")
        except ValueError as error:
            raise core.CLIError(f"--images {args.images}: {error}") from None
    batch_size = args.batch_size * strategy.num_replicas_in_sync  # the library's batch is global
    if "TPU" not in type(strategy).__name__:  # a TPU's own memory is not what available_bytes sees
        from ..fast.memory import check_training

        check_training(args.size, args.batch_size)  # refused up front, with a batch size that fits
    print(fast_distribute.describe(strategy, batch_size), flush=True)
    checkpoint_dir = None if args.checkpoint_dir is None else args.checkpoint_dir if _is_remote(args.checkpoint_dir) \
        else os.fspath(Path(args.checkpoint_dir).expanduser())
    # The checkpoint restored is said by the training itself: the newest that reads, not the newest named.
    options = {name: getattr(args, name) for name in ("content_weight", "style_weight", "tv_weight")
               if getattr(args, name) is not None}
    result = fast.train(
        style_image, images, steps=args.steps, batch_size=batch_size, size=args.size, strategy=strategy,
        cache=args.cache,
        learning_rate=args.learning_rate, style_size=style_size,
        checkpoint_dir=checkpoint_dir,
        checkpoint_every=args.checkpoint_every, preview_every=0, progress=args.progress, seed=args.seed,
        weights=weights, normalize=getattr(args, "normalize", True), **options,
    )
    if result.interrupted and not result.history["step"] and result.step == 0:
        return core.interrupted_before_start()
    if not fast_distribute.is_chief(strategy):  # the chief writes the one model file
        print(f"worker done ({result.step} steps); the chief writes {args.output}", flush=True)
        return core.EXIT_INTERRUPTED if result.interrupted else 0
    # Without --overwrite a file that appeared meanwhile is kept, and so is the network (under another name).
    if not core.save_result(lambda path: fast.save_model(result.model, path, overwrite=args.overwrite and path == out),
                            out):
        return core.EXIT_FAILURE
    summary = f"{args.output} ({result.step} steps, {time.perf_counter() - started:.1f} s)"
    return core.report_written(summary, result.interrupted, what="the network so far")


# --------------------------------------------------------------------------- apply


def _expand_inputs(inputs: list[str]) -> tuple[list[str], bool]:
    """Files, URLs and sample names, with folders replaced by their pictures; and whether a folder was given."""
    expanded, had_folder = [], False
    for source in inputs:
        path = Path(source).expanduser()
        if not _is_url(source) and path.is_dir():
            pictures = _pictures_in(path, recursive=False)
            if not pictures:
                raise core.CLIError(f"{source} holds no image files ({' '.join(IMAGE_SUFFIXES)})")
            expanded += [os.fspath(p) for p in pictures]
            had_folder = True
        else:
            expanded.append(source)
    return expanded, had_folder


def _stem_and_suffix(source: str) -> tuple[str, str]:
    from ..image.save import SAVE_FORMATS

    name = Path(urlparse(source).path if _is_url(source) else source)
    suffix = name.suffix.lower() if name.suffix.lower() in SAVE_FORMATS else ".png"
    return (name.stem or "image"), suffix


def _plan_outputs(args: argparse.Namespace, sources: list[str], had_folder: bool, also_protect: list[str]
                  ) -> tuple[dict[str, Path], Path | None]:
    """``{source: output file}`` and the folder to create (or ``None``), refusing anything unsafe."""
    out = Path(args.output).expanduser()
    protected = core.protected_paths([*sources, *also_protect])
    if len(sources) == 1 and not had_folder and not out.is_dir():
        return {sources[0]: core.check_output(args.output, [*sources, *also_protect], args.overwrite)}, None
    if out.exists() and not out.is_dir():
        raise core.CLIError(f"{args.output} is not a folder; with several inputs -o must name a folder")
    from ..image.save import SAVE_FORMATS

    if not out.exists() and out.suffix.lower() in SAVE_FORMATS:
        raise core.CLIError(f"{args.output} looks like an image file name, but with several inputs -o must name "
                           "a folder (it is created if needed)")
    create = None
    if not out.exists():
        if not out.parent.is_dir():
            raise core.CLIError(f"cannot create the folder {args.output}: {os.fspath(out.parent)} does not exist")
        create = out
    elif not os.access(out, os.W_OK):
        raise core.CLIError(f"cannot write into {args.output}: the folder is not writable")
    plan: dict[str, Path] = {}
    claimed: dict[Path, str] = {}
    for source in sources:
        stem, suffix = _stem_and_suffix(source)
        target = out / f"{stem}{suffix}"
        if target in claimed:
            raise core.CLIError(f"{claimed[target]} and {source} would both be written to {os.fspath(target)}; "
                               "rename one of them")
        claimed[target] = source
        for item in protected:
            if same_file(target, Path(item)):
                raise core.CLIError(f"refusing to overwrite the input file {os.fspath(target)}; "
                                   "choose another output folder")
        if target.exists() and not args.overwrite:
            raise core.CLIError(f"{os.fspath(target)} already exists; add --overwrite to replace it")
        if target.is_dir():
            raise core.CLIError(f"cannot save {os.fspath(target)}: it is a folder")
        _probe_target(target, create)
        plan[source] = target
    return plan, create


def _probe_target(target: Path, create: Path | None) -> None:
    """Every output is tried before the first is written (a name too long, a read-only folder)."""
    from .._runtime.outputs import OutputError, probe_output

    try:  # a folder still to be made: try the name in the folder it will be made in
        probe_output(target if create is None else create.parent / target.name, 3 * 1024 * 1024,
                     shown=os.fspath(target))
    except OutputError as error:
        raise core.CLIError(str(error)) from None


def run_apply(args: argparse.Namespace) -> int:
    """``nst-tf apply``: check every input and output, then stylize and save one image per input."""
    started = time.perf_counter()
    model_path = Path(args.model).expanduser()
    if not model_path.is_file():
        raise core.CLIError(f"{args.model} does not exist" if not model_path.exists()
                            else f"{args.model} is not a file")
    if model_path.suffix != ".keras":
        raise core.CLIError(f"{args.model} is not a .keras model file (train one with 'nst-tf train-fast')")
    from .._runtime.modelcheck import UnsafeModelError, check_config, keras_bypasses, keras_version

    bypasses = keras_bypasses()
    if bypasses is not None and not getattr(args, "trust_model", False):
        raise core.CLIError(f"Keras {keras_version()} can be made to run code from a model file ({bypasses[1]}); "
                           f"upgrade to keras>={bypasses[0]}, or add --trust-model for a model you made yourself")
    try:
        check_config(model_path, args.model)
    except UnsafeModelError as error:
        raise core.CLIError(str(error)) from None
    sources, had_folder = _expand_inputs(list(args.inputs))
    plan, create = _plan_outputs(args, sources, had_folder, [os.fspath(model_path)])
    show = None if args.progress else False
    decoded: dict[str, Any] = {}  # every input is read before anything is written, and kept
    budget = _DECODED_BUDGET      # while they fit, so that each is decoded only once
    from ..fast.memory import check_apply

    for source in sources:
        picture = core.load_input(source, max_size=args.size, progress=show)
        check_apply(*picture.shape[:2])  # refused before anything is written, with a --size that fits
        if picture.nbytes <= budget:
            decoded[source], budget = picture, budget - picture.nbytes

    core.import_tensorflow(args.verbose)
    from .. import fast
    from ..image.save import save_image
    from ..optim.progress import ProgressBar

    model = fast.load_model(model_path)
    protected = core.protected_paths([*sources, os.fspath(model_path)])
    written: list[Path] = []
    bar = ProgressBar(len(plan), enabled=args.progress and len(plan) > 1, description="applying")
    try:
        if create is not None:
            create.mkdir()
        for source, target in plan.items():
            existed = target.exists()
            picture = decoded.pop(source, None)
            if picture is None:  # over the budget: read again
                picture = core.load_input(source, max_size=args.size, progress=show)
            image = fast.stylize_fast(model, picture)
            save_image(image, target, protect=protected, overwrite=args.overwrite or existed)
            if not existed:
                written.append(target)
            bar.update(1)
    except BaseException:
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink()
        if create is not None:
            with contextlib.suppress(OSError):
                create.rmdir()
        raise
    finally:
        bar.close()
    seconds = time.perf_counter() - started
    if len(plan) == 1 and create is None and not had_folder:
        (target,) = plan.values()
        height, width = image.shape[:2]
        print(f"wrote {os.fspath(target)} ({width}x{height} px, {seconds:.1f} s)", flush=True)
    else:
        print(f"wrote {len(plan)} images to {args.output} ({seconds:.1f} s)", flush=True)
    return 0
