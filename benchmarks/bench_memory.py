"""Peak memory of ``nst-tf stylize --size 256`` for a 9000 px PNG / WebP against a plain 256 px run.

    python benchmarks/bench_memory.py              # 9000 px pictures, 5 L-BFGS steps (~3 min on 2 cores)
    python benchmarks/bench_memory.py --quick      # 2000 px pictures, 2 steps
    python benchmarks/bench_memory.py --json mem.json

Each run is its own process (``python -m nst_tf stylize ...``); its peak resident
memory is ``ru_maxrss`` from ``os.wait4``, so TensorFlow's and Pillow's allocations
count, not only Python's. The baseline, measured in the same run, is the same command
with the content picture already at 256 px. The goal (issue 16): a huge picture costs
less than twice the baseline. For context the script also measures decoding alone
(``nst_tf.image.load_image(path, max_size=256)``) and the way nst-tf decoded before
(every pixel to float32 at full size, then resized), each in its own process.
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
TARGET_RATIO = 2.0

DECODE_NOW = "import sys; from nst_tf.image import load_image; load_image(sys.argv[1], max_size=256)"
DECODE_BEFORE = (  # what load_image did before issue 16 for non-JPEG files
    "import sys, numpy as np; from PIL import Image; from nst_tf.image.arrays import resize_image\n"
    "im = Image.open(sys.argv[1]); im.load()\n"
    "array = np.asarray(im.convert('RGB'), dtype=np.float32) / np.float32(255.0)\n"
    "resize_image(array, 256)\n"
)


def picture(side: int) -> Image.Image:
    """A photo-like test picture: smooth gradients plus a little noise (so PNG cannot shrink it to nothing)."""
    y, x = np.mgrid[0:side, 0:side].astype(np.float32) / side
    rng = np.random.default_rng(0)
    rgb = np.stack([x, y, 0.5 + 0.4 * np.sin(12 * (x + y))], axis=2) * 230
    rgb += rng.integers(0, 24, (side, side, 1), dtype=np.uint8)
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))


def peak_of(argv: list[str], env: dict) -> tuple[float, float, int]:
    """``(peak resident MiB, seconds, exit status)`` of a child process."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    error = process.stderr.read().decode(errors="replace") if process.stderr else ""
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        print(f"  ! {' '.join(argv[-8:])}: exit {process.returncode}: {error.strip()[-300:]}", file=sys.stderr)
    return usage.ru_maxrss / 1024.0, seconds, process.returncode  # Linux: kilobytes


def make_pictures(side: int, folder: Path) -> None:
    big = picture(side)
    big.save(folder / f"big{side}.png", compress_level=1)
    big.save(folder / f"big{side}.webp", lossless=True, method=0, quality=0)
    small = big.resize((256, 256), Image.Resampling.LANCZOS)
    small.save(folder / "small256.png")
    small.save(folder / "style.png")


def main(argv=None) -> int:
    if argv is None and sys.argv[1:2] == ["--make-pictures"]:
        make_pictures(int(sys.argv[2]), Path(sys.argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2000 px pictures and 2 steps")
    parser.add_argument("--side", type=int, help="side of the large pictures (default: 9000, --quick 2000)")
    parser.add_argument("--steps", type=int, help="L-BFGS steps per run (default: 5, --quick 2)")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)
    side = args.side or (2000 if args.quick else 9000)
    steps = args.steps or (2 if args.quick else 5)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               NST_TF_WEIGHTS="offline", TF_CPP_MIN_LOG_LEVEL="3")
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        files = {"png": folder / f"big{side}.png", "webp": folder / f"big{side}.webp",
                 "baseline": folder / "small256.png"}
        # Made in another process: a child's ru_maxrss starts from its parent's size at fork
        # (Linux), so this process must stay small for the children's peaks to be their own.
        subprocess.run([sys.executable, __file__, "--make-pictures", str(side), str(folder)], env=env, check=True)
        print(f"pictures: {side} x {side} px PNG ({files['png'].stat().st_size / 1e6:.1f} MB), "
              f"lossless WebP ({files['webp'].stat().st_size / 1e6:.1f} MB); 256 px baseline; "
              f"{steps} L-BFGS steps, offline VGG16; {platform.python_version()}, {os.cpu_count()} CPUs")

        def stylize(content: Path) -> list[str]:
            return [sys.executable, "-m", "nst_tf", "stylize", str(content), str(folder / "style.png"),
                    "-o", str(folder / f"out-{content.stem}.png"), "--size", "256", "--steps", str(steps),
                    "--weights", "offline", "--no-progress", "--overwrite"]

        rows = []
        baseline, seconds, status = peak_of(stylize(files["baseline"]), env)
        rows.append({"case": "stylize, 256 px content (baseline)", "peak_mib": baseline, "seconds": seconds,
                     "ratio": 1.0, "status": status})
        for kind in ("png", "webp"):
            peak, seconds, status = peak_of(stylize(files[kind]), env)
            rows.append({"case": f"stylize, {side} px {kind.upper()} content", "peak_mib": peak,
                         "seconds": seconds, "ratio": peak / baseline, "status": status})
        for kind in ("png", "webp"):
            for label, code in (("decode only, now", DECODE_NOW), ("decode only, as before", DECODE_BEFORE)):
                peak, seconds, status = peak_of([sys.executable, "-c", code, str(files[kind])], env)
                rows.append({"case": f"{label}: {side} px {kind.upper()}", "peak_mib": peak, "seconds": seconds,
                             "ratio": peak / baseline, "status": status})
    width = max(len(row["case"]) for row in rows)
    print(f"\n{'case':<{width}}  peak MiB  seconds  / baseline")
    for row in rows:
        flag = "" if row["status"] == 0 else f"  (exit {row['status']})"
        print(f"{row['case']:<{width}}  {row['peak_mib']:8.0f}  {row['seconds']:7.1f}  {row['ratio']:9.2f}{flag}")
    worst = max(row["ratio"] for row in rows if row["case"].startswith("stylize"))
    verdict = "met" if worst < TARGET_RATIO else "NOT met"
    print(f"\nlargest stylize ratio: {worst:.2f} (target: under {TARGET_RATIO:g}): {verdict}")
    if args.json:
        args.json.write_text(json.dumps({"side": side, "steps": steps, "rows": rows, "worst_ratio": worst}, indent=1))
    return 0 if all(row["status"] == 0 for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
