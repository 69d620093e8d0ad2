"""Multiple-choice questions of the lessons, graded by :func:`check_choice`.

The right letters are stored as salted hashes, so that reading this file does not give
them away (the instructor's guide, docs/instructors.md, lists them with explanations).
A wrong answer gets a nudge towards the section to reread, never the answer itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ._common import fail

__all__ = ["QUESTIONS", "check_choice"]


@dataclass(frozen=True)
class Question:
    choices: tuple[str, ...]
    answer_hash: str
    nudge: str


#: Question id -> its letters, the hash of the right one, and a nudge for a wrong answer.
QUESTIONS: dict[str, Question] = {
    "01-block4-shape": Question(
        ("a", "b", "c", "d"), "e5d1014a1e11c88c",
        "Count the pooling layers before block 4 (each halves height and width) and look up how many "
        "channels block 4 has in the table of section 1.",
    ),
    "02-shuffle": Question(
        ("a", "b", "c", "d"), "260760873d33c6c1",
        "Reread the formula of section 1: what does the Gram matrix do with the position index p?",
    ),
    "03-grows-with-size": Question(
        ("a", "b", "c"), "140a4317c4ef0590",
        "Look at the table of costs at 112, 224 and 448 px: which constant is not divided by the number of positions?",
    ),
    "04-what-is-trained": Question(
        ("a", "b", "c", "d"), "fbb63a61a57fb871",
        "Reread 'The image is the only variable': which tf.Variable does the tape watch?",
    ),
    "05-out-of-gamut": Question(
        ("a", "b", "c"), "8d2ec34c6bad25ba",
        "Clip one channel of a saturated red and convert back to YIQ: which of Y, I, Q changed?",
    ),
    "06-instance-vs-batch": Question(
        ("a", "b", "c", "d"), "066ce2b3f0701ea1",
        "Over which axes are the mean and variance taken in instance normalisation? Does axis 0 (the batch) appear?",
    ),
}


def _digest(question_id: str, letter: str) -> str:
    return hashlib.sha256(f"nst-tf:{question_id}:{letter}".encode()).hexdigest()[:16]


def check_choice(question_id: str, answer: object) -> None:
    """Grade one multiple-choice answer: a letter such as ``"b"`` (case and spaces ignored)."""
    __tracebackhide__ = True
    if question_id not in QUESTIONS:
        raise ValueError(f"Unknown question {question_id!r}; the lessons use {', '.join(QUESTIONS)}.")
    question = QUESTIONS[question_id]
    letters = ", ".join(repr(letter) for letter in question.choices)
    if answer is None or (isinstance(answer, str) and not answer.strip()):
        fail(f"Question {question_id} is not answered yet: set the answer in the cell above to one of {letters}, "
             "run it, then run this check.")
    letter = str(answer).strip().lower()
    if letter not in question.choices:
        fail(f"{answer!r} is not one of the choices; answer with one letter: {letters}.")
    if _digest(question_id, letter) != question.answer_hash:
        fail(f"Not this one. {question.nudge}")
    print(f"\N{WHITE HEAVY CHECK MARK} Question {question_id}: right.")
