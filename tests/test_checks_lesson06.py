"""The lesson-06 check accepts instance normalisation and names the typical mistakes."""

from __future__ import annotations

import re

import numpy as np
import pytest
import tensorflow as tf

from nst_tf.checks._common import ExerciseError
from nst_tf.checks.lesson06 import check_instance_norm
from nst_tf.fast import instance_norm


def test_the_reference_passes(capsys):
    check_instance_norm(instance_norm)
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
