#!/usr/bin/env python
"""What Gatys' normalisation of VGG costs, and how stable it is (nst_tf/normalize.py).

    python benchmarks/bench_normalize.py                 # offline VGG16, 256 px steps
    python benchmarks/bench_normalize.py --quick         # 64 px, fewer steps (smoke run)
    python benchmarks/bench_normalize.py --weights PATH  # any backbone nst-tf can load

Prints three things, all measured in this one process:

1. **First use**: the wall-clock (and CPU) time to measure the normalisation (all reference images, one pass)
   with an empty cache (a temporary ``XDG_CACHE_HOME``), and the time to load it again
   from the disk cache.
2. **Stability of the reference set**: leave each reference image out in turn and compare
   every channel's divisor ``max(mean, RARE_FLOOR * size)`` with the one from all images:
   the median and 95th percentile of the relative change per channel, and per layer the
   change of the geometric mean over its channels (what moves a layer's cost as a whole).
3. **Step cost**: the normalisation is folded into the weights, so a step should cost
   what it cost before. Compiled Adam steps of ``StyleTransfer`` with and without
   normalisation, interleaved one by one; the ratio of the medians (raw / normalised,
   >= 0.97 is the target).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="offline", help="offline | imagenet | random | PATH (default: offline)")
    parser.add_argument("--size", type=int, default=256, help="image size for the step timing (default: 256)")
    parser.add_argument("--steps", type=int, default=15, help="timed steps per variant (default: 15)")
    parser.add_argument("--quick", action="store_true", help="64 px, 4 steps")
    args = parser.parse_args(argv)
    if args.quick:
        args.size, args.steps = 64, 4

    import keras
    import numpy as np

    from nst_tf import vgg as F
    from nst_tf.vgg.weights import vgg_constructor
    from nst_tf.vgg import normalize as N
    from nst_tf.image import load_image
    from nst_tf.image.arrays import scaled_style
    from nst_tf.transfer.style_transfer import StyleTransfer

    resolved, net = F.resolve_weights(args.weights, "vgg19")
    raw = F.load_vgg(resolved, net, normalize=False)
    order = F.conv_layer_names(net)
    base = vgg_constructor(net)(include_top=False, weights=None, input_shape=(None, None, 3))
    for name in order:
        base.get_layer(name).set_weights(raw.get_layer(name).get_weights())
    print(f"backbone: {raw.nst_description}")

    # 1. First use, with an empty cache; then from the disk cache.
    with tempfile.TemporaryDirectory() as cache:
        os.environ["XDG_CACHE_HOME"] = cache
        N._MEMORY.clear()
        started = time.perf_counter()
        images = N.reference_images()
        loaded = time.perf_counter() - started
        conv_weights = {name: base.get_layer(name).get_weights() for name in order}
        function = N.statistics_function(base, order)
        started, cpu = time.perf_counter(), time.process_time()
        first = N.normalization_for(conv_weights, order, function, images=images)
        measured, cpu = time.perf_counter() - started, time.process_time() - cpu
        N._MEMORY.clear()
        started = time.perf_counter()
        again = N.normalization_for(conv_weights, order, function, images=images)
        from_disk = time.perf_counter() - started
        assert again.source == "disk", again.source
    print(f"first use: {len(images)} reference images loaded in {loaded:.2f} s, statistics measured in "
          f"{measured:.2f} s (CPU time of all threads {cpu:.2f} s; includes tracing); from the disk cache {from_disk * 1000:.0f} ms")
    print(f"channels: {first.dead_count} never fire, {first.rare_count} rarely "
          f"(divided by {N.RARE_FLOOR:g} x mean |pre-activation|), of {first.channel_count}")

    # 2. Leave-one-out stability.
    per_image = [function(image[np.newaxis]) for image in images]
    means = {name: np.array([np.asarray(p[name][0]) for p in per_image]) for name in order}
    sizes = {name: np.array([np.asarray(p[name][1]) for p in per_image]) for name in order}

    def divisor(name, keep):
        return np.maximum(means[name][keep].mean(0), N.RARE_FLOOR * sizes[name][keep].mean(0))

    everything = list(range(len(images)))
    channel_changes, layer_changes = [], []
    for left_out in everything:
        keep = [i for i in everything if i != left_out]
        for name in order:
            full, loo = divisor(name, everything), divisor(name, keep)
            ok = full > 0
            ratio = loo[ok] / full[ok]
            channel_changes.append(np.abs(ratio - 1))
            layer_changes.append(abs(float(np.exp(np.mean(np.log(ratio)))) - 1))
    changes = np.concatenate(channel_changes)
    print(f"leave-one-out, per channel: median {np.median(changes):.3f}, 95th percentile "
          f"{np.quantile(changes, 0.95):.3f}; per layer (geometric mean): median {np.median(layer_changes):.3f}, "
          f"largest {max(layer_changes):.3f}")

    # 3. Step cost, normalised against raw, interleaved.
    content = load_image("content/chelsea", args.size)
    style = scaled_style(load_image("style/swirls"), content.shape[:2], 1.0)
    transfers = {flag: StyleTransfer(content, style, weights=resolved, net=net, normalize=flag) for flag in (True, False)}
    steps = {flag: transfer.make_adam_step() for flag, transfer in transfers.items()}
    for step in steps.values():  # trace and warm up
        for _ in range(2):
            float(step()["total"])
    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(args.steps):
        for flag, step in steps.items():
            started = time.perf_counter()
            float(step()["total"])
            times[flag].append(time.perf_counter() - started)
    normalised, plain = statistics.median(times[True]), statistics.median(times[False])
    print(f"Adam step at {content.shape[1]}x{content.shape[0]} px, median of {args.steps}: normalised "
          f"{normalised * 1000:.0f} ms, raw {plain * 1000:.0f} ms, ratio raw/normalised {plain / normalised:.3f} "
          "(target >= 0.97)")
    del keras
    return 0


if __name__ == "__main__":
    sys.exit(main())
