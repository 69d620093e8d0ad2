"""tools/render_solutions.py runs: a solved lesson becomes an HTML page with its figures."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


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


def test_render_refuses_an_unknown_lesson(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "render_solutions.py"), "99", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "no solved notebook matches 99" in done.stderr


def test_every_solved_lesson_has_a_rendered_page_that_says_how_it_was_made():
    """docs/solutions holds one page per solved lesson, made in fast mode, with figures, of a size a browser opens."""
    solved = sorted(path.stem for path in (ROOT / "solutions").glob("[0-9][0-9]*_*.ipynb"))
    pages = sorted(path.stem for path in (ROOT / "docs" / "solutions").glob("*.html"))
    assert pages == solved, "render them: python tools/render_solutions.py --fast"
    for stem in pages:
        page = ROOT / "docs" / "solutions" / f"{stem}.html"
        html = page.read_text(encoding="utf-8")
        assert "Rendered by `tools/render_solutions.py`" in html or "Rendered by <code>tools/render_solutions.py</code>" in html
        assert "fast mode" in html and "data:image/png;base64" in html, stem
        assert page.stat().st_size < 3_000_000, f"{page.name} is {page.stat().st_size / 1e6:.1f} MB"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/solutions/" in readme
    listed = (ROOT / "docs" / "solutions" / "README.md").read_text(encoding="utf-8")
    assert all(f"({stem}.html)" in listed for stem in solved)
