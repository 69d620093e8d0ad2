"""How much faster is a trained transformation network than optimising the pixels? (lesson 06)

For each size it times :func:`nst_tf.fast.stylize_fast` (one image per call, and a batch per
call) and the optimisation method, :func:`nst_tf.optimize.stylize` with its default optimiser,
on the same square photo. The optimisation is timed for ``--opt-steps`` steps (the first,
which compiles, is left out) and scaled to its default number of steps. The network's weights
do not change its speed, so an untrained one is used unless ``--model`` names a ``.keras`` file.

    python benchmarks/bench_fast.py                 # 256 and 512 px
    python benchmarks/bench_fast.py --quick         # a smoke run: 128 px, few repeats
    python benchmarks/bench_fast.py --sizes 256 --json benchmarks/results/fast.json
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from nst_tf import data, fast, optimize  # noqa: E402

STYLE = "style/swirls"
CONTENT = "content/astronaut"  # square, so every method sees exactly size x size pixels


def _photo(size: int) -> np.ndarray:
    from nst_tf.images import resize_image

    return resize_image(data.load(CONTENT, max_size=None), size=(size, size))


def time_network(model, size: int, batch: int, repeats: int) -> dict[str, float]:
    """Seconds per image for one image per call and for ``batch`` images per call (best of ``repeats``)."""
    photo = _photo(size)
    images = np.stack([photo] * batch)
    fast.stylize_fast(model, images, batch_size=batch)  # compiles once for any size and batch
    single, batched = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        fast.stylize_fast(model, photo)
        single.append(time.perf_counter() - start)
        start = time.perf_counter()
        fast.stylize_fast(model, images, batch_size=batch)
        batched.append((time.perf_counter() - start) / batch)
    return {"single": min(single), "batched": min(batched)}


def time_optimisation(size: int, steps: int, weights: str) -> dict[str, float]:
    """Seconds per optimisation step (compile step excluded) and the default number of steps."""
    default_steps = inspect.signature(optimize.stylize).parameters["steps"].default
    run = optimize.stylize(_photo(size), STYLE, size=None, steps=max(steps, 2), progress=False, weights=weights)
    times = run.history["time"]
    per_step = (times[-1] - times[0]) / max(len(times) - 1, 1)
    return {"per_step": per_step, "default_steps": default_steps, "per_image": per_step * default_steps}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512], help="square image sizes (px)")
    parser.add_argument("--batch", type=int, default=4, help="images per call for the batched timing")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per size (the best counts)")
    parser.add_argument("--opt-steps", type=int, default=10, help="optimisation steps actually timed")
    parser.add_argument("--model", help="a trained .keras network (default: an untrained one, same speed)")
    parser.add_argument("--weights", default="auto", help="VGG weights for the optimisation method")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--quick", action="store_true", help="smoke run: 128 px, 2 repeats, 3 steps")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.batch, args.repeats, args.opt_steps = [128], 2, 2, 3

    model = fast.load_model(args.model) if args.model else fast.transform_net(seed=0)
    gpus = tf.config.list_physical_devices("GPU")
    device = f"GPU x{len(gpus)}" if gpus else f"CPU ({os.cpu_count()} cores)"
    print(f"nst-tf fast vs optimisation: {device}, TensorFlow {tf.__version__}, Python {platform.python_version()}")
    if hasattr(os, "getloadavg"):  # other work on the machine slows both methods, not always equally
        print(f"load average at start: {os.getloadavg()[0]:.1f}")
    print(f"network: {model.count_params():,} weights; style {STYLE}; content {CONTENT}\n")
    from nst_tf.features import load_vgg

    vgg = load_vgg(args.weights)  # says which weights the optimisation uses, before the table
    print(f"optimisation: {vgg.name}, default optimiser of nst_tf.optimize.stylize\n")
    header = f"{'size':>6} {'net 1/call':>12} {'net batch':>12} {'images/s':>9} {'opt step':>10} {'opt/image':>11} {'ratio':>8}"
    print(header)
    print("-" * len(header))
    results = []
    for size in args.sizes:
        network = time_network(model, size, args.batch, args.repeats)
        optimisation = time_optimisation(size, args.opt_steps, args.weights)
        ratio = optimisation["per_image"] / network["single"]
        results.append({"size": size, "network_seconds_single": network["single"],
                        "network_seconds_batched": network["batched"], "batch": args.batch,
                        "images_per_second": 1.0 / min(network["single"], network["batched"]),
                        "optimisation_seconds_per_step": optimisation["per_step"],
                        "optimisation_steps": optimisation["default_steps"],
                        "optimisation_seconds_per_image": optimisation["per_image"], "ratio": ratio})
        print(f"{size:>4}px {network['single'] * 1e3:>10.0f}ms {network['batched'] * 1e3:>10.0f}ms "
              f"{1.0 / min(network['single'], network['batched']):>9.1f} {optimisation['per_step'] * 1e3:>8.0f}ms "
              f"{optimisation['per_image']:>10.1f}s {ratio:>7.0f}x", flush=True)
    default_steps = results[0]["optimisation_steps"]
    print(f"\nnet 1/call: one image per call; net batch: per image with {args.batch} per call. opt/image: "
          f"{default_steps} steps (the default) at the measured time per step over {max(args.opt_steps, 2)}. "
          "images/s: the better of the two network timings. ratio = opt/image / net 1/call.")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"device": device, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
