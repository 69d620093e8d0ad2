"""Colab, simulated (tests/colab_sim.py): the install cell, then every solved lesson, from a wheel.

The install cell of the lessons is tried three ways: from a missing wheel (one line saying what
to do), in a runtime whose preinstalled packages already conflict (nst-tf added without touching
them), and normally (nst-tf added, nothing else changed). Then every solved lesson runs in fast
mode with the offline weights in a folder outside the repository, twice in a row in the same
kernel: the second run must print the same numbers (costs among them) as the first (no cell's result depends on the
order the cells ran in), and a last cell proves which nst_tf and which ipywidgets it used.
The student copies run in tests/lessons/test_colab_students.py, in a runtime of their own.
"""

from __future__ import annotations

import copy
import os
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from colab_sim import (FINAL_CHECK, SOLVED, build_wheel, check_colab_calls, check_final_cell, colab_with_widgets_7,
                       printed, run_install_cell)
from notebook_outputs import check_widgets_shown, compare_printed_numbers, printed_numbers

slow = pytest.mark.slow


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    base = tmp_path_factory.mktemp("colab")
    wheel = build_wheel(base)
    colab = colab_with_widgets_7(base)
    colab.wheel = wheel
    colab.failed = run_install_cell(colab, str(base / "missing" / wheel.name))
    colab.failed_calls = colab.calls()

    # A runtime whose preinstalled packages already disagree (tqdm's metadata here asks for an
    # older NumPy than the one installed): pip cannot resolve without changing NumPy, so the
    # cell adds nst-tf without touching anything. Then that stand-in metadata goes again.
    tqdm = colab.site / f"tqdm-{colab.before['tqdm']}.dist-info"
    tqdm.mkdir()
    (tqdm / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: tqdm\nVersion: {colab.before['tqdm']}\nRequires-Dist: numpy<1\n")
    colab.conflicted = run_install_cell(colab, str(wheel))
    colab.conflicted_after = colab.versions()
    removed = colab.pip("uninstall", "-y", "-q", "nst-tf")
    assert removed.returncode == 0, removed.stderr
    shutil.rmtree(tqdm)
    assert colab.versions() == colab.before

    colab.installed = run_install_cell(colab, str(wheel))
    colab.installed_calls = colab.calls()
    colab.after = colab.versions()
    return colab


@slow
def test_a_failing_install_prints_one_line_that_says_what_to_do(colab):
    assert colab.failed.count("\n") == 1, colab.failed
    assert "Traceback" not in colab.failed and "CalledProcessError" not in colab.failed
    assert f"Could not install nst-tf from {colab.base / 'missing' / colab.wheel.name}" in colab.failed
    assert "NST_TF_SOURCE" in colab.failed


@slow
def test_the_install_cell_copes_with_preinstalled_packages_that_conflict(colab):
    assert colab.conflicted.count("\n") == 1, colab.conflicted
    assert colab.conflicted.startswith(f"installed nst-tf from {colab.wheel} without resolving dependencies"), (
        colab.conflicted)
    assert {name: version for name, version in colab.conflicted_after.items() if name != "nst-tf"} == colab.before


@slow
def test_the_install_cell_adds_nst_tf_and_changes_nothing_else(colab):
    assert colab.installed.count("\n") == 1, colab.installed
    assert colab.installed.startswith(f"installed nst-tf from {colab.wheel}; GPU: "), colab.installed
    assert set(colab.after) - set(colab.before) == {"nst-tf"}
    changed = {name: (version, colab.after[name]) for name, version in colab.before.items() if colab.after[name] != version}
    assert not changed, f"the install cell changed preinstalled packages: {changed}"
    assert colab.installed_calls == [], "ipywidgets 7 needs no custom widget manager"
    installed = Path(colab.ask("import nst_tf; print(nst_tf.__file__)"))
    assert installed.parent.parent == colab.site and not installed.is_symlink()
    assert (colab.site / "nst_tf" / "_sample_data").is_dir(), "the wheel carries the sample images"


@slow
@pytest.mark.notebooks
@pytest.mark.parametrize("path", SOLVED, ids=lambda path: path.stem)
def test_solved_lesson_runs_in_colab_twice_with_the_same_costs(colab, path):
    """In order from a fresh kernel, then again in the same kernel: every printed number the same (issue 15)."""
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.read(path, as_version=4)
    lesson = list(notebook.cells)
    notebook.cells += copy.deepcopy(lesson)
    notebook.cells.append(nbformat.v4.new_code_cell(FINAL_CHECK))
    try:
        colab.execute(notebook)
    except CellExecutionError as error:
        pytest.fail(f"{path.name} in simulated Colab: {error}", pytrace=False)
    first, second = notebook.cells[:len(lesson)], notebook.cells[len(lesson):2 * len(lesson)]
    numbers = sum(len(line) for cell in first for line in printed_numbers(cell))
    assert numbers >= 10, f"{path.name} printed only {numbers} numbers: too few to tell a second run from the first"
    assert compare_printed_numbers(first, second) == numbers
    assert printed(notebook.cells[[c.cell_type for c in notebook.cells].index("code")]).startswith(
        "nst-tf is installed; GPU: ")
    check_final_cell(colab, notebook)
    check_widgets_shown(notebook)
    check_colab_calls(colab, path)


# ----- the download helper, here (no kernel needed) ----------------------------------------


@pytest.mark.parametrize("on_colab", [False, True])
def test_download_image_saves_and_on_colab_downloads(on_colab, tmp_path, monkeypatch, capsys):
    import types

    import numpy as np
    from PIL import Image

    from nst_tf.show import display

    downloaded = []
    if on_colab:
        files = types.SimpleNamespace(download=downloaded.append)
        monkeypatch.setitem(sys.modules, "google.colab", types.SimpleNamespace(files=files))
        monkeypatch.setitem(sys.modules, "google.colab.files", files)
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    image = np.linspace(0.0, 1.0, 4 * 5 * 3, dtype=np.float32).reshape(4, 5, 3)
    out = display.download_image(image, tmp_path / "result.png")
    assert out == tmp_path / "result.png"
    saved = np.asarray(Image.open(out))
    assert np.array_equal(saved, np.round(image * 255).astype(np.uint8))
    assert downloaded == ([os.fspath(out)] if on_colab else [])
    assert capsys.readouterr().out.count("\n") == 1
