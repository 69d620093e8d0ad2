"""Lesson 03's checks accept the reference answers and name the usual mistakes."""

import numpy as np
import re

import pytest
import tensorflow as tf

from nst_tf.checks import ExerciseError, check_content_cost, check_layer_style_cost


def assert_rejected(check, answer, pattern):
    """``check(answer)`` raises ExerciseError whose message (line breaks ignored) matches ``pattern``."""
    with pytest.raises(ExerciseError) as info:
        check(answer)
    message = " ".join(str(info.value).split())
    assert re.search(pattern, message), message


# ----- content_cost ----------------------------------------------------------------------
def content_cost(content_features, generated_features):
    _, n_h, n_w, n_c = generated_features.shape
    return tf.reduce_sum(tf.square(content_features - generated_features)) / (4.0 * n_h * n_w * n_c)


def test_content_cost_reference_passes(capsys):
    check_content_cost(content_cost)
    assert "all tests passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda c, g: tf.reduce_sum(c - g) / (4.0 * np.prod(g.shape[1:])), "forget to square"),
        (lambda c, g: tf.reduce_sum(tf.abs(c - g)) / (4.0 * np.prod(g.shape[1:])), "squares them"),
        (lambda c, g: tf.reduce_mean(tf.square(c - g)), "mean squared error"),
        (lambda c, g: 0.5 * tf.reduce_sum(tf.square(c - g)), "gatys"),
        (lambda c, g: tf.reduce_sum(tf.square(c - g)), "forgot the normalisation"),
        (lambda c, g: tf.reduce_sum(tf.square(c - g)) / (4.0 * g.shape[0] * g.shape[1] * g.shape[2]), "batch"),
        (lambda c, g: tf.reduce_mean(tf.square(c - g)) / (4.0 * np.prod(g.shape[1:])), "divided by it again"),
        (lambda c, g: tf.reduce_sum(tf.square(c - g)) / 4.0 * float(np.prod(g.shape[1:])), "brackets"),
        (lambda c, g: np.sum((np.asarray(c) - np.asarray(g)) ** 2) / (4.0 * np.prod(g.shape[1:])), "NumPy"),
        (lambda c, g: tf.constant(np.sum((np.asarray(c) - np.asarray(g)) ** 2) / (4.0 * np.prod(g.shape[1:]))), "No gradient"),
        (lambda c, g: tf.reduce_sum(tf.square(g)) / (4.0 * np.prod(g.shape[1:])), r"cost\(A, A\)|must be 0"),
        (lambda c, g: tf.square(c - g) / 4.0, "single number"),
        (lambda c, g: tf.reduce_sum(tf.square(c) - tf.square(g)) / (4.0 * np.prod(g.shape[1:])), "negative|order|must be 0"),
    ],
)
def test_content_cost_rejects_typical_mistakes(wrong, message):
    assert_rejected(check_content_cost, wrong, message)


def test_content_cost_unfinished_exercise():
    def unfinished(content_features, generated_features):
        raise NotImplementedError("Exercise: fill in this function")

    assert_rejected(check_content_cost, unfinished, "NotImplementedError")


# ----- layer_style_cost -------------------------------------------------------------------
def raw_gram(features):
    _, n_h, n_w, n_c = features.shape
    flat = tf.reshape(features, (n_h * n_w, n_c))
    return tf.matmul(flat, flat, transpose_a=True)


def layer_style_cost(style_features, generated_features):
    _, n_h, n_w, n_c = generated_features.shape
    difference = raw_gram(style_features) - raw_gram(generated_features)
    return tf.reduce_sum(tf.square(difference)) / (4.0 * n_c**2 * (n_h * n_w) ** 2)


def _constant(features):
    _, n_h, n_w, n_c = features.shape
    return 4.0 * n_c**2 * (n_h * n_w) ** 2


def transposed_reshape_gram(features):
    _, n_h, n_w, n_c = features.shape
    flat = tf.reshape(features, (n_c, n_h * n_w))  # mixes channels and positions
    return tf.matmul(flat, flat, transpose_b=True)


def positions_gram(features):
    _, n_h, n_w, n_c = features.shape
    flat = tf.reshape(features, (n_h * n_w, n_c))
    return tf.matmul(flat, flat, transpose_b=True)  # (nH nW, nH nW)


def test_layer_style_cost_reference_passes(capsys):
    check_layer_style_cost(layer_style_cost)
    assert "all tests passed" in capsys.readouterr().out


def test_layer_style_cost_accepts_package_course_normalization():
    from nst_tf.losses import style_layer_loss

    check_layer_style_cost(lambda s, g: style_layer_loss(s, g, normalization="course"))


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda s, g: tf.reduce_sum(raw_gram(s) - raw_gram(g)) / _constant(g), "forget to square"),
        (lambda s, g: tf.reduce_sum(tf.abs(raw_gram(s) - raw_gram(g))) / _constant(g), "forgot to square"),
        (lambda s, g: tf.reduce_sum(tf.square(transposed_reshape_gram(s) - transposed_reshape_gram(g))) / _constant(g), "shuffled.*reshape"),
        (lambda s, g: tf.reduce_sum(tf.square(positions_gram(s) - positions_gram(g))) / _constant(g), "compares positions"),
        (lambda s, g: tf.reduce_sum(tf.square(raw_gram(s) - raw_gram(g))) / (_constant(g) / 4.0), "4 times too large"),
        (lambda s, g: tf.reduce_mean(tf.square(raw_gram(s) - raw_gram(g))), "mean of"),
        (lambda s, g: tf.reduce_sum(tf.square(raw_gram(s) - raw_gram(g))), "forgot the normalisation"),
        (lambda s, g: tf.reduce_sum(tf.square(raw_gram(s) - raw_gram(g))) / 4.0 * g.shape[3] ** 2 * (g.shape[1] * g.shape[2]) ** 2, "brackets"),
        (
            lambda s, g: tf.reduce_sum(tf.square((raw_gram(s) - raw_gram(g)) / (g.shape[1] * g.shape[2]))) / _constant(g),
            "raw Gram",
        ),
        (lambda s, g: tf.reduce_sum(tf.square(raw_gram(s) - raw_gram(g))) / (4.0 * g.shape[3] * (g.shape[1] * g.shape[2]) ** 2), "nC squared"),
        (lambda s, g: np.sum((np.asarray(raw_gram(s)) - np.asarray(raw_gram(g))) ** 2) / _constant(g), "NumPy"),
        (lambda s, g: tf.reduce_sum(tf.square(raw_gram(g))) / _constant(g), "must be 0"),
    ],
)
def test_layer_style_cost_rejects_typical_mistakes(wrong, message):
    assert_rejected(check_layer_style_cost, wrong, message)
