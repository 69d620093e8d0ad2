#!/usr/bin/env python
"""Generate the student notebooks ``notebooks/NN_*.ipynb`` from the solved ``solutions/NN_*.ipynb``.

    python tools/make_student_notebooks.py           # (re)write notebooks/ from solutions/
    python tools/make_student_notebooks.py --check   # exit 1 and list what is out of date
    python tools/make_student_notebooks.py solutions/01_what_a_cnn_sees.ipynb   # only these

In code cells of a solved notebook:

* the lines from ``### BEGIN SOLUTION`` to ``### END SOLUTION`` (same indentation),
  markers included, become ``# YOUR CODE HERE`` and ``raise NotImplementedError("<hint>")``
  at that indentation, where ``<hint>`` is the text of a ``# hint: <text>`` line right
  after the begin marker (a hint in words; without one, a default sentence);
* a cell whose source starts with ``# SOLUTION CELL`` keeps only ``# YOUR CODE HERE``.

The markers are nbgrader's own (``nbgrader generate_assignment`` finds them by
``line.strip() == "### BEGIN SOLUTION"``), so the solved notebooks, which also carry
nbgrader cell metadata, work with nbgrader as they are; nbgrader's stub is the same
except that its ``raise NotImplementedError()`` has no hint. A marker line with anything
else on it (such as the older ``# BEGIN SOLUTION hint: ...``) is refused.

Everything else is copied as it is, except that the Colab badge is pointed at the
student copy and outputs are dropped. Files are written as nbformat writes them (JSON,
indent 1, sorted keys, trailing newline), so the result is the same on every machine.
``--check`` also reports notebooks stored with outputs or execution counts.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS, STUDENTS = "solutions", "notebooks"
NOTEBOOK_PATTERN = "[0-9][0-9]*_*.ipynb"

BEGIN = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION\s*$")
END = re.compile(r"^(?P<indent>[ \t]*)### END SOLUTION\s*$")
HINT = re.compile(r"^[ \t]*# hint:\s*(?P<hint>.*?)\s*$")
ANY_MARKER = re.compile(r"\b(BEGIN|END) SOLUTION\b")
SOLUTION_CELL = "# SOLUTION CELL"
PLACEHOLDER = "# YOUR CODE HERE"
DEFAULT_HINT = "Exercise: fill in this function"


class MarkerError(ValueError):
    """Unbalanced or badly indented solution markers (the message names the cell)."""


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def solution_blocks(source: str, where: str = "cell") -> list[tuple[int, int, str, str]]:
    """``(first line, last line, indent, hint)`` of each marker pair, markers included.

    Raises :class:`MarkerError` for a missing ``### END SOLUTION``, a stray one, nested
    markers or an end marker at another indentation than its begin marker.
    """
    blocks, opened = [], None
    lines = source.splitlines()
    for number, line in enumerate(lines):
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            if opened is not None:
                raise MarkerError(f"{where}, line {number + 1}: '### BEGIN SOLUTION' inside another solution block.")
            hint = HINT.match(lines[number + 1]) if number + 1 < len(lines) else None
            opened = (number, begin["indent"], hint["hint"] if hint and hint["hint"] else DEFAULT_HINT)
        elif end:
            if opened is None:
                raise MarkerError(f"{where}, line {number + 1}: '### END SOLUTION' without '### BEGIN SOLUTION'.")
            if end["indent"] != opened[1]:
                raise MarkerError(
                    f"{where}, line {number + 1}: '### END SOLUTION' is not indented like its '### BEGIN SOLUTION'."
                )
            blocks.append((opened[0], number, opened[1], opened[2]))
            opened = None
        elif ANY_MARKER.search(line) and line.lstrip().startswith("#"):
            raise MarkerError(
                f"{where}, line {number + 1}: write the marker alone on its line as '### BEGIN SOLUTION' or "
                "'### END SOLUTION' (nbgrader's markers), with a hint on the next line as '# hint: ...'."
            )
    if opened is not None:
        raise MarkerError(f"{where}, line {opened[0] + 1}: '### BEGIN SOLUTION' without '### END SOLUTION'.")
    return blocks


def strip_solutions(source: str, where: str = "cell") -> str:
    """A code cell's source with every solution block replaced by the placeholder and a raise."""
    if source.startswith(SOLUTION_CELL):
        return PLACEHOLDER
    lines = source.splitlines()
    for first, last, indent, hint in reversed(solution_blocks(source, where)):
        lines[first : last + 1] = [
            f"{indent}{PLACEHOLDER}",
            f"{indent}raise NotImplementedError({_quoted(hint)})",
        ]
    stripped = "\n".join(lines)
    return stripped + "\n" if source.endswith("\n") else stripped


CHECK_CALL = "checks.check_"
SCHEMA_VERSION = 3


def nbgrader_problems(notebook: nbformat.NotebookNode, name: str = "notebook") -> list[str]:
    """One line per cell whose nbgrader metadata does not fit its content (empty list: all fine).

    * a code cell with solution markers (or ``# SOLUTION CELL``) is an autograded answer:
      ``solution: true, grade: false, locked: false``;
    * a code cell that calls ``checks.check_*`` is an autograder test: ``grade: true,
      solution: false, locked: true`` and ``points`` > 0;
    * a markdown cell marked ``solution: true`` is a written answer, graded by hand
      (``grade: true`` with ``points``), whose text is nbgrader's ``YOUR ANSWER HERE``;
    * every graded or solution cell has a ``grade_id`` unique in the notebook and
      ``schema_version: 3``; no other cell claims to be one.
    """
    found, ids = [], set()
    for index, cell in enumerate(notebook.cells):
        where = f"{name}, cell {index}"
        meta = cell.metadata.get("nbgrader")
        is_answer = cell.cell_type == "code" and (
            cell.source.startswith(SOLUTION_CELL) or bool(solution_blocks(cell.source, where)))
        is_test = cell.cell_type == "code" and CHECK_CALL in cell.source and not is_answer
        if meta is None:
            if is_answer or is_test:
                found.append(f"{where}: {'answer' if is_answer else 'check'} cell without nbgrader metadata")
            continue
        if meta.get("schema_version") != SCHEMA_VERSION or not isinstance(meta.get("grade_id"), str):
            found.append(f"{where}: nbgrader metadata needs a grade_id and schema_version {SCHEMA_VERSION}")
        elif meta["grade_id"] in ids:
            found.append(f"{where}: grade_id {meta['grade_id']!r} used twice")
        ids.add(meta.get("grade_id"))
        if is_answer:
            wanted = {"solution": True, "grade": False, "locked": False}
        elif is_test:
            wanted = {"solution": False, "grade": True, "locked": True}
            points = meta.get("points")
            if not isinstance(points, (int, float)) or points <= 0:
                found.append(f"{where}: a check cell needs points > 0")
        elif cell.cell_type == "markdown" and meta.get("solution"):
            wanted = {"solution": True, "grade": True, "locked": False}
            if not isinstance(meta.get("points"), (int, float)) or meta["points"] <= 0:
                found.append(f"{where}: a written answer needs points > 0")
        else:
            found.append(f"{where}: nbgrader metadata on a cell that is neither an answer nor a check")
            continue
        for key, value in wanted.items():
            if meta.get(key) is not value:
                found.append(f"{where}: nbgrader {key} should be {value}")
    return found


def student_notebook(solved: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """The student version of a solved notebook (a new object; ``solved`` is unchanged)."""
    student = copy.deepcopy(solved)
    for index, cell in enumerate(student.cells):
        if cell.cell_type == "code":
            cell.source = strip_solutions(cell.source, f"{name}, cell {index}")
            cell.outputs = []
            cell.execution_count = None
        elif cell.cell_type == "markdown":
            cell.source = re.sub(rf"(/blob/[^/\s)]+/){SOLUTIONS}/", rf"\g<1>{STUDENTS}/", cell.source)
    return student


def render(notebook: nbformat.NotebookNode) -> str:
    """The file's text exactly as ``nbformat.write`` produces it (with a trailing newline)."""
    text = nbformat.writes(notebook, version=4)
    return text if text.endswith("\n") else text + "\n"


def solved_paths(root: Path = ROOT, only: list[str] | None = None) -> list[Path]:
    """The solved notebooks, all of them or those named in ``only`` (paths or file names)."""
    paths = sorted((root / SOLUTIONS).glob(NOTEBOOK_PATTERN))
    if not only:
        return paths
    wanted = {Path(name).name for name in only}
    unknown = wanted - {path.name for path in paths}
    if unknown:
        raise FileNotFoundError(f"no such solved notebook: {', '.join(sorted(unknown))}")
    return [path for path in paths if path.name in wanted]


def generated(root: Path = ROOT, only: list[str] | None = None) -> dict[Path, str]:
    """``{path of the student notebook: its text}`` for every (or every named) solved notebook."""
    result = {}
    for path in solved_paths(root, only):
        solved = nbformat.read(path, as_version=4)
        result[root / STUDENTS / path.name] = render(student_notebook(solved, f"{SOLUTIONS}/{path.name}"))
    return result


def stored_with_outputs(path: Path) -> bool:
    """True if any code cell of the notebook file has outputs or an execution count."""
    notebook = nbformat.read(path, as_version=4)
    return any(cell.get("outputs") or cell.get("execution_count") is not None
               for cell in notebook.cells if cell.cell_type == "code")


def problems(root: Path = ROOT, only: list[str] | None = None) -> list[str]:
    """One line per notebook that is out of date, missing, orphaned or stored with outputs."""
    found = []
    expected = generated(root, only)
    for path, text in expected.items():
        relative = path.relative_to(root)
        if not path.is_file():
            found.append(f"{relative}: missing (run tools/make_student_notebooks.py)")
        elif path.read_text(encoding="utf-8") != text:
            found.append(f"{relative}: out of sync with {SOLUTIONS}/{path.name} (run tools/make_student_notebooks.py)")
    for path in sorted((root / STUDENTS).glob(NOTEBOOK_PATTERN)):
        if not only and path not in expected:
            found.append(f"{path.relative_to(root)}: no {SOLUTIONS}/{path.name} to generate it from")
    for path in solved_paths(root, only):
        if stored_with_outputs(path):
            found.append(f"{path.relative_to(root)}: stored with outputs or execution counts (clear them)")
        found.extend(nbgrader_problems(nbformat.read(path, as_version=4), f"{SOLUTIONS}/{path.name}"))
    return found


def write(root: Path = ROOT, only: list[str] | None = None) -> list[Path]:
    """Write every (or every named) student notebook whose text changed; returns the paths written."""
    written = []
    for path, text in generated(root, only).items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report; exit 1 if anything is out of date")
    parser.add_argument("notebooks", nargs="*", help="solved notebooks to use (default: all in solutions/)")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.check:
            found = problems(args.root, args.notebooks)
            for line in found:
                print(line)
            if not found:
                print(f"{len(solved_paths(args.root, args.notebooks))} student notebooks are in sync.")
            return 1 if found else 0
        for path in write(args.root, args.notebooks):
            print(f"wrote {path.relative_to(args.root)}")
        stale = [line for line in problems(args.root, args.notebooks)
                 if "stored with outputs" in line or "no solutions/" in line or "nbgrader" in line]
        for line in stale:
            print(line)
        return 1 if stale else 0
    except (MarkerError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
