"""Tests for nst_tf.losses.gram: Gram matrices, mean/std statistics and the statistic lookup.

Every reference is computed by hand in NumPy (explicit loops over channels and
positions, or reshape + matmul), never with the package.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from nst_tf.losses.gram import GRAM_NORMALIZATIONS, STYLE_STATISTICS, gram_matrix, mean_std, style_statistic

SHAPE = (3, 5, 7, 4)  # batch 3, non-square 5x7 positions, 4 channels


@pytest.fixture
def features():
    return np.random.default_rng(0).normal(size=SHAPE)


def gram_by_loops(f: np.ndarray, divide_by: str, center: bool = False) -> np.ndarray:
    """G[b, c, d] = sum_{i, j} F[b, i, j, c] F[b, i, j, d], with explicit loops."""
    batch, height, width, channels = f.shape
    if center:
        f = f.copy()
        for b in range(batch):
            for c in range(channels):
                f[b, :, :, c] -= f[b, :, :, c].sum() / (height * width)
    gram = np.zeros((batch, channels, channels))
    for b in range(batch):
        for c in range(channels):
            for d in range(channels):
                total = 0.0
                for i in range(height):
                    for j in range(width):
                        total += f[b, i, j, c] * f[b, i, j, d]
                gram[b, c, d] = total
    divisor = {"none": 1, "positions": height * width, "positions_channels": height * width * channels}[divide_by]
    return gram / divisor


def gram_by_matmul(f: np.ndarray) -> np.ndarray:
    """Raw Gram: reshape each image to (positions, channels), then F^T F."""
    flat = f.reshape(f.shape[0], -1, f.shape[-1])
    return np.matmul(flat.transpose(0, 2, 1), flat)


@pytest.mark.parametrize("normalization", ["none", "positions", "positions_channels"])
@pytest.mark.parametrize("center", [False, True])
def test_gram_matches_numpy_loops(features, normalization, center):
    got = gram_matrix(tf.constant(features), normalization, center=center).numpy()
    assert got.shape == (3, 4, 4)
    np.testing.assert_allclose(got, gram_by_loops(features, normalization, center), rtol=1e-10, atol=1e-12)


def test_gram_default_is_positions_and_float32_input(features):
    f32 = features.astype(np.float32)
    got = gram_matrix(f32).numpy()
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, gram_by_matmul(f32.astype(np.float64)) / 35.0, rtol=1e-5, atol=1e-6)
    assert GRAM_NORMALIZATIONS == ("none", "positions", "positions_channels")


def test_gram_normalizations_relate_by_the_counts(features):
    raw = gram_matrix(features, "none").numpy()
    np.testing.assert_allclose(raw, gram_by_matmul(features), rtol=1e-12)
    np.testing.assert_allclose(gram_matrix(features, "positions").numpy() * 35, raw, rtol=1e-12)
    np.testing.assert_allclose(gram_matrix(features, "positions_channels").numpy() * 35 * 4, raw, rtol=1e-12)


def test_centered_gram_is_the_population_covariance(features):
    got = gram_matrix(features, "positions", center=True).numpy()
    for b in range(3):
        np.testing.assert_allclose(got[b], np.cov(features[b].reshape(-1, 4), rowvar=False, bias=True), rtol=1e-10)


@pytest.mark.parametrize("center", [False, True])
def test_gram_is_symmetric_and_positive_semidefinite(features, center):
    gram = gram_matrix(features, "positions", center=center).numpy()
    np.testing.assert_allclose(gram, gram.transpose(0, 2, 1), rtol=1e-12, atol=1e-12)
    for b in range(3):
        eigenvalues = np.linalg.eigvalsh(gram[b])
        assert eigenvalues.min() >= -1e-10 * eigenvalues.max()


def test_gram_of_low_rank_features_is_singular():
    # 2 positions and 4 channels: rank <= 2, so two eigenvalues are zero (PSD, not PD)
    f = np.random.default_rng(3).normal(size=(1, 1, 2, 4))
    eigenvalues = np.linalg.eigvalsh(gram_matrix(f, "none").numpy()[0])
    assert np.sum(np.abs(eigenvalues) < 1e-10) == 2 and eigenvalues.min() >= -1e-10


def test_gram_forgets_where_things_are(features):
    rng = np.random.default_rng(1)
    flat = features.reshape(3, 35, 4)
    shuffled = flat[:, rng.permutation(35), :]
    base = gram_matrix(features).numpy()
    np.testing.assert_allclose(gram_matrix(shuffled.reshape(3, 5, 7, 4)).numpy(), base, rtol=1e-12)
    # even arranged as 7x5: the same positions, the same Gram matrix
    np.testing.assert_allclose(gram_matrix(shuffled.reshape(3, 7, 5, 4)).numpy(), base, rtol=1e-12)
    # but mixing values across channels does change it (the test can fail)
    mixed = features.reshape(-1)[rng.permutation(features.size)].reshape(features.shape)
    assert not np.allclose(gram_matrix(mixed).numpy(), base)


def test_rank3_input_is_a_batch_of_one(features):
    single = features[1]
    got = gram_matrix(single, "none").numpy()
    assert got.shape == (1, 4, 4)
    np.testing.assert_allclose(got[0], single.reshape(-1, 4).T @ single.reshape(-1, 4), rtol=1e-12)


def test_unknown_normalization_is_a_value_error(features):
    with pytest.raises(ValueError) as info:
        gram_matrix(features, "channels")
    for name in GRAM_NORMALIZATIONS:
        assert name in str(info.value)


# --------------------------------------------------------------------------- mean_std


def test_mean_std_matches_numpy_by_hand(features):
    got = mean_std(features).numpy()
    assert got.shape == (3, 2, 4)
    for b in range(3):
        for c in range(4):
            values = [features[b, i, j, c] for i in range(5) for j in range(7)]
            mean = sum(values) / 35
            variance = sum((v - mean) ** 2 for v in values) / 35
            assert got[b, 0, c] == pytest.approx(mean, rel=1e-9, abs=1e-12)
            assert got[b, 1, c] == pytest.approx(np.sqrt(variance + 1e-5), rel=1e-9)
    # the epsilon keeps a constant channel's std positive
    constant = np.ones((1, 4, 4, 2))
    np.testing.assert_allclose(mean_std(constant, epsilon=1e-2).numpy(), [[[1, 1], [0.1, 0.1]]], rtol=1e-9)
    np.testing.assert_allclose(mean_std(features[0]).numpy(), got[:1], rtol=1e-12)


# --------------------------------------------------------------------------- style_statistic


def test_style_statistic_lookup(features):
    np.testing.assert_allclose(style_statistic("gram")(features).numpy(), gram_by_matmul(features) / 35, rtol=1e-12)
    np.testing.assert_allclose(
        style_statistic("gram_centered")(features).numpy(), gram_by_loops(features, "positions", center=True), rtol=1e-10
    )
    np.testing.assert_allclose(style_statistic("mean_std")(features).numpy()[:, 0], features.mean(axis=(1, 2)), rtol=1e-12)
    assert style_statistic() is STYLE_STATISTICS["gram"]
    assert set(STYLE_STATISTICS) == {"gram", "gram_centered", "mean_std"}


def test_style_statistic_passes_a_function_through(features):
    def channel_max(f):
        return tf.reduce_max(f, axis=(1, 2))

    assert style_statistic(channel_max) is channel_max
    np.testing.assert_array_equal(style_statistic(channel_max)(features).numpy(), features.max(axis=(1, 2)))


def test_unknown_statistic_is_a_value_error():
    with pytest.raises(ValueError) as info:
        style_statistic("covariance")
    assert "covariance" in str(info.value)
    for name in STYLE_STATISTICS:
        assert name in str(info.value)
