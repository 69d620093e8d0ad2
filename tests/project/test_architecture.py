"""The package's layers (issue 25): import-linter checks the contracts in pyproject.toml.

A module may import from its own package or from the layers below it, never upwards; the parts side
by side (transfer and fast; show and checks) never import each other. A broken contract names the import.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _require_import_linter() -> None:
    if importlib.util.find_spec("importlinter") is None:
        pytest.fail("import-linter is missing: pip install -e '.[dev]'")


def _lint_imports(*arguments: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run([sys.executable, "-c", code, *arguments], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_every_import_contract_is_kept():
    _require_import_linter()
    result = _lint_imports("--no-cache")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"Contracts: 4 kept, 0 broken\.", result.stdout), result.stdout[-2000:]


def test_an_upward_import_breaks_the_layers(tmp_path):
    """The contracts can fail: a copy of the package where the image layer imports the transfer is refused."""
    _require_import_linter()
    import shutil

    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "nst_tf", copy / "nst_tf", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    arrays = copy / "nst_tf" / "image" / "arrays.py"
    arrays.write_text(arrays.read_text() + "\nfrom ..transfer import controls  # noqa: E402 - upwards, on purpose\n")
    env = dict(os.environ, PYTHONPATH=str(copy))
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    result = subprocess.run([sys.executable, "-c", code, "--no-cache"], cwd=copy, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode != 0
    assert "nst_tf.image.arrays -> nst_tf.transfer.controls" in result.stdout
