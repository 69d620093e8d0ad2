"""Issue 16, point 4: what notebook users get for wrong inputs to the public functions."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import nst_tf
from nst_tf.losses import gram, terms as losses
from nst_tf.optim import memory
from nst_tf.vgg import sizes
from nst_tf.image import validate


def photo(height=40, width=48, seed=0):
    return np.random.default_rng(seed).uniform(0.0, 1.0, (height, width, 3)).astype(np.float32)


# ----------------------------------------------------------------------------- images


def test_uint8_is_scaled_not_clipped_to_white():
    picture = (photo() * 255).round().astype(np.uint8)
    checked = validate.image_array(picture, "content_image")
    assert checked.dtype == np.float32
    np.testing.assert_allclose(checked, picture / 255.0, atol=1e-6)
    assert checked.mean() < 0.8  # not the white picture of the bug


@pytest.mark.slow
def test_stylize_with_a_uint8_array_gives_the_same_result_as_floats():
    content = photo(48, 48, 1)
    style = photo(48, 48, 2)
    as_uint8 = [(x * 255).round().astype(np.uint8) for x in (content, style)]
    options = dict(size=48, steps=2, weights="random", progress=False,
                   style_layers=["block1_conv1", "block2_conv1"], content_layers=["block2_conv2"])
    from_floats = nst_tf.stylize(*[x.round(8) for x in (as_uint8[0] / 255.0, as_uint8[1] / 255.0)], **options)
    from_uint8 = nst_tf.stylize(*as_uint8, **options)
    np.testing.assert_allclose(from_uint8.image, from_floats.image, atol=1e-4)
    assert from_uint8.image.mean() < 0.9


@pytest.mark.parametrize("values, words", [
    (lambda p: p * 255.0, "divide by 255"),
    (lambda p: p - 0.5, "must be in [0, 1]"),
    (lambda p: np.where(p > 0.5, np.nan, p), "NaN"),
])
def test_float_images_outside_0_1_are_refused(values, words):
    with pytest.raises(ValueError, match=words.replace("[", r"\[").replace("]", r"\]")) as info:
        nst_tf.stylize(values(photo(48, 48)), photo(48, 48), size=48, steps=1, weights="random", progress=False)
    assert "content_image" in str(info.value)


def test_rounding_just_outside_0_1_is_clipped():
    picture = photo()
    picture[0, 0, 0], picture[0, 1, 0] = -1e-5, 1 + 1e-5
    checked = validate.image_array(picture)
    assert checked.min() >= 0.0 and checked.max() <= 1.0


@pytest.mark.parametrize("shape, words", [
    ((40, 48), "grey picture"),
    ((40, 48, 4), "alpha"),
    ((2, 40, 48, 3), "batch of 2"),
])
def test_image_shapes_are_explained(shape, words):
    with pytest.raises(ValueError, match=words):
        validate.image_array(np.zeros(shape, np.float32), "content_image")


def test_images_below_the_minimum_are_refused_before_tensorflow(monkeypatch):
    from nst_tf.vgg import extractor as features

    calls = []
    monkeypatch.setattr(features.FeatureExtractor, "__call__", lambda *a, **k: calls.append(1))
    with pytest.raises(ValueError, match="20x20 px; it must be at least"):
        nst_tf.stylize(photo(20, 20), photo(48, 48), size=None, steps=1, weights="random", progress=False)
    with pytest.raises(ValueError, match="size must be a whole number of pixels, at least 32"):
        nst_tf.stylize(photo(48, 48), photo(48, 48), size=16, steps=1, weights="random", progress=False)
    assert calls == []


def test_the_feature_extractor_knows_the_smallest_side_its_layers_take():
    # normalize=False: the smallest side and the input checks do not depend on the scales (nor pay for them)
    deep = nst_tf.feature_extractor(["block5_conv1"], weights="random", normalize=False)
    shallow = nst_tf.feature_extractor(["block2_conv1"], weights="random", normalize=False)
    assert (deep.min_side, shallow.min_side) == (16, 2)
    with pytest.raises(ValueError, match="at least 16 px"):
        deep(np.zeros((1, 12, 12, 3), np.float32))
    assert shallow(np.zeros((1, 12, 12, 3), np.float32))["block2_conv1"].shape == (1, 6, 6, 128)
    scaled = deep(np.full((1, 32, 32, 3), 255, np.uint8))["block5_conv1"]
    np.testing.assert_allclose(scaled, deep(np.ones((1, 32, 32, 3), np.float32))["block5_conv1"], rtol=1e-5)
    with pytest.raises(ValueError, match="must be in"):
        deep(np.full((1, 32, 32, 3), 200.0, np.float32))


# ----------------------------------------------------------------------------- activations


def test_gram_matrix_on_the_unrolled_2d_form_says_how_to_reshape():
    unrolled = tf.random.uniform((8 * 8, 16))
    with pytest.raises(ValueError) as info:
        gram.gram_matrix(unrolled)
    message = str(info.value)
    assert "expected a 4-D batch (1, H, W, C) of activations, got a 2-D tensor (H·W, C)" in message
    assert "reshape" in message and "\n" not in message


def test_gram_matrix_on_uint8_is_scaled_like_an_image():
    pixels = np.random.default_rng(0).integers(0, 256, (1, 6, 5, 3), dtype=np.uint8)
    expected = np.einsum("bijc,bijd->bcd", pixels / 255.0, pixels / 255.0) / 30.0
    np.testing.assert_allclose(gram.gram_matrix(pixels).numpy(), expected, rtol=1e-5)


@pytest.mark.parametrize("shape", [(1, 4, 4, 1), (4, 4, 4, 16), (1, 5, 4, 16)])
def test_content_loss_refuses_shapes_that_would_broadcast(shape):
    content = tf.random.uniform((1, 4, 4, 16))
    with pytest.raises(ValueError, match="same layer"):
        losses.content_loss(content, tf.random.uniform(shape))


def test_style_layer_loss_refuses_different_channel_counts():
    with pytest.raises(ValueError, match="16 channels but generated_features have 8"):
        losses.style_layer_loss(tf.random.uniform((1, 4, 4, 16)), tf.random.uniform((1, 6, 6, 8)))
    # Different image sizes are fine: the Gram matrix is per position.
    assert np.isfinite(float(losses.style_layer_loss(tf.random.uniform((1, 4, 4, 8)), tf.random.uniform((1, 6, 6, 8)))))


def test_style_loss_names_the_mismatched_layers():
    targets = {"block1_conv1": tf.zeros((1, 3, 3)), "block2_conv1": tf.zeros((1, 3, 3))}
    generated = {"block1_conv1": tf.zeros((1, 4, 4, 3))}
    with pytest.raises(ValueError, match="generated_features has no block2_conv1") as info:
        losses.style_loss(targets, generated)
    assert not isinstance(info.value, KeyError)
    with pytest.raises(ValueError, match="style_targets has no block9_conv9 .*layer_weights"):
        losses.style_loss(targets, generated, {"block9_conv9": 1.0})


@pytest.mark.parametrize("weight, words", [(float("nan"), "finite"), (float("inf"), "finite"), (-1.0, "negative")])
def test_bad_layer_weights_are_refused_naming_the_layer(weight, words):
    with pytest.raises(ValueError, match=f"block2_conv1 .*{words}"):
        losses.normalize_layer_weights({"block1_conv1": 1.0, "block2_conv1": weight})


def test_tv_loss_checks_images_but_keeps_gradients():
    with pytest.raises(ValueError, match="must be in"):
        losses.tv_loss(np.full((1, 8, 8, 3), 3.0, np.float32))
    variable = tf.Variable(tf.random.uniform((1, 8, 8, 3)))
    with tf.GradientTape() as tape:
        cost = losses.tv_loss(variable)
    assert tape.gradient(cost, variable) is not None
    np.testing.assert_allclose(float(losses.tv_loss(np.full((8, 8, 3), 255, np.uint8))), 0.0)


def test_checks_run_while_tracing_and_add_nothing_to_the_compiled_step():
    @tf.function
    def cost(features):
        return gram.gram_matrix(features)

    concrete = cost.get_concrete_function(tf.TensorSpec((1, 4, 4, 8), tf.float32))
    op_types = {op.type for op in concrete.graph.get_operations()}
    assert not op_types & {"Min", "Max", "Assert", "IsFinite"}
    with pytest.raises(ValueError, match="2-D tensor"):
        cost.get_concrete_function(tf.TensorSpec((16, 8), tf.float32))


# ----------------------------------------------------------------------------- memory


def test_style_scale_is_capped():
    with pytest.raises(ValueError, match="at most 4"):
        nst_tf.stylize(photo(48, 48), photo(48, 48), size=48, style_scale=1000, steps=1, weights="random",
                       progress=False)


def test_memory_estimate_refuses_and_names_a_size_that_fits(monkeypatch):
    monkeypatch.setenv("NST_TF_MEMORY_LIMIT_MB", "3000")
    layers = ["block1_conv1", "block4_conv2", "block5_conv1"]
    with pytest.raises(memory.MemoryEstimateError) as info:
        memory.check_stylize((3000, 2000), [(3000, 3000)], layers, option="--size")
    message = str(info.value)
    side = int(message.split("use --size ")[1].split()[0])
    assert 32 <= side < 3000 and side % 16 == 0
    budget = 3000 * 1024 * 1024 * memory.HEADROOM
    # the size named is the bounded-memory path's (issue 26), chosen automatically when the plain one does not fit
    assert "bounded-memory path" in message
    fits = memory.estimate_stylize_bytes((side, side * 2 // 3), [(side, side)], layers, bounded=True)
    too_big = memory.estimate_stylize_bytes((side + 16, (side + 16) * 2 // 3), [(side + 16, side + 16)], layers,
                                            bounded=True)
    assert fits <= budget < too_big
    memory.check_stylize((side, side * 2 // 3), [(side, side)], layers)  # the size named fits
    with pytest.raises(memory.MemoryEstimateError) as info:  # the plain path alone names a smaller size
        memory.check_stylize((3000, 2000), [(3000, 3000)], layers, option="--size", bounded=False)
    plain_side = int(str(info.value).split("use --size ")[1].split()[0])
    assert plain_side < side
    assert memory.estimate_stylize_bytes((plain_side, plain_side * 2 // 3), [(plain_side,) * 2], layers) <= budget


def test_memory_estimate_grows_with_pixels_and_history():
    small = memory.estimate_stylize_bytes((256, 256), [(256, 256)], ["block5_conv1"], split=True)
    large = memory.estimate_stylize_bytes((1024, 1024), [(256, 256)], ["block5_conv1"], split=True)
    adam = memory.estimate_stylize_bytes((1024, 1024), [(256, 256)], ["block5_conv1"], optimizer="adam", split=True)
    scipy = memory.estimate_stylize_bytes((1024, 1024), [(256, 256)], ["block5_conv1"], optimizer="lbfgs-scipy",
                                          split=True)
    assert large[1] == pytest.approx(16 * small[1], rel=0.01)  # activations: 16 times the pixels
    values = 3 * 1024 * 1024
    # scipy's L-BFGS-B: its float64 history, (2 * 20 + 6) vectors of 3 * H * W numbers, on the host
    assert scipy[0] - adam[0] == (2 * memory.LBFGS_HISTORY + 6) * 8 * values and scipy[1] == adam[1]
    # the default L-BFGS: on the device, its state, the variable and at most a copy of its pairs
    from nst_tf.defaults import LBFGS_MEMORY
    from nst_tf.optim.lbfgs import state_bytes

    assert large[0] == adam[0]
    assert large[1] - adam[1] == state_bytes(values, LBFGS_MEMORY) + 4 * values + 2 * LBFGS_MEMORY * 4 * values
    # Activations by hand for VGG19 up to block1_conv2 at 10 x 10: input + 2 convs of 64 channels.
    assert sizes.activation_bytes(10, 10, ["block1_conv2"]) == 4 * (3 * 100 + 2 * 64 * 100)


def test_library_stylize_checks_memory_before_building_anything(monkeypatch):
    monkeypatch.setenv("NST_TF_MEMORY_LIMIT_MB", "2000")
    with pytest.raises(memory.MemoryEstimateError, match=r"use size=\d+ or less"):
        nst_tf.transfer.controls.stylize(photo(2000, 2000), photo(48, 48), size=2000, steps=1, weights="random",
                                progress=False, multiscale=False)
