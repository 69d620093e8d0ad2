"""Lesson 03's checks accept the reference answers and name the usual mistakes."""

import numpy as np
import re

import pytest
import tensorflow as tf

from nst_tf.checks import (
    ExerciseError,
    check_content_cost,
    check_layer_style_cost,
    check_style_cost,
    check_total_variation,
)


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
    from nst_tf.losses.terms import style_layer_loss

    # Unhidden (the check's own body), the package's "course" cost passes: the two agree.
    check_layer_style_cost.__wrapped__(lambda s, g: style_layer_loss(s, g, normalization="course"))


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


# ----- answers from issue 14's table: the package's own costs ------------------------------
def test_package_costs_are_refused():
    from nst_tf.losses import terms as losses

    assert_rejected(check_content_cost, lambda c, g: losses.content_loss(c, g, "course"), "Write it yourself")
    assert_rejected(check_layer_style_cost, lambda s, g: losses.style_layer_loss(s, g, "course"), "Write it yourself")


def test_package_gram_matrix_is_refused_inside_the_style_cost():
    from nst_tf.losses.gram import gram_matrix

    def with_package_gram(s, g):
        return tf.reduce_sum(tf.square(gram_matrix(s, "none") - gram_matrix(g, "none"))) / _constant(g)

    assert_rejected(check_layer_style_cost, with_package_gram, "package's own nst_tf.losses.gram.gram_matrix")


def test_content_cost_numpy_wrapped_back_has_no_gradient():
    def wrapped(c, g):
        return tf.constant(np.sum((np.asarray(c) - np.asarray(g)) ** 2) / (4.0 * np.prod(g.shape[1:])), tf.float32)

    assert_rejected(check_content_cost, wrapped, "No gradient flows")


def test_the_common_not_written_yet_message():
    def unfinished(c, g):
        raise NotImplementedError("square the differences and sum")

    assert_rejected(check_content_cost, unfinished, "not written yet.*Hint: square the differences and sum")


# ----- style_cost over layers ---------------------------------------------------------------
def style_cost(style_features, generated_features, layer_weights):
    total = 0.0
    for layer, weight in layer_weights.items():
        total += weight * layer_style_cost(style_features[layer], generated_features[layer])
    return total


def test_style_cost_reference_passes(capsys):
    check_style_cost(style_cost)
    assert "all tests passed" in capsys.readouterr().out


def _unweighted(s, g, w):
    return tf.add_n([layer_style_cost(s[k], g[k]) for k in w])


def _all_layers(s, g, w):
    return tf.add_n([w.get(k, 1.0) * layer_style_cost(s[k], g[k]) for k in g])


def _all_layers_keyerror(s, g, w):
    return tf.add_n([w[k] * layer_style_cost(s[k], g[k]) for k in g])


def _averaged(s, g, w):
    return style_cost(s, g, w) / len(w)


def _renormalised(s, g, w):
    return style_cost(s, g, w) / sum(w.values())


def _last_only(s, g, w):
    for layer, weight in w.items():
        total = weight * layer_style_cost(s[layer], g[layer])
    return total


def _package_style_loss(s, g, w):
    from nst_tf.losses import terms as losses

    targets = {k: tf.einsum("bijc,bijd->bcd", s[k], s[k]) for k in w}
    return losses.style_loss(targets, g, w, normalization="course")


def _numpy_wrapped(s, g, w):
    return tf.constant(float(style_cost(s, g, w)))


@pytest.mark.parametrize(
    "wrong, message",
    [
        (_unweighted, "without their weights"),
        (_all_layers, "content layer was counted"),
        (_all_layers_keyerror, "Loop over layer_weights"),
        (_averaged, "divided by the number of layers"),
        (_renormalised, "divided by the sum of the weights"),
        (_last_only, "Only the last layer"),
        (_package_style_loss, "Write it yourself"),
        (_numpy_wrapped, "No gradient flows"),
        (lambda s, g, w: None, "returned None"),
    ],
)
def test_style_cost_rejects_typical_mistakes(wrong, message):
    assert_rejected(check_style_cost, wrong, message)


# ----- total variation ----------------------------------------------------------------------
def total_variation(image):
    down = image[:, 1:, :, :] - image[:, :-1, :, :]
    right = image[:, :, 1:, :] - image[:, :, :-1, :]
    return tf.reduce_mean(tf.square(down)) + tf.reduce_mean(tf.square(right))


def test_total_variation_reference_passes(capsys):
    check_total_variation(total_variation)
    check_total_variation.__wrapped__(lambda image: __import__("nst_tf").losses.tv_loss(image, "l2"))
    assert capsys.readouterr().out.count("all tests passed") == 2


def _directions(image):
    return image[:, 1:, :, :] - image[:, :-1, :, :], image[:, :, 1:, :] - image[:, :, :-1, :]


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda x: tf.reduce_sum(tf.square(_directions(x)[0])) + tf.reduce_sum(tf.square(_directions(x)[1])), "summed"),
        (lambda x: tf.reduce_mean(tf.abs(_directions(x)[0])) + tf.reduce_mean(tf.abs(_directions(x)[1])), "absolute"),
        (lambda x: tf.reduce_sum(tf.image.total_variation(x)), "tf.image.total_variation"),
        (lambda x: tf.reduce_mean(tf.square(_directions(x)[0])), "Only the vertical"),
        (lambda x: tf.reduce_mean(tf.square(_directions(x)[1])), "Only the horizontal"),
        (lambda x: total_variation(x) / 2, "averaged the two directions"),
        (lambda x: tf.reduce_mean(tf.square(x[1:] - x[:-1])) + tf.reduce_mean(tf.square(_directions(x)[1])), "one colour|Axis 0"),
        (lambda x: __import__("nst_tf").losses.tv_loss(x), "Write it yourself"),
        (lambda x: tf.constant(float(total_variation(x))), "No gradient flows"),
        (lambda x: tf.square(_directions(x)[0]), "shape"),
    ],
)
def test_total_variation_rejects_typical_mistakes(wrong, message):
    assert_rejected(check_total_variation, wrong, message)


# ----- held-out answers (issue 24): assembled from other functions, or a gradient that is not the cost's -----------
def test_content_cost_from_keras_mean_squared_error_is_refused():
    import keras

    def assembled(content_features, generated_features):
        return tf.reduce_mean(keras.losses.mean_squared_error(content_features, generated_features)) / 4.0

    assert_rejected(check_content_cost, assembled, "Keras's own")


def test_layer_style_cost_from_the_masked_statistic_is_refused():
    from nst_tf.losses.masks import masked_statistic

    def assembled(style_features, generated_features):
        _, n_h, n_w, n_c = generated_features.shape
        ones = tf.ones((1, n_h, n_w, 1))
        difference = masked_statistic(style_features, ones) - masked_statistic(generated_features, ones)
        return tf.reduce_sum(tf.square(difference)) / (4.0 * n_c**2)

    assert_rejected(check_layer_style_cost, assembled, "the package's own")


def test_style_cost_whose_gradient_misses_a_layer_is_refused():
    def layer_cost(style_features, generated_features):
        _, n_h, n_w, n_c = generated_features.shape
        flat_s = tf.reshape(style_features, (n_h * n_w, n_c))
        flat_g = tf.reshape(generated_features, (n_h * n_w, n_c))
        difference = tf.matmul(flat_s, flat_s, transpose_a=True) - tf.matmul(flat_g, flat_g, transpose_a=True)
        return tf.reduce_sum(tf.square(difference)) / (4.0 * n_c**2 * (n_h * n_w) ** 2)

    def half_hidden(style_features, generated_features, layer_weights):
        terms = [weight * layer_cost(style_features[name], generated_features[name]) for name, weight in layer_weights.items()]
        return tf.add_n([term if name != "block2_conv1" else tf.stop_gradient(2.0 * term) - term
                         for name, term in zip(layer_weights, terms)])  # right value, gradient of block2 negated

    assert_rejected(check_style_cost, half_hidden, "gradient with respect to block2_conv1 is not")
