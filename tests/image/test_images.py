"""Tests for nst_tf.image.arrays (loading, resizing, saving, conversions) and nst_tf.show.display.

Every test image is generated with Pillow in ``tmp_path``; nothing binary is committed.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from nst_tf.image import ImageError, load_image
from nst_tf.image import arrays as images
from nst_tf.image.arrays import MIN_SIZE, resize_image, to_batch, to_numpy_image
from nst_tf.image.save import save_image

RED = (255, 0, 0)
W, H = 64, 48  # default test picture: 64 wide, 48 tall


# --------------------------------------------------------------------------- helpers


def check_rgb(array: np.ndarray, height: int = H, width: int = W) -> None:
    """The loader's contract: float32 (H, W, 3) within [0, 1]."""
    assert isinstance(array, np.ndarray)
    assert array.dtype == np.float32
    assert array.shape == (height, width, 3)
    assert float(array.min()) >= 0.0 and float(array.max()) <= 1.0


def save(im: Image.Image, path: Path, **options) -> Path:
    im.save(path, **options)
    return path


def gradient(width: int = W, height: int = H) -> np.ndarray:
    """A smooth uint8 RGB test picture (H, W, 3)."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack(
        [x * 255 // (width - 1), y * 255 // (height - 1), (x + y) * 255 // (width + height - 2)], axis=2
    ).astype(np.uint8)


def noisy_jpeg(path: Path, size: tuple[int, int] = (256, 256)) -> Path:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return save(Image.fromarray(pixels), path, quality=90)


def assert_one_line_naming(err: pytest.ExceptionInfo, path: Path | str) -> None:
    message = str(err.value)
    assert "\n" not in message
    assert os.fspath(path) in message or Path(path).name in message


def listing(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


# --------------------------------------------------------------------------- formats and modes


@pytest.mark.parametrize(
    "suffix, options, tolerance",
    [
        (".png", {}, 0.0),
        (".jpg", {"quality": 95}, 0.08),
        (".jpeg", {"quality": 95}, 0.08),
        (".webp", {"lossless": True}, 0.0),
        (".webp", {"quality": 90}, 0.1),
        (".bmp", {}, 0.0),
        (".tif", {}, 0.0),
        (".tiff", {"compression": "tiff_lzw"}, 0.0),
    ],
)
def test_each_format_loads_as_float_rgb(tmp_path, suffix, options, tolerance):
    pixels = gradient()
    path = save(Image.fromarray(pixels), tmp_path / f"picture{suffix}", **options)
    array = load_image(path)
    check_rgb(array)
    error = np.abs(array - pixels / 255.0)
    assert error.mean() <= tolerance / 4 + 1e-6
    assert error.max() <= max(tolerance * 3, 1e-6)


def test_gif_loads_first_frame(tmp_path):
    frames = [Image.new("RGB", (W, H), colour) for colour in (RED, (0, 0, 255), (0, 255, 0))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    array = load_image(path)
    check_rgb(array)
    np.testing.assert_allclose(array[H // 2, W // 2], [1, 0, 0], atol=1e-6)


def test_grayscale_l(tmp_path):
    path = save(Image.new("L", (W, H), 128), tmp_path / "gray.png")
    array = load_image(path)
    check_rgb(array)
    np.testing.assert_allclose(array, 128 / 255, atol=1e-6)


def test_one_bit(tmp_path):
    im = Image.new("1", (W, H), 0)
    im.paste(1, (0, 0, W // 2, H))
    array = load_image(save(im, tmp_path / "bits.png"))
    check_rgb(array)
    np.testing.assert_allclose(array[0, 0], [1, 1, 1])
    np.testing.assert_allclose(array[0, -1], [0, 0, 0])


@pytest.mark.parametrize("suffix", [".png", ".webp", ".tif"])
def test_rgba_alpha_is_flattened_on_white(tmp_path, suffix):
    im = Image.new("RGBA", (W, H), (255, 0, 0, 0))  # fully transparent red
    im.paste((255, 0, 0, 255), (0, 0, 16, 16))  # opaque red corner
    im.paste((0, 0, 0, 128), (W - 16, H - 16, W, H))  # half-transparent black corner
    options = {"lossless": True} if suffix == ".webp" else {}
    array = load_image(save(im, tmp_path / f"rgba{suffix}", **options))
    check_rgb(array)
    np.testing.assert_allclose(array[H // 2, W // 2], [1, 1, 1], atol=1e-6)
    np.testing.assert_allclose(array[2, 2], [1, 0, 0], atol=1e-6)
    np.testing.assert_allclose(array[-2, -2], [1 - 128 / 255] * 3, atol=1e-3)


def test_la_alpha_is_flattened_on_white(tmp_path):
    im = Image.new("LA", (W, H), (0, 0))
    im.paste((0, 255), (0, 0, 16, 16))
    array = load_image(save(im, tmp_path / "la.png"))
    check_rgb(array)
    np.testing.assert_allclose(array[H // 2, W // 2], [1, 1, 1])
    np.testing.assert_allclose(array[2, 2], [0, 0, 0])


def _palette_image() -> Image.Image:
    im = Image.new("P", (W, H), 0)
    palette = [255, 0, 0, 0, 0, 255, 0, 255, 0] + [0, 0, 0] * 253
    im.putpalette(palette)
    im.paste(1, (0, 0, 16, 16))  # blue corner
    return im


@pytest.mark.parametrize("suffix", [".png", ".gif", ".bmp"])
def test_palette_without_transparency(tmp_path, suffix):
    array = load_image(save(_palette_image(), tmp_path / f"pal{suffix}"))
    check_rgb(array)
    np.testing.assert_allclose(array[H // 2, W // 2], [1, 0, 0])
    np.testing.assert_allclose(array[2, 2], [0, 0, 1])


@pytest.mark.parametrize("suffix", [".png", ".gif"])
def test_palette_with_transparency_is_white(tmp_path, suffix):
    path = save(_palette_image(), tmp_path / f"pal{suffix}", transparency=0)  # red index transparent
    with Image.open(path) as check:
        assert check.mode == "P" and "transparency" in check.info
    array = load_image(path)
    check_rgb(array)
    np.testing.assert_allclose(array[H // 2, W // 2], [1, 1, 1])
    np.testing.assert_allclose(array[2, 2], [0, 0, 1])


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_grayscale_is_scaled_not_clipped(tmp_path, suffix):
    values = np.zeros((H, W), dtype=np.uint16)
    values[:, : W // 3] = 65535
    values[:, W // 3 : 2 * W // 3] = 32768
    values[:, 2 * W // 3 :] = 1000
    path = save(Image.fromarray(values), tmp_path / f"deep{suffix}")
    with Image.open(path) as check:
        assert check.mode.startswith("I")  # really a high-depth file
    array = load_image(path)
    check_rgb(array)
    np.testing.assert_allclose(array[0, 0], [1, 1, 1], atol=1e-6)
    np.testing.assert_allclose(array[0, W // 2], [32768 / 65535] * 3, atol=1e-6)
    np.testing.assert_allclose(array[0, -1], [1000 / 65535] * 3, atol=1e-6)


def test_32_bit_integer_mode_i(tmp_path):
    values = np.full((H, W), 32768, dtype=np.int32)
    values[0, 0] = 65535
    path = save(Image.fromarray(values), tmp_path / "int32.tif")
    with Image.open(path) as check:
        assert check.mode == "I"
    array = load_image(path)
    check_rgb(array)
    np.testing.assert_allclose(array[0, 0], [1, 1, 1], atol=1e-6)
    np.testing.assert_allclose(array[5, 5], [32768 / 65535] * 3, atol=1e-6)


def test_float_mode_f():
    values = np.full((H, W), 0.25, dtype=np.float32)
    array = load_image(Image.fromarray(values))
    check_rgb(array)
    np.testing.assert_allclose(array, 0.25)


@pytest.mark.parametrize("suffix", [".jpg", ".tif"])
def test_cmyk_cyan_is_roughly_cyan(tmp_path, suffix):
    path = save(Image.new("CMYK", (W, H), (255, 0, 0, 0)), tmp_path / f"cmyk{suffix}")
    with Image.open(path) as check:
        assert check.mode == "CMYK"
    array = load_image(path)
    check_rgb(array)
    np.testing.assert_allclose(array[H // 2, W // 2], [0, 1, 1], atol=0.05)


# --------------------------------------------------------------------------- sources


def test_every_kind_of_source_gives_the_same_array(tmp_path):
    pixels = gradient()
    path = save(Image.fromarray(pixels), tmp_path / "src.png")
    expected = pixels.astype(np.float32) / 255
    data = path.read_bytes()
    with open(path, "rb") as handle:
        from_handle = load_image(handle)
        assert not handle.closed  # the caller's file stays theirs
    for array in (
        load_image(path),
        load_image(str(path)),
        load_image(data),
        load_image(io.BytesIO(data)),
        from_handle,
        load_image(Image.fromarray(pixels)),
    ):
        check_rgb(array)
        np.testing.assert_allclose(array, expected, atol=1e-6)


def test_unsupported_source_type_is_a_type_error():
    with pytest.raises(TypeError):
        load_image(12345)


# --------------------------------------------------------------------------- EXIF orientation


def test_exif_orientation_is_honoured(tmp_path):
    im = Image.new("RGB", (60, 40), (255, 255, 255))
    im.paste(RED, (0, 0, 12, 12))  # marked stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    path = tmp_path / "phone.jpg"
    im.save(path, exif=exif, quality=95)
    array = load_image(path)
    check_rgb(array, height=60, width=40)
    # Turning clockwise moves the stored top-left corner to the top-right.
    np.testing.assert_allclose(array[3, -4], [1, 0, 0], atol=0.1)
    np.testing.assert_allclose(array[3, 3], [1, 1, 1], atol=0.1)
    np.testing.assert_allclose(array[-4, -4], [1, 1, 1], atol=0.1)


def test_exif_orientation_is_applied_before_resizing(tmp_path):
    im = Image.new("RGB", (600, 400), (255, 255, 255))
    im.paste(RED, (0, 0, 120, 120))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "phone.jpg"
    im.save(path, exif=exif, quality=95)
    array = load_image(path, max_size=90)
    check_rgb(array, height=90, width=60)
    np.testing.assert_allclose(array[5, -6], [1, 0, 0], atol=0.1)


# --------------------------------------------------------------------------- resizing


def test_max_size_keeps_aspect_ratio(tmp_path):
    path = save(Image.fromarray(gradient(200, 100)), tmp_path / "wide.png")
    check_rgb(load_image(path, max_size=100), height=50, width=100)
    tall = save(Image.fromarray(gradient(90, 300)), tmp_path / "tall.png")
    check_rgb(load_image(tall, max_size=120), height=120, width=36)


def test_max_size_never_upscales(tmp_path):
    path = save(Image.fromarray(gradient(200, 100)), tmp_path / "small.png")
    array = load_image(path, max_size=500)
    check_rgb(array, height=100, width=200)
    np.testing.assert_allclose(array, gradient(200, 100) / 255.0, atol=1e-6)


def test_large_jpeg_shrinks_like_a_full_decode(tmp_path):
    pixels = np.asarray(Image.fromarray(gradient(64, 48)).resize((1600, 1200), Image.Resampling.BICUBIC))
    path = save(Image.fromarray(pixels), tmp_path / "big.jpg", quality=95)
    quick = load_image(path, max_size=100)  # JPEG draft mode decodes at reduced scale
    check_rgb(quick, height=75, width=100)
    careful = resize_image(load_image(path), 100)
    assert np.abs(quick - careful).mean() < 0.01


def test_too_small_after_shrinking_is_rejected(tmp_path):
    path = save(Image.fromarray(gradient(400, 40)), tmp_path / "strip.png")
    with pytest.raises(ImageError, match="32 px") as err:
        load_image(path, max_size=100)  # would be 100x10
    assert_one_line_naming(err, path)


def test_bad_size_arguments():
    picture = Image.fromarray(gradient())
    with pytest.raises(ValueError):
        load_image(picture, max_size=16)  # below MIN_SIZE
    with pytest.raises(ValueError):
        load_image(picture, max_size=0)
    with pytest.raises(ValueError):
        load_image(picture, min_size=0)


def test_min_size_can_be_lowered():
    check_rgb(load_image(Image.new("RGB", (8, 6)), min_size=4), height=6, width=8)


def test_resize_image_exact_size_and_range():
    checker = (np.indices((64, 64)).sum(axis=0) % 2).astype(np.float32)
    image = np.repeat(checker[:, :, None], 3, axis=2)  # Lanczos overshoots on this
    out = resize_image(image, size=(20, 30))
    check_rgb(out, height=20, width=30)
    assert abs(float(out.mean()) - 0.5) < 0.05


def test_resize_image_max_size_and_copy():
    image = gradient(100, 50).astype(np.float32) / 255
    check_rgb(resize_image(image, 40), height=20, width=40)
    same = resize_image(image, 400)
    check_rgb(same, height=50, width=100)
    assert same is not image
    np.testing.assert_array_equal(same, image)
    with pytest.raises(ValueError):
        resize_image(image, 40, size=(10, 10))
    with pytest.raises(ValueError):
        resize_image(image, size=(0, 10))


def test_resize_image_accepts_uint8():
    out = resize_image(gradient(100, 50), size=(25, 50))
    check_rgb(out, height=25, width=50)


# --------------------------------------------------------------------------- bad files


def _missing(tmp_path):
    return tmp_path / "nowhere.jpg"


def _directory(tmp_path):
    folder = tmp_path / "folder.png"
    folder.mkdir()
    return folder


def _empty(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    return path


def _truncated_jpeg(tmp_path):
    path = noisy_jpeg(tmp_path / "cut.jpg")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _truncated_png(tmp_path):
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    path = save(Image.fromarray(pixels), tmp_path / "cut.png")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _text(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a picture\n" * 20)
    return path


def _too_small(tmp_path):
    return save(Image.new("RGB", (20, 18)), tmp_path / "cat.png")


@pytest.mark.parametrize(
    "make, words",
    [
        (_missing, "does not exist"),
        (_directory, "folder"),
        (_empty, "empty"),
        (_truncated_jpeg, "truncated"),
        (_truncated_png, ""),
        (_text, "not an image file Pillow can read"),
        (_too_small, f"is 20x18 px; images must be at least {MIN_SIZE} px on each side"),
    ],
    ids=["missing", "directory", "empty", "truncated-jpeg", "truncated-png", "text", "too-small"],
)
def test_bad_files_raise_one_line_image_error(tmp_path, make, words):
    path = make(tmp_path)
    with pytest.raises(ImageError) as err:
        load_image(path)
    assert isinstance(err.value, ValueError)
    assert_one_line_naming(err, path)
    assert words in str(err.value)


def test_truncated_bytes_and_streams_are_rejected_too(tmp_path):
    data = _truncated_jpeg(tmp_path).read_bytes()
    with pytest.raises(ImageError):
        load_image(data)
    with pytest.raises(ImageError):
        load_image(io.BytesIO(data))
    with pytest.raises(ImageError, match="empty"):
        load_image(b"")


def test_truncation_is_caught_even_if_pillow_was_told_to_tolerate_it(tmp_path, monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    path = _truncated_jpeg(tmp_path)
    with pytest.raises(ImageError):
        load_image(path)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # the caller's setting is restored


@pytest.fixture
def load_spy(monkeypatch):
    """Record every pixel decode (ImageFile.load for files, Image.load for the rest)."""
    calls = []
    for cls in (Image.Image, ImageFile.ImageFile):
        original = cls.load

        def spy(self, _original=original):
            calls.append(self)
            return _original(self)

        monkeypatch.setattr(cls, "load", spy)
    return calls


@pytest.mark.parametrize("side", [40, 64], ids=["warning-zone", "error-zone"])
def test_decompression_bomb_is_refused_before_decoding(tmp_path, monkeypatch, load_spy, side):
    path = save(Image.fromarray(gradient(side, side)), tmp_path / "bomb.png")
    # 40*40 = 1600 is between the limit and twice it (Pillow only warns); 64*64 is beyond.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    filters_before = list(warnings.filters)
    load_spy.clear()
    with pytest.raises(ImageError, match="too large") as err:
        load_image(path)
    assert_one_line_naming(err, path)
    assert load_spy == []  # no pixel was decoded
    assert warnings.filters == filters_before  # no global warnings setting changed


def test_decompression_bomb_limit_applies_to_pil_images(monkeypatch, load_spy):
    picture = Image.fromarray(gradient(40, 40))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    load_spy.clear()
    with pytest.raises(ImageError, match="too large"):
        load_image(picture)
    assert load_spy == []


def test_spy_sees_normal_loads(tmp_path, load_spy):
    load_image(save(Image.fromarray(gradient()), tmp_path / "ok.png"))
    assert load_spy  # the spy really watches decoding


def test_pillow_settings_untouched(tmp_path):
    before = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES, list(warnings.filters))
    load_image(save(Image.fromarray(gradient()), tmp_path / "ok.png"))
    with pytest.raises(ImageError):
        load_image(_truncated_jpeg(tmp_path))
    assert (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES, list(warnings.filters)) == before
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


# --------------------------------------------------------------------------- saving


def test_one_save_image_and_one_load_image():
    """One function for each job: the top level and nst_tf.image hand out the same ones, no aliases elsewhere."""
    import nst_tf
    from nst_tf import image
    from nst_tf.image import decode, samples, save as saving

    assert nst_tf.save_image is image.save_image is saving.save_image
    assert nst_tf.load_image is image.load_image
    for module in (images, decode, samples):
        assert not hasattr(module, "save_image") and not hasattr(module, "load_image"), module.__name__
    assert not hasattr(images, "prepare_image") and not hasattr(samples, "load")
    # a sample name works at the top level as it does in stylize (it did not before issue 25)
    chelsea = nst_tf.load_image("content/chelsea", max_size=64)
    assert chelsea.dtype == np.float32 and max(chelsea.shape[:2]) == 64 and chelsea.shape[2] == 3


def test_png_round_trip_is_exact(tmp_path):
    pixels = gradient()
    image = pixels.astype(np.float32) / 255
    out = save_image(image, tmp_path / "out.png")
    assert out == tmp_path / "out.png" and isinstance(out, Path)
    back = load_image(out)
    np.testing.assert_allclose(back, image, atol=0.5 / 255)
    np.testing.assert_array_equal(np.asarray(Image.open(out)), pixels)


def test_png_rounds_floats_to_nearest(tmp_path):
    rng = np.random.default_rng(2)
    image = rng.random((H, W, 3), dtype=np.float32)
    back = load_image(save_image(image, tmp_path / "noise.png"))
    assert np.abs(back - image).max() <= 0.5 / 255 + 1e-6


@pytest.mark.parametrize("name", ["out.jpg", "out.JPEG", "out.webp", "out.bmp", "out.tif", "out.tiff"])
def test_other_formats_round_trip(tmp_path, name):
    image = gradient().astype(np.float32) / 255
    back = load_image(save_image(image, tmp_path / name))
    check_rgb(back)
    lossy = name.lower().endswith((".jpg", ".jpeg", ".webp"))
    assert np.abs(back - image).mean() < (0.03 if lossy else 1e-6)


def test_jpeg_quality_is_used(tmp_path):
    rng = np.random.default_rng(3)
    image = rng.random((128, 128, 3), dtype=np.float32)
    small = save_image(image, tmp_path / "low.jpg", quality=20).stat().st_size
    large = save_image(image, tmp_path / "high.jpg", quality=95).stat().st_size
    assert small < large


def test_save_accepts_tensors_batches_uint8_and_clips(tmp_path):
    import tensorflow as tf

    image = np.full((1, H, W, 3), 0.5, dtype=np.float32)
    image[0, 0, 0] = [2.0, -1.0, np.nan]
    back = load_image(save_image(tf.constant(image), tmp_path / "tensor.png"))
    np.testing.assert_allclose(back[0, 0], [1, 0, 0])
    np.testing.assert_allclose(back[5, 5], [128 / 255] * 3)
    pixels = gradient()
    back8 = load_image(save_image(pixels, tmp_path / "uint8.png"))
    np.testing.assert_allclose(back8, pixels / 255.0, atol=1e-6)


def test_save_rejects_bad_shapes(tmp_path):
    with pytest.raises(ValueError):
        save_image(np.zeros((H, W)), tmp_path / "gray.png")
    with pytest.raises(ValueError):
        save_image(np.zeros((2, H, W, 3)), tmp_path / "two.png")
    assert listing(tmp_path) == set()


@pytest.mark.parametrize("name", ["out.gif", "out.xyz", "no_extension"])
def test_unknown_extension(tmp_path, name):
    with pytest.raises(ImageError, match="format") as err:
        save_image(np.zeros((H, W, 3)), tmp_path / name)
    assert_one_line_naming(err, tmp_path / name)
    assert listing(tmp_path) == set()


def test_missing_output_folder(tmp_path):
    target = tmp_path / "missing" / "out.png"
    with pytest.raises(ImageError, match="does not exist") as err:
        save_image(np.zeros((H, W, 3)), target)
    assert_one_line_naming(err, target)
    assert listing(tmp_path) == set()


def test_output_that_is_a_folder(tmp_path):
    (tmp_path / "out.png").mkdir()
    with pytest.raises(ImageError, match="folder"):
        save_image(np.zeros((H, W, 3)), tmp_path / "out.png")


@pytest.fixture
def existing(tmp_path):
    path = tmp_path / "result.png"
    path.write_bytes(b"old bytes")
    return path


def _half_writing_save(self, fp, *args, **kwargs):
    fp.write(b"\x89PNG partial data")
    raise OSError("disk full")


def test_failed_save_leaves_nothing_behind(tmp_path, existing, monkeypatch):
    before = listing(tmp_path)
    monkeypatch.setattr(Image.Image, "save", _half_writing_save)
    with pytest.raises(ImageError, match="disk full") as err:
        save_image(np.zeros((H, W, 3)), existing)
    assert_one_line_naming(err, existing)
    with pytest.raises(ImageError):
        save_image(np.zeros((H, W, 3)), tmp_path / "new.jpg")
    assert listing(tmp_path) == before
    assert existing.read_bytes() == b"old bytes"


def test_failed_replace_leaves_nothing_behind(tmp_path, existing, monkeypatch):
    before = listing(tmp_path)

    def broken_replace(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(ImageError, match="Permission denied"):
        save_image(np.zeros((H, W, 3)), existing)
    assert listing(tmp_path) == before
    assert existing.read_bytes() == b"old bytes"


def test_interrupted_save_cleans_up_and_propagates(tmp_path, existing, monkeypatch):
    before = listing(tmp_path)

    def interrupted(self, fp, *args, **kwargs):
        fp.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_image(np.zeros((H, W, 3)), existing)
    assert listing(tmp_path) == before
    assert existing.read_bytes() == b"old bytes"


def test_save_replaces_existing_file(tmp_path, existing):
    save_image(np.ones((H, W, 3)), existing)
    np.testing.assert_allclose(load_image(existing), 1.0)
    assert listing(tmp_path) == {"result.png"}


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_new_file_gets_normal_permissions(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    out = save_image(np.zeros((H, W, 3)), tmp_path / "perm.png")
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_protect_refuses_to_overwrite_an_input(tmp_path, monkeypatch):
    source = save(Image.fromarray(gradient()), tmp_path / "content.png")
    original = source.read_bytes()
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    spellings = [source, "content.png", tmp_path / "sub" / ".." / "content.png"]
    if hasattr(os, "symlink"):
        try:
            os.symlink(source, tmp_path / "link.png")
            spellings.append(tmp_path / "link.png")
        except OSError:
            pass
    for target in spellings:
        with pytest.raises(ImageError, match="refusing to overwrite the input file") as err:
            save_image(np.zeros((H, W, 3)), target, protect=[tmp_path / "style.jpg", source])
        assert_one_line_naming(err, target)
    with pytest.raises(ImageError):
        save_image(np.zeros((H, W, 3)), source, protect=str(source))  # a single path works too
    assert source.read_bytes() == original
    assert not any(name.endswith(".tmp") for name in listing(tmp_path))
    save_image(np.zeros((H, W, 3)), tmp_path / "result.png", protect=[source])
    assert (tmp_path / "result.png").exists()


# --------------------------------------------------------------------------- conversions


def test_to_batch_and_back():
    import tensorflow as tf

    image = gradient().astype(np.float32) / 255
    batch = to_batch(image)
    assert isinstance(batch, tf.Tensor)
    assert batch.shape == (1, H, W, 3) and batch.dtype == tf.float32
    assert to_batch(batch) is batch  # a float32 batch passes straight through
    assert to_batch(np.float64(image)).dtype == tf.float32
    np.testing.assert_allclose(to_batch(gradient()).numpy()[0], image, atol=1e-6)
    back = to_numpy_image(batch)
    assert back.shape == (H, W, 3) and back.dtype == np.float32
    np.testing.assert_allclose(back, image)
    with pytest.raises(ValueError):
        to_batch(np.zeros((H, W)))


def test_to_numpy_image_clips_and_scales():
    import tensorflow as tf

    wild = np.full((1, 4, 4, 3), 0.5, dtype=np.float64)
    wild[0, 0, 0] = [1.5, -0.5, np.nan]
    out = to_numpy_image(tf.constant(wild))
    assert out.shape == (4, 4, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out[0, 0], [1, 0, 0])
    np.testing.assert_allclose(to_numpy_image(np.full((4, 4, 3), 255, np.uint8)), 1.0)
    with pytest.raises(ValueError):
        to_numpy_image(np.zeros((2, 4, 4, 3)))


# --------------------------------------------------------------------------- display


@pytest.fixture
def agg():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def test_show_images_row_with_titles(agg):
    from nst_tf.show.display import show_images

    pictures = [np.zeros((H, W, 3)), np.ones((1, H, W, 3), np.float32), gradient()]
    fig = show_images(pictures, ["content", "style", "result"])
    assert len(fig.axes) == 3
    assert [ax.get_title() for ax in fig.axes] == ["content", "style", "result"]
    assert all(not ax.get_xticks().size and not ax.get_yticks().size for ax in fig.axes)


def test_show_images_mapping_and_grid(agg):
    from nst_tf.show.display import show_images

    fig = show_images({f"step {i}": np.full((H, W, 3), i / 5) for i in range(5)}, columns=2)
    assert len(fig.axes) == 5
    assert [ax.get_title() for ax in fig.axes] == [f"step {i}" for i in range(5)]
    rows = {round(ax.get_position().y0, 3) for ax in fig.axes}
    assert len(rows) == 3
    with pytest.raises(ValueError):
        show_images([np.zeros((H, W, 3))], ["a", "b"])
    with pytest.raises(ValueError):
        show_images([])


def test_show_image_returns_axes(agg):
    from nst_tf.show.display import show_image

    ax = show_image(gradient(), "hello")
    assert ax.get_title() == "hello"
    assert ax.get_xticks().size == 0 and ax.get_yticks().size == 0
    fig, own = agg.subplots()
    assert show_image(np.zeros((H, W, 3)), ax=own) is own


def test_importing_display_does_not_import_matplotlib_or_tensorflow():
    code = (
        "import sys, nst_tf.show.display, nst_tf.image.arrays; "
        "bad = [m for m in ('matplotlib', 'tensorflow') if m in sys.modules]; "
        "print(' '.join(bad))"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=root
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
