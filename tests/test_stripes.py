"""The stripe measure of lesson 06's claim (nst_tf.fast.stripes), on pictures whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from nst_tf import data
from nst_tf.fast import stripes
from nst_tf.fast.stripes import stripe_energy


def _rows_alternating(height=48, width=64):
    values = np.zeros((height, width), np.float64)
    values[::2] = 1.0
    return values


def test_alternating_rows_are_all_stripe_and_alternating_columns_none():
    rows = _rows_alternating()
    assert stripe_energy(rows) == pytest.approx(1.0, abs=1e-12)
    assert stripe_energy(rows.T) == pytest.approx(0.0, abs=1e-12)
    rgb = np.repeat(rows[..., None], 3, axis=-1)
    assert stripe_energy(rgb) == pytest.approx(1.0, abs=1e-12)
    assert stripe_energy((rgb * 255).astype(np.uint8)) == pytest.approx(1.0, abs=1e-12)


def test_stripes_of_period_four_rows_are_all_stripe():
    """What lesson 06's network painted: two rows light, two dark (1/4 cycle per pixel)."""
    y = np.arange(64)[:, None] * np.ones((1, 80))
    assert stripe_energy(0.5 + 0.3 * np.cos(2 * np.pi * y / 4 + 0.3)) == pytest.approx(1.0, abs=1e-12)
    assert stripe_energy((0.5 + 0.3 * np.cos(2 * np.pi * y / 4)).T) == pytest.approx(0.0, abs=1e-12)


def test_flat_and_coarse_pictures_score_zero():
    assert stripe_energy(np.full((32, 32, 3), 0.7)) == 0.0
    y = np.arange(64)[:, None] * np.ones((1, 64))
    coarse = 0.5 + 0.5 * np.cos(2 * np.pi * y / 8)          # period 8 rows: 1/8 cycle per pixel
    assert stripe_energy(coarse) == pytest.approx(0.0, abs=1e-12)


def test_a_mixture_scores_its_share_of_the_variance():
    """Rows alternating +-a over a coarse wave of amplitude b: variances a^2 and b^2 / 2, share a^2 / (a^2 + b^2 / 2)."""
    y, x = np.mgrid[0:64, 0:64].astype(np.float64)
    a, b = 0.1, 0.3
    picture = 0.5 + a * np.cos(np.pi * y) + b * np.cos(2 * np.pi * x / 16)
    assert stripe_energy(picture) == pytest.approx(a**2 / (a**2 + b**2 / 2), rel=1e-9)
    # the same stripes, tilted so they run along columns: not horizontal stripes
    assert stripe_energy(0.5 + a * np.cos(np.pi * x) + b * np.cos(2 * np.pi * x / 16)) == pytest.approx(0.0, abs=1e-12)


def test_a_checkerboard_is_not_horizontal_stripes():
    y, x = np.mgrid[0:32, 0:32]
    assert stripe_energy(((x + y) % 2).astype(float)) == pytest.approx(0.0, abs=1e-12)


def test_white_noise_scores_the_area_of_the_band():
    noise = np.random.default_rng(0).normal(size=(256, 256))
    fy, fx = np.fft.fftfreq(256), np.fft.fftfreq(256)
    low_vertical, high_horizontal = stripes.STRIPE_BAND
    area = np.mean(np.abs(fy) >= low_vertical) * np.mean(np.abs(fx) < high_horizontal)
    assert area == pytest.approx((161 / 256) * (15 / 256))     # |k| >= 48 rows, |k| < 8 columns of 256
    assert stripe_energy(noise) == pytest.approx(area, rel=0.1)


def test_luminance_uses_rec601_weights_and_the_spectrum_sums_to_the_variance():
    rng = np.random.default_rng(1)
    image = rng.uniform(size=(20, 24, 3))
    luma = 0.299 * image[..., 0] + 0.587 * image[..., 1] + 0.114 * image[..., 2]
    np.testing.assert_allclose(stripes.luminance(image), luma)
    power, fy, fx = stripes.stripe_spectrum(image)
    assert power.shape == (20, 24) and fy.shape == (20,) and fx.shape == (24,)
    assert power.sum() == pytest.approx(luma.var(), rel=1e-10)


def test_sample_photos_and_paintings_score_low():
    for name in ["content/chelsea", "style/swirls"]:
        assert stripe_energy(data.load(name, max_size=256)) < 0.02, name


@pytest.mark.parametrize("bad, error", [
    (np.zeros((2, 2, 3)), ValueError),
    (np.zeros((8, 8, 4)), ValueError),
    (np.zeros(16), ValueError),
    (np.full((8, 8), np.nan), ValueError),
    (np.array([["a"] * 8] * 8), TypeError),
])
def test_bad_pictures_are_refused_by_name(bad, error):
    with pytest.raises(error, match="image"):
        stripe_energy(bad)


def test_bad_band_is_refused():
    with pytest.raises(ValueError, match="band"):
        stripe_energy(np.zeros((8, 8)), band=(0.6, 0.1))
