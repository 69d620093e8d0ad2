"""Gatys' normalisation of VGG (nst_tf/vgg/normalize.py) and weights files of either VGG.

* On the reference images, every channel of the normalised offline VGG16 has mean
  activation 1 - or, for a channel that fires rarely, mean |pre-activation| equal to
  1 / RARE_FLOOR - checked with a convolution written in NumPy.
* Exact invariance: a copy of the offline weights with every channel multiplied by its
  own positive factor, saved as a Keras weights file, gives the same normalised features
  and the same `nst-tf stylize` image; without normalisation both differ.
* Dead channels, the disk cache (hit, damaged file, unwritable folder) and telling VGG16
  from VGG19 files.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from nst_tf.cli import commands as cli
from nst_tf import vgg as features
from nst_tf.vgg import weights as W
from nst_tf.vgg import normalize as N

VGG16_CONVS = features.conv_layer_names("vgg16")


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    """A private, empty cache folder and an empty in-process memory."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(N, "_MEMORY", {})
    monkeypatch.setattr(N, "_REPORTED", set())
    return tmp_path / "cache"


def numpy_conv_same(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """3x3 'same' convolution of ``x`` (h, w, c_in) in float64 NumPy."""
    padded = np.pad(x.astype(np.float64), ((1, 1), (1, 1), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(0, 1))  # h, w, c_in, 3, 3
    return np.einsum("hwcij,ijcd->hwd", windows, kernel.astype(np.float64), optimize=True) + bias


def numpy_vgg_statistics(vgg, images) -> tuple[dict, dict]:
    """Per-channel mean activation and mean |pre-activation| of ``vgg``'s conv layers, all in NumPy."""
    means, sizes = {}, {}
    for image in images:
        x = image[..., ::-1] * 255.0 - np.asarray(features.VGG_MEAN_BGR)
        for layer in vgg.layers:
            if layer.name in VGG16_CONVS:
                kernel, bias = layer.get_weights()
                pre = numpy_conv_same(x, kernel, bias)
                x = np.maximum(pre, 0.0)
                means.setdefault(layer.name, []).append(x.mean(axis=(0, 1)))
                sizes.setdefault(layer.name, []).append(np.abs(pre).mean(axis=(0, 1)))
            elif layer.name.endswith("_pool"):
                h, w = x.shape[0] // 2 * 2, x.shape[1] // 2 * 2
                x = x[:h, :w].reshape(h // 2, 2, w // 2, 2, -1).max(axis=(1, 3))
    return ({k: np.mean(v, axis=0) for k, v in means.items()}, {k: np.mean(v, axis=0) for k, v in sizes.items()})


@pytest.mark.slow
def test_normalised_offline_vgg_has_mean_activation_one_per_channel():
    vgg = features.load_vgg("offline")
    # Keras and NumPy agree on the network itself (a check of the NumPy reference).
    probe = features.feature_extractor(["block1_conv2"], "offline")
    image = N.reference_images()[0]
    keras_out = probe(image[np.newaxis])["block1_conv2"].numpy()[0]
    x = image[..., ::-1] * 255.0 - np.asarray(features.VGG_MEAN_BGR)
    for name in ("block1_conv1", "block1_conv2"):
        x = np.maximum(numpy_conv_same(x, *vgg.get_layer(name).get_weights()), 0)
    np.testing.assert_allclose(keras_out, x, rtol=1e-3, atol=1e-3)

    means, sizes = numpy_vgg_statistics(vgg, N.reference_images())
    never_scaled, by_mean, total = 0, 0, 0
    for name in VGG16_CONVS:
        divisor = np.maximum(means[name], N.RARE_FLOOR * sizes[name])
        alive = sizes[name] > 0
        never_scaled += int((~alive).sum())
        np.testing.assert_allclose(divisor[alive], 1.0, rtol=2e-3, err_msg=name)
        by_mean += int(np.isclose(means[name], 1.0, rtol=2e-3).sum())
        total += means[name].size
    # On this edge-detection net about 36 % of the channels (1522 of 4224) fire often enough to be
    # normalised by their own mean; a floor that swallowed nearly all of them would fail here.
    assert by_mean > 0.3 * total
    assert vgg.nst_normalization.channel_count == total  # what lesson 03 prints the counts out of
    np.testing.assert_allclose(means["block1_conv1"], 1.0, rtol=2e-3)  # every channel there fires often
    assert never_scaled == 0
    # The network as trained is far from that: its block1 means are in the tens.
    raw_means, _ = numpy_vgg_statistics(features.load_vgg("offline", normalize=False), N.reference_images()[:1])
    assert raw_means["block1_conv1"].mean() > 5


def test_scales_from_statistics_dead_rare_and_silent_channels():
    means = {"a": np.array([2.0, 0.0, 0.01, 0.0])}
    sizes = {"a": np.array([3.0, 4.0, 10.0, 0.0])}  # channel 3 is zero everywhere, before the ReLU too
    scales, dead, rare = N.scales_from_statistics(means, sizes, floor=0.05)
    np.testing.assert_allclose(scales["a"], [0.5, 1 / (0.05 * 4.0), 1 / (0.05 * 10.0), 1.0])
    assert dead == {"a": [1, 3]} and rare == {"a": [2]}
    assert np.all(np.isfinite(scales["a"]))


def test_fold_scales_multiplies_each_output_channel():
    rng = np.random.default_rng(0)
    weights = {"c1": [rng.normal(size=(3, 3, 3, 4)), rng.normal(size=4)],
               "c2": [rng.normal(size=(3, 3, 4, 5)), rng.normal(size=5)]}
    scales = {"c1": rng.uniform(0.5, 2, 4), "c2": rng.uniform(0.5, 2, 5)}
    folded = N.fold_scales(weights, scales, ["c1", "c2"])
    x = rng.normal(size=(6, 7, 3))
    h_orig = np.maximum(numpy_conv_same(x, *weights["c1"]), 0)
    h_fold = np.maximum(numpy_conv_same(x, *folded["c1"]), 0)
    np.testing.assert_allclose(h_fold, h_orig * scales["c1"], rtol=1e-5, atol=1e-5)
    y_orig = np.maximum(numpy_conv_same(h_orig, *weights["c2"]), 0)
    y_fold = np.maximum(numpy_conv_same(h_fold, *folded["c2"]), 0)
    np.testing.assert_allclose(y_fold, y_orig * scales["c2"], rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_dead_channel_keeps_scale_one_and_is_reported_once(cache_home, capsys, request):
    import logging

    import keras

    logger = logging.getLogger("nst_tf")
    request.addfinalizer(lambda level=logger.level: logger.setLevel(level))  # setLevel clears logging's caches
    logger.setLevel(logging.DEBUG)  # the report is a DEBUG line

    base = keras.applications.VGG16(include_top=False, weights=None, input_shape=(None, None, 3))
    for name, values in W.random_conv_weights("vgg16", 7).items():
        base.get_layer(name).set_weights(values)
    kernel, bias = base.get_layer("block1_conv1").get_weights()
    kernel[..., 5] = 0.0  # channel 5 is zero before its ReLU: no image can make it fire
    bias[5] = 0.0
    kernel[..., 9] = 0.0
    bias[9] = -1.0  # channel 9 never fires either, but is not zero before the ReLU
    base.get_layer("block1_conv1").set_weights([kernel, bias])
    unfolded = base.get_weights()
    result = N.normalize_model(base, "vgg16")
    assert 5 in result.dead["block1_conv1"] and 9 in result.dead["block1_conv1"]
    assert result.scales["block1_conv1"][5] == 1.0
    assert result.scales["block1_conv1"][9] == pytest.approx(1 / N.RARE_FLOOR)
    assert all(np.all(np.isfinite(s)) and np.all(s > 0) for s in result.scales.values())
    err = capsys.readouterr().err
    assert err.count("never fire") == 1
    again = keras.applications.VGG16(include_top=False, weights=None, input_shape=(None, None, 3))
    again.set_weights(unfolded)
    N.normalize_model(again, "vgg16")  # the same (unfolded) weights: from memory, not reported again
    assert "never fire" not in capsys.readouterr().err


def test_the_floor_report_is_quiet_at_the_default_level(cache_home, capsys, monkeypatch):
    """Lessons before "Under the hood" must not show a line about channels they cannot understand yet."""
    import keras

    # A zeroed filter never fires on any picture: two small references show that as well as all of them at 256 px.
    names, reference_images = N.reference_names()[:2], N.reference_images
    monkeypatch.setattr(N, "reference_names", lambda: names)
    monkeypatch.setattr(N, "reference_images", lambda size=64: reference_images(size))

    base = keras.applications.VGG16(include_top=False, weights=None, input_shape=(None, None, 3))
    for name, values in W.random_conv_weights("vgg16", 8).items():
        base.get_layer(name).set_weights(values)
    kernel, bias = base.get_layer("block1_conv1").get_weights()
    kernel[..., 5], bias[5] = 0.0, 0.0
    base.get_layer("block1_conv1").set_weights([kernel, bias])
    result = N.normalize_model(base, "vgg16")
    assert result.dead_count >= 1
    assert "never fire" not in capsys.readouterr().err


# --------------------------------------------------------------------------- the cache

ORDER = ["c1", "c2"]
TINY = {"c1": [np.ones((3, 3, 3, 2), np.float32), np.zeros(2, np.float32)],
        "c2": [np.ones((3, 3, 2, 3), np.float32), np.zeros(3, np.float32)]}


class CountingStatistics:
    def __init__(self):
        self.calls = 0

    def __call__(self, batch):
        self.calls += 1
        level = float(batch.mean())
        return {"c1": (np.full(2, level), np.full(2, 2 * level)), "c2": (np.arange(1, 4) * level, np.full(3, level))}


IMAGES = [np.full((4, 4, 3), 0.5, np.float32), np.full((4, 6, 3), 0.25, np.float32)]


def test_cache_hit_from_disk_and_memory(cache_home):
    stats = CountingStatistics()
    first = N.normalization_for(TINY, ORDER, stats, images=IMAGES)
    assert first.source == "computed" and stats.calls == 2
    assert first.path is not None and first.path.parent == cache_home / "nst-tf" and first.path.is_file()
    np.testing.assert_allclose(first.scales["c2"], 1 / (np.arange(1, 4) * 0.375), rtol=1e-6)
    assert N.normalization_for(TINY, ORDER, stats, images=IMAGES).source == "memory"
    N._MEMORY.clear()
    from_disk = N.normalization_for(TINY, ORDER, stats, images=IMAGES)
    assert from_disk.source == "disk" and stats.calls == 2
    for name in ORDER:
        np.testing.assert_array_equal(from_disk.scales[name], first.scales[name])
    # Other weights, other key.
    other = {"c1": TINY["c1"], "c2": [TINY["c2"][0] * 2, TINY["c2"][1]]}
    assert N.normalization_for(other, ORDER, stats, images=IMAGES).source == "computed"
    assert len(list((cache_home / "nst-tf").glob("*.npz"))) == 2


@pytest.mark.parametrize("damage", [b"not a zip file", b""])
def test_damaged_cache_file_is_measured_again_and_replaced(cache_home, capsys, damage):
    stats = CountingStatistics()
    first = N.normalization_for(TINY, ORDER, stats, images=IMAGES)
    first.path.write_bytes(damage)
    N._MEMORY.clear()
    again = N.normalization_for(TINY, ORDER, stats, images=IMAGES)
    assert again.source == "computed" and stats.calls == 4
    err = capsys.readouterr().err
    assert "unusable" in err and len(err.strip().splitlines()) == 1
    N._MEMORY.clear()
    assert N.normalization_for(TINY, ORDER, stats, images=IMAGES).source == "disk"


def test_unwritable_cache_falls_back_to_memory(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker / "below"))  # cannot make a folder under a file
    monkeypatch.setattr(N, "_MEMORY", {})
    stats = CountingStatistics()
    first = N.normalization_for(TINY, ORDER, stats, images=IMAGES)
    assert first.source == "computed" and first.path is None
    assert "keeping it in memory" in capsys.readouterr().err
    assert N.normalization_for(TINY, ORDER, stats, images=IMAGES).source == "memory"
    assert stats.calls == 2


def test_one_cache_dir_follows_nst_tf_cache_then_xdg(monkeypatch, tmp_path):
    from nst_tf._runtime.env import cache_dir
    from nst_tf.image import download

    monkeypatch.delenv("NST_TF_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "nst-tf"
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "nst-tf"
    monkeypatch.setenv("NST_TF_CACHE", str(tmp_path / "mine"))  # the normalisation's scales and downloads follow it
    assert N._cache_file("ab" * 20).parent == tmp_path / "mine"
    assert download.downloads_dir() == tmp_path / "mine" / "downloads"


# --------------------------------------------------------------------------- invariance


@pytest.fixture(scope="module")
def rescaled_file(tmp_path_factory):
    """The offline weights with every channel multiplied by its own factor in [1/8, 8]."""
    rng = np.random.default_rng(10)
    vgg = features.load_vgg("offline", normalize=False)
    factors = {name: np.exp(rng.uniform(np.log(1 / 8), np.log(8), vgg.get_layer(name).get_weights()[1].shape))
               for name in VGG16_CONVS}
    path = tmp_path_factory.mktemp("weights") / "rescaled.weights.h5"
    features.save_rescaled_vgg(path, factors, "offline", "vgg16")
    return path


def probe_image() -> np.ndarray:
    """Not a reference image: a gradient with noise, which also excites rarely firing channels."""
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:80, 0:112] / 100.0
    base = np.stack([x, y, 0.5 * (x + y)], axis=-1)
    return np.clip(base + 0.3 * rng.standard_normal(base.shape), 0, 1).astype(np.float32)


@pytest.mark.slow
def test_normalised_features_of_a_rescaled_file_are_the_same(rescaled_file):
    layers = ["block1_conv1", "block2_conv2", "block3_conv3", "block4_conv2", "block5_conv1", "block5_conv3"]
    image = probe_image()[np.newaxis]
    original = features.feature_extractor(layers, "offline")(image)
    rescaled = features.feature_extractor(layers, rescaled_file)(image)
    for name in layers:
        a, b = original[name].numpy(), rescaled[name].numpy()
        scale = np.abs(a).max()
        assert scale > 0
        np.testing.assert_allclose(b, a, rtol=0, atol=2e-5 * scale, err_msg=name)
    raw_a = features.feature_extractor(layers, "offline", normalize=False)(image)
    raw_b = features.feature_extractor(layers, rescaled_file, normalize=False)(image)
    for name in layers:
        a, b = raw_a[name].numpy(), raw_b[name].numpy()
        assert np.abs(a - b).max() > 0.1 * np.abs(a).max(), name


@pytest.mark.slow
def test_stylize_gives_the_same_image_with_a_rescaled_file(rescaled_file, tmp_path, capsys):
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:48, 0:64]
    Image.fromarray(np.stack([x * 4, y * 5, (x + y) * 2], -1).astype(np.uint8)).save(tmp_path / "content.png")
    Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(tmp_path / "style.png")
    outputs = {}
    for label, weights, extra in (("a", "offline", []), ("b", rescaled_file, []),
                                  ("raw_a", "offline", ["--no-normalize"]), ("raw_b", rescaled_file, ["--no-normalize"])):
        out = tmp_path / f"{label}.png"
        status = cli.main(["stylize", str(tmp_path / "content.png"), str(tmp_path / "style.png"), "-o", str(out),
                           "--size", "64", "--steps", "4", "--seed", "0", "--no-progress", "--weights", str(weights),
                           *extra])
        assert status == 0, capsys.readouterr().err
        outputs[label] = np.asarray(Image.open(out), dtype=np.int16)
    capsys.readouterr()
    same = np.abs(outputs["a"] - outputs["b"])
    assert same.max() <= 1  # 8-bit rounding of float32 results that agree to ~1e-5
    # Without normalisation the two files give two pictures (measured: mean 1.6, max >= 5 grey levels
    # after 4 steps), far more than the normalised pair's rounding differences.
    different = np.abs(outputs["raw_a"] - outputs["raw_b"])
    assert different.max() > 4 and different.mean() > 1.0 and different.mean() > 20 * same.mean()


# --------------------------------------------------------------------------- which net is in a file


@pytest.mark.slow
def test_detect_net_from_weights_files(rescaled_file, tmp_path):
    import keras

    assert features.detect_net(rescaled_file) == "vgg16"
    vgg19 = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    path19 = tmp_path / "nineteen.weights.h5"
    vgg19.save_weights(path19)
    assert features.detect_net(path19) == "vgg19"
    assert features.resolve_weights(path19, "vgg16") == (str(path19), "vgg19")
    # A legacy Keras 2 style .h5 file (layer groups with named datasets) is read too.
    legacy = tmp_path / "legacy_notop.h5"
    import h5py

    with h5py.File(legacy, "w") as handle:
        for name in features.conv_layer_names("vgg19"):
            kernel, _ = vgg19.get_layer(name).get_weights()
            group = handle.create_group(name)
            group.create_dataset(f"{name}_W_1:0", data=kernel)
            group.create_dataset(f"{name}_b_1:0", data=np.zeros(kernel.shape[-1], np.float32))
    assert features.detect_net(legacy) == "vgg19"

    small = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3), keras.layers.Conv2D(4, 3)])
    other = tmp_path / "small.weights.h5"
    small.save_weights(other)
    with pytest.raises(features.WeightsError, match="not a Keras VGG16 or VGG19 'notop' weights file"):
        features.detect_net(other)
    text = tmp_path / "text.h5"
    text.write_text("hello")
    with pytest.raises(features.WeightsError, match="not a Keras weights file"):
        features.detect_net(text)


def test_cli_rejects_a_weights_file_of_neither_net_in_one_line(tmp_path, capsys):
    import keras

    small = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3)])
    other = tmp_path / "small.weights.h5"
    small.save_weights(other)
    Image.new("RGB", (40, 32), (10, 200, 30)).save(tmp_path / "c.png")
    out = tmp_path / "out.png"
    status = cli.main(["stylize", str(tmp_path / "c.png"), str(tmp_path / "c.png"), "-o", str(out),
                       "--steps", "1", "--no-progress", "--weights", str(other)])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert len(err) == 1 and "not a Keras VGG16 or VGG19" in err[0]
    assert not out.exists()
