"""The lesson-06 check accepts instance normalisation and names the typical mistakes."""

from __future__ import annotations

import re

import numpy as np
import pytest
import tensorflow as tf

from nst_tf.checks._common import ExerciseError
from nst_tf.checks.lesson06 import check_instance_norm, check_instance_norm_layer
from nst_tf.fast import instance_norm


def test_the_reference_passes(capsys):
    check_instance_norm.__wrapped__(instance_norm)  # the package's, not hidden
    assert "all tests passed" in capsys.readouterr().out


def test_moments_written_out_pass():
    def by_hand(features, epsilon=1e-5):
        mean = tf.reduce_mean(features, axis=[1, 2], keepdims=True)
        variance = tf.reduce_mean(tf.square(features - mean), axis=[1, 2], keepdims=True)
        return (features - mean) / tf.sqrt(variance + epsilon)

    check_instance_norm(by_hand)


def _batch_norm(features, epsilon=1e-5):
    mean, variance = tf.nn.moments(features, axes=[0, 1, 2], keepdims=True)
    return (features - mean) / tf.sqrt(variance + epsilon)


def _layer_norm(features, epsilon=1e-5):
    mean, variance = tf.nn.moments(features, axes=[1, 2, 3], keepdims=True)
    return (features - mean) / tf.sqrt(variance + epsilon)


def _divided_by_variance(features, epsilon=1e-5):
    mean, variance = tf.nn.moments(features, axes=[1, 2], keepdims=True)
    return (features - mean) / (variance + epsilon)


def _no_epsilon(features, epsilon=1e-5):
    mean, variance = tf.nn.moments(features, axes=[1, 2], keepdims=True)
    return (features - mean) / tf.sqrt(variance)


def _no_keepdims(features, epsilon=1e-5):
    mean, variance = tf.nn.moments(features, axes=[1, 2])
    return (features - mean) / tf.sqrt(variance + epsilon)


def _numpy(features, epsilon=1e-5):
    x = np.asarray(features)
    return (x - x.mean(axis=(1, 2), keepdims=True)) / np.sqrt(x.var(axis=(1, 2), keepdims=True) + epsilon)


def _unbiased(features, epsilon=1e-5):
    mean, variance = tf.nn.moments(features, axes=[1, 2], keepdims=True)
    n = tf.cast(tf.shape(features)[1] * tf.shape(features)[2], features.dtype)
    return (features - mean) / tf.sqrt(variance * n / (n - 1) + epsilon)


@pytest.mark.parametrize(
    "wrong, message",
    [
        (_batch_norm, "batch normalisation"),
        (_layer_norm, "layer normalisation"),
        (_divided_by_variance, "divided by the variance"),
        (_no_epsilon, "epsilon"),
        (_no_keepdims, "keepdims=True"),
        (_numpy, "not a TensorFlow tensor"),
        (_unbiased, "standard deviation 1"),
    ],
)
def test_typical_mistakes_are_named(wrong, message):
    # The message is wrapped to a paragraph, so any space may have become a line break.
    pattern = r"\s+".join(re.escape(word) for word in message.split())
    with pytest.raises(ExerciseError, match=pattern):
        check_instance_norm(wrong)


# ----- answers from issue 14's table, and the layer ------------------------------------------
def _assert(check, answer, pattern):
    with pytest.raises(ExerciseError) as info:
        check(answer)
    message = " ".join(str(info.value).split())
    assert re.search(pattern, message), message


def by_hand(features, epsilon=1e-5):
    mean = tf.reduce_mean(features, axis=[1, 2], keepdims=True)
    variance = tf.reduce_mean(tf.square(features - mean), axis=[1, 2], keepdims=True)
    return (features - mean) / tf.sqrt(variance + epsilon)


def test_ready_made_answers_are_refused():
    import keras

    from nst_tf import fast

    _assert(check_instance_norm, lambda x, epsilon=1e-5: fast.instance_norm(x, epsilon), "Write it yourself")
    _assert(check_instance_norm, lambda x, epsilon=1e-5: fast.InstanceNormalization(epsilon)(x), "Write it yourself")
    _assert(check_instance_norm,
            lambda x, epsilon=1e-5: keras.layers.GroupNormalization(groups=-1, center=False, scale=False, epsilon=epsilon)(x),
            "Keras's own")


def test_numpy_inside_is_refused():
    def numpy_answer(features, epsilon=1e-5):
        array = np.asarray(features)
        mean, variance = array.mean(axis=(1, 2), keepdims=True), array.var(axis=(1, 2), keepdims=True)
        return tf.constant((array - mean) / np.sqrt(variance + epsilon), tf.float32)

    _assert(check_instance_norm, numpy_answer, "No gradient flows")


def test_unfinished_gets_the_common_message():
    def unfinished(features, epsilon=1e-5):
        raise NotImplementedError("the mean and variance of each image and channel")

    _assert(check_instance_norm, unfinished, "not written yet.*Hint: the mean and variance")


import keras  # noqa: E402


class InstanceNorm(keras.layers.Layer):
    def __init__(self, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        self.gamma = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="beta")

    def call(self, features):
        return self.gamma * by_hand(features, self.epsilon) + self.beta


def test_layer_reference_passes(capsys):
    check_instance_norm_layer(InstanceNorm)
    assert "all tests passed" in capsys.readouterr().out


class ShiftScaled(InstanceNorm):
    def call(self, features):
        return self.gamma * (by_hand(features, self.epsilon) + self.beta)


class NoWeights(keras.layers.Layer):
    def call(self, features):
        return by_hand(features)


class WeightsInInit(InstanceNorm):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.gamma = self.add_weight(shape=(4,), initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=(4,), initializer="zeros", name="beta")

    def build(self, input_shape):
        pass


class ScalarWeights(InstanceNorm):
    def build(self, input_shape):
        self.gamma = self.add_weight(shape=(), initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=(), initializer="zeros", name="beta")


class IgnoresWeights(InstanceNorm):
    def call(self, features):
        return by_hand(features, self.epsilon)


class Frozen(InstanceNorm):
    def build(self, input_shape):
        self.gamma = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="gamma", trainable=False)
        self.beta = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="beta", trainable=False)


class PackageInside(InstanceNorm):
    def call(self, features):
        from nst_tf import fast

        return self.gamma * fast.instance_norm(features) + self.beta


@pytest.mark.parametrize(
    "wrong, message",
    [
        (ShiftScaled, "shift is scaled too"),
        (NoWeights, "needs two weights"),
        (WeightsInInit, "in __init__"),
        (ScalarWeights, "one number per channel"),
        (IgnoresWeights, "does not change the output"),
        (Frozen, "trainable"),
        (PackageInside, "Write it yourself"),
    ],
)
def test_layer_mistakes_are_named(wrong, message):
    _assert(check_instance_norm_layer, wrong, message)


def test_answers_assembled_from_other_functions_are_refused():
    """Issue 24: the package's channel statistics or Keras' LayerNormalization over (1, 2) compute it already."""
    import keras

    from nst_tf.losses.gram import mean_std

    def from_mean_std(features, epsilon=1e-5):
        statistics = mean_std(features, epsilon)  # (B, 2, C): the means and the deviations
        return (features - statistics[:, 0, None, None, :]) / statistics[:, 1, None, None, :]

    def from_layer_normalization(features, epsilon=1e-5):
        return keras.layers.LayerNormalization(axis=(1, 2), center=False, scale=False, epsilon=epsilon)(features)

    _assert(check_instance_norm, from_mean_std, "the package's own")
    _assert(check_instance_norm, from_layer_normalization, "Keras's own")


# --------------------------------------------------------------------------- which layer lesson 06 trains with


class NotWritten(InstanceNorm):
    """The student copy's stub: build still raises."""

    def build(self, input_shape):
        raise NotImplementedError("two trainable weights with one number per channel")


class StaticSizes(InstanceNorm):
    """Right on the check's fixed-size features, but it needs the image size, unknown inside the network."""

    def call(self, features):
        count = features.shape[1] * features.shape[2]
        mean = tf.reduce_sum(features, axis=[1, 2], keepdims=True) / count
        variance = tf.reduce_sum(tf.square(features - mean), axis=[1, 2], keepdims=True) / count
        return self.gamma * (features - mean) / tf.sqrt(variance + self.epsilon) + self.beta


def test_the_students_layer_trains_when_it_passes(capsys):
    from nst_tf.checks import norm_for_training

    norm, line = norm_for_training(InstanceNorm)
    assert norm is InstanceNorm
    assert line.startswith("Training with your InstanceNorm") and "\n" not in line
    assert "all tests passed" not in capsys.readouterr().out  # the check's own line is not repeated


@pytest.mark.parametrize(
    "layer_class, reason",
    [
        (NotWritten, "your InstanceNorm is not written yet"),
        (ShiftScaled, "does not pass its check yet \\(The shift is scaled too"),
        (PackageInside, "does not pass its check yet \\(Your InstanceNorm calls the package's own"),
        (StaticSizes, "passes its check but fails inside the network, .*\\(unsupported operand"),
    ],
)
def test_the_package_layer_trains_otherwise_and_the_line_says_why(layer_class, reason):
    from nst_tf import fast
    from nst_tf.checks import norm_for_training

    norm, line = norm_for_training(layer_class)
    assert norm is fast.InstanceNormalization
    assert line.startswith("Training with the package's fast.InstanceNormalization: ")
    assert re.search(reason, line), line
    assert "\n" not in line
