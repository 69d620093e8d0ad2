"""What the notebook tests read from an executed notebook (shared by test_notebooks, test_colab and test_colab_students)."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import nbformat
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from notebook_client import PatientNotebookClient  # noqa: E402 - every notebook test executes with it

__all__ = ["PatientNotebookClient", "check_widgets_shown", "hints", "exercise_names", "unexpected_errors",
           "printed_numbers", "compare_printed_numbers", "WIDGET_MAKERS"]

WIDGET_MAKERS = re.compile(r"preview=True|^widgets\.interactive\(|^show_output\(before_after\(", re.M)


def check_widgets_shown(notebook):
    """Cells that make widgets (LivePreview, sliders, buttons) and ran without error must show them."""
    for cell in notebook.cells:
        if cell.cell_type != "code" or not WIDGET_MAKERS.search(cell.source):
            continue
        if not any(output.output_type == "error" for output in cell.outputs):
            kinds = {kind for output in cell.outputs for kind in output.get("data", {})}
            assert "application/vnd.jupyter.widget-view+json" in kinds, f"no widget shown by:\n{cell.source}"


def hints(notebook) -> set[str]:
    """The messages of the ``raise NotImplementedError("...")`` lines the generator left for students."""
    return {ast.literal_eval(match) for cell in notebook.cells if cell.cell_type == "code"
            for match in re.findall(r'raise NotImplementedError\(("(?:[^"\\]|\\.)*")\)', cell.source)}


def exercise_names(student_path) -> set[str]:
    """Functions the solved lesson defines in its solution cells (a student copy leaves them to the student)."""
    solved = nbformat.read(student_path.parents[1] / "solutions" / student_path.name, as_version=4)
    return {name for cell in solved.cells if cell.cell_type == "code"
            and cell.get("metadata", {}).get("nbgrader", {}).get("solution")
            for name in re.findall(r"^def (\w+)", cell.source, flags=re.M)}


def unexpected_errors(notebook, names: set[str] = frozenset()) -> list[str]:
    """Every error that is not an exercise (or question) saying it is not attempted yet, and every cell that did not run."""
    messages, found = hints(notebook), []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        if cell.execution_count is None:
            found.append(f"cell {index} did not run")
        for output in cell.outputs:
            if output.output_type != "error":
                continue
            # A cell that calls the unsolved function (checks, or a tf.function around it, which adds
            # its own "in user code" lines) reports the exercise's message.
            not_attempted = (output.ename == "NotImplementedError" and any(hint in output.evalue for hint in messages)) or (
                output.ename == "ExerciseError" and "NotImplementedError" in output.evalue) or (
                output.ename == "ExerciseError" and "is not answered yet" in output.evalue) or (  # a question left open
                output.ename == "NameError" and any(f"name '{name}' is not defined" in output.evalue
                                                    for name in names))  # the capstone's paste cell left empty
            if not not_attempted:
                found.append(f"cell {index}: {output.ename}: {output.evalue}\n{cell.source}")
    return found


# ----- no hidden state: a lesson run twice in one kernel prints the same numbers ---------------

NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
#: What may differ between two runs: durations, rates and speed-ups ("3.2 s", "40 ms", "12 images/s",
#: "1 min 3 s", "282 times faster", "1,788 times faster", "a factor 1,788").
_AMOUNT = r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?|[-+]?\d+(?:\.\d+)?"
TIMES = re.compile(rf"(?:(?:{_AMOUNT})\s*(?:s|ms|seconds|min|minutes|(?:images|steps|evaluations)/s|"
                   rf"times (?:faster|slower))|a factor (?:of )?(?:{_AMOUNT}))\b")


def printed_numbers(cell):
    """The numbers on each line ``cell`` printed to stdout, durations taken out; lines without numbers left out.

    Only stdout: stderr carries progress bars and one-time log lines (which weights were loaded),
    which rightly appear on a first run only.
    """
    text = "".join(output.get("text", "") for output in cell.get("outputs", [])
                   if output.get("output_type") == "stream" and output.get("name") == "stdout")
    lines = [[float(number) for number in NUMBER.findall(TIMES.sub("", line))] for line in text.splitlines()]
    return [numbers for numbers in lines if numbers]


def compare_printed_numbers(first, second):
    """Assert that each code cell of ``second`` printed the numbers ``first`` did; returns how many were compared."""
    compared = 0
    for index, (once, twice) in enumerate(zip(first, second)):
        if once.cell_type != "code":
            continue
        before, after = printed_numbers(once), printed_numbers(twice)
        assert len(before) == len(after), (
            f"cell {index} printed {len(before)} lines with numbers the first time and {len(after)} the second "
            f"time:\n{once.source}")
        for line_before, line_after in zip(before, after):
            assert len(line_before) == len(line_after) and np.allclose(line_before, line_after, rtol=1e-3, atol=1e-6), (
                f"cell {index} printed {line_before} the first time and {line_after} the second time "
                f"(hidden state: does a function read a global that a later cell changes?):\n{once.source}")
            compared += len(line_before)
    return compared
