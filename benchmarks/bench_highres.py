"""Peak memory and time per level of a coarse-to-fine run up to 2048 px (nst_tf.transfer.controls).

    python benchmarks/bench_highres.py                  # 256 -> 512 -> 1024 -> 2048 px, ~10 min on 2 CPU cores
    python benchmarks/bench_highres.py --quick          # smoke run: 64 -> 128 -> 256 px, a few steps
    python benchmarks/bench_highres.py --steps 40 20 8 2 --optimizer adam --json highres.json
    python benchmarks/bench_highres.py --bounded on                       # the bounded-memory path at every level
    python benchmarks/bench_highres.py --weights random --net vgg19 --bounded on   # ImageNet VGG19's shapes
    python benchmarks/bench_highres.py --compare 1024 --repeats 3        # seconds per evaluation, plain vs bounded

What it measures: one :func:`nst_tf.transfer.controls.stylize_multiscale` run (the same code path as
``nst-tf stylize --size 2048``), square content (``content/astronaut`` enlarged to the
output size, the worst case for a given long side), the style kept at the output's scale
at every level. For each level: its size, the optimisation steps, wall time and seconds
per step, and the peak *resident* memory of the process during that level (Linux
``VmHWM`` from ``/proc/self/status``, reset before each level through
``/proc/self/clear_refs``; it counts TensorFlow's own allocations and SciPy's L-BFGS
buffers, which ``tracemalloc`` would miss). The question it answers: does a 2048 px output
fit in 24 GiB of memory on a CPU machine? ``--bounded on|off|auto`` picks the path
(:mod:`nst_tf.losses.highres`; ``auto``: the memory estimate decides at each level). Random weights
(``--weights random --net vgg19``) measure the memory and time of ImageNet VGG19's shapes exactly.

``--compare SIZE`` measures instead the seconds per evaluation (cost and gradient, compiled)
of the plain and the bounded path on the same picture in the same process, alternating, and
prints their ratio (target: at most 1.3 at 1024 px); it also checks that the two give the same
cost and gradient.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow is imported

LIMIT_GIB = 24.0


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=2048, help="output long side in px (default: 2048)")
    parser.add_argument("--levels", type=int, nargs="+", help="explicit level sizes, ending at --size (default: halving to --start-size)")
    parser.add_argument("--start-size", type=int, default=256, help="the first level is at most this (default: 256)")
    parser.add_argument("--steps", type=int, nargs="+", default=[30, 15, 6, 3],
                        help="steps per level, one number or one per level (default: 30 15 6 3)")
    parser.add_argument("--optimizer", choices=("lbfgs", "adam"), default="lbfgs", help="(default: lbfgs, the library's default)")
    parser.add_argument("--weights", default="auto", help="auto | imagenet | offline | PATH (default: auto)")
    parser.add_argument("--content", default="content/astronaut", help="content image (default: content/astronaut, square)")
    parser.add_argument("--style", default="style/swirls", help="style image (default: style/swirls)")
    parser.add_argument("--output", help="save the final image here (png/jpg)")
    parser.add_argument("--json", help="write the measurements to this JSON file")
    parser.add_argument("--quick", action="store_true", help="smoke run: 256 px from 64 px, 4/2/2 steps")
    parser.add_argument("--bounded", choices=("auto", "on", "off"), default="auto",
                        help="the bounded-memory path: auto (the memory estimate decides), on, off (default: auto)")
    parser.add_argument("--net", choices=("vgg16", "vgg19"), default="vgg19",
                        help="network shapes for --weights random/imagenet (default: vgg19; offline is VGG16)")
    parser.add_argument("--compare", type=int, metavar="PX",
                        help="time one evaluation of the plain and the bounded path at PX px instead")
    parser.add_argument("--repeats", type=int, default=3, help="evaluations per path with --compare (default: 3)")
    args = parser.parse_args(argv)
    if args.quick:
        args.size, args.levels, args.steps = 256, [64, 128, 256], [4, 2, 2]
    return args


def machine() -> dict:
    import numpy as np  # noqa: F401 - imported for the version line below
    import tensorflow as tf

    memory = None
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            memory = int(handle.readline().split()[1]) * 1024
    except OSError:
        pass
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "cpu_count": os.cpu_count(),
        "gpus": [device.name for device in tf.config.list_physical_devices("GPU")],
        "memory_total_gib": None if memory is None else round(memory / 2**30, 1),
        "platform": platform.platform(),
    }


def reset_peak_memory() -> bool:
    """Restart the peak-memory count (VmHWM) at the current usage (Linux ``/proc/self/clear_refs``); True if done."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def compare(args, info) -> int:
    """Seconds per evaluation of the plain and the bounded path at ``args.compare`` px, alternating."""
    import numpy as np

    from nst_tf import load_image
    from nst_tf.image import arrays as images
    from nst_tf.optim.memory import peak_memory_bytes
    from nst_tf.transfer.style_transfer import StyleTransfer

    content = load_image(args.content, max_size=None)
    content = images.resize_image(content, size=images.fit_size(content.shape[:2], args.compare))
    style = load_image(args.style, max_size=None)
    style = images.resize_image(style, size=images.fit_size(style.shape[:2], args.compare))
    transfers, times, results = {}, {"plain": [], "bounded": []}, {}
    for name in times:
        transfers[name] = StyleTransfer(content, style, weights=args.weights, net=args.net,
                                        bounded_memory=name == "bounded",
                                        extractor=transfers["plain"].extractor if transfers else None)
        results[name] = transfers[name].solver.value_and_grad(transfers[name].image)  # traced and warmed up
    for _ in range(max(1, args.repeats)):
        for name, transfer in transfers.items():
            started = time.perf_counter()
            components, gradient = transfer.solver.value_and_grad(transfer.image)
            float(components["total"])
            times[name].append(time.perf_counter() - started)
    plain, bounded = (float(np.median(times[name])) for name in ("plain", "bounded"))
    (cost_p, grad_p), (cost_b, grad_b) = results["plain"], results["bounded"]
    grad_p, grad_b = grad_p.numpy().ravel(), grad_b.numpy().ravel()
    cost_diff = abs(float(cost_b["total"]) - float(cost_p["total"])) / abs(float(cost_p["total"]))
    norm_diff = float(abs(np.linalg.norm(grad_b) - np.linalg.norm(grad_p)) / np.linalg.norm(grad_p))
    cosine = float(grad_b @ grad_p / np.linalg.norm(grad_b) / np.linalg.norm(grad_p))
    height, width = content.shape[:2]
    print(f"{width}x{height} px, {transfers['plain'].extractor.description}")
    print(f"  seconds per evaluation (median of {len(times['plain'])}): plain {plain:.2f}, bounded {bounded:.2f}; "
          f"ratio {bounded / plain:.2f} ({'PASS' if bounded / plain <= 1.3 else 'FAIL'}: target <= 1.3)")
    print(f"  same numbers: cost rel. diff {cost_diff:.1e}, gradient norm rel. diff {norm_diff:.1e}, "
          f"1 - cosine {1 - cosine:.1e}")
    peak = peak_memory_bytes()
    print(f"  peak resident memory of the process {peak / 2**30:.2f} GiB (both paths)" if peak else "")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "size": [height, width], "times": times,
                                               "ratio": bounded / plain, "cost_rel_diff": cost_diff,
                                               "grad_norm_rel_diff": norm_diff, "cosine": cosine}, indent=2),
                                   encoding="utf-8")
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    import numpy as np

    from nst_tf.transfer import controls
    from nst_tf.image import arrays as images, save as saving
    from nst_tf.image import load_image
    from nst_tf.optim import pyramid
    from nst_tf.optim.memory import peak_memory_bytes

    info = machine()
    print(
        f"TensorFlow {info['tensorflow']}, {info['cpu_count']} CPU cores, GPUs: {info['gpus'] or 'none'}, "
        f"memory {info['memory_total_gib']} GiB"
    )
    if args.compare:
        return compare(args, info)
    content = load_image(args.content, max_size=None)
    content = images.resize_image(content, size=images.fit_size(content.shape[:2], args.size))  # stylize never enlarges
    styles = load_image(args.style, max_size=None)
    sizes = pyramid.pyramid_sizes(args.size, args.start_size, args.levels)
    steps = args.steps[0] if len(args.steps) == 1 else args.steps
    steps = pyramid.level_steps(args.steps[0], len(sizes), steps)
    print(f"levels {sizes} px, steps {steps}, optimizer {args.optimizer}, content {args.content}, style {args.style}, "
          f"bounded memory {args.bounded}")

    def announce(report, image) -> None:
        memory = report.peak_memory / 2**30 if report.peak_memory else float("nan")
        print(f"  level {report.index}: {report.size[1]}x{report.size[0]} px, {report.evaluations} steps, "
              f"{report.seconds:.1f} s, peak {memory:.2f} GiB", flush=True)
        reset_peak_memory()  # the next level's peak is its own

    baseline = peak_memory_bytes()
    reset_peak_memory()
    started = time.perf_counter()
    result = controls.stylize_multiscale(
        content,
        styles,
        size=args.size,
        levels=sizes,
        steps=steps[0],
        steps_per_level=steps,
        optimizer=args.optimizer,
        weights=args.weights,
        net=args.net,
        bounded_memory={"auto": "auto", "on": True, "off": False}[args.bounded],
        progress=False,
        level_callback=announce,
    )
    total = time.perf_counter() - started
    peaks = [level.peak_memory for level in result.levels if level.peak_memory]
    peak = max(peaks) if peaks else None

    print()
    print(result.report())
    print()
    height, width = result.image.shape[:2]
    print(f"output {width}x{height} px in {total:.0f} s; process memory before the run "
          f"{baseline / 2**30:.2f} GiB" if baseline else f"output {width}x{height} px in {total:.0f} s")
    if peak is not None:
        verdict = "fits" if peak / 2**30 < LIMIT_GIB else "does NOT fit"
        print(f"peak resident memory {peak / 2**30:.2f} GiB: {verdict} within {LIMIT_GIB:.0f} GiB")
    if args.output:
        saving.save_image(result.image, args.output)
        print(f"saved {args.output}")
    if args.json:
        record = {
            "machine": info,
            "arguments": {k: v for k, v in vars(args).items() if k not in ("json",)},
            "total_seconds": total,
            "peak_memory_bytes": peak,
            "levels": [
                {"size": list(level.size), "steps": level.evaluations, "seconds": level.seconds,
                 "peak_memory_bytes": level.peak_memory, "loss": level.loss}
                for level in result.levels
            ],
            "finite": bool(np.isfinite(result.image).all()),
        }
        Path(args.json).write_text(json.dumps(record, indent=2), encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
