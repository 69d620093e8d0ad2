"""Copy the sample content photos in ``data/content/`` from scikit-image (offline).

The photos are scikit-image's bundled sample images (installed with the PyPI
package ``scikit-image``, no download), which its docstrings state are public
domain / CC0. They are re-encoded unchanged in size as JPEG (quality 92).

Usage::

    python data/make_content.py            # writes data/content/<name>.jpg
    python data/make_content.py --out DIR
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

__all__ = ["CONTENT", "CONTENT_DIR", "JPEG_QUALITY", "load", "main"]

#: Where the script writes by default.
CONTENT_DIR = Path(__file__).resolve().parent / "content"
#: JPEG quality of the committed files.
JPEG_QUALITY = 92

#: name -> (scikit-image loader, what it shows, original source, licence as stated in the loader's docstring)
CONTENT: dict[str, tuple[str, str, str, str]] = {
    "astronaut": (
        "skimage.data.astronaut",
        "Portrait of astronaut Eileen Collins",
        "NASA Great Images database (https://flic.kr/p/r9qvLn)",
        "Public domain (no known copyright restrictions)",
    ),
    "chelsea": (
        "skimage.data.chelsea",
        "Chelsea the cat",
        "Photograph by Stefan van der Walt",
        "CC0 (no copyright restrictions)",
    ),
    "coffee": (
        "skimage.data.coffee",
        "A cup of coffee on a wooden table",
        "Photograph by Rachel Michetti, courtesy of Pikolo Espresso Bar",
        "CC0 (no copyright restrictions)",
    ),
    "rocket": (
        "skimage.data.rocket",
        "Launch of DSCOVR on a Falcon 9 rocket",
        "SpaceX Photos (https://www.flickr.com/photos/spacexphotos/16511594820/)",
        "Public domain (released by SpaceX)",
    ),
}


def load(name: str) -> np.ndarray:
    """The scikit-image sample ``name`` as a uint8 ``(H, W, 3)`` array."""
    import importlib

    module, _, func = CONTENT[name][0].rpartition(".")
    image = np.asarray(getattr(importlib.import_module(module), func)())
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"{CONTENT[name][0]}() is not an RGB uint8 image: {image.shape} {image.dtype}")
    return image


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write the chosen (default: all) content images into ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help=f"images to write (default: all of {', '.join(CONTENT)})")
    parser.add_argument("--out", type=Path, default=CONTENT_DIR, help="output folder (default: data/content)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.names or list(CONTENT):
        image = load(name)
        target = args.out / f"{name}.jpg"
        Image.fromarray(image).save(target, format="JPEG", quality=JPEG_QUALITY, subsampling=2, optimize=True)
        digest = hashlib.sha256(target.read_bytes()).hexdigest()
        print(f"{target}: {image.shape[1]}x{image.shape[0]}, {target.stat().st_size // 1024} KiB, sha256 {digest[:16]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
