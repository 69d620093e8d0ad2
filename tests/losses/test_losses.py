"""Tests for nst_tf.losses: content, style and total-variation costs.

References are the formulas written out in NumPy (per-image sums, raw Gram matrices
computed by hand), plus hand-computed values for tiny images and exact scaling laws.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from nst_tf.losses import terms as L

SHAPES = [(2, 5, 6, 3), (1, 4, 4, 8)]


def pair(shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=shape), rng.normal(size=shape)


def raw_gram(f: np.ndarray) -> np.ndarray:
    """Raw Gram matrices (batch, C, C): sum over positions of F_c F_d, by reshape + matmul."""
    flat = f.reshape(f.shape[0], -1, f.shape[-1])
    return np.einsum("bpc,bpd->bcd", flat, flat)


def tile2x2(f: np.ndarray) -> np.ndarray:
    return np.tile(f, (1, 2, 2, 1))


# --------------------------------------------------------------------------- content


@pytest.mark.parametrize("shape", SHAPES)
def test_content_loss_formulas(shape):
    a_c, a_g = pair(shape)
    batch, h, w, c = shape
    per_image = [np.sum((a_c[b] - a_g[b]) ** 2) for b in range(batch)]
    mse = np.sum(per_image) / (batch * h * w * c)
    course = np.mean([s / (4 * h * w * c) for s in per_image])
    gatys = np.mean([0.5 * s for s in per_image])
    assert float(L.content_loss(a_c, a_g)) == pytest.approx(mse, rel=1e-10)
    assert float(L.content_loss(a_c, a_g, "mse")) == pytest.approx(mse, rel=1e-10)
    assert float(L.content_loss(a_c, a_g, "course")) == pytest.approx(course, rel=1e-10)
    assert float(L.content_loss(a_c, a_g, "gatys")) == pytest.approx(gatys, rel=1e-10)


def test_content_loss_rank3_and_bad_normalization():
    a_c, a_g = pair((4, 4, 8), seed=1)
    assert float(L.content_loss(a_c, a_g, "gatys")) == pytest.approx(0.5 * np.sum((a_c - a_g) ** 2), rel=1e-10)
    with pytest.raises(ValueError, match="mse"):
        L.content_loss(a_c, a_g, "paper")


@pytest.mark.parametrize("normalization", L.NORMALIZATIONS)
def test_content_loss_zero_for_equal_positive_otherwise(normalization):
    a, b = pair((2, 5, 6, 3), seed=2)
    assert float(L.content_loss(a, a, normalization)) == 0.0
    assert float(L.content_loss(a, b, normalization)) > 0.0
    # symmetric in its two arguments
    assert float(L.content_loss(a, b, normalization)) == pytest.approx(float(L.content_loss(b, a, normalization)))


def test_content_loss_under_spatial_tiling():
    a, b = pair((2, 5, 6, 3), seed=3)
    for normalization, factor in (("mse", 1.0), ("course", 1.0), ("gatys", 4.0)):
        small = float(L.content_loss(a, b, normalization))
        large = float(L.content_loss(tile2x2(a), tile2x2(b), normalization))
        assert large == pytest.approx(factor * small, rel=1e-10), normalization


# --------------------------------------------------------------------------- style, one layer


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("normalization", ["course", "gatys"])
def test_style_layer_loss_course_and_gatys_match_the_raw_gram_formula(shape, normalization):
    f_s, f_g = pair(shape, seed=4)
    batch, h, w, c = shape
    g_s, g_g = raw_gram(f_s), raw_gram(f_g)
    expected = np.mean([np.sum((g_s[b] - g_g[b]) ** 2) / (4 * c**2 * (h * w) ** 2) for b in range(batch)])
    assert float(L.style_layer_loss(f_s, f_g, normalization)) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("shape", SHAPES)
def test_style_layer_loss_mse_of_position_normalised_grams(shape):
    f_s, f_g = pair(shape, seed=5)
    hw = shape[1] * shape[2]
    expected = np.mean((raw_gram(f_s) / hw - raw_gram(f_g) / hw) ** 2)
    assert float(L.style_layer_loss(f_s, f_g)) == pytest.approx(expected, rel=1e-10)
    assert float(L.style_layer_loss(f_s, f_g, "mse")) == pytest.approx(expected, rel=1e-10)


def test_style_layer_loss_with_images_of_different_sizes():
    rng = np.random.default_rng(6)
    f_s, f_g = rng.normal(size=(1, 8, 6, 5)), rng.normal(size=(1, 4, 3, 5))
    expected = np.mean((raw_gram(f_s) / 48 - raw_gram(f_g) / 12) ** 2)
    assert float(L.style_layer_loss(f_s, f_g, "mse")) == pytest.approx(expected, rel=1e-10)
    assert float(L.style_layer_loss(f_s, f_g, "course")) == pytest.approx(expected / 4, rel=1e-10)


def test_style_layer_loss_mean_std_statistic():
    f_s, f_g = pair((2, 5, 6, 3), seed=7)

    def stats(f):  # (batch, 2, C): means then sqrt(var + 1e-5), over positions
        flat = f.reshape(f.shape[0], -1, f.shape[-1])
        mean = flat.mean(axis=1)
        std = np.sqrt(((flat - mean[:, None, :]) ** 2).mean(axis=1) + 1e-5)
        return np.stack([mean, std], axis=1)

    expected = np.mean((stats(f_s) - stats(f_g)) ** 2)
    assert float(L.style_layer_loss(f_s, f_g, "mse", "mean_std")) == pytest.approx(expected, rel=1e-9)
    assert float(L.style_layer_loss(f_s, f_g, "gatys", "mean_std")) == pytest.approx(expected / 4, rel=1e-9)


def test_style_layer_loss_custom_statistic():
    f_s, f_g = pair((2, 5, 6, 3), seed=8)
    expected = np.mean((f_s.max(axis=(1, 2)) - f_g.max(axis=(1, 2))) ** 2)
    statistic = lambda f: tf.reduce_max(f, axis=(1, 2))  # noqa: E731
    assert float(L.style_layer_loss(f_s, f_g, "mse", statistic)) == pytest.approx(expected, rel=1e-10)
    assert float(L.style_layer_loss(f_s, f_g, "course", statistic)) == pytest.approx(expected / 4, rel=1e-10)


def test_style_layer_loss_from_target_equals_style_layer_loss():
    f_s, f_g = pair((1, 4, 4, 8), seed=9)
    target = tf.constant(raw_gram(f_s) / 16)
    assert float(L.style_layer_loss_from_target(target, f_g)) == pytest.approx(
        np.mean((raw_gram(f_s) / 16 - raw_gram(f_g) / 16) ** 2), rel=1e-10
    )


@pytest.mark.parametrize("normalization", L.NORMALIZATIONS)
@pytest.mark.parametrize("statistic", ["gram", "gram_centered", "mean_std"])
def test_style_layer_loss_zero_for_equal_positive_otherwise(normalization, statistic):
    a, b = pair((2, 5, 6, 3), seed=10)
    assert float(L.style_layer_loss(a, a, normalization, statistic)) == 0.0
    assert float(L.style_layer_loss(a, b, normalization, statistic)) > 0.0


def test_style_loss_under_spatial_tiling():
    a, b = pair((2, 5, 6, 3), seed=11)
    for normalization in L.NORMALIZATIONS:
        small = float(L.style_layer_loss(a, b, normalization))
        large = float(L.style_layer_loss(tile2x2(a), tile2x2(b), normalization))
        assert large == pytest.approx(small, rel=1e-10), normalization
    # the style image alone may be tiled: the 'positions' Gram does not change
    assert float(L.style_layer_loss(tile2x2(a), a)) == pytest.approx(0.0, abs=1e-20)


# --------------------------------------------------------------------------- style, several layers


def test_style_loss_over_layers_with_weights():
    rng = np.random.default_rng(12)
    shapes = {"block1_conv1": (1, 8, 8, 3), "block2_conv1": (1, 4, 4, 6), "block3_conv1": (1, 2, 2, 5)}
    style = {name: rng.normal(size=shape) for name, shape in shapes.items()}
    generated = {name: rng.normal(size=shape) for name, shape in shapes.items()}
    targets = {name: tf.constant(raw_gram(f) / (f.shape[1] * f.shape[2])) for name, f in style.items()}

    def layer_cost(name):
        hw = shapes[name][1] * shapes[name][2]
        return np.mean((raw_gram(style[name]) / hw - raw_gram(generated[name]) / hw) ** 2)

    weights = {"block1_conv1": 1.0, "block2_conv1": 3.0, "block3_conv1": 0.0}
    expected = 0.25 * layer_cost("block1_conv1") + 0.75 * layer_cost("block2_conv1")
    assert float(L.style_loss(targets, generated, weights)) == pytest.approx(expected, rel=1e-10)
    assert float(L.style_loss(targets, generated, weights, "course")) == pytest.approx(expected / 4, rel=1e-10)
    equal = np.mean([layer_cost(name) for name in shapes])
    assert float(L.style_loss(targets, generated)) == pytest.approx(equal, rel=1e-10)
    # only the named layers count
    assert float(L.style_loss(targets, generated, ["block3_conv1"])) == pytest.approx(layer_cost("block3_conv1"), rel=1e-10)


def test_normalize_layer_weights():
    assert L.normalize_layer_weights({"a": 1, "b": 3}) == {"a": 0.25, "b": 0.75}
    assert L.normalize_layer_weights(["a", "b", "c", "d"]) == {k: 0.25 for k in "abcd"}
    for bad in ({}, [], {"a": 0.0}, {"a": 2.0, "b": -1.0}):
        with pytest.raises(ValueError):
            L.normalize_layer_weights(bad)


# --------------------------------------------------------------------------- total variation


def tv_by_loops(image: np.ndarray, kind: str) -> float:
    batch, h, w, c = image.shape
    down, right = [], []
    for b in range(batch):
        for i in range(h):
            for j in range(w):
                for k in range(c):
                    if i + 1 < h:
                        down.append(image[b, i + 1, j, k] - image[b, i, j, k])
                    if j + 1 < w:
                        right.append(image[b, i, j + 1, k] - image[b, i, j, k])
    down, right = np.array(down), np.array(right)
    if kind == "l2":
        return np.mean(down**2) + np.mean(right**2)
    if kind == "l1":
        return np.mean(np.abs(down)) + np.mean(np.abs(right))
    return (np.sum(np.abs(down)) + np.sum(np.abs(right))) / batch  # per image sum, mean over batch


@pytest.mark.parametrize("kind", ["l2", "l1", "sum_abs"])
@pytest.mark.parametrize("shape", [(2, 5, 7, 3), (1, 6, 4, 3)])
def test_tv_loss_matches_loops(kind, shape):
    image = np.random.default_rng(13).uniform(size=shape)
    assert float(L.tv_loss(image, kind)) == pytest.approx(tv_by_loops(image, kind), rel=1e-9)


def test_tv_loss_known_values_for_a_2x2_image():
    image = np.zeros((2, 2, 3))
    image[..., 0] = [[0.0, 1.0], [1.0, 1.0]]
    image[..., 2] = [[0.5, 0.0], [0.0, 0.0]]
    # differences down: R (1, 0), G (0, 0), B (-0.5, 0); right: R (1, 0), G (0, 0), B (-0.5, 0)
    # tf.image.total_variation: sum of |differences| = (1 + 0.5) + (1 + 0.5) = 3
    assert float(L.tv_loss(image, "sum_abs")) == pytest.approx(3.0)
    assert float(tf.image.total_variation(tf.constant(image))) == pytest.approx(3.0)
    # means over the 6 differences of each direction
    assert float(L.tv_loss(image, "l1")) == pytest.approx(1.5 / 6 + 1.5 / 6)
    assert float(L.tv_loss(image, "l2")) == pytest.approx(1.25 / 6 + 1.25 / 6)
    assert float(L.tv_loss(image)) == pytest.approx(1.25 / 6 + 1.25 / 6)  # default l2


@pytest.mark.parametrize("kind", L.TV_KINDS)
def test_tv_loss_zero_for_constant_image_positive_otherwise(kind):
    assert float(L.tv_loss(np.full((1, 6, 6, 3), 0.3), kind)) == 0.0
    ramp = np.broadcast_to(np.linspace(0, 1, 6)[None, None, :, None], (1, 6, 6, 3))
    assert float(L.tv_loss(ramp, kind)) > 0.0


def test_tv_loss_bad_kind():
    with pytest.raises(ValueError, match="l2"):
        L.tv_loss(np.zeros((1, 4, 4, 3)), "l3")


def test_tv_loss_under_upsampling():
    n = 16
    image = np.random.default_rng(14).uniform(size=(1, n, n, 3))
    nearest = image.repeat(2, axis=1).repeat(2, axis=2)  # 32x32, each pixel a 2x2 block
    # nearest x2: every difference appears twice among (2n-1)*2n differences instead of (n-1)*n
    ratio = float(L.tv_loss(nearest, "l2")) / float(L.tv_loss(image, "l2"))
    assert ratio == pytest.approx((n - 1) / (2 * n - 1), rel=1e-9)
    assert float(L.tv_loss(nearest, "l1")) / float(L.tv_loss(image, "l1")) == pytest.approx((n - 1) / (2 * n - 1))
    assert float(L.tv_loss(nearest, "sum_abs")) / float(L.tv_loss(image, "sum_abs")) == pytest.approx(2.0)
    # a smooth ramp sampled twice as finely: differences halve, so l2 (a mean of squares) / 4
    ramp = lambda m: np.broadcast_to((np.arange(m) / m)[None, :, None, None], (1, m, m, 3))  # noqa: E731
    assert float(L.tv_loss(ramp(2 * n), "l2")) / float(L.tv_loss(ramp(n), "l2")) == pytest.approx(0.25)
    assert float(L.tv_loss(ramp(2 * n), "l1")) / float(L.tv_loss(ramp(n), "l1")) == pytest.approx(0.5)


def test_total_loss_weights():
    assert float(L.total_loss(2.0, 3.0, 5.0, content_weight=1.0, style_weight=10.0, tv_weight=0.1)) == pytest.approx(32.5)
    assert float(L.total_loss(2.0, 3.0)) == pytest.approx(5.0)
