#!/usr/bin/env python
"""Execute the solved lessons and write them as HTML, outputs included, to ``docs/solutions/``.

    python tools/render_solutions.py                 # every lesson at its CPU defaults
    python tools/render_solutions.py --fast          # NST_TF_FAST=1: small images, few steps
    python tools/render_solutions.py 02 04 --out /tmp/html

Students compare their own figures with these pages. Each notebook runs in a fresh kernel
in a temporary folder (files it writes land there, not in the repository), with matplotlib's
inline backend and ``NST_TF_CLAIMS`` unset: at the defaults every claim a lesson makes about
a figure is asserted, and one that does not hold stops the render with the lesson's error.
The page says how it was made at the top (date, machine, weights, settings, time taken, the
claims) and records it, with a SHA-256 of the lesson's cells, in ``<meta name="nst-tf-render">``;
tests/lessons/test_render_solutions.py fails when a page was made in fast mode or its lesson changed
since. At the defaults into docs/solutions/, the README's lesson thumbnails
(``docs/images/lessonNN.jpg``) are cut from the same run's figures (tools/thumbnails.py).
``docs/solutions/README.md`` lists the pages; the README links that folder.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import html as htmllib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from thumbnails import THUMBNAILS_OUT, write_thumbnail

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nst_tf._runtime.machine import cpu_model, cpu_threads  # noqa: E402 - this checkout's nst_tf
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
    saved = {key: os.environ.get(key) for key in [*environment, "PYTHONPATH", "NST_TF_CLAIMS"]}
    os.environ.update(environment)
    os.environ.pop("NST_TF_CLAIMS", None)  # claims asserted at the defaults, reported in fast mode
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


def cells_hash(notebook) -> str:
    """SHA-256 of a lesson's cells as written (types and sources; no outputs, ids or metadata): a page records
    the hash of the lesson it was rendered from, and tests/lessons/test_render_solutions.py compares it with today's."""
    cells = [[cell["cell_type"], cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])]
             for cell in notebook["cells"]]
    return hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode("utf-8")).hexdigest()


def read_provenance(html: str) -> dict | None:
    """The ``<meta name="nst-tf-render">`` record a page was written with (None when it has none)."""
    found = re.search(r'<meta name="nst-tf-render" content="([^"]*)"', html)
    return json.loads(htmllib.unescape(found.group(1))) if found else None


def machine() -> str:
    """The CPU model, its cores and the operating system (a GPU when nvidia-smi lists one)."""
    gpus = ""
    if shutil.which("nvidia-smi"):
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30).stdout
        gpus = "; ".join(line.split(" (UUID")[0] for line in listed.splitlines() if line.startswith("GPU"))
    return f"{cpu_model()}, {cpu_threads()} CPU threads, {platform.system()} {platform.release()}" + (
        f", {gpus}" if gpus else ", no GPU")


def _stream_text(notebook, name: str) -> str:
    return "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                   for output in cell.get("outputs", []) if output.get("output_type") == "stream"
                   and output.get("name") == name)


def provenance(notebook, *, path: Path, fast: bool, seconds: float, source_hash: str) -> dict:
    """How the page was made, from the run itself: the weights and settings lines the lesson printed."""
    stdout, stderr = _stream_text(notebook, "stdout"), _stream_text(notebook, "stderr")
    weights = re.search(r"nst-tf: using ([^\n]*)", stderr)
    settings = re.search(r"((?:lesson defaults|fast mode \(NST_TF_FAST=1\)) on [^\n]*)", stdout)
    return {
        "lesson": path.name, "fast": fast, "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(), "weights": weights.group(1).strip() if weights else os.environ.get("NST_TF_WEIGHTS", "auto"),
        "settings": settings.group(1).strip() if settings else ("fast mode" if fast else "the lesson's CPU defaults"),
        "environment": {key: os.environ[key] for key in sorted(os.environ) if key.startswith("NST_TF_")},
        "claims_held": stdout.count("\u2713"), "claims_failed": stdout.count("\u2717"),
        "seconds": round(seconds), "cells_sha256": source_hash,
        "load_average": [round(value, 1) for value in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }


def json_meta(record: dict) -> str:
    """``record`` as the page's ``<meta name="nst-tf-render">`` element (read back by :func:`read_provenance`)."""
    return f'<meta name="nst-tf-render" content="{htmllib.escape(json.dumps(record), quote=True)}">'


def note_for(record: dict) -> str:
    mode = ("**fast mode** (`NST_TF_FAST=1`: small images, few steps; the claims only reported)" if record["fast"]
            else "the lesson's CPU defaults, every claim asserted")
    claims = f"{record['claims_held']} claims held" + (f", {record['claims_failed']} did not" if record["claims_failed"] else "")
    return (f"*Rendered by `tools/render_solutions.py` on {record['date']}: the solved lesson executed top to bottom "
            f"with {mode}, in {record['seconds']} s"
            + (f" (load average {record['load_average'][0]:g} at the end)" if record.get("load_average") else "")
            + ".*  \n"
            f"*Settings: {record['settings']}. Weights: {record['weights']}. Machine: {record['machine']}. "
            f"{claims}. Lesson cells' SHA-256: `{record['cells_sha256'][:16]}…`*  \n"
            "*Your pictures will differ in detail (other weights, sizes or random starts) but should look alike.*")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", help="lesson numbers or name prefixes (default: all)")
    parser.add_argument("--fast", action="store_true", help="run with NST_TF_FAST=1 (small images, few steps)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"folder for the pages (default {DEFAULT_OUT})")
    parser.add_argument("--thumbnails", type=Path, default=None,
                        help="folder for the README's lesson thumbnails lessonNN.jpg (default: docs/images when the "
                             "pages go to docs/solutions at the defaults; never in fast mode)")
    args = parser.parse_args(argv)
    thumbnails = args.thumbnails
    if thumbnails is None and not args.fast and args.out.resolve() == DEFAULT_OUT.resolve():
        thumbnails = THUMBNAILS_OUT
    args.out.mkdir(parents=True, exist_ok=True)
    for path in lessons(args.lessons):
        import nbformat

        source_hash = cells_hash(nbformat.read(path, as_version=4))
        start = time.perf_counter()
        notebook = execute(path, fast=args.fast)
        seconds = time.perf_counter() - start
        record = provenance(notebook, path=path, fast=args.fast, seconds=seconds, source_hash=source_hash)
        page = to_html(notebook, note=note_for(record)).replace("</head>", json_meta(record) + "\n</head>", 1)
        out = args.out / (path.stem + ".html")
        out.write_text(page, encoding="utf-8")
        print(f"{path.name}: {seconds:.0f} s, {record['claims_held']} claims held -> {out}")
        if thumbnails is not None and not args.fast:
            written = write_thumbnail(notebook, path, thumbnails)
            if written:
                print(f"  thumbnail -> {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
