"""Execute every solved lesson notebook top to bottom in fast mode (``pytest -m notebooks``).

Each notebook runs with ``NST_TF_FAST=1`` (small images, few steps), the offline weights
and matplotlib's Agg backend, in a temporary working folder, in a kernel started from
this interpreter's environment. A failing cell is reported with its source and error.
"""

import os
import re
import sys
from pathlib import Path

import nbformat
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


@pytest.mark.parametrize("path", SOLVED, ids=lambda path: path.stem)
def test_notebook_runs(path, fast_environment):
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.read(path, as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(KERNEL_CHECK))
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
