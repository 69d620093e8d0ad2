"""The lesson 02 check accepts the reference Gram matrix and names typical mistakes."""

import numpy as np
import pytest
import tensorflow as tf

from nst_tf import checks
from nst_tf.checks import ExerciseError
from nst_tf.gram import gram_matrix as package_gram


def reference(features):
    batch, height, width, channels = features.shape
    flat = tf.reshape(features, (batch, height * width, channels))
    return tf.matmul(flat, flat, transpose_a=True) / tf.cast(height * width, tf.float32)


def test_reference_and_package_pass(capsys):
    checks.check_gram_matrix(reference)
    checks.check_gram_matrix(package_gram)
    assert capsys.readouterr().out.count("all tests passed") == 2


def _flat(features):
    batch, height, width, channels = features.shape
    return tf.reshape(features, (batch, height * width, channels)), float(height * width), float(channels)


def no_normalisation(features):
    flat, _, _ = _flat(features)
    return tf.matmul(flat, flat, transpose_a=True)


def divided_by_channels_too(features):
    flat, positions, channels = _flat(features)
    return tf.matmul(flat, flat, transpose_a=True) / (positions * channels)


def positions_by_positions(features):
    flat, positions, _ = _flat(features)
    return tf.matmul(flat, flat, transpose_b=True) / positions


def reshape_without_transpose(features):
    batch, height, width, channels = features.shape
    flat = tf.reshape(features, (batch, channels, height * width))
    return tf.matmul(flat, flat, transpose_b=True) / float(height * width)


def with_numpy(features):
    flat = np.asarray(features).reshape(features.shape[0], -1, features.shape[-1])
    return np.einsum("bpc,bpd->bcd", flat, flat) / flat.shape[1]


def batch_dropped(features):
    flat = tf.reshape(features, (-1, features.shape[-1]))
    return tf.matmul(flat, flat, transpose_a=True) / float(features.shape[1] * features.shape[2])


def fixed_size(features):
    flat = tf.reshape(features, (features.shape[0], -1, features.shape[-1]))
    return tf.matmul(flat, flat, transpose_a=True) / 35.0


@pytest.mark.parametrize(
    "answer, message",
    [
        (no_normalisation, "forgot the normalisation"),
        (divided_by_channels_too, "divided by the number of channels"),
        (positions_by_positions, "compares positions with positions"),
        (reshape_without_transpose, "mixes positions and channels up"),
        (with_numpy, "not a TensorFlow tensor"),
        (batch_dropped, "Keep the batch dimension"),
        (fixed_size, "not for another"),
    ],
)
def test_wrong_answers_are_named(answer, message):
    with pytest.raises(ExerciseError) as error:
        checks.check_gram_matrix(answer)
    assert message in " ".join(str(error.value).split())  # the message is wrapped over lines
