"""Peak memory of ``nst-tf train-fast`` and ``nst-tf apply`` against their estimates (``nst_tf.fast.memory``).

    python benchmarks/bench_fast_memory.py            # 3 training and 4 apply points (~15 min on 2 busy cores)
    python benchmarks/bench_fast_memory.py --quick    # 1 + 1 points
    python benchmarks/bench_fast_memory.py --json fast_mem.json

Each run is its own process (``python -m nst_tf ...``, offline weights, on the CPU); its
peak resident memory is ``ru_maxrss`` from ``os.wait4``, so TensorFlow's allocations
count, not only Python's. For each point the script prints the estimate the command
checks before it starts (``training_bytes`` host + device, ``apply_bytes``), the
measured peak and their ratio. The goal (issue 28): the estimate is never below the
measured peak and at most about 1.5 times above it. Training runs are 2 steps on the
sample photos; ``apply`` uses the network of the first training run on a 2048 px picture
shrunk to ``--size`` (``--only apply`` trains one small network for it and measures only
``apply``). Kept small for shared machines: at most 256 px crops, about 3 GiB a run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _estimates_module():
    """``nst_tf/fast/memory.py`` without the ``nst_tf.fast`` package, which imports TensorFlow: on Linux a
    child's ``ru_maxrss`` starts from its parent's peak (vfork, exec), so this process must stay small."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("nst_tf.fast.memory", ROOT / "nst_tf" / "fast" / "memory.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert "tensorflow" not in sys.modules
    return module


_memory = _estimates_module()
apply_bytes, training_bytes = _memory.apply_bytes, _memory.training_bytes

TARGET_RATIO = 1.5
#: ``(size, batch)`` of the training runs and ``--size`` of the apply runs.
TRAIN_POINTS = [(64, 1), (128, 4), (256, 2)]
APPLY_SIZES = [256, 640, 1024, 2048]
PICTURE_SIDE = 2048
TRAIN_NET = "vgg16"  # what train-fast trains with (nst_tf.fast.train's default)


def peak_of(argv: list[str], env: dict) -> tuple[int, float]:
    """``(peak resident bytes, seconds)`` of a child process that must succeed."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    error = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{error}")
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return usage.ru_maxrss * scale, seconds


def picture(side: int) -> Image.Image:
    y, x = np.mgrid[0:side, 0:side].astype(np.float32) / side
    rgb = np.stack([x, y, 0.5 + 0.4 * np.sin(12 * (x + y))], axis=2) * 230
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one training and one apply point")
    parser.add_argument("--json", metavar="PATH", help="also write the table as JSON")
    parser.add_argument("--only", choices=("train-fast", "apply"), help="measure one command only")
    args = parser.parse_args(argv)
    train_points = TRAIN_POINTS[:1] if args.quick else TRAIN_POINTS
    apply_sizes = APPLY_SIZES[:1] if args.quick else APPLY_SIZES
    if args.only == "apply":
        train_points = TRAIN_POINTS[:1]
    elif args.only == "train-fast":
        apply_sizes = []
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="",
               NST_TF_MEMORY_LIMIT_MB="100000")  # measure, do not let the estimate refuse
    nst = [sys.executable, "-m", "nst_tf"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "model.keras")
        for index, (size, batch) in enumerate(train_points):
            out = model if index == 0 else os.path.join(tmp, f"m{index}.keras")
            peak, seconds = peak_of(nst + ["train-fast", "style/swirls", "-o", out, "--steps", "2", "--size",
                                           str(size), "--batch-size", str(batch), "--weights", "offline",
                                           "--no-progress"], env)
            host, device = training_bytes(size, batch, TRAIN_NET)
            if args.only == "apply":
                continue
            rows.append({"command": "train-fast", "point": f"--size {size} --batch-size {batch}",
                         "estimate": host + device, "peak": peak, "seconds": seconds})
        source = os.path.join(tmp, "photo.png")
        picture(PICTURE_SIDE).save(source)
        for size in apply_sizes:
            out = os.path.join(tmp, f"out{size}.png")
            peak, seconds = peak_of(nst + ["apply", model, source, "-o", out, "--size", str(size),
                                           "--no-progress"], env)
            rows.append({"command": "apply", "point": f"--size {size}", "estimate": apply_bytes(size, size),
                         "peak": peak, "seconds": seconds})
    print(f"{platform.node()} {platform.machine()} Python {platform.python_version()}, {os.cpu_count()} CPUs")
    print(f"| command | point | estimate (GiB) | measured peak (GiB) | estimate / peak | run (s) |")
    print("|---|---|---:|---:|---:|---:|")
    worst_low, worst_high = min(r["estimate"] / r["peak"] for r in rows), max(r["estimate"] / r["peak"] for r in rows)
    for row in rows:
        print(f"| {row['command']} | {row['point']} | {row['estimate'] / 2**30:.2f} | {row['peak'] / 2**30:.2f} | "
              f"{row['estimate'] / row['peak']:.2f} | {row['seconds']:.0f} |")
    print(f"estimate / peak from {worst_low:.2f} to {worst_high:.2f} (goal: 1.00 to {TARGET_RATIO:.2f}): "
          f"{'met' if worst_low >= 1.0 and worst_high <= TARGET_RATIO else 'NOT met'}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
