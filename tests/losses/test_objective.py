"""The cost object apart from the solvers: masked style costs against NumPy, solvers on a cost with a known minimum."""

import numpy as np
import pytest
import tensorflow as tf

from nst_tf.losses import terms as L
from nst_tf.optim.solvers import ImageSolver


def _numpy_masked_gram(features, mask):
    """sum_p m_p F_p F_p^T / sum_p m_p, by hand."""
    flat = features[0].reshape(-1, features.shape[-1]).astype(np.float64)
    weights = mask.reshape(-1).astype(np.float64)
    return (flat * weights[:, None]).T @ flat / weights.sum()


@pytest.mark.parametrize("normalization", ["mse", "course"])
def test_masked_style_loss_matches_numpy(normalization):
    rng = np.random.default_rng(0)
    features = {"a": rng.normal(size=(1, 6, 8, 4)).astype(np.float32),
                "b": rng.normal(size=(1, 3, 4, 5)).astype(np.float32)}
    masks = {"a": rng.uniform(size=(6, 8)).astype(np.float32), "b": rng.uniform(size=(3, 4)).astype(np.float32)}
    targets = {name: rng.normal(size=(1, f.shape[-1], f.shape[-1])).astype(np.float32) for name, f in features.items()}
    layer_weights = {"a": 1.0, "b": 3.0}

    got = L.style_loss(targets, features, layer_weights, normalization, "gram",
                       masks={name: tf.constant(m) for name, m in masks.items()})

    expected = 0.0
    for name, weight in layer_weights.items():
        difference = np.mean((_numpy_masked_gram(features[name], masks[name]) - targets[name][0]) ** 2)
        if normalization != "mse":
            difference /= 4.0
        expected += weight / 4.0 * masks[name].mean() * difference
    assert float(got) == pytest.approx(expected, rel=1e-5)


def test_an_all_ones_mask_is_the_plain_style_loss():
    rng = np.random.default_rng(1)
    features = {"a": rng.normal(size=(1, 5, 7, 3)).astype(np.float32)}
    targets = {"a": rng.normal(size=(1, 3, 3)).astype(np.float32)}
    plain = L.style_loss(targets, features, normalization="gatys")
    masked = L.style_loss(targets, features, normalization="gatys", masks={"a": tf.ones((5, 7))})
    assert float(masked) == pytest.approx(float(plain), rel=1e-6)


def test_a_mask_needs_a_named_statistic():
    features = tf.ones((1, 4, 4, 2))
    with pytest.raises(ValueError, match="named style statistic"):
        L.style_layer_loss_from_target(tf.ones((1, 2, 2)), features, statistic=lambda x: x, mask=tf.ones((4, 4)))


class _Quadratic:
    """A cost object with a known minimiser: sum((image - goal)^2), the goal partly outside [0, 1]."""

    def __init__(self, goal):
        self.goal = tf.constant(goal[np.newaxis])

    def __call__(self, image):
        return {"total": tf.reduce_sum(tf.square(image - self.goal))}  # no loss_keys: the solver reads them from a trace


@pytest.mark.parametrize("optimizer, precondition, steps", [("lbfgs", 0.0, 40), ("lbfgs", 0.25, 60),
                                                             ("lbfgs-scipy", 0.25, 60), ("adam", 0.0, 400)])
@pytest.mark.slow
def test_the_solvers_minimise_any_cost_object(optimizer, precondition, steps):
    goal = np.random.default_rng(2).uniform(-0.2, 1.2, (8, 10, 3)).astype(np.float32)
    image = tf.Variable(np.full((1, 8, 10, 3), 0.5, np.float32))
    solver = ImageSolver(_Quadratic(goal), image)
    result = solver.run(steps, optimizer, precondition=precondition, learning_rate=0.05, progress=False)
    best = np.clip(goal, 0.0, 1.0)  # the bounds keep the pixels in [0, 1]: the minimiser is the clipped goal
    assert 1 <= result.evaluations <= steps and result.image.shape == goal.shape  # L-BFGS may converge sooner
    assert np.abs(result.image - best).max() < (5e-2 if optimizer == "adam" else 1e-3)  # from up to 0.5 at the start
    assert result.history["total"][-1] <= result.history["total"][0]
    assert set(result.history) == {"step", "total", "time"}  # the cost's own keys, nothing padded
