"""The student notebooks are generated from the solved ones, carry no solutions and no outputs."""

import importlib.util
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "make_student_notebooks.py"


def _load_tool():
    spec = importlib.util.spec_from_file_location("make_student_notebooks", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


tool = _load_tool()
SOLVED = tool.solved_paths(ROOT)
ALL_NOTEBOOKS = SOLVED + sorted((ROOT / "notebooks").glob(tool.NOTEBOOK_PATTERN))


def _name(path):
    return f"{path.parent.name}/{path.name}"


def test_there_are_solved_notebooks():
    assert SOLVED, "no solutions/NN_*.ipynb found"


@pytest.mark.parametrize("path", SOLVED, ids=_name)
def test_student_notebook_is_in_sync(path):
    expected = tool.generated(ROOT)[ROOT / "notebooks" / path.name]
    student = ROOT / "notebooks" / path.name
    assert student.is_file(), f"{_name(student)} is missing: run python tools/make_student_notebooks.py"
    assert student.read_text(encoding="utf-8") == expected, (
        f"{_name(student)} is out of sync with {_name(path)}: run python tools/make_student_notebooks.py"
    )


def test_no_orphaned_student_notebooks():
    solved_names = {path.name for path in SOLVED}
    orphans = [path.name for path in (ROOT / "notebooks").glob(tool.NOTEBOOK_PATTERN) if path.name not in solved_names]
    assert not orphans


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=_name)
def test_stored_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert not cell.outputs, f"{_name(path)} cell {index} is stored with outputs"
            assert cell.execution_count is None, f"{_name(path)} cell {index} is stored with an execution count"
    assert notebook.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("path", SOLVED, ids=_name)
def test_exercises_are_balanced_and_hidden_in_the_student_copy(path):
    solved = nbformat.read(path, as_version=4)
    student = nbformat.read(ROOT / "notebooks" / path.name, as_version=4)
    assert len(solved.cells) == len(student.cells)
    for index, (ours, theirs) in enumerate(zip(solved.cells, student.cells)):
        if ours.cell_type != "code":
            continue
        where = f"{_name(path)} cell {index}"
        blocks = tool.solution_blocks(ours.source, where)  # raises on unbalanced markers
        assert "SOLUTION" not in theirs.source, where
        if ours.source.startswith(tool.SOLUTION_CELL):
            assert theirs.source == tool.PLACEHOLDER, where
            continue
        assert theirs.source.count("raise NotImplementedError(") == len(blocks) + ours.source.count(
            "raise NotImplementedError("
        ), where
        lines = ours.source.splitlines()
        for first, last, _, _ in blocks:
            for line in lines[first + 1 : last]:
                if line.strip() and not line.strip().startswith("#"):
                    assert line not in theirs.source.splitlines(), f"{where}: solution line {line.strip()!r}"


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=_name)
def test_colab_badge_points_to_the_files_own_path(path):
    notebook = nbformat.read(path, as_version=4)
    text = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    assert "colab.research.google.com/github" in text, f"{_name(path)} has no Colab badge"
    assert re.search(rf"/blob/[^/\s]+/{path.parent.name}/{re.escape(path.name)}\)", text), (
        f"{_name(path)}: its Colab badge points elsewhere"
    )


# ----- the generator itself, on small examples -------------------------------------------


def test_strip_solutions_replaces_blocks_with_a_raise_at_their_indentation():
    source = (
        "def f(x):\n"
        "    ### BEGIN SOLUTION\n"
        "    # hint: use \"tf.square\"\n"
        "    y = x * x\n"
        "    return y\n"
        "    ### END SOLUTION\n"
        "print(1)"
    )
    assert tool.strip_solutions(source) == (
        "def f(x):\n"
        "    # YOUR CODE HERE\n"
        '    raise NotImplementedError("use \\"tf.square\\"")\n'
        "print(1)"
    )
    assert 'NotImplementedError("Exercise: fill in this function")' in tool.strip_solutions(
        "### BEGIN SOLUTION\nx = 1\n### END SOLUTION"
    )
    assert tool.strip_solutions("# SOLUTION CELL\nanswer = 42\n") == "# YOUR CODE HERE"


@pytest.mark.parametrize(
    "source, message",
    [
        ("### BEGIN SOLUTION\nx = 1\n", "without '### END SOLUTION'"),
        ("x = 1\n### END SOLUTION\n", "without '### BEGIN SOLUTION'"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "inside another"),
        ("def f():\n    ### BEGIN SOLUTION\n    pass\n### END SOLUTION\n", "not indented like"),
        ("# BEGIN SOLUTION hint: old style\nx = 1\n# END SOLUTION\n", "alone on its line"),
        ("### BEGIN SOLUTION hint: on the marker\nx = 1\n### END SOLUTION\n", "alone on its line"),
    ],
)
def test_unbalanced_markers_are_refused(source, message):
    with pytest.raises(tool.MarkerError, match=message):
        tool.solution_blocks(source)


# ----- nbgrader: the same markers, the metadata it needs ------------------------------------


def nbgrader_clear_solutions(source):
    """What nbgrader's ClearSolutions does to a code cell (its algorithm, restated; nbgrader is not a dependency)."""
    lines, out, inside = source.split("\n"), [], False
    for line in lines:
        if line.strip() == "### BEGIN SOLUTION":
            inside = True
            indent = line[: line.find("### BEGIN SOLUTION")]
            out += [indent + "# YOUR CODE HERE", indent + "raise NotImplementedError()"]
        elif line.strip() == "### END SOLUTION":
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


@pytest.mark.parametrize("path", SOLVED, ids=_name)
def test_nbgrader_would_make_the_same_student_copy_up_to_the_hints(path):
    solved = nbformat.read(path, as_version=4)
    student = nbformat.read(ROOT / "notebooks" / path.name, as_version=4)
    for index, (ours, theirs) in enumerate(zip(solved.cells, student.cells)):
        if ours.cell_type != "code" or ours.source.startswith(tool.SOLUTION_CELL):
            continue
        without_hints = re.sub(r'raise NotImplementedError\(".*"\)', "raise NotImplementedError()", theirs.source)
        assert without_hints == nbgrader_clear_solutions(ours.source), f"{_name(path)} cell {index}"


@pytest.mark.parametrize("path", SOLVED, ids=_name)
def test_nbgrader_metadata_fits_the_cells(path):
    notebook = nbformat.read(path, as_version=4)
    assert tool.nbgrader_problems(notebook, _name(path)) == []
    graded = [cell.metadata["nbgrader"] for cell in notebook.cells
              if cell.metadata.get("nbgrader", {}).get("grade")]
    optional = not re.match(r"[0-9][0-9]_", path.name)  # 04b_under_the_hood: read for interest, not graded
    assert graded or optional, f"{_name(path)} has no graded cell"
    assert all(meta["points"] > 0 for meta in graded)


def _cell(kind, source, **nbgrader):
    cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
    if nbgrader:
        cell.metadata["nbgrader"] = {"schema_version": 3, **nbgrader}
    return cell


@pytest.mark.parametrize(
    "cells, message",
    [
        ([_cell("code", "### BEGIN SOLUTION\nx = 1\n### END SOLUTION")], "answer cell without nbgrader metadata"),
        ([_cell("code", "checks.check_gram_matrix(f)")], "check cell without nbgrader metadata"),
        ([_cell("code", "checks.check_gram_matrix(f)", grade=True, solution=False, locked=True, grade_id="a")],
         "points > 0"),
        ([_cell("code", "checks.check_gram_matrix(f)", grade=True, solution=False, locked=False, grade_id="a",
                points=1)], "locked should be True"),
        ([_cell("code", "### BEGIN SOLUTION\nx = 1\n### END SOLUTION", solution=True, grade=False, locked=False,
                grade_id="a"),
          _cell("code", "checks.check_x(x)", grade=True, solution=False, locked=True, grade_id="a", points=1)],
         "used twice"),
        ([_cell("code", "print(1)", solution=True, grade=False, locked=False, grade_id="b")],
         "neither an answer nor a check"),
    ],
)
def test_nbgrader_metadata_problems_are_found(cells, message):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = cells
    problems = tool.nbgrader_problems(notebook)
    assert any(message in line for line in problems), problems


def test_check_mode_lists_out_of_sync_and_stored_outputs(tmp_path, capsys):
    (tmp_path / "solutions").mkdir()
    (tmp_path / "notebooks").mkdir()
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION")]
    notebook.cells[0].metadata["nbgrader"] = {"solution": True, "grade": False, "locked": False, "grade_id": "f",
                                              "schema_version": 3}
    nbformat.write(notebook, tmp_path / "solutions" / "01_demo.ipynb")
    assert tool.main(["--check", "--root", str(tmp_path)]) == 1
    assert "notebooks/01_demo.ipynb: missing" in capsys.readouterr().out

    assert tool.main(["--root", str(tmp_path)]) == 0
    first = (tmp_path / "notebooks" / "01_demo.ipynb").read_text()
    assert tool.main(["--check", "--root", str(tmp_path)]) == 0
    assert tool.main(["--root", str(tmp_path)]) == 0  # nothing changes on a second run
    assert (tmp_path / "notebooks" / "01_demo.ipynb").read_text() == first
    assert first.endswith("}\n") and '\n "cells": [' in first  # indent=1, as nbformat writes

    notebook.cells[0].execution_count = 3
    nbformat.write(notebook, tmp_path / "solutions" / "01_demo.ipynb")
    capsys.readouterr()
    assert tool.main(["--check", "--root", str(tmp_path)]) == 1
    assert "stored with outputs" in capsys.readouterr().out
