"""The named image types (issue 25): importable without TensorFlow, exported, and used by the entry points."""

from __future__ import annotations

import inspect
import subprocess
import sys

import numpy as np

import nst_tf
from nst_tf.image import types


def test_the_types_import_without_tensorflow():
    code = "import sys, nst_tf.image.types; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "False"


def test_the_types_are_exported_from_the_image_package_and_the_top_level():
    for name in ("Image", "ImageBatch", "ImageSource"):
        assert getattr(nst_tf.image, name) is getattr(types, name)
        assert getattr(nst_tf, name) is getattr(types, name)
        assert name in nst_tf.__all__ and name in nst_tf.image.__all__


def test_image_is_what_load_image_returns():
    assert types.Image is np.ndarray
    picture = nst_tf.load_image(np.random.default_rng(0).integers(0, 256, (48, 40, 3), dtype=np.uint8))
    assert isinstance(picture, types.Image) and picture.shape == (48, 40, 3) and picture.dtype == np.float32


def test_image_source_names_every_kind_load_image_accepts():
    import PIL.Image

    members = types.ImageSource.__args__
    for kind in (str, bytes, bytearray, PIL.Image.Image, np.ndarray):
        assert kind in members
    # the annotations are strings (postponed evaluation); they must name these very types
    from nst_tf.image import load

    signature = inspect.signature(load.load_image)
    assert signature.parameters["source"].annotation == "ImageSource" and signature.return_annotation == "Image"
    assert load.ImageSource is types.ImageSource and load.Image is types.Image
