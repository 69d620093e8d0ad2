"""nst_tf.show.visualize: feature grids, first-layer filters, activation maximisation, reconstructions."""

import numpy as np
import pytest
import tensorflow as tf

from nst_tf.show import visualize
from nst_tf.vgg.extractor import feature_extractor, load_vgg


@pytest.fixture(scope="module")
def random_vgg():
    # The random net other test files use too (seed 0): a worker builds it once for all of them.
    return load_vgg("random", "vgg19")


# ----- feature_grid ----------------------------------------------------------------------


def test_feature_grid_shape_and_range():
    features = tf.random.uniform((1, 6, 5, 20))
    grid = visualize.feature_grid(features, channels=16)  # 4 x 4 tiles, 1 px apart
    assert grid.shape == (4 * 6 + 3, 4 * 5 + 3)
    assert grid.min() >= 0.0 and grid.max() <= 1.0


def test_feature_grid_channel_list_columns_and_no_padding():
    features = np.random.default_rng(0).normal(size=(6, 5, 20))
    grid = visualize.feature_grid(features, channels=[0, 3, 7], columns=3, padding=0)
    assert grid.shape == (6, 15)
    tile = grid[:, 5:10]  # channel 3, scaled from its own minimum to maximum
    expected = (features[..., 3] - features[..., 3].min()) / np.ptp(features[..., 3])
    np.testing.assert_allclose(tile, expected, atol=1e-6)


def test_feature_grid_dead_channel_is_black_and_batch_is_refused():
    features = np.zeros((1, 4, 4, 2), np.float32)
    assert visualize.feature_grid(features, 2, padding=0).max() == 0.0
    with pytest.raises(ValueError, match="one image"):
        visualize.feature_grid(np.zeros((2, 4, 4, 2)))


# ----- filters_as_tiles ------------------------------------------------------------------


def test_filters_as_tiles_is_an_8x8_grid_of_3x3_rgb(random_vgg):
    tiles = visualize.filters_as_tiles(random_vgg)
    assert tiles.shape == (8 * 3 + 7, 8 * 3 + 7, 3)
    assert tiles.min() >= 0.0 and tiles.max() <= 1.0
    assert visualize.filters_as_tiles(random_vgg, padding=0).shape == (24, 24, 3)


def test_filters_as_tiles_flips_bgr_to_rgb_and_keeps_zero_grey(random_vgg):
    kernel = random_vgg.get_layer("block1_conv1").get_weights()[0]  # (3, 3, BGR, 64)
    tiles = visualize.filters_as_tiles(random_vgg, padding=0)
    first = tiles[:3, :3]  # filter 0, RGB
    expected = 0.5 + 0.5 * kernel[..., ::-1, 0] / np.abs(kernel[..., 0]).max()
    np.testing.assert_allclose(first, expected, atol=1e-6)


def test_filters_as_tiles_accepts_an_extractor(random_vgg):
    extractor = feature_extractor(["block1_conv1"], weights="random")
    np.testing.assert_array_equal(visualize.filters_as_tiles(extractor), visualize.filters_as_tiles(random_vgg))


# ----- activation maximisation --------------------------------------------------------------


def _channel_mean(vgg, image, layer, channel):
    extractor = feature_extractor([layer], weights="random")
    return float(tf.reduce_mean(extractor(image[np.newaxis])[layer][..., channel]))


@pytest.mark.parametrize("parameterization, decorrelate", [("fourier", True), ("pixels", False)])
def test_activation_maximization_raises_the_channel(random_vgg, parameterization, decorrelate):
    options = dict(size=32, parameterization=parameterization, decorrelate=decorrelate, extractor=random_vgg)
    start = visualize.activation_maximization("block2_conv1", 7, steps=0, **options)
    final = visualize.activation_maximization("block2_conv1", 7, steps=25, **options)
    assert start.shape == final.shape == (32, 32, 3)
    assert final.min() >= 0.0 and final.max() <= 1.0
    before = _channel_mean(random_vgg, start, "block2_conv1", 7)
    after = _channel_mean(random_vgg, final, "block2_conv1", 7)
    # The net is normalised: this channel's mean activation over the reference images is at most 1,
    # so a rise by 0.25 is a quarter of its typical size.
    assert after > 2.0 * abs(before) + 0.25, (before, after)


def test_activation_maximization_is_seeded(random_vgg):
    run = lambda seed: visualize.activation_maximization(  # noqa: E731
        "block1_conv2", 3, size=24, steps=3, seed=seed, extractor=random_vgg
    )
    first = run(1)  # three runs, not four: each traces its own step
    np.testing.assert_allclose(run(1), first, atol=1e-5)
    assert not np.allclose(first, run(2))


def test_activation_maximization_compiles_the_step_once(random_vgg, monkeypatch):
    traces = []
    original = visualize.fourier_image
    monkeypatch.setattr(visualize, "fourier_image", lambda *a: traces.append(1) or original(*a))
    visualize.activation_maximization("block1_conv1", 0, size=24, steps=6, extractor=random_vgg)
    # one trace of the step + one eager call for the returned image
    assert len(traces) == 2


def test_activation_maximization_rejects_bad_arguments(random_vgg):
    with pytest.raises(ValueError, match="convolution layers"):
        visualize.activation_maximization("block1_pool", 0, extractor=random_vgg, steps=0)
    with pytest.raises(ValueError, match="channels 0 to 63"):
        visualize.activation_maximization("block1_conv1", 64, extractor=random_vgg, steps=0)
    with pytest.raises(ValueError, match="parameterization"):
        visualize.activation_maximization("block1_conv1", 0, parameterization="wavelets", extractor=random_vgg)


def test_fourier_image_shape_and_low_frequencies_dominate():
    spectrum = tf.random.normal((2, 3, 16, 9), seed=0)
    pixels = visualize.fourier_image(spectrum, 16, 16)
    assert pixels.shape == (1, 16, 16, 3)
    # equal-sized random coefficients give a smooth picture: neighbours are correlated
    array = pixels.numpy()[0]
    correlation = np.corrcoef(array[:, :-1].ravel(), array[:, 1:].ravel())[0, 1]
    assert correlation > 0.5


# ----- reconstruct --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def target():
    rng = np.random.default_rng(0)
    # a smooth picture: a few blobs of colour
    y, x = np.mgrid[0:32, 0:40] / 32.0
    image = np.stack([0.5 + 0.4 * np.sin(3 * x + c) * np.cos(2 * y - c) for c in (0.0, 1.0, 2.0)], -1)
    return np.clip(image + 0.02 * rng.normal(size=image.shape), 0, 1).astype(np.float32)


@pytest.mark.slow
def test_reconstruct_content_block1_conv1_gets_closer_to_the_target(target):
    start = np.random.default_rng(0).uniform(0.0, 1.0, target.shape).astype(np.float32)
    result = visualize.reconstruct(target, "block1_conv1", size=None, steps=30, weights="random", seed=0)
    assert result.shape == target.shape
    before, after = np.mean((start - target) ** 2), np.mean((result - target) ** 2)
    assert after < 0.25 * before, (before, after)


@pytest.mark.slow
def test_reconstruct_style_matches_gram_matrices_better_than_noise(target):
    from nst_tf.losses.gram import gram_matrix

    layers = ["block1_conv1", "block2_conv1"]
    extractor = feature_extractor(layers, weights="random", pooling="avg")
    start = np.random.default_rng(0).uniform(0.0, 1.0, target.shape).astype(np.float32)
    result = visualize.reconstruct(target, layers, kind="style", size=None, steps=30, extractor=extractor)

    def gram_error(image):
        ours, theirs = extractor(image[np.newaxis]), extractor(target[np.newaxis])
        return sum(float(tf.reduce_mean((gram_matrix(ours[n]) - gram_matrix(theirs[n])) ** 2)) for n in layers)

    assert gram_error(result) < 0.2 * gram_error(start)


def test_reconstruct_rejects_unknown_kind(target):
    with pytest.raises(ValueError, match="kind"):
        visualize.reconstruct(target, "block1_conv1", kind="texture", weights="random")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["content", "style"])
def test_reconstruct_from_one_term_runs_as_the_old_zero_weight_transfer(target, kind):
    """The single-term objective follows the same L-BFGS path as the whole transfer with a zero weight did."""
    from nst_tf.losses.gram import gram_matrix
    from nst_tf.transfer.style_transfer import StyleTransfer

    layers = ["block1_conv1", "block2_conv1"]
    extractor = feature_extractor(layers, weights="random", pooling="avg")
    result = visualize.reconstruct(target, layers, kind=kind, size=None, steps=8, extractor=extractor)
    features = extractor(target[np.newaxis])
    if kind == "content":
        scale = float(np.mean([float(tf.reduce_mean(tf.square(features[name]))) for name in layers]))
        weights, style_layers = dict(content_weight=1.0 / scale, style_weight=0.0, tv_weight=0.3), layers
    else:
        style_layers = {name: 1.0 / float(tf.reduce_mean(tf.square(gram_matrix(features[name])))) for name in layers}
        weights = dict(content_weight=0.0, style_weight=sum(style_layers.values()) / len(layers), tv_weight=0.01)
    old = StyleTransfer(target, target, content_layers=layers, style_layers=style_layers, init="noise", seed=0,
                        extractor=extractor, **weights).run(8, progress=False).image
    assert np.abs(result - np.random.default_rng(0).uniform(0.0, 1.0, target.shape)).max() > 0.05  # it moved
    np.testing.assert_allclose(result, old, atol=1e-3)


def test_reconstruct_names_an_unknown_option(target):
    with pytest.raises(TypeError, match="style_weight"):
        visualize.reconstruct(target, "block1_conv1", weights="random", style_weight=1.0)
