"""Lesson 06's stripes (issue 23): train the fast network briefly and measure its outputs' stripe energy.

Trains ``nst_tf.fast.train`` on the sample photos with ``style/swirls`` (lesson 06's CPU defaults:
96 px crops, batch 2; ``--steps`` as given), then prints :func:`nst_tf.fast.stripe_energy` of the
previews and of the network's output on the four sample photos (256 px squares, as lesson 06's
batch figure), next to the painting's and the photos'. One thing can be changed per run, so runs
compare: ``--floor`` (``nst_tf.vgg.normalize.RARE_FLOOR``), ``--style-layers``. ``--png`` saves the
previews and outputs to look at. On the shared 2-core machine 100 steps took about 10 minutes.

    python benchmarks/bench_stripes.py --steps 100 --png base.png
    python benchmarks/bench_stripes.py --steps 60 --floor 0.5
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--size", type=int, default=96, help="training crops (px)")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--floor", type=float, help="nst_tf.vgg.normalize.RARE_FLOOR for this run")
    parser.add_argument("--style-layers", nargs="+", help="style layers (default: the package's)")
    parser.add_argument("--png", help="save previews and outputs to this PNG")
    parser.add_argument("--json", help="write the numbers here")
    args = parser.parse_args(argv)

    from nst_tf.vgg import normalize

    if args.floor is not None:  # before VGG is loaded: the scales are computed from the cached statistics
        normalize.RARE_FLOOR = args.floor
    from nst_tf import fast
    from nst_tf.image import load_image, samples
    from nst_tf.image.arrays import resize_image

    def center_square(image, side):
        height, width = image.shape[:2]
        short = min(height, width)
        top, left = (height - short) // 2, (width - short) // 2
        return resize_image(image[top:top + short, left:left + short], size=(side, side))

    options = {"style_layers": args.style_layers} if args.style_layers else {}
    content = load_image("content/chelsea", max_size=2 * args.size)
    started = time.perf_counter()
    result = fast.train("style/swirls", images=None, steps=args.steps, size=args.size, batch_size=args.batch_size,
                        preview_every=max(args.steps // 4, 1), preview_image=content, progress=False, **options)
    seconds = time.perf_counter() - started
    photos = np.stack([center_square(load_image(name, max_size=512), 256) for name in samples.names("content")])
    outputs = fast.stylize_fast(result.model, photos)
    numbers = {
        "settings": {"steps": args.steps, "size": args.size, "batch_size": args.batch_size,
                     "floor": normalize.RARE_FLOOR,
                     "style_layers": list(args.style_layers or fast.DEFAULT_FAST_STYLE_LAYERS)},
        "train_seconds": round(seconds, 1),
        "painting": fast.stripe_energy(load_image("style/swirls", max_size=256)),
        "photos": [fast.stripe_energy(photo) for photo in photos],
        "outputs": [fast.stripe_energy(image) for image in outputs],
        "outputs_turned": [fast.stripe_energy(image.transpose(1, 0, 2)) for image in outputs],
        "previews": {step: fast.stripe_energy(image) for step, image in result.previews},
    }
    ratios = np.array(numbers["outputs"]) / np.maximum(numbers["painting"], numbers["photos"])
    numbers["largest_ratio"] = float(ratios.max())
    print(json.dumps(numbers, indent=1))
    print(f"outputs / max(painting, photo): {np.round(ratios, 2)} (lesson 06's claim fails at 1.5 or more)")
    if args.json:
        with open(args.json, "w") as stream:
            json.dump(numbers, stream, indent=1)
    if args.png:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(2, 4, figsize=(16, 8))
        for ax, (step, image) in zip(axes[0], result.previews[-4:]):
            ax.imshow(image)
            ax.set_title(f"step {step}: {fast.stripe_energy(image):.4f}")
        for ax, image, value in zip(axes[1], outputs, numbers["outputs"]):
            ax.imshow(image)
            ax.set_title(f"{value:.4f}")
        for ax in axes.flat:
            ax.axis("off")
        fig.tight_layout()
        fig.savefig(args.png, dpi=80)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
