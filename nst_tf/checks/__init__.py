"""Checks for the lessons' exercises: friendly messages, tested against typical mistakes.

Each ``check_*`` function takes the student's function, runs it on small inputs, and
prints one short confirmation or raises :class:`ExerciseError` with a paragraph that
names the likely mistake. Lessons call them as ``checks.check_gram_matrix(gram_matrix)``.
While a check runs, the package's own versions of what it checks are hidden (calling one
says "write it yourself"); ``check_choice`` grades the lessons' multiple-choice questions.
"""

from ._common import ExerciseError, WriteItYourself, package_hidden  # noqa: F401
from .lesson01 import *  # noqa: F401,F403
from .lesson02 import *  # noqa: F401,F403
from .lesson03 import *  # noqa: F401,F403
from .lesson04 import *  # noqa: F401,F403
from .lesson05 import *  # noqa: F401,F403
from .lesson06 import *  # noqa: F401,F403
from .questions import check_choice  # noqa: F401
