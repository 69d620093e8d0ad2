"""Lessons executed here, in a kernel started from this interpreter's environment (``pytest -m notebooks``).

This checkout's nst_tf and this environment's ipywidgets 8, as in JupyterLab, in fast mode
(``NST_TF_FAST=1``: small images, few steps), with the offline weights and matplotlib's Agg
backend, in a temporary working folder. By default the solved lessons whose cells make widgets
(sliders, buttons, live previews) run here, to show that they work with ipywidgets 8; every
solved and every student lesson runs in a simulated Colab with ipywidgets 7
(``tests/lessons/test_colab.py``, ``tests/lessons/test_colab_students.py``). ``--solved`` runs every solved
lesson here instead (a quick local check: ``--solved -k 04``), ``--student`` every student copy.
A student copy keeps its unsolved exercises: the only errors allowed are the "not attempted
yet" ones, and every cell must run.
"""

import os
import symtable
import sys
from pathlib import Path

import nbformat
import pytest
from notebook_outputs import (WIDGET_MAKERS, PatientNotebookClient, check_widgets_shown, compare_printed_numbers,
                              exercise_names, hints, printed_numbers, unexpected_errors)

ROOT = Path(__file__).resolve().parents[2]
STUDENT = sorted((ROOT / "notebooks").glob("[0-9][0-9]*_*.ipynb"))
SOLVED = sorted((ROOT / "solutions").glob("[0-9][0-9]*_*.ipynb"))

pytestmark = pytest.mark.notebooks

# The kernel must be this environment's Python, with nst_tf importable from this checkout.
KERNEL_CHECK = (
    "import sys, nst_tf\n"
    "print('KERNEL', sys.prefix, nst_tf.__file__)"
)


@pytest.fixture
def fast_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("NST_TF_FAST", "1")
    monkeypatch.setenv("NST_TF_WEIGHTS", "offline")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def widget_lessons(paths):
    """The lessons that make the most widgets: the one place where a widget of every kind the lessons use is made."""
    counts = {path: sum(bool(WIDGET_MAKERS.search(cell.source)) for cell in nbformat.read(path, as_version=4).cells
                        if cell.cell_type == "code") for path in paths}
    most = max(counts.values())
    return [path for path, count in counts.items() if count == most]


def pytest_generate_tests(metafunc):
    """The widget lesson, solved, by default; ``--solved``: every solved lesson; ``--student``: every student copy."""
    if metafunc.function.__name__ == "test_notebook_runs_up_to_its_unsolved_exercises":
        if metafunc.config.getoption("--student"):
            paths = STUDENT
        else:
            paths = SOLVED if metafunc.config.getoption("--solved") else widget_lessons(SOLVED)
        metafunc.parametrize("path", paths, ids=lambda path: f"{path.parent.name}/{path.stem}")


@pytest.mark.slow
def test_notebook_runs_up_to_its_unsolved_exercises(path, fast_environment):
    """A solved lesson has no unsolved exercise, so there every error counts."""

    notebook = nbformat.read(path, as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(KERNEL_CHECK))
    PatientNotebookClient(
        notebook, timeout=600, kernel_name="python3", allow_errors=True,
        resources={"metadata": {"path": str(fast_environment)}},
    ).execute()

    printed = "".join(output.get("text", "") for output in notebook.cells[0].outputs)
    assert f"KERNEL {sys.prefix} {ROOT / 'nst_tf'}" in printed, (
        f"The notebook ran in another Python ({printed.strip()}); install this environment's kernel: "
        f"{sys.executable} -m ipykernel install --sys-prefix"
    )
    problems = unexpected_errors(notebook, exercise_names(path) if path in STUDENT else set())
    assert not problems, f"{path.name}:\n" + "\n".join(problems)
    errors = sum(output.output_type == "error" for cell in notebook.cells if cell.cell_type == "code"
                 for output in cell.outputs)
    assert errors >= 1 if hints(notebook) else errors == 0, "the unsolved exercises should say so"
    check_widgets_shown(notebook)  # with this environment's ipywidgets (8); tests/lessons/test_colab*.py run 7


@pytest.mark.slow
def test_a_failed_check_shows_only_its_message_and_still_fails(fast_environment):
    """In a kernel, an ExerciseError is displayed as the message alone, and it still is an error output."""
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("from nst_tf import checks"),
        nbformat.v4.new_code_cell("def gram_matrix(features):\n    raise NotImplementedError('one matrix product')"),
        nbformat.v4.new_code_cell("checks.check_gram_matrix(gram_matrix)"),
    ]
    client = PatientNotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(fast_environment)}})
    with pytest.raises(CellExecutionError):
        client.execute()
    (output,) = notebook.cells[2].outputs
    assert output.output_type == "error" and output.ename == "ExerciseError"
    shown = "\n".join(output.traceback)
    assert "not written yet" in shown and "Hint: one matrix product" in shown
    assert "nst_tf/checks" not in shown and "Traceback" not in shown


# ----- no hidden state: no cell's result depends on the order the cells ran in -----------------

COMPREHENSIONS = ("listcomp", "dictcomp", "setcomp", "genexpr")


def _deferred_globals(table, deferred=False):
    """Global names read by code that runs later: inside functions and lambdas (and their comprehensions)."""
    names = set()
    for child in table.get_children():
        later = deferred or (child.get_type() == "function" and child.get_name() not in COMPREHENSIONS)
        if later:
            names |= {symbol.get_name() for symbol in child.get_symbols() if symbol.is_global() and symbol.is_referenced()}
        names |= _deferred_globals(child, later)
    return names


def _bound_at_top(table):
    return {symbol.get_name() for symbol in table.get_symbols() if symbol.is_assigned() or symbol.is_imported()}


def hidden_state(notebook):
    """'cell i's function reads global x, which cell j rebinds' for every such pair (j after i)."""
    from IPython.core.inputtransformer2 import TransformerManager

    tables = [(index, symtable.symtable(TransformerManager().transform_cell(cell.source), f"cell {index}", "exec"))
              for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    found = []
    for position, (index, table) in enumerate(tables):
        reads = _deferred_globals(table)
        for later_index, later in tables[position + 1:]:
            found += [f"cell {index} defines a function that reads the global {name!r}, and cell {later_index} "
                      f"rebinds it" for name in sorted(reads & _bound_at_top(later))]
    return found


@pytest.mark.parametrize("path", SOLVED, ids=lambda path: path.stem)
def test_no_function_reads_a_global_that_a_later_cell_rebinds(path):
    """Lesson 04 once had loss_fn read the global tv_weight that a later loop rebound (issue 15, item 17)."""
    problems = hidden_state(nbformat.read(path, as_version=4))
    assert not problems, f"{path.name}: pass these values as arguments instead:\n" + "\n".join(problems)


def test_the_hidden_state_check_finds_a_rebound_weight():
    cells = ["tv_weight = 1.0\ndef loss_fn(image):\n    return tv_weight * image",
             "squares = [x * x for x in range(3)]\nrun = lambda: squares",
             "for tv_weight, result in {0.0: 1, 10.0: 2}.items():\n    print(tv_weight)",
             "squares = []\ncache = {k: tv_weight for k in range(2)}"]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    assert hidden_state(notebook) == [
        "cell 0 defines a function that reads the global 'tv_weight', and cell 2 rebinds it",
        "cell 1 defines a function that reads the global 'squares', and cell 3 rebinds it",
    ]


def test_the_printed_number_comparison_sees_a_changed_number_but_not_a_changed_time():
    def cell(text, name="stdout"):
        code = nbformat.v4.new_code_cell("print(...)")
        code.outputs = [nbformat.v4.new_output("stream", name=name, text=text)]
        return code

    same = [cell("cost before 349.95   after one step 339.37\nsome 3 s\n"), cell("5 evaluations in 30 s\n")]
    timed = [cell("cost before 349.95   after one step 339.37\nsome 4 s\n"), cell("5 evaluations in 31.5 s\n")]
    assert compare_printed_numbers(same, timed) == 3
    assert printed_numbers(cell("lowest cost 192.5 after 8 evaluations, 3.6 s, 12.5 images/s\n")) == [[192.5, 8.0]]
    assert printed_numbers(cell("trained 200 steps in 1 min 3 s\nno numbers here\n")) == [[200.0]]
    assert printed_numbers(cell("the network is about 282 times faster\n7.99 times the smallest\n")) == [[7.99]]
    assert printed_numbers(cell("about 1,788 times faster (a factor 1,788 over 12 steps)\n")) == [[12.0]]
    assert printed_numbers(cell("loaded block1_conv1 weights 3\n", name="stderr")) == []
    changed = [cell("cost before 349.95   after one step 345.00\n"), cell("5 evaluations in 30 s\n")]
    with pytest.raises(AssertionError, match="339.37"):
        compare_printed_numbers(same, changed)
    with pytest.raises(AssertionError, match="2 lines with numbers the first time and 1"):
        compare_printed_numbers([cell("largest 280\nsmallest -2e-15\n")], [cell("largest 280\n")])
