"""Lesson 05's controls: colour preservation, style scale and blend, masks, coarse-to-fine.

Tiny images and a seeded random VGG16 keep these offline and quick; what is tested are
properties (chroma kept, zero cost and zero gradient outside a mask, sizes per level).
"""

import numpy as np
import pytest
import tensorflow as tf

from nst_tf.image import colour, arrays as images
from nst_tf import defaults
from nst_tf.losses import masks
from nst_tf.transfer import style_transfer as optimize
from nst_tf.optim import pyramid, solvers
from nst_tf.optim.memory import peak_memory_bytes
from nst_tf.transfer import controls as C
from nst_tf.vgg.extractor import feature_extractor


@pytest.fixture(scope="module")
def extractor():
    layers = list(defaults.DEFAULT_CONTENT_LAYERS) + list(defaults.DEFAULT_STYLE_LAYERS)
    return feature_extractor(layers, weights="random", net="vgg16")


def _smooth_image(height, width, seed):
    """A smooth colourful picture (gradients and a blob), float32 (H, W, 3) in [0, 1]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    phase = rng.uniform(0, 2 * np.pi, 3)
    channels = [0.5 + 0.35 * np.sin(3 * xx + 2 * yy * (c + 1) + phase[c]) for c in range(3)]
    return np.clip(np.stack(channels, axis=-1), 0, 1).astype(np.float32)


@pytest.fixture(scope="module")
def content_image():
    return _smooth_image(40, 48, seed=1)


@pytest.fixture(scope="module")
def style_images():
    rng = np.random.default_rng(2)
    stripes = np.zeros((48, 48, 3), np.float32)
    stripes[:, ::4] = (0.9, 0.2, 0.1)
    noise = rng.uniform(0.0, 1.0, (48, 48, 3)).astype(np.float32) * np.float32([0.2, 0.4, 1.0])
    return [stripes, noise]


# ----- colour --------------------------------------------------------------------------------


def test_yiq_matrix_has_the_standard_ntsc_values():
    primaries = colour.rgb_to_yiq(np.eye(3, dtype=np.float32))  # rows: pure red, green, blue
    standard = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
    np.testing.assert_allclose(primaries.T, standard, atol=1.5e-3)
    from skimage.color import rgb2yiq

    image = _smooth_image(8, 8, seed=3)
    np.testing.assert_allclose(colour.rgb_to_yiq(image), rgb2yiq(image), atol=1e-6)
    white = colour.rgb_to_yiq(np.ones(3, np.float32))
    np.testing.assert_allclose(white, [1.0, 0.0, 0.0], atol=1e-6)


def test_yiq_round_trip_numpy_and_tensor():
    image = np.random.default_rng(4).uniform(size=(9, 7, 3)).astype(np.float32)
    np.testing.assert_allclose(colour.yiq_to_rgb(colour.rgb_to_yiq(image)), image, atol=1e-5)
    tensor = colour.yiq_to_rgb(colour.rgb_to_yiq(tf.constant(image)))
    assert isinstance(tensor, tf.Tensor)
    np.testing.assert_allclose(tensor.numpy(), image, atol=1e-5)


def test_recombine_luminance_takes_y_from_generated_and_iq_from_content():
    content = _smooth_image(16, 20, seed=5)
    generated = 0.8 * _smooth_image(16, 20, seed=6) + 0.1
    result = colour.recombine_luminance(generated, content)
    assert result.dtype == np.float32 and result.min() >= 0 and result.max() <= 1
    yiq, content_yiq, generated_yiq = colour.rgb_to_yiq(result), colour.rgb_to_yiq(content), colour.rgb_to_yiq(generated)
    np.testing.assert_allclose(yiq[..., 0], generated_yiq[..., 0], atol=1e-5)  # brightness: the generated
    # colour: the content's where RGB can show it, else the same hue with less saturation.
    ratio = np.linalg.norm(yiq[..., 1:], axis=-1) / np.linalg.norm(content_yiq[..., 1:], axis=-1)
    assert np.all(ratio <= 1 + 1e-4)
    assert (ratio > 1 - 1e-4).mean() > 0.5
    np.testing.assert_allclose(yiq[..., 1:], content_yiq[..., 1:] * ratio[..., None], atol=1e-5)
    np.testing.assert_allclose(colour.recombine_luminance(content, content), content, atol=1e-5)


def test_style_luminance_matches_the_content_mean_and_std(content_image, style_images):
    matched = colour.style_luminance(style_images[1], content_image)
    assert matched.shape == style_images[1].shape
    assert np.allclose(matched[..., 0], matched[..., 2])  # grey: three equal channels
    content_y = colour.rgb_to_yiq(content_image)[..., 0]
    assert abs(matched[..., 0].mean() - content_y.mean()) < 0.02
    assert abs(matched[..., 0].std() - content_y.std()) < 0.02


@pytest.mark.slow
def test_luminance_transfer_keeps_the_content_chroma(content_image, style_images, extractor):
    result = C.luminance_transfer(
        content_image, style_images[0], size=None, steps=4, style_weight=1e3, extractor=extractor, progress=False
    )
    assert isinstance(result, solvers.StyleTransferResult)
    assert result.image.shape == content_image.shape
    yiq, content_yiq = colour.rgb_to_yiq(result.image), colour.rgb_to_yiq(content_image)
    assert np.abs(yiq[..., 1:] - content_yiq[..., 1:]).mean() < 2e-3
    assert np.abs(yiq[..., 0] - content_yiq[..., 0]).mean() > 1e-3  # the luminance was stylized


def test_match_colors_moves_the_style_histograms_to_the_content(content_image, style_images):
    style = style_images[1]
    matched = colour.match_colors(style, content_image)
    assert matched.shape == style.shape and matched.dtype == np.float32
    quantiles = np.linspace(0.05, 0.95, 7)

    def gap(image):
        return max(
            np.abs(np.quantile(image[..., c], quantiles) - np.quantile(content_image[..., c], quantiles)).max()
            for c in range(3)
        )

    assert gap(style) > 0.2
    assert gap(matched) < 0.03


@pytest.mark.slow
def test_histogram_preservation_gives_the_style_the_content_palette(monkeypatch, content_image, style_images, extractor):
    seen = _record_transfers(monkeypatch)
    C.stylize(content_image, style_images[1], size=None, steps=1, preserve_colors="histogram",
              extractor=extractor, progress=False)
    style_given = seen[0]["styles"][0]
    assert abs(style_given.mean() - content_image.mean()) < 0.05


# ----- style scale and blend -------------------------------------------------------------------


def _record_transfers(monkeypatch):
    """Replace the engine in controls by a recording subclass; returns the list of records."""
    seen = []

    class Recording(optimize.StyleTransfer):
        def __init__(self, content_image, style_images, **kwargs):
            seen.append({"content": np.asarray(content_image), "styles": list(style_images), **kwargs})
            super().__init__(content_image, style_images, **kwargs)

        def retarget(self, content_image, style_images, **kwargs):  # a next run of the same shape (kept transfer)
            seen.append({"content": np.asarray(content_image), "styles": list(style_images), **kwargs})
            super().retarget(content_image, style_images, **kwargs)

    monkeypatch.setattr(C, "StyleTransfer", Recording)
    return seen


@pytest.mark.slow
def test_style_scale_and_blend_reach_the_engine(monkeypatch, content_image, style_images, extractor):
    seen = _record_transfers(monkeypatch)
    for scale in (0.75, 2.0):
        C.stylize(content_image, style_images, size=None, steps=1, style_scale=scale, style_blend=[3, 1],
                  extractor=extractor, progress=False)
    small, large = seen[0]["styles"][0], seen[1]["styles"][0]
    assert max(large.shape[:2]) == 2 * max(content_image.shape[:2])
    assert max(small.shape[:2]) == round(0.75 * max(content_image.shape[:2]))
    assert seen[0]["style_blend"] == [3, 1]


@pytest.mark.slow
def test_one_stylize_that_never_enlarges(content_image, style_images, extractor):
    """nst_tf.stylize, nst_tf.transfer.stylize and the CLI's are one function, with no alias left; size shrinks, never enlarges."""
    import nst_tf
    from nst_tf import transfer

    assert nst_tf.stylize is C.stylize and transfer.stylize is C.stylize and not hasattr(optimize, "stylize")
    kept = C.stylize(content_image, style_images[0], size=96, steps=1, extractor=extractor, progress=False)
    assert kept.image.shape[:2] == content_image.shape[:2] == (40, 48)
    shrunk = C.stylize(content_image, style_images[0], size=36, steps=1, extractor=extractor, progress=False)
    assert shrunk.image.shape[:2] == (30, 36)



# ----- one traced solver for a lesson's many short runs ------------------------------------------


@pytest.mark.slow
def test_a_next_run_of_the_same_shape_reuses_the_transfer_and_computes_what_a_new_one_would(
        content_image, style_images, extractor):
    """stylize keeps its last transfer; a run of the same size and options gives it new pictures and weights
    (nothing is traced again) and paints, to the last bit, what a transfer built for them paints."""
    C.forget_transfers()
    options = dict(size=None, steps=4, extractor=extractor, progress=False)
    other_content = np.ascontiguousarray(content_image[::-1])
    C.stylize(content_image, style_images[0], **options)
    (kept,) = C._KEPT.values()
    reused = C.stylize(other_content, style_images[1], style_weight=3.0, init="noise", seed=2, **options)
    assert list(C._KEPT.values()) == [kept]  # the same transfer ran
    C.forget_transfers()
    fresh = C.stylize(other_content, style_images[1], style_weight=3.0, init="noise", seed=2, **options)
    np.testing.assert_array_equal(reused.image, fresh.image)
    assert reused.history["total"] == fresh.history["total"]
    # weights left out next time are the defaults again, not the last run's
    (kept,) = C._KEPT.values()
    default = C.stylize(content_image, style_images[0], **options)
    assert list(C._KEPT.values()) == [kept]
    assert kept.style_weight == defaults.DEFAULT_WEIGHTS["style_weight"]
    C.forget_transfers()
    assert default.history["total"] == C.stylize(content_image, style_images[0], **options).history["total"]


@pytest.mark.slow
def test_only_transfers_that_fit_are_kept_and_clear_cache_lets_go(content_image, style_images, extractor,
                                                                  monkeypatch):
    from nst_tf.vgg.extractor import clear_cache

    C.forget_transfers()
    options = dict(steps=1, extractor=extractor, progress=False)
    C.stylize(content_image, style_images[0], size=None, **options)
    (first,) = C._KEPT.values()
    C.stylize(content_image, style_images[0], size=36, **options)  # another size: a new transfer, one kept
    (second,) = C._KEPT.values()
    assert second is not first and second.content_image.shape[:2] == (30, 36)
    C.stylize(content_image, style_images[0], size=None, init=content_image * 0.5, **options)  # an array init: fine
    assert len(C._KEPT) == 1
    monkeypatch.setattr(C, "KEEP_MAX_PIXELS", 30 * 36 - 1)
    C.stylize(content_image, style_images[0], size=36, **options)
    assert not C._KEPT  # too large to keep
    monkeypatch.undo()
    C.stylize(content_image, style_images[0], size=36, style_statistic=lambda f: f[0, 0, 0], **options)
    assert len(C._KEPT) == 1
    C.stylize(content_image, style_images[0], size=36, style_layers=np.array(["block1_conv1"]), **options)
    assert not C._KEPT  # an argument it cannot compare: not kept
    C.stylize(content_image, style_images[0], size=36, **options)
    clear_cache(keep=[extractor.vgg])
    assert not C._KEPT


# ----- masks ------------------------------------------------------------------------------------


def test_masks_are_downsampled_to_each_layer(content_image, style_images, extractor):
    height, width = content_image.shape[:2]
    left = np.zeros((height, width), np.float32)
    left[:, : width // 2] = 1.0
    transfer = optimize.MaskedStyleTransfer(content_image, style_images, [left, 1.0 - left], extractor=extractor)
    features = extractor(content_image[np.newaxis])
    for per_layer in transfer.layer_masks:
        for name, mask in per_layer.items():
            assert tuple(mask.shape) == tuple(features[name].shape[1:3]), name
    block2 = transfer.layer_masks[0]["block2_conv1"].numpy()  # one 2x2 average pooling
    np.testing.assert_allclose(block2, left[: height // 2 * 2 : 2, : width // 2 * 2 : 2], atol=1e-6)
    np.testing.assert_allclose(transfer.layer_masks[0]["block1_conv1"].numpy() + transfer.layer_masks[1]["block1_conv1"].numpy(), 1.0)


def test_downsample_mask_mirrors_vgg_pooling_on_odd_sizes():
    mask = np.arange(7 * 9, dtype=np.float32).reshape(7, 9) / 63.0
    once = masks.downsample_mask(mask, (3, 4)).numpy()
    np.testing.assert_allclose(once, mask[:6, :8].reshape(3, 2, 4, 2).mean(axis=(1, 3)), atol=1e-6)
    assert tuple(masks.downsample_mask(mask, (1, 2)).shape) == (1, 2)


@pytest.mark.slow
def test_a_full_mask_gives_the_plain_style_cost(content_image, style_images, extractor):
    ones = np.ones(content_image.shape[:2], np.float32)
    masked = optimize.MaskedStyleTransfer(content_image, style_images[:1], [ones], extractor=extractor)
    plain = optimize.StyleTransfer(content_image, style_images[:1], extractor=extractor)
    image = _smooth_image(*content_image.shape[:2], seed=8)
    np.testing.assert_allclose(masked.losses(image)["style"], plain.losses(image)["style"], rtol=1e-4)


@pytest.mark.slow
def test_an_empty_mask_costs_zero_and_pulls_on_no_pixel(content_image, style_images, extractor):
    height, width = content_image.shape[:2]
    zeros, ones = np.zeros((height, width), np.float32), np.ones((height, width), np.float32)
    image = tf.constant(_smooth_image(height, width, seed=9)[np.newaxis])

    alone = optimize.MaskedStyleTransfer(content_image, style_images[:1], [zeros], extractor=extractor)
    assert alone.losses(image[0])["style"] == 0.0

    pair = optimize.MaskedStyleTransfer(content_image, style_images, [zeros, ones], extractor=extractor)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(image)
        terms = pair.style_terms(image)
        empty, full = terms[0], terms[1]
    assert float(empty) == 0.0 and float(full) > 0.0
    np.testing.assert_array_equal(tape.gradient(empty, image).numpy(), 0.0)
    assert np.abs(tape.gradient(full, image).numpy()).max() > 0.0
    total = pair.losses(image[0])
    assert np.isfinite(total["total"])


def test_each_style_pulls_only_inside_its_region(content_image, style_images, extractor):
    height, width = content_image.shape[:2]
    top = np.zeros((height, width), np.float32)
    top[: height // 2] = 1.0
    shallow = ("block1_conv1", "block2_conv1")  # receptive fields of 3 and 10 px
    pair = optimize.MaskedStyleTransfer(content_image, style_images, [top, 1.0 - top], style_layers=shallow,
                                 extractor=extractor)
    image = tf.constant(_smooth_image(height, width, seed=10)[np.newaxis])
    with tf.GradientTape() as tape:
        tape.watch(image)
        first = pair.style_terms(image)[0]
    gradient = np.abs(tape.gradient(first, image).numpy()[0]).sum(axis=-1)
    assert gradient[: height // 2].min() > 0.0
    # Beyond the region plus the receptive field's reach, not a single pixel is pulled.
    np.testing.assert_array_equal(gradient[height // 2 + 6 :], 0.0)


def test_mask_from_a_file_is_resized_to_the_content(tmp_path, content_image):
    from PIL import Image

    picture = np.zeros((20, 24), np.uint8)
    picture[:, 12:] = 255
    path = tmp_path / "mask.png"
    Image.fromarray(picture).save(path)
    mask = masks.load_mask(path, size=content_image.shape[:2])
    assert mask.shape == content_image.shape[:2] and mask.dtype == np.float32
    assert mask[:, :5].max() < 0.05 and mask[:, -5:].min() > 0.95


@pytest.mark.slow
def test_masked_stylize_runs(content_image, style_images, extractor):
    height, width = content_image.shape[:2]
    left = np.zeros((height, width), bool)
    left[:, : width // 2] = True
    result = C.stylize(content_image, style_images, style_masks=[left, ~left], size=None, steps=2,
                       extractor=extractor, progress=False)
    assert result.image.shape == content_image.shape and np.isfinite(result.history["total"]).all()


# ----- coarse-to-fine --------------------------------------------------------------------------


def test_pyramid_sizes_and_steps():
    assert pyramid.pyramid_sizes(2048) == [256, 512, 1024, 2048]
    assert pyramid.pyramid_sizes(700) == [175, 350, 700]
    assert pyramid.pyramid_sizes(200) == [200]
    assert pyramid.pyramid_sizes(None, levels=[64, 128]) == [64, 128]
    assert pyramid.level_steps(200, 4) == [200, 100, 50, 50]
    assert pyramid.level_steps(200, 1) == [200]
    assert pyramid.level_steps(200, 3, [30, 20, 5]) == [30, 20, 5]


@pytest.mark.slow
def test_coarse_to_fine_calls_each_level_with_increasing_sizes(content_image, style_images, extractor):
    seen = []
    result = C.stylize_multiscale(
        _smooth_image(60, 72, seed=1), style_images[0], size=72, levels=[36, 54, 72], steps=2,
        level_callback=lambda report, image: seen.append((report.size, image.shape[:2])),
        extractor=extractor, progress=False,
    )
    assert isinstance(result, solvers.StyleTransferResult)
    assert max(result.image.shape[:2]) == 72 and result.image.shape[:2] == (60, 72)
    assert [max(size) for size, _ in seen] == [36, 54, 72]
    assert all(size == shape for size, shape in seen)
    assert [level.steps for level in result.levels] == [2, 1, 1]
    peaks = [level.peak_memory for level in result.levels]
    if peak_memory_bytes() is None:  # a platform without a way to read it (not Linux or macOS)
        assert peaks == [None] * len(peaks)
    else:  # a high-water mark: positive and never falling from one level to the next
        assert all(peak > 0 for peak in peaks) and peaks == sorted(peaks)
    assert result.evaluations == sum(level.evaluations for level in result.levels)
    assert result.history["step"] == sorted(result.history["step"])
    assert "| level |" in result.report()


@pytest.mark.slow
def test_auto_multiscale_above_the_single_size_limit(style_images, extractor):
    content_image = _smooth_image(53, 64, seed=1)  # stylize never enlarges: the photo has the size asked for
    single = C.stylize(content_image, style_images[0], size=48, steps=1, extractor=extractor, progress=False)
    assert len(single.levels) == 1
    levels = C.stylize(content_image, style_images[0], size=64, steps=1, max_single_size=48, start_size=32,
                        extractor=extractor, progress=False)
    assert [max(level.size) for level in levels.levels] == [32, 64]
    assert levels.image.shape[:2] == (53, 64)


@pytest.mark.slow
def test_controls_combine_colours_masks_and_levels(style_images, extractor):
    content_image = _smooth_image(53, 64, seed=1)  # stylize never enlarges: the photo has the size asked for
    height, width = content_image.shape[:2]
    top = np.zeros((height, width), np.float32)
    top[: height // 2] = 1.0
    result = C.stylize(content_image, style_images, size=64, levels=[32, 64], steps=2, preserve_colors="luminance",
                       style_masks=[top, 1.0 - top], style_weight=1e3, extractor=extractor, progress=False)
    assert result.image.shape[:2] == (53, 64) and [len(result.levels)] == [2]
    enlarged = images.resize_image(content_image, size=(53, 64))
    chroma_gap = np.abs(colour.rgb_to_yiq(result.image)[..., 1:] - colour.rgb_to_yiq(enlarged)[..., 1:]).mean()
    assert chroma_gap < 2e-3
    for level in result.levels:  # each level's picture already has the content's colours
        assert level.image.shape[:2] == level.size


# ----- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"preserve_colors": "sepia"}, "preserve_colors"),
        ({"style_scale": -1.0}, "style_scale"),
        ({"style_scale": 0}, "style_scale"),
        ({"levels": [64, 32]}, "increasing"),
        ({"levels": [32, 32]}, "increasing"),
        ({"levels": [32, 64], "size": 48}, "must equal"),
        ({"multiscale": "sometimes"}, "multiscale"),
        ({"levels": [32, 64], "multiscale": False}, "multiscale=False"),
        ({"style_masks": [np.ones((8, 8))] * 2}, "one mask per style"),
        ({"style_masks": [np.ones(8)]}, "2-D"),
        ({"style_masks": [np.full((8, 8), 2.0)]}, r"\[0, 1\]"),
        ({"style_masks": [np.ones((8, 8))], "style_blend": [1.0]}, "style_blend"),
        ({"levels": [32, 48], "steps_per_level": [3]}, "steps_per_level"),  # 48: the photo's side (never enlarged)
    ],
)
def test_bad_values_raise_one_line_value_errors(kwargs, message, content_image, style_images):
    arguments = {"size": 64, "steps": 1, "progress": False, "weights": "random", "net": "vgg16", **kwargs}
    with pytest.raises(ValueError, match=message) as error:
        C.stylize(content_image, style_images[0], **arguments)
    assert "\n" not in str(error.value)
