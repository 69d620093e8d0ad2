"""The package is typed (issue 25): it ships py.typed and mypy finds no error in it (settings in pyproject.toml)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _mypy(*arguments: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    if importlib.util.find_spec("mypy") is None:
        pytest.fail("mypy is missing: pip install -e '.[dev]'")
    env = dict(os.environ, PYTHONPATH=str(cwd))
    return subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", *arguments], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_the_package_ships_py_typed():
    assert (ROOT / "nst_tf" / "py.typed").is_file()


@pytest.mark.slow
def test_mypy_finds_no_error_in_the_package():
    result = _mypy()
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "Success: no issues found" in result.stdout


@pytest.mark.slow
def test_mypy_catches_a_wrong_type(tmp_path):
    """The check can fail: a copy of the package with a str returned where an int is promised is refused."""
    import shutil

    shutil.copytree(ROOT / "nst_tf", tmp_path / "nst_tf", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    layers = tmp_path / "nst_tf" / "vgg" / "layers.py"
    layers.write_text(layers.read_text() + "\n\ndef broken() -> int:\n    return 'not an int'\n")
    result = _mypy(cwd=tmp_path)
    assert result.returncode != 0 and "layers.py" in result.stdout and "Incompatible return value" in result.stdout


@pytest.mark.slow
def test_mypy_refuses_an_unannotated_function(tmp_path):
    """Every function must be annotated (disallow_untyped_defs in pyproject.toml): an untyped one is refused."""
    import shutil

    shutil.copytree(ROOT / "nst_tf", tmp_path / "nst_tf", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    layers = tmp_path / "nst_tf" / "vgg" / "layers.py"
    layers.write_text(layers.read_text() + "\n\ndef untyped(value):\n    return value\n")
    result = _mypy(cwd=tmp_path)
    assert result.returncode != 0 and "layers.py" in result.stdout and "no-untyped-def" in result.stdout
