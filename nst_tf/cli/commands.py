"""The ``nst-tf`` command-line tool.

    nst-tf stylize photo.jpg style/swirls -o out.png          # sample names, paths or URLs
    nst-tf stylize photo.jpg a.jpg b.jpg --style-blend 2 1 -o out.png --size 512
    nst-tf demo                                                # bundled images, ~1 minute on a CPU
    nst-tf train-fast style/swirls -o swirls.keras             # lesson 06 (nst_tf.cli.fast)
    nst-tf apply swirls.keras photo.jpg -o photo-swirls.png
    nst-tf --version

This module holds ``stylize`` and ``demo`` and builds the parser; ``train-fast`` and
``apply`` are in :mod:`nst_tf.cli.fast`. What every command shares (options and their
checks, output checks, one-line errors, exit codes, the interrupted path) is in
:mod:`nst_tf.cli.common`. Every problem with the inputs or options is reported as one line
``nst-tf: error: <message>`` on stderr with exit status 2, before any output file is
written. TensorFlow is imported only once the arguments are known to be valid, and
quietly unless ``--verbose`` is given.

A command is a function ``register(subparsers)`` listed in :data:`COMMANDS`: it adds a
subparser (one-line errors come with it), calls :func:`~nst_tf.cli.common.add_common_arguments`
and sets ``run``, a function ``run(args) -> int`` that may simply raise ``CLIError``,
``ValueError``, ``ImageError`` ...: :func:`~nst_tf.cli.common.run_command` turns them into
one-line errors and exit codes.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from .. import defaults
from . import fast as fast_cli
from .common import (
    EXIT_FAILURE,
    PROG,
    CLIError,
    Parser,
    add_common_arguments,
    add_cost_arguments,
    check_output,
    save_result,
    check_weights,
    exit_status_epilog,
    import_tensorflow,
    interrupted_before_start,
    load_input,
    non_negative_float,
    note,
    positive_float,
    positive_int,
    protected_paths,
    report_written,
    run_command,
    size_px,
)

__all__ = [
    "CLIError",
    "COMMANDS",
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

#: The bundled sample images the demo uses (names understood by :func:`nst_tf.image.samples.load`).
DEMO_CONTENT = "content/chelsea"
DEMO_STYLE = "style/swirls"


def _add_transfer_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--steps", type=positive_int, default=defaults.DEFAULT_STEPS, metavar="N",
                        help="how long to optimise: evaluations of the cost for L-BFGS, steps for Adam (default: %(default)s)")
    parser.add_argument("--optimizer", choices=defaults.OPTIMIZERS, default=defaults.OPTIMIZERS[0],
                        help="L-BFGS (few steps to a good image; runs inside TensorFlow), scipy's L-BFGS-B "
                             "(the same method on the host, for comparison) or Adam (default: %(default)s)")
    parser.add_argument("--learning-rate", type=positive_float, default=defaults.DEFAULT_LEARNING_RATE,
                        metavar="LR", help="Adam's step size (default: %(default)s)")
    parser.add_argument("--precondition", type=non_negative_float, default=None, metavar="D",
                        help="L-BFGS moves coarse detail first: each image frequency f is scaled by "
                             "1/f**D; 0 optimises the pixels directly "
                             f"(default: {defaults.DEFAULT_PRECONDITION})")
    group = add_cost_arguments(parser, defaults.DEFAULT_WEIGHTS)
    group.add_argument("--content-layers", nargs="+", metavar="LAYER",
                       help=f"VGG layers compared for content (default: {' '.join(defaults.DEFAULT_CONTENT_LAYERS)})")
    group.add_argument("--style-layers", nargs="+", metavar="LAYER",
                       help=f"VGG layers compared for style, equally weighted "
                            f"(default: {' '.join(defaults.DEFAULT_STYLE_LAYERS)})")
    parser.add_argument("--init", choices=defaults.INITS, default=defaults.INITS[0],
                        help="the starting image (default: %(default)s)")
    parser.add_argument("--net", choices=("vgg19", "vgg16"), default=None,
                        help="which VGG (default: vgg19; the offline weights are always VGG16)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="seed for --init noise (default: 0)")


def _register_stylize(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "stylize",
        help="paint a content image in the style of one or more style images",
        description="Paint CONTENT in the style of STYLE (Gatys et al.). Images may be file paths, "
                    "http(s) URLs or sample names such as content/chelsea and style/swirls.",
        epilog=exit_status_epilog("the optimisation failed (e.g. the cost became NaN: lower the weights)",
                                  "in both cases the best image so far is written"),
    )
    parser.add_argument("content", metavar="CONTENT", help="the picture to repaint")
    parser.add_argument("styles", nargs="+", metavar="STYLE", help="one or more style pictures")
    add_common_arguments(parser, "output", "size", "weights", "overwrite", "progress")
    _add_transfer_options(parser)
    parser.add_argument("--style-blend", nargs="+", type=non_negative_float, metavar="W",
                        help="one weight per STYLE for mixing several styles (default: equal)")
    parser.add_argument("--style-scale", type=positive_float, default=1.0, metavar="F",
                        help="style image size relative to the result; smaller gives finer "
                             "brush strokes (default: %(default)s)")
    parser.add_argument("--preserve-colors", choices=[c for c in defaults.PRESERVE_COLORS if c], default="none",
                        help="keep the content's colours: transfer luminance only, or match the style's "
                             "colour histogram to the content's first (default: %(default)s)")
    parser.add_argument("--mask", nargs="+", metavar="PATH", default=None,
                        help="one mask image per STYLE (white = paint this style here)")
    parser.add_argument("--multiscale", choices=("auto", "on", "off"), default="auto",
                        help="coarse-to-fine: stylize small, upsample, refine; 'auto' does it above "
                             "1024 px (default: %(default)s)")
    parser.add_argument("--bounded-memory", choices=("auto", "on", "off"), default="auto",
                        help="run VGG's shallow blocks in tiles: the same cost and gradient in far less "
                             "memory, a little slower; 'auto' does it when the plain run would not fit "
                             "(default: %(default)s)")
    parser.set_defaults(run=run_stylize)


def _register_demo(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "demo",
        help="stylize a bundled photo with a bundled style (about a minute on a laptop CPU)",
        description=f"Stylize the bundled {DEMO_CONTENT} with {DEMO_STYLE}; works offline.",
        epilog=exit_status_epilog("the optimisation failed", "in both cases the best image so far is written"),
    )
    parser.add_argument("-o", "--output", metavar="OUT", default="nst-tf-demo.png",
                        help="the image to write (default: %(default)s)")
    parser.add_argument("--size", type=size_px, default=256, metavar="PX",
                        help="longest side in pixels (default: %(default)s)")
    parser.add_argument("--steps", type=positive_int, default=defaults.DEFAULT_STEPS, metavar="N",
                        help="L-BFGS evaluations of the cost (default: %(default)s)")
    add_common_arguments(parser, "weights", "overwrite", "progress")
    parser.set_defaults(run=run_demo)


#: Functions ``register(subparsers)`` that add the commands, in help order.
COMMANDS: list[Callable[[Any], None]] = [_register_stylize, _register_demo,
                                         fast_cli.register_train_fast, fast_cli.register_apply]


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = Parser(
        prog=PROG,
        description="Neural style transfer (Gatys et al.) with TensorFlow/Keras.",
        epilog=f"Run '{PROG} COMMAND --help' for a command's options. Start with '{PROG} demo'.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", default=False,
                        help="show TensorFlow's log messages and full tracebacks")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for register in COMMANDS:
        register(subparsers)
    return parser


# --------------------------------------------------------------------------- stylize


def _check_memory(args: argparse.Namespace, content_shape: Sequence[int], style_shapes: Sequence[Sequence[int]],
                  style_scale: float) -> None:
    """Refuse, before TensorFlow is loaded, a run that would not fit in memory (naming a --size that does)."""
    from ..optim.memory import MemoryEstimateError, check_stylize

    long_side = max(content_shape)
    factor = min(1.0, args.size / long_side)  # the content is shrunk to --size, never enlarged
    shape = (max(1, round(content_shape[0] * factor)), max(1, round(content_shape[1] * factor)))
    # The style is sized relative to the result as it will really be (a small photo keeps its size).
    target = max(int(round(max(shape) * style_scale)), 32)
    styles = [(max(1, round(h * target / max(h, w))), max(1, round(w * target / max(h, w)))) for h, w in style_shapes]
    layers = list(getattr(args, "content_layers", None) or defaults.DEFAULT_CONTENT_LAYERS)
    layers += list(getattr(args, "style_layers", None) or defaults.DEFAULT_STYLE_LAYERS)
    content_layers = list(getattr(args, "content_layers", None) or defaults.DEFAULT_CONTENT_LAYERS)
    choices: dict[str, str | bool] = {"auto": "auto", "on": True, "off": False}
    bounded = choices[getattr(args, "bounded_memory", "auto")]
    try:
        check_stylize(shape, styles, layers, net=getattr(args, "net", None) or "vgg19",
                      optimizer=getattr(args, "optimizer", "lbfgs"), option="--size", bounded=bounded,
                      content_layers=content_layers)
    except MemoryEstimateError:
        raise
    except ValueError as error:  # --bounded-memory on with a content layer in block 1
        raise CLIError(f"--bounded-memory on: {error}") from None


def _check_layer_options(args: argparse.Namespace, net: str) -> None:
    from ..vgg.layers import check_layers

    for option in ("content_layers", "style_layers"):
        layers = getattr(args, option, None)
        if layers:
            check_layers(layers, net)


def _transfer(args: argparse.Namespace, content: str, styles: Sequence[str]) -> int:
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
    from ..optim.memory import check_style_scale

    check_style_scale(getattr(args, "style_scale", 1.0), "--style-scale")
    out = check_output(args.output, inputs, args.overwrite, need_bytes=3 * args.size * args.size)
    weights = check_weights(args.weights)

    # The images first: a bad one is reported before TensorFlow is loaded.
    style_scale = getattr(args, "style_scale", 1.0)
    from ..image.arrays import MIN_SIZE

    show = None if args.progress else False
    content_image = load_input(content, max_size=args.size, progress=show, option="--size")
    style_limit = max(int(round(args.size * style_scale)), MIN_SIZE)
    style_images = [load_input(style, max_size=style_limit, progress=show, option="--size or --style-scale")
                    for style in styles]
    _check_memory(args, content_image.shape[:2], [image.shape[:2] for image in style_images], style_scale)

    import_tensorflow(args.verbose)
    from ..transfer.controls import stylize
    from ..vgg.weights import resolve_weights

    requested_net = getattr(args, "net", None)
    resolved, net = resolve_weights(weights, requested_net or "vgg19")
    if requested_net and net != requested_net:
        note(f"the {resolved} weights are {net.upper()}; using {net.upper()} instead of {requested_net.upper()}")
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
    options["bounded_memory"] = {"auto": "auto", "on": True, "off": False}[getattr(args, "bounded_memory", "auto")]
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
        return interrupted_before_start()
    from ..image.save import save_image

    protect = protected_paths(inputs)
    # Without --overwrite a file that appeared meanwhile is kept, and so is the result (under another name).
    if not save_result(lambda path: save_image(result.image, path, protect=protect,
                                               overwrite=args.overwrite and path == out), out):
        return EXIT_FAILURE
    elapsed = time.perf_counter() - started
    return report_written(f"{args.output} ({width}x{height} px, {result.evaluations} steps, {elapsed:.1f} s)",
                          result.interrupted)


def run_stylize(args: argparse.Namespace) -> int:
    return _transfer(args, args.content, args.styles)


def run_demo(args: argparse.Namespace) -> int:
    from ..image import samples as data

    missing = [name for name in (DEMO_CONTENT, DEMO_STYLE) if name not in data.names()]
    if missing:
        raise CLIError(f"the bundled sample image {missing[0]} is missing; reinstall nst-tf", EXIT_FAILURE)
    for role, name in (("content", DEMO_CONTENT), ("style", DEMO_STYLE)):
        print(f"{role}: {name} ({data.path(name)})", flush=True)
    print(f"{args.size} px, {args.steps} L-BFGS evaluations, weights: {args.weights}", flush=True)
    return _transfer(args, DEMO_CONTENT, [DEMO_STYLE])


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``nst-tf`` command line; returns the exit status (never raises SystemExit)."""
    return run_command(build_parser(), argv)

