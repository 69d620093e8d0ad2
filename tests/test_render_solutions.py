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
