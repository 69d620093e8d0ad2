"""Lesson 04's check accepts the reference train step and names the usual mistakes."""

import re

import pytest
import tensorflow as tf

from nst_tf.checks import ExerciseError, check_total_cost, check_train_step


def assert_rejected(check, answer, pattern):
    """``check(answer)`` raises ExerciseError whose message (line breaks ignored) matches ``pattern``."""
    with pytest.raises(ExerciseError) as info:
        check(answer)
    message = " ".join(str(info.value).split())
    assert re.search(pattern, message), message


def train_step(generated_image, optimizer, loss_fn):
    with tf.GradientTape() as tape:
        loss = loss_fn(generated_image)
    gradient = tape.gradient(loss, generated_image)
    optimizer.apply_gradients([(gradient, generated_image)])
    generated_image.assign(tf.clip_by_value(generated_image, 0.0, 1.0))
    return loss


def no_clipping(generated_image, optimizer, loss_fn):
    with tf.GradientTape() as tape:
        loss = loss_fn(generated_image)
    optimizer.apply_gradients([(tape.gradient(loss, generated_image), generated_image)])
    return loss


def never_applies(generated_image, optimizer, loss_fn):
    with tf.GradientTape() as tape:
        loss = loss_fn(generated_image)
    tape.gradient(loss, generated_image)
    generated_image.assign(tf.clip_by_value(generated_image, 0.0, 1.0))
    return loss


def wrong_sign(generated_image, optimizer, loss_fn):
    with tf.GradientTape() as tape:
        loss = loss_fn(generated_image)
    optimizer.apply_gradients([(-tape.gradient(loss, generated_image), generated_image)])
    generated_image.assign(tf.clip_by_value(generated_image, 0.0, 1.0))
    return loss


def loss_outside_tape(generated_image, optimizer, loss_fn):
    image = tf.convert_to_tensor(generated_image)  # a copy the tape never saw being used
    with tf.GradientTape() as tape:
        loss = loss_fn(image)
    optimizer.apply_gradients([(tape.gradient(loss, generated_image), generated_image)])
    generated_image.assign(tf.clip_by_value(generated_image, 0.0, 1.0))
    return loss


def gradient_of_wrong_thing(generated_image, optimizer, loss_fn):
    other = tf.Variable(tf.zeros_like(generated_image))
    with tf.GradientTape() as tape:
        loss = loss_fn(generated_image)
    optimizer.apply_gradients([(tape.gradient(loss, other), generated_image)])
    return loss


def returns_float(generated_image, optimizer, loss_fn):
    return float(train_step(generated_image, optimizer, loss_fn))


def rebinds_name(generated_image, optimizer, loss_fn):
    with tf.GradientTape() as tape:
        loss = loss_fn(generated_image)
    gradient = tape.gradient(loss, generated_image)
    generated_image = tf.clip_by_value(generated_image - 0.1 * gradient, 0.0, 1.0)  # a new tensor, not an update
    return loss


def test_reference_passes(capsys):
    check_train_step(train_step)
    assert "all tests passed" in capsys.readouterr().out


def test_check_works_with_optimizer_apply():
    def with_apply(generated_image, optimizer, loss_fn):
        with tf.GradientTape() as tape:
            loss = loss_fn(generated_image)
        optimizer.apply([tape.gradient(loss, generated_image)], [generated_image])
        generated_image.assign(tf.clip_by_value(generated_image, 0.0, 1.0))
        return loss

    check_train_step(with_apply)


@pytest.mark.parametrize(
    "wrong, message",
    [
        (no_clipping, "forgot to clip"),
        (never_applies, "forgot to apply the gradients"),
        (wrong_sign, "sign"),
        (loss_outside_tape, "gradient is None"),
        (gradient_of_wrong_thing, "gradient is None"),
        (returns_float, "returned a float"),
        (rebinds_name, "did not change"),
    ],
)
def test_rejects_typical_mistakes(wrong, message):
    assert_rejected(check_train_step, wrong, message)


def test_unfinished_exercise():
    def unfinished(generated_image, optimizer, loss_fn):
        raise NotImplementedError("Exercise: fill in this function")

    assert_rejected(check_train_step, unfinished, "NotImplementedError")


# ----- answers from issue 14's table ------------------------------------------------------------
def hand_written_update(generated_image, optimizer, loss_fn):
    with tf.GradientTape() as tape:
        loss = loss_fn(generated_image)
    gradient = tape.gradient(loss, generated_image)
    generated_image.assign(tf.clip_by_value(generated_image - 0.1 * tf.sign(gradient), 0.0, 1.0))
    return loss


def applies_a_scaled_gradient(generated_image, optimizer, loss_fn):
    with tf.GradientTape() as tape:
        loss = loss_fn(generated_image)
    optimizer.apply_gradients([(10.0 * tape.gradient(loss, generated_image), generated_image)])
    generated_image.assign(tf.clip_by_value(generated_image, 0.0, 1.0))
    return loss


def test_a_hand_written_update_is_refused():
    assert_rejected(check_train_step, hand_written_update, "never called: you wrote your own update rule")


def test_the_optimiser_must_get_the_gradient_itself():
    assert_rejected(check_train_step, applies_a_scaled_gradient, "other than the gradient")


def test_unfinished_gets_the_hint():
    def unfinished(generated_image, optimizer, loss_fn):
        raise NotImplementedError("a tape, a gradient, the optimiser, a clip")

    assert_rejected(check_train_step, unfinished, "not written yet.*Hint: a tape, a gradient")


# ----- make_total_cost -----------------------------------------------------------------------------
def content_cost(content_features, generated_features):
    _, n_h, n_w, n_c = generated_features.shape
    return tf.reduce_sum(tf.square(content_features - generated_features)) / (4.0 * n_h * n_w * n_c)


def layer_style_cost(style_features, generated_features):
    _, n_h, n_w, n_c = generated_features.shape

    def raw_gram(features):
        flat = tf.reshape(features, (n_h * n_w, n_c))
        return tf.matmul(flat, flat, transpose_a=True)

    return tf.reduce_sum(tf.square(raw_gram(style_features) - raw_gram(generated_features))) / (
        4.0 * n_c**2 * (n_h * n_w) ** 2)


def style_cost(style_features, generated_features, layer_weights):
    return tf.add_n([w * layer_style_cost(style_features[k], generated_features[k]) for k, w in layer_weights.items()])


def total_variation(image):
    return tf.reduce_mean(tf.square(image[:, 1:] - image[:, :-1])) + tf.reduce_mean(tf.square(image[:, :, 1:] - image[:, :, :-1]))


def make_total_cost(extractor, content_image, style_image, content_layer, style_layer_weights,
                    content_weight, style_weight, tv_weight):
    content_target = extractor(content_image)[content_layer]
    style_targets = extractor(style_image)

    def total_cost(generated_image):
        features = extractor(generated_image)
        return (content_weight * content_cost(content_target, features[content_layer])
                + style_weight * style_cost(style_targets, features, style_layer_weights)
                + tv_weight * total_variation(generated_image))

    return total_cost


def test_total_cost_reference_passes(capsys):
    check_total_cost(make_total_cost)
    assert "all tests passed" in capsys.readouterr().out


def _variant(expression, targets_inside=False):
    """make_total_cost with the total computed by ``expression(c, s, t, a, b, g)``."""
    def make(extractor, content_image, style_image, content_layer, weights, a, b, g):
        content_target, style_targets = extractor(content_image)[content_layer], extractor(style_image)

        def total_cost(image):
            nonlocal content_target, style_targets
            if targets_inside:
                content_target, style_targets = extractor(content_image)[content_layer], extractor(style_image)
            features = extractor(image)
            c = content_cost(content_target, features[content_layer])
            s = style_cost(style_targets, features, weights)
            return expression(c, s, total_variation(image), a, b, g, features)
        return total_cost
    return make


def _package_total(extractor, content_image, style_image, content_layer, weights, a, b, g):
    from nst_tf.losses import terms as losses

    def total_cost(image):
        f = extractor(image)
        return losses.total_loss(losses.content_loss(extractor(content_image)[content_layer], f[content_layer], "course"),
                                 0.0, 0.0, content_weight=a, style_weight=b, tv_weight=g)
    return total_cost


@pytest.mark.parametrize(
    "wrong, message",
    [
        (_variant(lambda c, s, t, a, b, g, f: a * c + b * s), "tv term is missing"),
        (_variant(lambda c, s, t, a, b, g, f: c + b * s + g * t), "content term is not multiplied"),
        (_variant(lambda c, s, t, a, b, g, f: b * c + a * s + g * t), "paired the wrong way"),
        (_variant(lambda c, s, t, a, b, g, f: a * c + b * s + g * total_variation(f["block1_conv1"])),
         "tv_weight|tv_weight"),
        (_variant(lambda c, s, t, a, b, g, f: a * c + b * s + g * t, targets_inside=True), "runs the extractor"),
        (_variant(lambda c, s, t, a, b, g, f: tf.constant(float(a * c + b * s + g * t))), "No gradient flows"),
        (_package_total, "Write it yourself"),
        (lambda *args: None, "must return a function"),
    ],
)
def test_total_cost_rejects_typical_mistakes(wrong, message):
    assert_rejected(check_total_cost, wrong, message)


# ----- held-out answers (issue 24): a hard-coded content layer, a gradient that is not the cost's ------------------
def _hard_coded_content_layer(extractor, content_image, style_image, content_layer, weights, a, b, g):
    return make_total_cost(extractor, content_image, style_image, "block4_conv2", weights, a, b, g)


def _tv_hidden_from_the_tape(extractor, content_image, style_image, content_layer, weights, a, b, g):
    inner = make_total_cost(extractor, content_image, style_image, content_layer, weights, a, b, 0.0)

    def total_cost(image):  # the right value, but the tape cannot see the TV term
        return inner(image) + g * tf.stop_gradient(total_variation(image))
    return total_cost


def test_total_cost_with_a_fixed_content_layer_is_refused():
    assert_rejected(check_total_cost, _hard_coded_content_layer, "content layer is written into your code")


def test_total_cost_whose_gradient_misses_a_term_is_refused():
    assert_rejected(check_total_cost, _tv_hidden_from_the_tape, "its gradient is not")
