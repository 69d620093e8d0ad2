"""Lesson 05's check accepts the reference answers and names the usual mistakes."""

import re

import numpy as np
import pytest

from nst_tf.checks import ExerciseError
from nst_tf.checks.lesson05 import check_recombine_luminance
from nst_tf.image.colour import YIQ_FROM_RGB, recombine_luminance


# The exercise writes the conversions from the matrix; the tests do the same.
def rgb_to_yiq(image):
    return np.asarray(image, np.float64) @ YIQ_FROM_RGB.T


def yiq_to_rgb(image):
    return np.asarray(image, np.float64) @ np.linalg.inv(YIQ_FROM_RGB).T


def assert_rejected(answer, pattern):
    with pytest.raises(ExerciseError) as info:
        check_recombine_luminance(answer)
    message = " ".join(str(info.value).split())
    assert re.search(pattern, message), message


def student_answer(generated_image, content_image):
    """What the lesson's solution cell writes."""
    generated_yiq = rgb_to_yiq(generated_image)
    content_yiq = rgb_to_yiq(content_image)
    combined = np.concatenate([generated_yiq[..., :1], content_yiq[..., 1:]], axis=-1)
    return np.clip(yiq_to_rgb(combined), 0.0, 1.0)


def in_place_answer(generated_image, content_image):
    content_yiq = rgb_to_yiq(content_image)
    content_yiq[..., 0] = rgb_to_yiq(generated_image)[..., 0]  # fine: a new array
    return np.clip(yiq_to_rgb(content_yiq), 0.0, 1.0)


@pytest.mark.parametrize("answer", [student_answer, in_place_answer])
def test_reference_answers_pass(answer, capsys):
    check_recombine_luminance(answer)
    assert "all tests passed" in capsys.readouterr().out


def test_package_passes_when_not_hidden(capsys):
    check_recombine_luminance.__wrapped__(recombine_luminance)
    assert "all tests passed" in capsys.readouterr().out


def _package_pieces(generated_image, content_image):
    from nst_tf.image import colour

    combined = np.concatenate([colour.rgb_to_yiq(generated_image)[..., :1],
                               colour.rgb_to_yiq(content_image)[..., 1:]], axis=-1)
    return np.clip(colour.yiq_to_rgb(combined), 0, 1)


def test_package_answers_are_refused():  # issue 14's table
    assert_rejected(recombine_luminance, "Write it yourself")
    assert_rejected(lambda g, c: __import__("nst_tf.image.colour").image.colour.recombine_luminance(g, c), "Write it yourself")
    assert_rejected(_package_pieces, "package's own nst_tf.image.colour.rgb_to_yiq")


def _combine(y_from, iq_from):
    return np.concatenate([rgb_to_yiq(y_from)[..., :1], rgb_to_yiq(iq_from)[..., 1:]], axis=-1)


def _unfinished(generated_image, content_image):
    raise NotImplementedError("Exercise: fill in this function")


def _modifies_input(generated_image, content_image):
    content_image[..., 0] = 0.5
    return student_answer(generated_image, content_image)


@pytest.mark.parametrize(
    "wrong, message",
    [
        (_unfinished, "NotImplementedError"),
        (lambda g, c: np.clip((np.concatenate([(g @ YIQ_FROM_RGB)[..., :1], (c @ YIQ_FROM_RGB)[..., 1:]], axis=-1))
                              @ np.linalg.inv(YIQ_FROM_RGB), 0, 1), "wrong way round"),
        (lambda g, c: None, "returned None"),
        (lambda g, c: g, "generated image unchanged"),
        (lambda g, c: c, "returned the content image"),
        (lambda g, c: np.clip(yiq_to_rgb(_combine(c, g)), 0, 1), "wrong images"),
        (lambda g, c: _combine(g, c), "still is in YIQ"),
        (lambda g, c: np.concatenate([g[..., :1], c[..., 1:]], axis=-1), "combined the channels in RGB"),
        (lambda g, c: rgb_to_yiq(_combine(g, c)), "its inverse"),
        (lambda g, c: yiq_to_rgb(_combine(g, c)), "clip the result"),
        (lambda g, c: rgb_to_yiq(g)[..., 0], "shape"),
        (_modifies_input, "in place"),
        (lambda g, c: np.clip(yiq_to_rgb(_combine(g, c)) * 1.1, 0, 1), "brightness"),
    ],
)
def test_typical_mistakes_are_named(wrong, message):
    assert_rejected(wrong, message)


def test_scikit_image_conversions_are_refused():
    """Issue 24: skimage.color computes the very matrix product the exercise asks for."""
    from skimage import color

    def assembled(generated_image, content_image):
        combined = np.concatenate([color.rgb2yiq(generated_image)[..., :1], color.rgb2yiq(content_image)[..., 1:]], -1)
        return np.clip(color.yiq2rgb(combined), 0.0, 1.0)

    assert_rejected(assembled, "scikit-image's own")
