"""Tests for nst_tf.image.samples: the sample images, their manifest, and loading by name, path or URL."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image

from nst_tf.image import load_image
from nst_tf.image import samples
from nst_tf.image import ImageError

ALL_NAMES = samples.names()


def _script(name: str) -> ModuleType:
    """Import ``data/<name>.py`` (the folder is not a package)."""
    file = samples.data_dir() / f"{name}.py"
    if not file.is_file():
        pytest.skip(f"{file} is not installed here")
    sys.path.insert(0, str(file.parent))  # make_manifest imports its siblings
    try:
        spec = importlib.util.spec_from_file_location(f"_nst_tf_data_{name}", file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(file.parent))
    return module


def _decoded(jpeg: bytes | Path) -> np.ndarray:
    raw = jpeg.read_bytes() if isinstance(jpeg, Path) else jpeg
    with Image.open(io.BytesIO(raw)) as im:
        return np.asarray(im.convert("RGB"), dtype=np.float64) / 255.0


# ----------------------------------------------------------------------------- names and files


def test_names_cover_both_kinds() -> None:
    content, style = samples.names("content"), samples.names("style")
    assert len(content) >= 3 and len(style) >= 4
    assert sorted(content + style) == ALL_NAMES
    assert all(n.startswith("content/") for n in content) and all(n.startswith("style/") for n in style)
    assert {"style/swirls", "style/mosaic", "style/waves", "content/chelsea"} <= set(ALL_NAMES)


def test_bad_kind_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="content, style"):
        samples.names("styles")


@pytest.mark.parametrize("name", ALL_NAMES)
def test_file_matches_manifest(name: str) -> None:
    entry = samples.manifest()[name]
    file = samples.path(name)
    raw = file.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == entry["sha256"], f"{file} changed: rerun data/make_manifest.py"
    assert len(raw) == entry["bytes"] and len(raw) < 200 * 1024
    assert entry["kind"] == name.split("/")[0] and entry["source"] and entry["licence"]
    with Image.open(file) as im:
        assert im.format == "JPEG" and im.mode == "RGB" and im.size == (entry["width"], entry["height"])


def test_every_file_is_in_the_manifest() -> None:
    on_disk = {f"{p.parent.name}/{p.stem}" for kind in samples.KINDS for p in (samples.data_dir() / kind).iterdir()}
    assert on_disk == set(ALL_NAMES)


def test_readme_and_manifest_are_up_to_date() -> None:
    make_manifest = _script("make_manifest")
    assert make_manifest.main(["--check"]) == 0


# ----------------------------------------------------------------------------- loading


@pytest.mark.parametrize("name", ALL_NAMES)
@pytest.mark.parametrize("max_size", [512, 200])
def test_every_sample_loads(name: str, max_size: int) -> None:
    image = load_image(name, max_size=max_size)
    assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.float32
    assert max(image.shape[:2]) <= max_size and min(image.shape[:2]) >= 32
    assert 0.0 <= image.min() and image.max() <= 1.0
    assert image.std() > 0.05  # a picture, not a flat colour


def test_full_size_and_short_names() -> None:
    full = load_image("content/coffee", max_size=None)
    assert full.shape == (400, 600, 3)
    np.testing.assert_array_equal(load_image("coffee", max_size=None), full)
    assert samples.path("waves") == samples.path("style/waves")


@pytest.mark.parametrize("bad", ["chelse", "style/nope", "content/swirls", "Chelsea"])
def test_unknown_name_lists_valid_names(bad: str) -> None:
    for call in (samples.path, load_image):
        with pytest.raises(ValueError) as info:
            call(bad)
        message = str(info.value)
        assert bad in message and "\n" not in message
        assert all(name in message for name in ALL_NAMES)


def test_local_paths_load(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    pixels = (rng.random((60, 90, 3)) * 255).astype(np.uint8)
    file = tmp_path / "noise.png"
    Image.fromarray(pixels).save(file)
    for source in (file, str(file)):
        image = load_image(source, max_size=None)
        np.testing.assert_allclose(image, pixels / 255.0, atol=1e-6)
    assert load_image(file, max_size=72).shape == (48, 72, 3)
    with pytest.raises(ImageError, match="does not exist"):
        load_image(str(tmp_path / "missing.jpg"))


# URLs: see tests/image/test_fetch.py (a local HTTP server).


# ----------------------------------------------------------------------------- the scripts reproduce the files


@pytest.mark.slow
def test_make_styles_reproduces_the_committed_images() -> None:
    """Paint every style at its stored size; coded as JPEG it must match the stored file.

    Same library versions give the same bytes; the tolerance (3/255 mean absolute
    difference) allows for other numpy / scipy / Pillow versions. All four take ~3 s.
    """
    make_styles = _script("make_styles")
    assert set(samples.names("style")) == {f"style/{n}" for n in make_styles.STYLES}
    for name in make_styles.STYLES:
        painted = make_styles.paint(name)
        stored = _decoded(samples.path(f"style/{name}"))
        assert painted.dtype == np.uint8 and painted.shape == stored.shape
        difference = np.abs(_decoded(make_styles.encode_jpeg(painted)) - stored).mean()
        assert difference < 3 / 255, f"make_styles.py paints a different {name}: mean difference {difference * 255:.2f}/255"


def test_painters_are_deterministic_at_any_size() -> None:
    make_styles = _script("make_styles")
    for name in make_styles.STYLES:
        first, second = make_styles.paint(name, (96, 80)), make_styles.paint(name, (96, 80))
        assert first.shape == (80, 96, 3)
        np.testing.assert_array_equal(first, second)


def test_make_content_reproduces_the_committed_photos() -> None:
    make_content = _script("make_content")
    assert set(samples.names("content")) == {f"content/{n}" for n in make_content.CONTENT}
    for name in make_content.CONTENT:
        original = make_content.load(name) / 255.0
        stored = _decoded(samples.path(f"content/{name}"))
        assert original.shape == stored.shape
        assert np.abs(original - stored).mean() < 4 / 255  # JPEG quality 92
