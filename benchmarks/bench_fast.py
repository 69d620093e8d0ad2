"""How much faster is a trained transformation network than optimising the pixels? (lesson 06)

For each size it times :func:`nst_tf.fast.stylize_fast` (one image per call, and a batch per
call) and the optimisation method, :func:`nst_tf.transfer.controls.stylize` with its default optimiser,
on the same square photo. The optimisation is timed for ``--opt-steps`` steps (the first,
which compiles, is left out) and scaled to its default number of steps. The network's weights
do not change its speed, so an untrained one is used unless ``--model`` names a ``.keras`` file.

It then times *training* (:func:`nst_tf.fast.train`) with ``MirroredStrategy`` over 1 and
over 2 local replicas, the same photos per replica: two GPUs when the machine has them, else
its one GPU or its CPU split into two logical devices (which share the hardware, so no
speed-up is expected there: such a run checks the mechanics and measures the overhead).

    python benchmarks/bench_fast.py                 # 256 and 512 px, training at 256 px
    python benchmarks/bench_fast.py --quick         # a smoke run: 128 px, few repeats, training at 64 px
    python benchmarks/bench_fast.py --sizes 256 --json benchmarks/results/fast.json
    python benchmarks/bench_fast.py --train-only --train-size 128 --train-steps 8
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

from nst_tf.image import load_image
from nst_tf.transfer import controls
from nst_tf import fast  # noqa: E402

STYLE = "style/swirls"
CONTENT = "content/astronaut"  # square, so every method sees exactly size x size pixels


def _photo(size: int) -> np.ndarray:
    from nst_tf.image.arrays import resize_image

    return resize_image(load_image(CONTENT, max_size=None), size=(size, size))


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
    default_steps = inspect.signature(controls.stylize).parameters["steps"].default
    run = controls.stylize(_photo(size), STYLE, size=None, steps=max(steps, 2), progress=False, weights=weights)
    times = run.history["time"]
    per_step = (times[-1] - times[0]) / max(len(times) - 1, 1)
    return {"per_step": per_step, "default_steps": default_steps, "per_image": per_step * default_steps}


def split_cpu(count: int = 2) -> list[str]:
    """``count`` devices for the replicas: the first GPUs, or the CPU split into logical devices.

    Must run before TensorFlow has run anything (a logical split cannot change later).
    """
    gpus = tf.config.list_physical_devices("GPU")
    if len(gpus) >= count:
        return [f"/gpu:{index}" for index in range(count)]
    if gpus:  # one GPU: two logical GPUs of 8 GB each (they share its compute, like the CPU case)
        tf.config.set_logical_device_configuration(
            gpus[0], [tf.config.LogicalDeviceConfiguration(memory_limit=8192)] * count)
        return [f"/gpu:{index}" for index in range(count)]
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    return [f"/cpu:{index}" for index in range(count)]


def time_training(devices: list[str], size: int, steps: int, per_replica: int, weights: str) -> dict[str, float]:
    """Training steps per second with ``MirroredStrategy(devices)`` (the first, compiling, step left out)."""
    strategy = tf.distribute.MirroredStrategy(devices)
    batch = per_replica * strategy.num_replicas_in_sync
    result = fast.train(STYLE, None, steps=max(steps, 2), batch_size=batch, size=size, weights=weights,
                        strategy=strategy, progress=False, preview_every=0, log_every=1, seed=0)
    times = result.history["time"]
    per_step = (times[-1] - times[0]) / max(len(times) - 1, 1)
    return {"replicas": strategy.num_replicas_in_sync, "global_batch": batch, "steps_per_second": 1.0 / per_step,
            "images_per_second": batch / per_step}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512], help="square image sizes (px)")
    parser.add_argument("--batch", type=int, default=4, help="images per call for the batched timing")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per size (the best counts)")
    parser.add_argument("--opt-steps", type=int, default=10, help="optimisation steps actually timed")
    parser.add_argument("--model", help="a trained .keras network (default: an untrained one, same speed)")
    parser.add_argument("--weights", default="auto", help="VGG weights for the optimisation method")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--train-size", type=int, default=256, help="training crop size (px) for the replica timing")
    parser.add_argument("--train-steps", type=int, default=10, help="training steps timed per replica count")
    parser.add_argument("--per-replica", type=int, default=2, help="photos per replica and training step")
    parser.add_argument("--train-only", action="store_true", help="only the training timing (1 and 2 replicas)")
    parser.add_argument("--no-train", action="store_true", help="skip the training timing")
    parser.add_argument("--quick", action="store_true", help="smoke run: 128 px, 2 repeats, 3 steps, training at 64 px")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.batch, args.repeats, args.opt_steps = [128], 2, 2, 3
        args.train_size, args.train_steps, args.per_replica = 64, 3, 1
    devices = [] if args.no_train else split_cpu(2)  # before TensorFlow runs anything

    model = fast.load_model(args.model) if args.model else fast.transform_net(seed=0)
    gpus = tf.config.list_physical_devices("GPU")
    device = f"GPU x{len(gpus)}" if gpus else f"CPU ({os.cpu_count()} cores)"
    print(f"nst-tf fast vs optimisation: {device}, TensorFlow {tf.__version__}, Python {platform.python_version()}")
    if hasattr(os, "getloadavg"):  # other work on the machine slows both methods, not always equally
        print(f"load average at start: {os.getloadavg()[0]:.1f}")
    print(f"network: {model.count_params():,} weights; style {STYLE}; content {CONTENT}\n")
    results: list[dict] = []
    if not args.train_only:
        compare(args, model, results)
    training = [] if args.no_train else report_training(args, devices)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"device": device, "results": results, "training": training}, indent=2))
    return 0


def report_training(args, devices: list[str]) -> list[dict]:
    """Training steps/s and images/s for 1 and 2 replicas (MirroredStrategy), and their ratio."""
    gpus = len(tf.config.list_physical_devices("GPU"))
    kind = ("GPUs" if gpus >= 2 else "two logical GPUs sharing one GPU" if gpus
            else "logical CPU devices sharing the cores")
    print(f"\ntraining, {args.train_size} px crops, {args.per_replica} photos per replica, "
          f"{max(args.train_steps, 2)} steps (the first not timed); replicas on {kind}")
    header = f"{'replicas':>8} {'global batch':>13} {'steps/s':>9} {'images/s':>9} {'images/s vs 1':>14}"
    print(header)
    print("-" * len(header))
    rows = []
    for count in (1, 2):
        row = time_training(devices[:count], args.train_size, args.train_steps, args.per_replica, args.weights)
        row["speedup"] = row["images_per_second"] / rows[0]["images_per_second"] if rows else 1.0
        rows.append(row)
        print(f"{row['replicas']:>8} {row['global_batch']:>13} {row['steps_per_second']:>9.2f} "
              f"{row['images_per_second']:>9.2f} {row['speedup']:>13.2f}x", flush=True)
    return rows


def compare(args, model, results: list[dict]) -> None:
    """The network against the optimisation method (the table above the training one)."""
    from nst_tf.vgg.extractor import load_vgg

    vgg = load_vgg(args.weights)  # says which weights the optimisation uses, before the table
    print(f"optimisation: {vgg.name}, default optimiser of nst_tf.transfer.controls.stylize\n")
    header = f"{'size':>6} {'net 1/call':>12} {'net batch':>12} {'images/s':>9} {'opt step':>10} {'opt/image':>11} {'ratio':>8}"
    print(header)
    print("-" * len(header))
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


if __name__ == "__main__":
    sys.exit(main())
