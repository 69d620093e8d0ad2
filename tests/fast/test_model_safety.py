"""Issue 16, point 3: ``nst-tf apply`` and ``fast.load_model`` with untrusted model files."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst_tf.cli import commands as cli
from nst_tf import fast
from nst_tf._runtime import modelcheck


@pytest.fixture(scope="module")
def good_model(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("models") / "good.keras"
    # A small network names the same layer classes as the default one (what the allowlist sees),
    # and builds, saves and loads in a fraction of the time.
    fast.save_model(fast.transform_net(filters=8, residual_blocks=1), path)
    return path


def _rewrite_config(source: Path, target: Path, change) -> Path:
    """A copy of ``source`` whose config.json is passed through ``change``."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.namelist():
            data = old.read(item)
            if item == "config.json":
                data = json.dumps(change(json.loads(data))).encode()
            new.writestr(item, data)
    return target


def _layers(config: dict) -> list:
    return config["config"]["layers"]


def _with_callable_activation(config: dict) -> dict:
    """A Conv2D whose activation is a Python function from another module (would be imported and called)."""
    for layer in _layers(config):
        if layer["class_name"] == "Conv2D":
            layer["config"]["activation"] = {"module": "os", "class_name": "function", "config": "system",
                                             "registered_name": "function"}
            break
    return config


def _with_lambda_layer(config: dict) -> dict:
    """One layer replaced by a Lambda layer carrying (marshalled) code."""
    for layer in _layers(config):
        if layer["class_name"] == "ReLU":
            layer["class_name"] = "Lambda"
            layer["module"] = "keras.layers"
            layer["config"] = {"name": layer["config"]["name"], "function": {
                "class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAA", "defaults": None, "closure": None}}}
            break
    return config


def _with_foreign_class(config: dict) -> dict:
    layer = _layers(config)[1]
    layer["module"], layer["class_name"], layer["registered_name"] = "subprocess", "Popen", None
    return config


CRAFTED = {
    "callable activation": (_with_callable_activation, "function"),
    "lambda layer": (_with_lambda_layer, "Lambda"),
    "class from another module": (_with_foreign_class, "subprocess.Popen"),
}


def test_our_own_networks_pass_the_allowlist(good_model):
    modelcheck.check_config(good_model)
    assert fast.load_model(good_model).output_shape == (None, None, None, 3)


def _with_layer_module(module: str):
    """Our layers named as defined in ``module`` (files saved before they moved say ``nst_tf.fast``)."""

    def change(config: dict) -> dict:
        for entry in _layers(config):
            if (entry.get("registered_name") or "").startswith("nst_tf>"):
                entry["module"] = module
        return config

    return change


@pytest.mark.slow
def test_networks_saved_before_the_layers_moved_still_load(tmp_path, good_model):
    with zipfile.ZipFile(good_model) as archive:
        modules = {entry.get("module") for entry in _layers(json.loads(archive.read("config.json")))
                   if (entry.get("registered_name") or "").startswith("nst_tf>")}
    assert modules == {"nst_tf.fast.layers"}  # where the custom layers live now
    old = _rewrite_config(good_model, tmp_path / "old.keras", _with_layer_module("nst_tf.fast"))
    photo = np.random.default_rng(0).random((24, 20, 3), dtype=np.float32)
    expected = fast.stylize_fast(fast.load_model(good_model), photo)
    np.testing.assert_allclose(fast.stylize_fast(fast.load_model(old), photo), expected, atol=1e-6)
    # Another module of ours that happens to define a class of the same name is not allowed.
    other = _rewrite_config(good_model, tmp_path / "other.keras", _with_layer_module("nst_tf.fast.training"))
    with pytest.raises(fast.ModelError, match="it uses nst_tf.fast.training.PadToMultiple"):
        fast.load_model(other)


@pytest.mark.parametrize("case", list(CRAFTED))
def test_crafted_models_are_refused_before_keras_builds_anything(tmp_path, good_model, case, monkeypatch):
    change, shown = CRAFTED[case]
    crafted = _rewrite_config(good_model, tmp_path / "crafted.keras", change)
    import keras

    def must_not_be_called(*args, **kwargs):
        raise AssertionError("Keras was asked to load a crafted model")

    monkeypatch.setattr(keras.models, "load_model", must_not_be_called)
    with pytest.raises(fast.ModelError, match=f"not a network from nst-tf train-fast: it uses .*{shown}"):
        fast.load_model(crafted)


def test_apply_refuses_a_crafted_model_with_one_line(tmp_path, good_model, capsys):
    crafted = _rewrite_config(good_model, tmp_path / "crafted.keras", _with_callable_activation)
    photo = tmp_path / "photo.png"
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(photo)
    status = cli.main(["apply", str(crafted), str(photo), "-o", str(tmp_path / "out.png"), "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2 and len(err.splitlines()) == 1 and "apply only models you trust" in err
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("version, fixed", [
    ("3.0.5", "CVE-2025-1550"), ("3.8.0", "CVE-2025-1550"), ("3.10.0", "CVE-2025-8747"),
    ("3.11.2", "CVE-2025-49655"), ("3.13.1", "CVE-2026-1462"), ("3.13.2rc1", "CVE-2026-1462"),
])
def test_keras_releases_with_known_bypasses(version, fixed):
    first_safe, advisories = modelcheck.keras_bypasses(version)
    assert first_safe == "3.13.2" and fixed in advisories


@pytest.mark.parametrize("version", ["3.13.2", "3.15.0", "4.0.0"])
def test_fixed_keras_releases(version):
    assert modelcheck.keras_bypasses(version) is None


@pytest.mark.slow
def test_apply_on_an_old_keras_needs_trust_model(tmp_path, good_model, capsys, monkeypatch):
    photo = tmp_path / "photo.png"
    Image.fromarray(np.full((40, 40, 3), 100, np.uint8)).save(photo)
    monkeypatch.setattr(modelcheck, "keras_version", lambda: "3.10.0")
    out = tmp_path / "out.png"
    status = cli.main(["apply", str(good_model), str(photo), "-o", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2 and len(err.splitlines()) == 1
    assert "keras>=3.13.2" in err and "--trust-model" in err and not out.exists()
    status = cli.main(["apply", str(good_model), str(photo), "-o", str(out), "--no-progress", "--trust-model"])
    assert status == 0 and out.is_file()


def test_the_keras_floor_is_not_raised():
    text = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '"keras>=3.0"' in text  # installing nst-tf must not upgrade Colab's Keras
