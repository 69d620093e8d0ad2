"""The lesson 01 check accepts the reference answer and names typical mistakes."""

import keras
import pytest
import tensorflow as tf
from keras.applications import vgg19

from nst_tf import checks
from nst_tf.checks import ExerciseError
from nst_tf.features import load_vgg


@pytest.fixture(autouse=True)
def random_weights(monkeypatch):
    # The check and the answers both call load_vgg() with the default weights; keep them quick.
    monkeypatch.setenv("NST_TF_WEIGHTS", "random")


def _model(layer_name):
    vgg = load_vgg()
    return keras.Model(vgg.input, vgg.get_layer(layer_name).output)


def reference(image, layer_name):
    return _model(layer_name)(tf.convert_to_tensor(image, tf.float32)[tf.newaxis])


def test_reference_passes(capsys):
    checks.check_layer_activations(reference)
    assert "all tests passed" in capsys.readouterr().out


def test_accepts_an_explicit_model(capsys):
    checks.check_layer_activations(reference, model=load_vgg())
    assert "all tests passed" in capsys.readouterr().out


WRONG_ANSWERS = {
    "scaled to 0-255": (lambda image, name: reference(255.0 * image, name), "scaled to 0-255"),
    "preprocessed twice": (
        lambda image, name: reference(vgg19.preprocess_input(255.0 * image), name),
        "preprocessed twice",
    ),
    "bgr by hand": (lambda image, name: reference(image[..., ::-1], name), "colour channels are reversed"),
    "batch axis dropped": (lambda image, name: reference(image, name)[0], "without the batch axis"),
    "fixed layer": (lambda image, name: reference(image, "block1_conv2"), "That is the shape of"),
    "neighbouring layer": (
        lambda image, name: reference(image, {"block1_conv2": "block1_conv1"}.get(name, name)),
        "activations of block1_conv1, but block1_conv2 was asked for",
    ),
    "numpy": (lambda image, name: reference(image, name).numpy(), "not a TensorFlow tensor"),
    "dict": (lambda image, name: {name: reference(image, name)}, "returned a dict"),
}


@pytest.mark.parametrize("mistake", list(WRONG_ANSWERS))
def test_wrong_answers_are_named(mistake):
    answer, message = WRONG_ANSWERS[mistake]
    with pytest.raises(ExerciseError) as error:
        checks.check_layer_activations(answer)
    assert message in " ".join(str(error.value).split())  # the message is wrapped over lines


def test_other_wrong_values_get_the_general_message():
    with pytest.raises(ExerciseError, match="values of block1_conv2 differ"):
        checks.check_layer_activations(lambda image, name: 2.0 * reference(image, name))
