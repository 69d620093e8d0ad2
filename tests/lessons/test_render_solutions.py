"""tools/render_solutions.py runs: a solved lesson becomes an HTML page with its figures."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))


def _tool(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


render = _tool("render_solutions")
thumbnails = _tool("thumbnails")


@pytest.mark.slow
@pytest.mark.notebooks
def test_render_one_lesson_in_fast_mode(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "render_solutions.py"), "02", "--fast", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    pages = list(tmp_path.glob("*.html"))
    assert [page.name for page in pages] == ["02_gram_matrices.html"]
    html = pages[0].read_text(encoding="utf-8")
    assert "data:image/png;base64" in html, "the page has no figures"
    assert "fast mode" in html and "Gram" in html
    assert not list(tmp_path.glob("*.png")), "the lesson wrote files next to the page"
    assert not list(tmp_path.glob("*.jpg")), "fast mode must not make the README's thumbnails"
    record = render.read_provenance(html)
    assert record["fast"] is True and record["lesson"] == "02_gram_matrices.ipynb"
    assert record["cells_sha256"] == render.cells_hash(nbformat.read(ROOT / "solutions" / "02_gram_matrices.ipynb",
                                                                     as_version=4))
    assert "VGG16" in record["weights"] and record["seconds"] > 0 and "CPU threads" in record["machine"]
    assert "fast mode" in record["settings"]


def test_render_refuses_an_unknown_lesson(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "render_solutions.py"), "99", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "no solved notebook matches 99" in done.stderr


def test_every_solved_lesson_has_a_page_rendered_at_its_defaults_from_its_current_cells():
    """docs/solutions holds one page per solved lesson, made at the lesson's CPU defaults (not fast mode) from the
    lesson's cells as they are now, with figures, of a size a browser opens."""
    solved = sorted(path.stem for path in (ROOT / "solutions").glob("[0-9][0-9]*_*.ipynb"))
    pages = sorted(path.stem for path in (ROOT / "docs" / "solutions").glob("*.html"))
    assert pages == solved, "render them: python tools/render_solutions.py"
    stale = []
    for stem in pages:
        page = ROOT / "docs" / "solutions" / f"{stem}.html"
        html = page.read_text(encoding="utf-8")
        record = render.read_provenance(html)
        assert record is not None, f"{page.name} says nothing about how it was made: python tools/render_solutions.py"
        assert record["fast"] is False, f"{page.name} was rendered in fast mode: python tools/render_solutions.py {stem[:2]}"
        assert "NST_TF_CLAIMS" not in record["environment"] and record["claims_failed"] == 0, stem
        lesson = nbformat.read(ROOT / "solutions" / f"{stem}.ipynb", as_version=4)
        if record["cells_sha256"] != render.cells_hash(lesson):
            stale.append(stem[:2])
        assert "Rendered by <code>tools/render_solutions.py</code>" in html and "data:image/png;base64" in html, stem
        # At the defaults the figures are larger than in fast mode (lesson 04's live previews make 5.3 MB);
        # a browser opens that at once, and a page past 8 MB would say a lesson prints far too much.
        assert page.stat().st_size < 8_000_000, f"{page.name} is {page.stat().st_size / 1e6:.1f} MB"
    assert not stale, f"lessons changed since their pages were rendered: python tools/render_solutions.py {' '.join(stale)}"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/solutions/" in readme
    listed = (ROOT / "docs" / "solutions" / "README.md").read_text(encoding="utf-8")
    assert all(f"({stem}.html)" in listed for stem in solved)


def test_the_cells_hash_sees_a_changed_source_and_ignores_outputs():
    lesson = nbformat.read(ROOT / "solutions" / "02_gram_matrices.ipynb", as_version=4)
    before = render.cells_hash(lesson)
    code = next(cell for cell in lesson.cells if cell.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="42\n")]
    code.execution_count = 3
    assert render.cells_hash(lesson) == before
    code.source += "\n# changed"
    assert render.cells_hash(lesson) != before


def test_the_provenance_survives_the_page():
    record = {"fast": False, "weights": 'a "quoted" <name> & more', "cells_sha256": "ab" * 32}
    html = "<html><head>" + render.json_meta(record) + "</head></html>"
    assert render.read_provenance(html) == record


def test_thumbnail_panels_are_found_in_a_figure():
    """Three coloured panels with titles and a suptitle: the panels come back in order, titles left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image
    import io

    figure, axes = plt.subplots(1, 3, figsize=(6, 2.4), dpi=100)
    colours = [(1.0, 0.0, 0.0), (0.0, 0.6, 0.0), (0.0, 0.0, 1.0)]
    for axis, colour, title in zip(axes, colours, ("one", "two", "three")):
        axis.imshow(np.ones((10, 10, 3)) * colour)
        axis.set_title(title)
        axis.axis("off")
    figure.suptitle("A figure with three panels")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", facecolor="white")
    plt.close(figure)
    picture = np.asarray(Image.open(buffer).convert("RGB"))
    found = thumbnails.panels(picture)
    assert len(found) == 3
    for panel, colour in zip(found, colours):
        mean = panel.reshape(-1, 3).mean(axis=0) / 255
        assert np.allclose(mean, colour, atol=0.08), (mean, colour)
        assert min(panel.shape[:2]) >= thumbnails.MIN_PANEL
