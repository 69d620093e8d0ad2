"""The machinery shared by the checks: hiding the package's answers, and restoring them."""

import inspect

import pytest
import tensorflow as tf

import nst_tf
from nst_tf.checks import WriteItYourself, package_hidden
from nst_tf.checks._common import exercise_check, fail
from nst_tf.losses.gram import gram_matrix as early_alias


def test_every_route_to_a_hidden_function_is_closed_and_reopened():
    features = tf.ones((1, 2, 2, 3))
    before = inspect.signature(nst_tf.losses.gram.gram_matrix)
    with package_hidden(["nst_tf.losses.gram:gram_matrix"]):
        for route in (lambda: nst_tf.losses.gram.gram_matrix(features), lambda: nst_tf.gram_matrix(features),
                      lambda: early_alias(features), lambda: nst_tf.losses.style_layer_loss(features, features)):
            with pytest.raises(WriteItYourself, match="nst_tf.losses.gram.gram_matrix"):
                route()
        assert inspect.signature(nst_tf.losses.gram.gram_matrix) == before  # Keras and friends see no change
    assert early_alias(features).shape == (1, 3, 3)
    assert inspect.signature(nst_tf.losses.gram.gram_matrix) == before


def test_hidden_functions_come_back_after_an_error():
    with pytest.raises(RuntimeError, match="boom"):
        with package_hidden(["nst_tf.losses:tv_loss"]):
            raise RuntimeError("boom")
    assert float(nst_tf.losses.tv_loss(tf.zeros((1, 3, 3, 3)))) == 0.0


def test_exercise_check_names_the_package_function_and_the_exercise():
    @exercise_check("my_tv", ["nst_tf.losses:tv_loss"])
    def check(answer):
        answer(tf.zeros((1, 3, 3, 3)))

    with pytest.raises(AssertionError) as error:
        check(lambda image: nst_tf.losses.tv_loss(image))
    message = " ".join(str(error.value).split())
    assert "Your my_tv calls the package's own nst_tf.losses.tv_loss" in message


def test_a_not_implemented_error_from_tensorflow_is_not_taken_for_an_unwritten_exercise():
    @exercise_check("f")
    def check(answer):
        answer()

    def numpy_on_a_symbolic_tensor():
        @tf.function
        def inner(x):
            import numpy as np

            return np.square(x)  # NumPy cannot take a symbolic tensor

        return inner(tf.ones(2))

    with pytest.raises(AssertionError) as error:
        check(numpy_on_a_symbolic_tensor)
    assert "not written yet" not in str(error.value)


def test_fail_wraps_the_message():
    with pytest.raises(AssertionError) as error:
        fail("a " * 100)
    assert max(len(line) for line in str(error.value).splitlines()) <= 88
