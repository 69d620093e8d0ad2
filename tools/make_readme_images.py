"""Make the pictures in README.md from the bundled samples (offline weights by default).

    python tools/make_readme_images.py            # all of them, a few minutes on a CPU
    python tools/make_readme_images.py --only demo

They are small JPEGs in docs/images/; re-run after changing the defaults.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "docs" / "images"
THUMB = 160


def save(image: np.ndarray, name: str, size: int | None = None) -> None:
    from PIL import Image

    from nst_tf.image import arrays as images

    array = images.resize_image(image, size) if size else image
    pixels = (np.clip(array, 0, 1) * 255 + 0.5).astype(np.uint8)
    OUT.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(OUT / f"{name}.jpg", quality=88)
    print("wrote", OUT / f"{name}.jpg")


def tile(maps: np.ndarray, columns: int) -> np.ndarray:
    """(h, w, n) feature maps -> one grey grid image (H, W, 3), each map scaled to [0, 1]."""
    h, w, n = maps.shape
    rows = int(np.ceil(n / columns))
    grid = np.ones((rows * (h + 1) - 1, columns * (w + 1) - 1))
    for i in range(n):
        m = maps[..., i]
        m = (m - m.min()) / (np.ptp(m) + 1e-8)
        r, c = divmod(i, columns)
        grid[r * (h + 1): r * (h + 1) + h, c * (w + 1): c * (w + 1) + w] = m
    return np.repeat(grid[..., None], 3, axis=-1)


def colormap(matrix: np.ndarray, name: str = "magma") -> np.ndarray:
    import matplotlib

    m = np.log1p(np.abs(matrix))
    return matplotlib.colormaps[name]((m - m.min()) / (np.ptp(m) + 1e-8))[..., :3]


def make_demo(weights: str) -> None:
    import nst_tf

    # What `nst-tf demo` paints: the same pictures, size and steps (the README says so).
    from nst_tf.cli.commands import DEMO_CONTENT, DEMO_STYLE

    image, _ = nst_tf.stylize(DEMO_CONTENT, DEMO_STYLE, size=256, weights=weights)
    save(image, "demo")


def make_lessons(weights: str) -> None:
    import nst_tf
    from nst_tf.image import load_image
    from nst_tf.vgg.extractor import feature_extractor
    from nst_tf.losses.gram import gram_matrix

    chelsea = load_image("content/chelsea", max_size=256)
    extract = feature_extractor(["block2_conv1"], weights=weights)
    maps = extract(chelsea)["block2_conv1"].numpy()[0]
    maps = np.sqrt(maps[..., np.argsort(maps.mean(axis=(0, 1)))[-16:]])  # the 16 busiest channels
    save(tile(maps, 4), "lesson01", THUMB)

    mosaic = load_image("style/mosaic", max_size=256)
    gram = gram_matrix(feature_extractor(["block1_conv1"], weights=weights)(mosaic)["block1_conv1"])[0]
    save(np.kron(colormap(gram.numpy()), np.ones((3, 3, 1))), "lesson02", THUMB)

    small = dict(size=THUMB, steps=60, weights=weights, progress=False)
    image, _ = nst_tf.stylize("content/coffee", "style/mosaic", style_statistic="mean_std",
                             style_weight=100.0, **small)  # mean/std costs are far smaller than Gram costs
    save(image, "lesson03")
    image, _ = nst_tf.stylize("content/astronaut", "style/waves", **small)
    save(image, "lesson04")
    try:
        from nst_tf.image import colour

        content = load_image("content/rocket", max_size=THUMB)
        image, _ = nst_tf.stylize(content, "style/cubist", **small)
        save(colour.recombine_luminance(image, content), "lesson05")
    except (ImportError, AttributeError):
        pass
    image, _ = nst_tf.stylize("content/chelsea", "style/cubist", **small)
    save(image, "lesson06")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("demo", "lessons"))
    parser.add_argument("--weights", default="offline")
    args = parser.parse_args()
    if args.only in (None, "demo"):
        make_demo(args.weights)
    if args.only in (None, "lessons"):
        make_lessons(args.weights)


if __name__ == "__main__":
    main()
