"""Execute every solved lesson notebook top to bottom in fast mode (``pytest -m notebooks``).

Each notebook runs with ``NST_TF_FAST=1`` (small images, few steps), the offline weights
and matplotlib's Agg backend, in a temporary working folder, in a kernel started from
this interpreter's environment. A failing cell is reported with its source and error.
"""

import copy
import os
import re
import symtable
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SOLVED = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))

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


# These lessons run twice in a row in the same kernel: every cost printed the second time must equal
# the first time's (no hidden state; issue 15). The second pass is what it costs (~1 min each in CI).
RUN_TWICE = {"03_content_and_style_costs", "04_optimisation_loop"}


@pytest.mark.parametrize("path", SOLVED, ids=lambda path: path.stem)
def test_notebook_runs(path, fast_environment):
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.read(path, as_version=4)
    lesson = notebook.cells
    notebook.cells = [nbformat.v4.new_code_cell(KERNEL_CHECK)] + lesson
    if path.stem in RUN_TWICE:
        notebook.cells += copy.deepcopy(lesson)
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(fast_environment)}}
    )
    failure = None
    try:
        client.execute()
    except CellExecutionError as error:
        failing = next(
            (cell for cell in notebook.cells if cell.cell_type == "code"
             and any(output.get("output_type") == "error" for output in cell.get("outputs", []))),
            None,
        )
        source = failing.source if failing is not None else "(cell not found)"
        failure = f"{path.name}: {error.ename}: {error.evalue}\n--- failing cell ---\n{source}"
    if failure:
        pytest.fail(failure, pytrace=False)

    for cell in notebook.cells:  # with this environment's ipywidgets (8); tests/test_colab.py runs 7
        if cell.cell_type == "code" and re.search(r"preview=True|^widgets\.interactive\(|^show_output\(before_after\(",
                                                  cell.source, re.M):
            kinds = {kind for output in cell.outputs for kind in output.get("data", {})}
            assert "application/vnd.jupyter.widget-view+json" in kinds, f"no widget shown by:\n{cell.source}"

    printed = "".join(output.get("text", "") for output in notebook.cells[0].outputs)
    assert f"KERNEL {sys.prefix} {ROOT / 'nst_tf'}" in printed, (
        f"The notebook ran in another Python ({printed.strip()}); install this environment's kernel: "
        f"{sys.executable} -m ipykernel install --sys-prefix"
    )
    if path.stem in RUN_TWICE:
        compared = compare_printed_costs(notebook.cells[1:1 + len(lesson)], notebook.cells[1 + len(lesson):])
        assert compared >= 10, f"only {compared} printed costs to compare in {path.name}"


def test_a_failed_check_shows_only_its_message_and_still_fails(fast_environment):
    """In a kernel, an ExerciseError is displayed as the message alone, and it still is an error output."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("from nst_tf import checks"),
        nbformat.v4.new_code_cell("def gram_matrix(features):\n    raise NotImplementedError('one matrix product')"),
        nbformat.v4.new_code_cell("checks.check_gram_matrix(gram_matrix)"),
    ]
    client = NotebookClient(notebook, timeout=600, kernel_name="python3",
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


COST_LINE = re.compile(r"cost|loss|E_l|J_|yours", re.I)
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
SECONDS = re.compile(r"[-+]?\d+(?:\.\d+)?\s*(?:s|ms|seconds)\b")


def printed_costs(cell):
    """The numbers on the printed lines of ``cell`` that mention a cost (times taken out)."""
    text = "".join(output.get("text", "") for output in cell.get("outputs", []) if output.get("output_type") == "stream")
    return [[float(number) for number in NUMBER.findall(SECONDS.sub("", line))]
            for line in text.splitlines() if COST_LINE.search(line)]


def compare_printed_costs(first, second):
    """Assert that each code cell of ``second`` printed the costs ``first`` did; returns how many were compared."""
    compared = 0
    for index, (once, twice) in enumerate(zip(first, second)):
        if once.cell_type != "code":
            continue
        before, after = printed_costs(once), printed_costs(twice)
        assert len(before) == len(after), f"cell {index} printed other cost lines the second time:\n{once.source}"
        for line_before, line_after in zip(before, after):
            assert len(line_before) == len(line_after) and np.allclose(line_before, line_after, rtol=1e-3, atol=1e-6), (
                f"cell {index} printed {line_before} the first time and {line_after} the second time "
                f"(hidden state: does a function read a global that a later cell changes?):\n{once.source}")
            compared += len(line_before)
    return compared


def test_the_cost_comparison_sees_a_changed_cost():
    def cell(text):
        code = nbformat.v4.new_code_cell("print(...)")
        code.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
        return code

    same = [cell("cost before 349.95   after one step 339.37\nsome 3 s\n"), cell("5 evaluations in 30 s\n")]
    timed = [cell("cost before 349.95   after one step 339.37\nsome 4 s\n"), cell("5 evaluations in 31 s\n")]
    assert compare_printed_costs(same, timed) == 2
    assert printed_costs(cell("lowest cost 192.5 after 8 evaluations, 3.6 s\n")) == [[192.5, 8.0]]
    changed = [cell("cost before 349.95   after one step 345.00\n"), cell("5 evaluations in 30 s\n")]
    with pytest.raises(AssertionError, match="339.37"):
        compare_printed_costs(same, changed)
