#!/usr/bin/env python
"""Execute the solved lessons and write them as HTML, outputs included, to ``docs/solutions/``.

    python tools/render_solutions.py                 # every lesson at its CPU defaults
    python tools/render_solutions.py --fast          # NST_TF_FAST=1: small images, few steps
    python tools/render_solutions.py 02 04 --out /tmp/html

Students compare their own figures with these pages. Each notebook runs in a fresh kernel
in a temporary folder (files it writes land there, not in the repository), with matplotlib's
inline backend. The page says how it was made (date, fast mode or not, weights) at the top.
``docs/solutions/README.md`` lists the pages; the README links that folder.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
DEFAULT_OUT = ROOT / "docs" / "solutions"


def lessons(selection: list[str]) -> list[Path]:
    """The solved notebooks whose names start with one of ``selection`` (all when empty)."""
    found = sorted(SOLUTIONS.glob("[0-9][0-9]*_*.ipynb"))
    if selection:
        found = [path for path in found if any(path.name.startswith(prefix) for prefix in selection)]
    if not found:
        raise SystemExit(f"render_solutions: no solved notebook matches {' '.join(selection)}")
    return found


def execute(path: Path, *, fast: bool, timeout: int = 1800):
    """The notebook at ``path`` executed top to bottom in a fresh kernel; returns it."""
    import nbformat
    from notebook_client import PatientNotebookClient

    notebook = nbformat.read(path, as_version=4)
    environment = {"NST_TF_FAST": "1" if fast else "0", "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    saved = {key: os.environ.get(key) for key in [*environment, "PYTHONPATH"]}
    os.environ.update(environment)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), saved["PYTHONPATH"]]))
    try:
        with tempfile.TemporaryDirectory(prefix="nst-tf-render-") as folder:
            PatientNotebookClient(notebook, timeout=timeout, kernel_name="python3",
                           resources={"metadata": {"path": folder}}).execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return notebook


def to_html(notebook, *, note: str) -> str:
    """``notebook`` (executed) as one self-contained HTML page, with ``note`` above the first cell."""
    import nbformat
    from nbconvert import HTMLExporter

    page = nbformat.from_dict(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(note)] + notebook.cells,
                                                        metadata=notebook.metadata))
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(page)
    return body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", help="lesson numbers or name prefixes (default: all)")
    parser.add_argument("--fast", action="store_true", help="run with NST_TF_FAST=1 (small images, few steps)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"folder for the pages (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    weights = os.environ.get("NST_TF_WEIGHTS", "auto")
    for path in lessons(args.lessons):
        start = time.perf_counter()
        notebook = execute(path, fast=args.fast)
        seconds = time.perf_counter() - start
        mode = "fast mode (NST_TF_FAST=1: small images, few steps)" if args.fast else "the lesson's CPU defaults"
        note = (f"*Rendered by `tools/render_solutions.py` on {_dt.date.today().isoformat()}: the solved lesson "
                f"executed top to bottom with {mode}, weights `{weights}`, in {seconds:.0f} s on a CPU. Your "
                "pictures will differ in detail (other weights, sizes or random starts) but should look alike.*")
        out = args.out / (path.stem + ".html")
        out.write_text(to_html(notebook, note=note), encoding="utf-8")
        print(f"{path.name}: {seconds:.0f} s -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
