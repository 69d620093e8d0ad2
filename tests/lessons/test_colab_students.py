"""Colab, simulated (tests/colab_sim.py): every student copy of the lessons, from a wheel.

A runtime of its own (so pytest-xdist can run it beside tests/lessons/test_colab.py), the wheel installed
by the lessons' install cell, then each student notebook in fast mode with the offline weights in
a folder outside the repository. A student copy keeps its unsolved exercises: the only errors
allowed are the "not attempted yet" ones, every cell must have run, and every widget cell that
ran without error must show its widgets (ipywidgets 7, as on Colab).
"""

from __future__ import annotations

import nbformat
import pytest
from colab_sim import (FINAL_CHECK, STUDENT, build_wheel, check_colab_calls, check_final_cell, colab_with_widgets_7,
                       run_install_cell)
from notebook_outputs import check_widgets_shown, exercise_names, hints, unexpected_errors

pytestmark = [pytest.mark.slow, pytest.mark.notebooks]


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    base = tmp_path_factory.mktemp("colab-students")
    wheel = build_wheel(base)
    colab = colab_with_widgets_7(base)
    installed = run_install_cell(colab, str(wheel))
    assert installed.startswith(f"installed nst-tf from {wheel}; GPU: "), installed
    colab.calls()
    return colab


@pytest.mark.parametrize("path", STUDENT, ids=lambda path: path.stem)
def test_student_lesson_runs_in_colab_up_to_its_unsolved_exercises(colab, path):
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(FINAL_CHECK))
    colab.execute(notebook, allow_errors=True)
    problems = unexpected_errors(notebook, exercise_names(path))
    assert not problems, f"{path.name} in simulated Colab:\n" + "\n".join(problems)
    errors = sum(output.output_type == "error" for cell in notebook.cells if cell.cell_type == "code"
                 for output in cell.outputs)
    assert errors >= 1 if hints(notebook) else errors == 0, "the unsolved exercises should say so"
    check_final_cell(colab, notebook)
    check_widgets_shown(notebook)
    check_colab_calls(colab, path)
