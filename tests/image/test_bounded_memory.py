"""Issue 16, point 1: large pictures are shrunk in 8 bits before any float conversion.

``tracemalloc`` sees NumPy's allocations (not Pillow's 8-bit buffers), so the peak it
reports is the float work; before the fix a 2000 px picture at ``max_size=64`` made
a full-size float32 copy (2000*2000*3*4 bytes = 48 MB).
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from PIL import Image

from nst_tf.image import load_image
from nst_tf.image import decode as decoding, arrays as images

SIDE = 2000
FULL_FLOAT = SIDE * SIDE * 3 * 4


def _picture(mode: str) -> Image.Image:
    y, x = np.mgrid[0:SIDE, 0:SIDE]
    # Smooth content (waves of a few hundred pixels): shrinking methods agree on it.
    rgb = np.stack([x * 255 // SIDE, 128 + 100 * np.sin(y / 40.0), 128 + 100 * np.cos((x + y) / 60.0)],
                   axis=2).astype(np.uint8)
    picture = Image.fromarray(rgb)
    if mode == "RGBA":
        alpha = Image.fromarray((128 + 120 * np.sin(x / 50.0)).astype(np.uint8))
        picture.putalpha(alpha)
    elif mode == "P":
        picture = picture.quantize(64)
    elif mode == "I;16":
        picture = Image.fromarray((x * 65535 // SIDE).astype(np.uint16))
    return picture


@pytest.mark.parametrize("mode, suffix", [("RGB", ".png"), ("RGBA", ".png"), ("P", ".png"),
                                          ("RGB", ".webp"), ("I;16", ".png")])
@pytest.mark.slow
def test_large_picture_is_shrunk_before_float_conversion(tmp_path, mode, suffix):
    path = tmp_path / f"big{suffix}"
    options = {"lossless": True} if suffix == ".webp" else {}
    _picture(mode).save(path, **options)
    tracemalloc.start()
    try:
        small = load_image(path, max_size=64)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert small.shape[:2] == (64, 64) and small.dtype == np.float32
    # Pillow's WebP decoder hands over the 8-bit pixels as Python bytes (traced: 16 MB);
    # any full-size float32 copy would add 48 MB.
    assert peak < FULL_FLOAT / 2, f"traced memory peaked at {peak / 1e6:.1f} MB"
    # Same picture as decoding everything in float and resizing (box + Lanczos vs Lanczos).
    with Image.open(path) as im:
        reference = images.resize_image(decoding._to_float_rgb(im.convert("RGBA") if mode in ("P", "RGBA") else im,
                                                             "ref"), size=(64, 64))
    assert np.abs(small - reference).mean() < 0.02


def test_exif_orientation_survives_shrinking(tmp_path):
    picture = Image.new("RGB", (400, 200), (255, 0, 0))
    picture.paste((0, 0, 255), (0, 0, 200, 200))  # left half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned: shown rotated 90 degrees clockwise
    path = tmp_path / "turned.png"
    picture.save(path, exif=exif)
    upright = load_image(path, max_size=80)
    assert upright.shape[:2] == (80, 40)
    assert upright[5, 20, 2] > 0.9 and upright[-5, 20, 0] > 0.9  # blue on top after the turn


def test_mask_file_is_decoded_at_the_content_size(tmp_path):
    from nst_tf.losses.masks import load_mask

    path = tmp_path / "mask.png"
    mask = np.zeros((SIDE, SIDE), np.uint8)
    mask[:, SIDE // 2:] = 255
    Image.fromarray(mask).save(path)
    tracemalloc.start()
    try:
        loaded = load_mask(path, (48, 64))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert loaded.shape == (48, 64)
    assert loaded[:, :28].max() < 0.05 and loaded[:, 36:].min() > 0.95
    assert peak < FULL_FLOAT / 4, f"traced memory peaked at {peak / 1e6:.1f} MB"
