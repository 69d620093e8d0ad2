"""Multiple-choice questions: exactly one letter is right, and the messages teach without telling."""

import pytest

from nst_tf.checks import ExerciseError, check_choice
from nst_tf.checks.questions import QUESTIONS

# The right letters, as the instructor's guide gives them (docs/instructors.md).
ANSWERS = {"01-block4-shape": "b", "02-shuffle": "b", "03-grows-with-size": "c", "04-what-is-trained": "b",
           "05-out-of-gamut": "b", "06-instance-vs-batch": "b"}


def test_every_question_has_its_answer_in_the_guide():
    assert set(ANSWERS) == set(QUESTIONS)


@pytest.mark.parametrize("question_id", sorted(QUESTIONS))
def test_exactly_one_choice_is_right(question_id, capsys):
    right = []
    for letter in QUESTIONS[question_id].choices:
        try:
            check_choice(question_id, letter)
            right.append(letter)
        except ExerciseError as error:
            assert "Not this one" in str(error)
            assert letter not in str(error).split("Not this one")[1][:3]
    assert right == [ANSWERS[question_id]]
    check_choice(question_id, f" {ANSWERS[question_id].upper()} ")  # case and spaces do not matter
    assert "right" in capsys.readouterr().out


@pytest.mark.parametrize("answer, message", [(None, "not answered yet"), ("", "not answered yet"),
                                              ("z", "not one of the choices")])
def test_unanswered_and_invalid(answer, message):
    with pytest.raises(ExerciseError, match=message):
        check_choice("02-shuffle", answer)


def test_unknown_question_is_a_programming_error():
    with pytest.raises(ValueError, match="Unknown question"):
        check_choice("99-nothing", "a")
