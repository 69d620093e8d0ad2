"""One home for the course: every badge, install cell and link agrees with pyproject.toml.

``tools/set_home.py`` writes them; these tests read the files themselves (with their own
patterns, not the tool's) so that a hand edit or a forgotten file fails here.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


set_home = _load("set_home")
HOME = set_home.read_home(ROOT)
LESSONS = sorted(ROOT.glob("solutions/[0-9][0-9]*_*.ipynb")) + sorted(ROOT.glob("notebooks/[0-9][0-9]*_*.ipynb"))
SKIPPED_FOLDERS = {".git", "__pycache__", "build", "dist", "node_modules", ".ipynb_checkpoints", ".pytest_cache"}
TEXT_SUFFIXES = {".md", ".ipynb", ".toml", ".yml", ".yaml", ".txt", ".cfg", ".rst", ".html"}

# Any mention of a GitHub repository, and the ref where the address carries one.
GITHUB = re.compile(r"github\.com/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?(?=[/@\"'\s)?#]|$)")
WITH_REF = [
    re.compile(r"colab\.research\.google\.com/github/([^/\s]+)/([^/\s]+)/blob/([^/\s]+)/"),
    re.compile(r"mybinder\.org/v2/gh/([^/\s]+)/([^/\s]+)/([^?\s)\"]+)"),
    re.compile(r"git\+https://github\.com/([^/\s]+)/([^@\s\"]+)@([^\s\"\\]+)"),
    re.compile(r"github\.com/([^/\s]+)/([^/\s]+)/tree/([^\s\"]+?)\""),
]


def published_files(root: Path) -> list[Path]:
    """Every text file a reader or a service sees (documents, lessons, metadata), code excluded."""
    found = []
    for folder, folders, files in os.walk(root):
        # pruned, not walked and filtered: a virtual environment alone holds tens of thousands of files
        folders[:] = sorted(name for name in folders if name not in SKIPPED_FOLDERS
                            and not name.startswith(".venv") and not name.endswith(".egg-info"))
        found += [Path(folder, name) for name in sorted(files) if Path(name).suffix in TEXT_SUFFIXES]
    return [path for path in found if path.is_file()]


# The rendered solutions (docs/solutions/*.html, tools/render_solutions.py) embed nbconvert's lab
# template, whose CSS credits these two projects; every other address in them must be the course's.
TEMPLATE_CREDITS = {("danlevan", "google-material-color"), ("material-components", "material-components-web")}


def disagreements(root: Path, home) -> list[str]:
    """``file: address`` for every address in ``root`` that names another repository or ref."""
    found = []
    for path in published_files(root):
        text = path.read_text(encoding="utf-8", errors="replace")
        name = path.relative_to(root)
        rendered = name.parts[:2] == ("docs", "solutions") and name.suffix == ".html"
        for match in GITHUB.finditer(text):
            if rendered and (match[1], match[2]) in TEMPLATE_CREDITS:
                continue
            if (match[1], match[2]) != (home.owner, home.repo):
                found.append(f"{name}: github.com/{match[1]}/{match[2]}")
        for pattern in WITH_REF:
            for match in pattern.finditer(text):
                if match.groups() != (home.owner, home.repo, home.ref):
                    found.append(f"{name}: {match[0]}")
    return found


def _first_code_cell(path: Path) -> str:
    notebook = nbformat.read(path, as_version=4)
    return next(cell.source for cell in notebook.cells if cell.cell_type == "code")


def test_every_address_in_the_repository_agrees_with_pyproject():
    assert disagreements(ROOT, HOME) == []
    assert set_home.problems(ROOT) == [], "run: python tools/set_home.py --check"


def test_the_readme_has_colab_and_binder_badges_and_the_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert HOME.colab("notebooks/01_what_a_cnn_sees.ipynb") in readme
    assert f"({HOME.binder}?urlpath=lab/tree/notebooks)" in readme, "the Binder badge must open the lessons"
    assert re.search(r"^python tools/set_home\.py \S+/\S+ --ref \S+$", readme, flags=re.M)
    environment = (ROOT / "environment.yml").read_text(encoding="utf-8")
    assert ".[lab" in environment, "Binder builds from environment.yml: it must install JupyterLab"


@pytest.mark.parametrize("path", LESSONS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_each_lesson_opens_itself_in_colab_and_installs_from_the_home(path):
    notebook = nbformat.read(path, as_version=4)
    markdown = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    assert f"({HOME.colab(f'{path.parent.name}/{path.name}')})" in markdown
    assert _first_code_cell(path) == HOME.install_cell(), "the install cell must be the template of tools/set_home.py"


@pytest.mark.parametrize("path", LESSONS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_the_install_cell_is_folded_away_in_colab_and_jupyterlab(path):
    notebook = nbformat.read(path, as_version=4)
    cell = next(cell for cell in notebook.cells if cell.cell_type == "code")
    assert cell.source.startswith("#@title ") and '{ display-mode: "form" }' in cell.source.splitlines()[0]
    assert cell.metadata.get("cellView") == "form", "Colab folds a form cell only with cellView: form"
    assert cell.metadata.get("jupyter", {}).get("source_hidden") is True, "JupyterLab must hide its input"


def test_the_install_cell_is_the_same_in_every_lesson():
    assert len({_first_code_cell(path) for path in LESSONS}) == 1
    assert f'home="{HOME.requirement}"' in HOME.install_cell()
    assert "{" + "requirement" + "}" not in HOME.install_cell()


def _copy_course(target: Path) -> Path:
    for name in ("pyproject.toml", "README.md", "environment.yml"):
        shutil.copy(ROOT / name, target / name)
    for folder in ("solutions", "notebooks", "tools"):
        shutil.copytree(ROOT / folder, target / folder)
    return target


def test_set_home_moves_every_address_and_check_notices_a_stray_one(tmp_path, capsys):
    root = _copy_course(tmp_path)
    assert set_home.main(["my-school/style-course", "--ref", "v2.0", "--root", str(root)]) == 0
    home = set_home.read_home(root)
    assert (home.owner, home.repo, home.ref) == ("my-school", "style-course", "v2.0")
    assert disagreements(root, home) == []
    assert set_home.main(["--check", "--root", str(root)]) == 0
    for path in published_files(root):
        assert f"{HOME.owner}/{HOME.repo}" not in path.read_text(encoding="utf-8"), path
    student = root / "notebooks" / "02_gram_matrices.ipynb"
    assert "/blob/v2.0/notebooks/02_gram_matrices.ipynb)" in student.read_text(encoding="utf-8")
    assert 'home="nst-tf @ git+https://github.com/my-school/style-course@v2.0"' in _first_code_cell(student)
    assert "mybinder.org/v2/gh/my-school/style-course/v2.0?urlpath=lab/tree/notebooks" in (
        root / "README.md").read_text(encoding="utf-8")

    # Without --ref the ref stays; a hand-edited address is found by both checks.
    assert set_home.main(["other/place", "--root", str(root)]) == 0
    assert set_home.read_home(root).ref == "v2.0"
    readme = root / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8") + "\n[old](https://mybinder.org/v2/gh/x/y/main)\n",
                      encoding="utf-8")
    capsys.readouterr()
    assert set_home.main(["--check", "--root", str(root)]) == 1
    assert "README.md" in capsys.readouterr().out
    assert disagreements(root, set_home.read_home(root)) == ["README.md: mybinder.org/v2/gh/x/y/main"]


@pytest.mark.parametrize("argv", [["not-a-repository"], ["a/b/c"], ["owner/repo", "--ref", "two words"]])
def test_set_home_refuses_bad_input_with_one_line(argv, tmp_path, capsys):
    root = _copy_course(tmp_path)
    before = (root / "pyproject.toml").read_text(encoding="utf-8")
    assert set_home.main([*argv, "--root", str(root)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and error.count("\n") == 1
    assert (root / "pyproject.toml").read_text(encoding="utf-8") == before


# ----- the install cell itself, run here (nst_tf importable, so it installs nothing) -------


def _run_cell(monkeypatch, capsys, *, colab_widgets: str | None, gpu: str | None, tmp_path):
    calls = []
    if gpu is not None:
        fake = tmp_path / "bin"
        fake.mkdir()
        (fake / "nvidia-smi").write_text(f"#!/bin/sh\necho '{gpu}'\n")
        (fake / "nvidia-smi").chmod(0o755)
        monkeypatch.setenv("PATH", f"{fake}:/usr/bin:/bin")
    else:
        monkeypatch.setenv("PATH", "/usr/bin:/bin")
    if colab_widgets is not None:
        import importlib.metadata
        import types

        google = types.ModuleType("google.colab")
        google.output = types.SimpleNamespace(enable_custom_widget_manager=lambda: calls.append("widgets"))
        monkeypatch.setitem(sys.modules, "google.colab", google)
        monkeypatch.setitem(sys.modules, "google.colab.output", google.output)
        real_version = importlib.metadata.version
        monkeypatch.setattr(importlib.metadata, "version",
                            lambda name: colab_widgets if name == "ipywidgets" else real_version(name))
    exec(compile(HOME.install_cell(), "install cell", "exec"), {})
    return capsys.readouterr().out, calls


def test_install_cell_prints_one_line_with_the_gpu(monkeypatch, capsys, tmp_path):
    out, calls = _run_cell(monkeypatch, capsys, colab_widgets=None, gpu="Tesla T4", tmp_path=tmp_path)
    assert out == "nst-tf is installed; GPU: Tesla T4\n" and calls == []


def test_install_cell_says_when_there_is_no_gpu(monkeypatch, capsys, tmp_path):
    if shutil.which("nvidia-smi", path="/usr/bin:/bin"):
        pytest.skip("this machine has nvidia-smi")
    out, _ = _run_cell(monkeypatch, capsys, colab_widgets=None, gpu=None, tmp_path=tmp_path)
    assert out.count("\n") == 1 and "GPU: none (Colab: Runtime > Change runtime type)" in out


@pytest.mark.parametrize("widgets, expected", [("7.7.1", []), ("8.1.5", ["widgets"])])
def test_install_cell_turns_on_colabs_widget_manager_for_ipywidgets_8_only(widgets, expected, monkeypatch, capsys,
                                                                            tmp_path):
    out, calls = _run_cell(monkeypatch, capsys, colab_widgets=widgets, gpu="Tesla T4", tmp_path=tmp_path)
    assert calls == expected
    assert out.count("\n") == 1 and ("custom widget manager on" in out) == bool(expected)
