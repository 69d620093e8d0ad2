"""Shared pieces of the exercise checks.

Every ``check_*`` function is wrapped by :func:`exercise_check`, which gives all checks
the same behaviour:

* an exercise that is not written yet (its stub still raises ``NotImplementedError``)
  gets one friendly line that repeats the stub's hint;
* while the check runs, the package's own versions of what is being checked are hidden
  (:func:`package_hidden`): calling one raises :class:`WriteItYourself`, which the check
  turns into "write it yourself" — so ``return nst_tf.losses.gram.gram_matrix(x)`` cannot pass;
* a failure is an :class:`ExerciseError` whose notebook display is the message alone (no
  traceback through the package), while it still is an error for CI, pytest and nbgrader.

The checks compute their expected values with NumPy by hand, never through the package.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import re
import textwrap
import traceback
import types
from typing import Any, Callable, Iterable, Iterator, NoReturn, cast

import numpy as np
import tensorflow as tf


class ExerciseError(AssertionError):
    """An exercise answer is not right yet; the message says what to look at.

    In a notebook (IPython) only the message is shown, not the traceback through
    ``nst_tf/checks``; it is still an error, so a test run or an autograder counts it.
    """

    __tracebackhide__ = True

    def _render_traceback_(self) -> list[str]:  # IPython's hook for custom error display
        return [f"\N{CROSS MARK} {type(self).__name__}:", *str(self).strip("\n").splitlines()]


class WriteItYourself(RuntimeError):
    """Raised by a package function that is hidden while a check of the same exercise runs."""


def fail(message: str) -> NoReturn:
    """Raise :class:`ExerciseError` with ``message`` wrapped as one friendly paragraph."""
    __tracebackhide__ = True
    raise ExerciseError("\n" + textwrap.fill(" ".join(message.split()), width=88))


def passed(what: str) -> None:
    print(f"\N{WHITE HEAVY CHECK MARK} {what}: all tests passed.")


def require_tensor(value: object, what: str) -> tf.Tensor:
    """The student's result must be a TensorFlow tensor (NumPy inside breaks gradients)."""
    if not isinstance(value, (tf.Tensor, tf.Variable)):
        fail(
            f"{what} returned a {type(value).__name__}, not a TensorFlow tensor. Use tf.* operations "
            "(tf.reduce_sum, tf.matmul, ...) instead of NumPy, so that gradients can flow through it."
        )
    return tf.convert_to_tensor(value)


def close(a: Any, b: Any, rtol: float = 1e-4, atol: float = 1e-6) -> bool:
    return bool(np.allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol))


def require_gradient(fn: Callable, what: str, *arguments: Any, wrt: int = 0, weights: np.ndarray | None = None
                     ) -> np.ndarray:
    """Gradient of ``sum(weights * fn(*arguments))`` w.r.t. argument ``wrt``, taken with a tape.

    Fails with a message when no gradient flows (NumPy or ``.numpy()`` inside, a result
    wrapped back into a tensor) or when it is not finite. Returns the gradient as NumPy.
    """
    variable = tf.Variable(np.asarray(arguments[wrt], np.float32))
    values = [tf.constant(np.asarray(a, np.float32)) if i != wrt else variable for i, a in enumerate(arguments)]
    with tf.GradientTape() as tape:
        result = tf.convert_to_tensor(fn(*values))
        scalar = tf.reduce_sum(result * weights) if weights is not None else tf.reduce_sum(result)
    gradient = tape.gradient(scalar, variable)
    if gradient is None:
        fail(
            f"No gradient flows through {what}: somewhere the values left TensorFlow (np.* functions, .numpy(), "
            "float(...)) and were wrapped back into a tensor, which the GradientTape cannot follow. Use only "
            "tf.* operations, so the optimiser can follow the cost back to the pixels."
        )
    gradient = np.asarray(gradient)
    if not np.all(np.isfinite(gradient)):
        fail(f"The gradient through {what} contains NaN or infinity: look for a division by zero or a square root of 0.")
    return gradient


# ----- hiding the package's own answers ------------------------------------------------------

def _parameter_list(function: Callable) -> str:
    """The function's parameters without defaults or annotations (those stay on the function object)."""
    import inspect

    parts, star_done, slash_pending = [], False, False
    for parameter in inspect.signature(function).parameters.values():
        kind = parameter.kind
        if kind is not parameter.POSITIONAL_ONLY and slash_pending:
            parts.append("/")
            slash_pending = False
        if kind is parameter.POSITIONAL_ONLY:
            parts.append(parameter.name)
            slash_pending = True
        elif kind is parameter.VAR_POSITIONAL:
            parts.append("*" + parameter.name)
            star_done = True
        elif kind is parameter.KEYWORD_ONLY:
            if not star_done:
                parts.append("*")
                star_done = True
            parts.append(parameter.name)
        elif kind is parameter.VAR_KEYWORD:
            parts.append("**" + parameter.name)
        else:
            parts.append(parameter.name)
    if slash_pending:
        parts.append("/")
    return ", ".join(parts)


def _blocked_code(function: Callable, name: str) -> types.CodeType:
    """Code with the same parameters as ``function`` (so signatures, and Keras, see no change) that raises."""
    source = (
        f"def _blocked({_parameter_list(function)}):\n"
        f"    raise __import__('nst_tf.checks._common', fromlist=['_']).WriteItYourself({name!r})\n"
    )
    namespace: dict = {}
    exec(source, namespace)  # noqa: S102 - a fixed template around names from inspect.signature
    return namespace["_blocked"].__code__


def _resolve(target: str) -> Any:
    """``"nst_tf.losses.gram:gram_matrix"`` or ``"nst_tf.fast:InstanceNormalization.call"`` -> the function object."""
    module_name, _, attribute = target.partition(":")
    value = importlib.import_module(module_name)
    for part in attribute.split("."):
        value = getattr(value, part)
    value = getattr(value, "python_function", value)  # a tf.function: its Python function
    return inspect.unwrap(cast(Callable[..., Any], value))  # a decorated function (scikit-image's channel_as_last_axis): the one inside


@contextlib.contextmanager
def package_hidden(targets: Iterable[str]) -> Iterator[None]:
    """While inside, each named package function raises :class:`WriteItYourself` when called.

    The function objects themselves are changed (their code is swapped), so every way of
    reaching them is covered: ``nst_tf.losses.gram.gram_matrix``, the top-level re-export
    ``nst_tf.gram_matrix``, an alias made earlier with ``from nst_tf.losses.gram import
    gram_matrix as g``, and package functions that call them. Restored on exit.
    """
    saved = []
    try:
        for target in targets:
            function = _resolve(target)
            if not hasattr(function, "__code__") or function.__code__.co_freevars:
                continue  # not a plain function (or a closure): cannot be hidden this way
            saved.append((function, function.__code__))
            function.__code__ = _blocked_code(function, target.replace(":", "."))
        yield
    finally:
        for function, code in reversed(saved):
            function.__code__ = code


def _not_attempted(error: NotImplementedError) -> bool:
    """True if the NotImplementedError came from the student's stub, not from TensorFlow or NumPy."""
    message = str(error)
    if any(text in message for text in ("symbolic", "in user code", "Cannot convert")):
        return False  # TensorFlow's, e.g. NumPy given a symbolic tensor inside a tf.function
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return True
    last = frames[-1].filename.replace("\\", "/")
    library = ("site-packages", "dist-packages", "/tensorflow/", "/keras/", "/numpy/", "__autograph_generated")
    return not any(part in last for part in library)


def exercise_check(exercise: str, hidden: Iterable[str] = ()) -> Callable:
    """Decorator for a ``check_*`` function: one way to report "not written yet" and "package used".

    ``exercise`` names the student's function in messages; ``hidden`` lists the package
    functions (``"module:attribute"``) that are unavailable while the check runs.
    """
    hidden = tuple(hidden)

    def decorate(check: Callable) -> Callable:
        @functools.wraps(check)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            __tracebackhide__ = True
            problem = None
            try:
                with package_hidden(hidden):
                    return check(*args, **kwargs)
            except WriteItYourself as error:
                found = re.search(r"(?:nst_tf|keras|skimage)\.[\w.]+", str(error))  # Keras may wrap the message
                name = found.group(0) if found else "version"
                owner = {"nst_tf": "the package", "keras": "Keras", "skimage": "scikit-image"}.get(name.split(".")[0], "a library")
                problem = (
                    f"Your {exercise} calls {owner}'s own "
                    f"{name}, which is exactly what this "
                    "exercise asks you to write. Write it yourself with TensorFlow (or NumPy where the "
                    "lesson says so) operations; the lesson's text and hints show the way."
                )
            except NotImplementedError as error:
                if not _not_attempted(error):
                    problem = (
                        f"{exercise} hit NotImplementedError inside TensorFlow or NumPy: "
                        f"{' '.join(str(error).split())[:160]}. Usually that means NumPy was given a TensorFlow "
                        "tensor inside a compiled function: use tf.* operations."
                    )
                else:
                    hint = " ".join(str(error).split())
                    problem = (
                        f"{exercise} is not written yet: replace the `raise NotImplementedError(...)` line with your "
                        "code, run that cell, then run this check again."
                        + (f" Hint: {hint}" if hint and hint != "Exercise: fill in this function" else "")
                    )
            fail(problem)

        return wrapper

    return decorate
