"""The lesson 02 check accepts the reference Gram matrix and names typical mistakes."""

import numpy as np
import pytest
import tensorflow as tf

from nst_tf import checks
from nst_tf.checks import ExerciseError
from nst_tf.losses.gram import gram_matrix as package_gram


def reference(features):
    batch, height, width, channels = features.shape
    flat = tf.reshape(features, (batch, height * width, channels))
    return tf.matmul(flat, flat, transpose_a=True) / tf.cast(height * width, tf.float32)


def test_reference_and_package_pass(capsys):
    checks.check_gram_matrix(reference)
    checks.check_gram_matrix.__wrapped__(package_gram)  # the package passes when it is not hidden
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


# ----- answers that passed before issue 14 ----------------------------------------------------


def package_answer(features):
    import nst_tf

    return nst_tf.losses.gram.gram_matrix(features)


def top_level_answer(features):
    import nst_tf

    return nst_tf.gram_matrix(features, "positions")


def aliased_answer(features):  # ``from nst_tf.losses.gram import gram_matrix`` at the top of the notebook
    return package_gram(features)


def numpy_wrapped_back(features):
    return tf.constant(with_numpy(np.asarray(features)), tf.float32)


def numpy_function_inside(features):
    return tf.numpy_function(lambda f: with_numpy(f).astype(np.float32), [features], tf.float32)


def stop_gradient_on_one_side(features):
    flat, positions, _ = _flat(features)
    return tf.matmul(tf.stop_gradient(flat), flat, transpose_a=True) / positions


@pytest.mark.parametrize(
    "answer, message",
    [
        (package_answer, "package's own nst_tf.losses.gram.gram_matrix"),
        (top_level_answer, "package's own nst_tf.losses.gram.gram_matrix"),
        (aliased_answer, "package's own nst_tf.losses.gram.gram_matrix"),
        (numpy_wrapped_back, "No gradient flows"),
        (numpy_function_inside, "No gradient flows"),
        (stop_gradient_on_one_side, "gradient is not"),
    ],
)
def test_answers_that_fooled_the_old_check_fail(answer, message):
    with pytest.raises(ExerciseError) as error:
        checks.check_gram_matrix(answer)
    assert message in " ".join(str(error.value).split())


def test_unfinished_exercise_gets_the_common_message():
    def unfinished(features):
        raise NotImplementedError("reshape, then one matrix product")

    with pytest.raises(ExerciseError) as error:
        checks.check_gram_matrix(unfinished)
    message = " ".join(str(error.value).split())
    assert "not written yet" in message and "Hint: reshape, then one matrix product" in message


def test_package_is_restored_after_the_check():
    with pytest.raises(ExerciseError):
        checks.check_gram_matrix(package_answer)
    features = tf.ones((1, 2, 2, 3))
    assert np.allclose(package_gram(features).numpy(), np.ones((1, 3, 3)))


def test_notebook_display_is_the_message_only():
    with pytest.raises(ExerciseError) as error:
        checks.check_gram_matrix(no_normalisation)
    lines = error.value._render_traceback_()
    assert "forgot the normalisation" in " ".join(lines)
    assert not any("File " in line or "nst_tf/checks" in line for line in lines)
