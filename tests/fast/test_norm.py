"""transform_net(norm=...): the network with another normalisation layer, and back to the package's for saving."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from nst_tf import fast

TINY = {"filters": 4, "residual_blocks": 1}


class ByHand(keras.layers.Layer):
    """Instance normalisation written independently of the package (and beta made before gamma)."""

    def __init__(self, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        self.beta = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="beta")
        self.gamma = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="gamma")

    def call(self, x):
        mean = tf.reduce_mean(x, axis=[1, 2], keepdims=True)
        variance = tf.reduce_mean(tf.square(x - mean), axis=[1, 2], keepdims=True)
        return self.gamma * (x - mean) / tf.sqrt(variance + self.epsilon) + self.beta


class BatchWise(ByHand):
    """A deliberately different normalisation: statistics over the whole batch."""

    def call(self, x):
        mean = tf.reduce_mean(x, axis=[0, 1, 2], keepdims=True)
        variance = tf.reduce_mean(tf.square(x - mean), axis=[0, 1, 2], keepdims=True)
        return self.gamma * (x - mean) / tf.sqrt(variance + self.epsilon) + self.beta


def _images(seed=0, shape=(2, 21, 18, 3)):
    return tf.random.stateless_uniform(shape, seed=(seed, 7))


def _set_norms(model, seed):
    """Give every normalisation layer its own gamma and beta (the same for the same seed, by name)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.name.endswith("_norm"):
            channels = int(layer.gamma.shape[0])
            layer.gamma.assign(rng.uniform(0.5, 2.0, channels).astype(np.float32))
            layer.beta.assign(rng.uniform(-1.0, 1.0, channels).astype(np.float32))


def test_the_same_normalisation_gives_the_default_network():
    default = fast.transform_net(**TINY, seed=2)
    mine = fast.transform_net(**TINY, seed=2, norm=ByHand)
    assert {type(layer) for layer in mine.layers if layer.name.endswith("_norm")} == {ByHand}
    assert [layer.name for layer in mine.layers] == [layer.name for layer in default.layers]
    images = _images()
    np.testing.assert_allclose(mine(images), default(images), atol=1e-5)
    _set_norms(default, 5), _set_norms(mine, 5)  # learned scales and shifts, not only the initial ones
    np.testing.assert_allclose(mine(images), default(images), atol=1e-5)
    assert float(tf.reduce_max(tf.abs(default(images) - fast.transform_net(**TINY, seed=2)(images)))) > 1e-3


def test_a_factory_works_and_a_different_normalisation_differs():
    default = fast.transform_net(**TINY, seed=1)
    made = []
    factory = lambda name: made.append(name) or ByHand(epsilon=1e-5, name=name)  # noqa: E731
    np.testing.assert_allclose(fast.transform_net(**TINY, seed=1, norm=factory)(_images()), default(_images()),
                               atol=1e-5)
    assert made[0] == "in_norm" and "res1_b_norm" in made and len(made) == 7
    other = fast.transform_net(**TINY, seed=1, norm=BatchWise)
    assert float(tf.reduce_max(tf.abs(other(_images()) - default(_images())))) > 1e-3


@pytest.mark.parametrize("norm, message", [
    (3, "norm must be a Keras layer class or a function that makes one, not int"),
    ("InstanceNorm", "not str"),
    (lambda name: 5, "norm must make a Keras layer when called as norm\\(name=...\\); it made a int"),
])
def test_the_norm_argument_is_checked(norm, message):
    with pytest.raises(TypeError, match=message) as error:
        fast.transform_net(**TINY, norm=norm)
    assert "\n" not in str(error.value)
    if not callable(norm):
        with pytest.raises(TypeError, match="norm must be"):
            fast.train("style/swirls", steps=1, norm=norm)  # refused before VGG is built


def test_train_refuses_norm_with_a_model():
    with pytest.raises(ValueError, match="norm builds a new network"):
        fast.train("style/swirls", steps=1, model=fast.transform_net(**TINY), norm=ByHand)


@pytest.mark.slow
def test_train_builds_its_network_with_norm():
    result = fast.train("style/swirls", steps=1, size=16, batch_size=2, weights="offline", style_size=64,
                        progress=False, preview_every=0, norm=ByHand, **TINY)
    norms = [layer for layer in result.model.layers if layer.name.endswith("_norm")]
    assert norms and all(type(layer) is ByHand for layer in norms)
    assert result.step == 1
    assert any(not np.allclose(layer.gamma.numpy(), 1.0) for layer in norms)  # trained: gamma moved


def test_with_package_norm_computes_the_same_and_saves(tmp_path):
    mine = fast.transform_net(**TINY, seed=4, norm=ByHand)
    _set_norms(mine, 8)  # beta is made first in ByHand: the copy must go by name, not by order
    portable = fast.with_package_norm(mine)
    norms = [layer for layer in portable.layers if layer.name.endswith("_norm")]
    assert norms and all(type(layer) is fast.InstanceNormalization for layer in norms)
    images = _images(3)
    np.testing.assert_allclose(portable(images), mine(images), atol=1e-5)
    loaded = fast.load_model(fast.save_model(portable, tmp_path / "mine.keras"))
    np.testing.assert_allclose(loaded(images), mine(images), atol=1e-5)
    default = fast.transform_net(**TINY, seed=4)
    assert fast.with_package_norm(default) is default


def test_with_package_norm_refuses_other_models():
    with pytest.raises(TypeError, match="model must be a Keras model"):
        fast.with_package_norm("model.keras")
    inputs = keras.Input((None, None, 3))
    with pytest.raises(ValueError, match="model must be a network made by fast.transform_net"):
        fast.with_package_norm(keras.Model(inputs, keras.layers.Conv2D(3, 1)(inputs)))
