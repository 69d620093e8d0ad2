#!/usr/bin/env python
"""A lesson's many short ``stylize`` calls: the kept transfer against a new one for every call.

    python benchmarks/bench_calls.py                    # 128 px, 15 evaluations a call, 6 calls each way
    python benchmarks/bench_calls.py --size 96 --steps 30 --calls 8
    python benchmarks/bench_calls.py --quick            # 64 px, 4 evaluations, 3 calls (smoke run)

Lessons 04 and 05 compare settings with ten or more short runs of one size. ``nst_tf.stylize``
keeps its last transfer and gives a next call of the same size and options the new pictures and
weights (``StyleTransfer.retarget``: the targets are variables), instead of building a transfer
and tracing its L-BFGS again. Both ways run here in one process, interleaved call by call (the
network is built and one transfer traced before any timing): "kept" calls in a row, each with
other pictures and weights, and "new" calls with ``nst_tf.transfer.controls.forget_transfers()``
before each. Printed: the median seconds a call takes each way, their ratio (new / kept; above
1 is what keeping saves) and whether the two ways painted the same pictures (they must, to the
last bit: the kept transfer computes what a new one computes).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="offline", help="offline | imagenet | random | PATH (default: offline)")
    parser.add_argument("--size", type=int, default=128, help="long side of every call's output (default: 128)")
    parser.add_argument("--steps", type=int, default=15, help="L-BFGS evaluations a call (default: 15)")
    parser.add_argument("--calls", type=int, default=6, help="calls each way (default: 6)")
    parser.add_argument("--quick", action="store_true", help="64 px, 4 evaluations, 3 calls")
    args = parser.parse_args(argv)
    if args.quick:
        args.size, args.steps, args.calls = 64, 4, 3

    import numpy as np

    import nst_tf
    from nst_tf.image import load_image
    from nst_tf.transfer import controls

    content = load_image("content/chelsea", max_size=args.size)
    styles = [load_image(name, max_size=2 * args.size) for name in ("style/swirls", "style/mosaic")]
    weights = [{}, {"style_weight": 3.0}, {"tv_weight": 0.0}, {"content_weight": 0.5}]

    def call(index: int) -> tuple[float, np.ndarray]:
        options = weights[index % len(weights)]
        started = time.perf_counter()
        result = nst_tf.stylize(content, styles[index % 2], size=None, steps=args.steps, progress=False,
                                weights=args.weights, **options)
        return time.perf_counter() - started, result.image

    call(0)  # the network built and one transfer traced before anything is timed
    kept, new, same = [], [], True
    for index in range(args.calls):
        seconds, kept_image = call(index + 1)  # the kept transfer of the call before, new pictures and weights
        kept.append(seconds)
        controls.forget_transfers()
        seconds, new_image = call(index + 1)  # a new transfer (built and traced)
        new.append(seconds)
        same = same and bool(np.array_equal(kept_image, new_image))
    kept_median, new_median = statistics.median(kept), statistics.median(new)
    height, width = content.shape[:2]
    print(f"{args.calls} calls each way, {width} x {height} px, {args.steps} L-BFGS evaluations a call, "
          f"weights {args.weights}, {os.cpu_count()} CPUs")
    print(f"  kept transfer: median {kept_median:.2f} s a call ({', '.join(f'{s:.2f}' for s in kept)})")
    print(f"  new transfer:  median {new_median:.2f} s a call ({', '.join(f'{s:.2f}' for s in new)})")
    print(f"  ratio new / kept: {new_median / kept_median:.2f}; saved a call: {new_median - kept_median:.2f} s")
    print(f"  the same pictures both ways: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
