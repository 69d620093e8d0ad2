"""Lesson 04's check accepts the reference train step and names the usual mistakes."""

import re

import pytest
import tensorflow as tf

from nst_tf.checks import ExerciseError, check_train_step


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
