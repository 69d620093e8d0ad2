"""The lesson 01 check accepts the reference answer and names typical mistakes."""

import keras
import pytest
import tensorflow as tf
from keras.applications import vgg19

from nst_tf import checks
from nst_tf.checks import ExerciseError
from nst_tf.vgg.extractor import load_vgg


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


def test_package_feature_extractor_is_refused_in_the_old_check():
    import nst_tf

    def package_answer(image, name):  # the answer from issue 14's table
        return nst_tf.feature_extractor([name])(tf.convert_to_tensor(image)[tf.newaxis])[name]

    with pytest.raises(ExerciseError, match="write it yourself|Write it yourself"):
        checks.check_layer_activations(package_answer)


def test_unfinished_exercise_gets_the_common_message():
    def unfinished(image, name):
        raise NotImplementedError("build a keras.Model ending at the layer")

    with pytest.raises(ExerciseError) as error:
        checks.check_layer_activations(unfinished)
    message = " ".join(str(error.value).split())
    assert "not written yet" in message and "Hint: build a keras.Model" in message


# ----- make_extractor: the exercise of the build-it-yourself path ----------------------------


def make_extractor(layer_names):
    vgg = load_vgg()
    return keras.Model(vgg.input, {name: vgg.get_layer(name).output for name in layer_names})


def test_make_extractor_reference_passes(capsys):
    checks.check_make_extractor(make_extractor)
    assert "all tests passed" in capsys.readouterr().out


def _via_numpy(layer_names):
    model = make_extractor(layer_names)
    return lambda batch: {name: tf.constant(value.numpy()) for name, value in model(batch).items()}


def _wrapped(change_input):
    def answer(layer_names):
        model = make_extractor(layer_names)
        return lambda batch: model(change_input(batch))
    return answer


def _package(layer_names):
    import nst_tf

    return nst_tf.feature_extractor(layer_names)


def _package_from_alias(layer_names):  # imported under another name before the check
    return _EARLY_ALIAS(layer_names)


from nst_tf.vgg.extractor import feature_extractor as _EARLY_ALIAS  # noqa: E402


EXTRACTOR_MISTAKES = {
    "package": (_package, "Write it yourself"),
    "package via an alias": (_package_from_alias, "Write it yourself"),
    "list outputs": (lambda names: keras.Model(load_vgg().input, [load_vgg().get_layer(n).output for n in names]),
                     "returned a list"),
    "returns the outputs": (lambda names: make_extractor(names)(tf.zeros((1, 32, 32, 3))), "return something you can call"),
    "fixed layers": (lambda names: make_extractor(["block1_conv2", "block3_conv1", "block4_conv2"]), "returned the keys"),
    "numpy outputs": (lambda names: (lambda batch: {n: v.numpy() for n, v in make_extractor(names)(batch).items()}),
                      "not a TensorFlow tensor"),
    "numpy wrapped back (no gradient)": (_via_numpy, "No gradient flows"),
    "scaled to 0-255": (_wrapped(lambda batch: 255.0 * batch), "scaled to 0-255"),
    "bgr by hand": (_wrapped(lambda batch: batch[..., ::-1]), "colour channels are reversed"),
    "unfinished": (lambda names: (_ for _ in ()).throw(NotImplementedError("a dict of outputs")), "not written yet"),
    # Issue 24: the right values with a gradient that is not theirs (twice the activations, minus a constant copy).
    "gradient not the activations'": (
        lambda names: (lambda batch: {n: 2.0 * v - tf.stop_gradient(v) for n, v in make_extractor(names)(batch).items()}),
        "their gradient with respect to the pixels is not"),
}


@pytest.mark.parametrize("mistake", list(EXTRACTOR_MISTAKES))
def test_make_extractor_mistakes_are_named(mistake):
    answer, message = EXTRACTOR_MISTAKES[mistake]
    with pytest.raises(ExerciseError) as error:
        checks.check_make_extractor(answer)
    assert message in " ".join(str(error.value).split())


def test_the_package_works_again_after_a_check():
    import nst_tf

    with pytest.raises(ExerciseError):
        checks.check_make_extractor(_package)
    assert set(nst_tf.feature_extractor(["block1_conv1"])(tf.zeros((1, 16, 16, 3)))) == {"block1_conv1"}
