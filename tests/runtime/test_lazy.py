"""The one lazy-export mechanism (nst_tf/_runtime/lazy.py) that every subpackage's ``__init__`` uses."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nst_tf._runtime.lazy import lazy_exports

ROOT = Path(__file__).resolve().parents[2]


def _package(tmp_path: Path) -> Path:
    """A throw-away package whose ``heavy`` module records that it was imported."""
    pkg = tmp_path / "lazypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent("""
        from nst_tf._runtime.lazy import lazy_exports
        _EXPORTS = {"answer": "heavy", "other": "light"}
        __all__ = list(_EXPORTS)
        __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), submodules=("sub",))
    """))
    (pkg / "heavy.py").write_text("import sys\nsys.modules['lazypkg']._heavy_imported = True\nanswer = 42\n")
    (pkg / "light.py").write_text("other = 'light'\n")
    (pkg / "sub.py").write_text("name = 'sub'\n")
    return tmp_path


def _run(tmp_path: Path, code: str) -> subprocess.CompletedProcess:
    import os

    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{ROOT}")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def test_a_name_imports_its_module_only_when_asked_for(tmp_path):
    where = _package(tmp_path)
    code = textwrap.dedent("""
        import sys, lazypkg
        assert "lazypkg.heavy" not in sys.modules and not hasattr(lazypkg, "_heavy_imported")
        assert lazypkg.other == "light" and "lazypkg.heavy" not in sys.modules
        assert lazypkg.answer == 42 and lazypkg._heavy_imported
        from lazypkg import answer
        assert answer == 42
        assert lazypkg.sub.name == "sub"
        listed = dir(lazypkg)
        assert {"answer", "other", "sub", "__all__"} <= set(listed) and listed == sorted(listed), listed
        try:
            lazypkg.missing
        except AttributeError as error:
            assert str(error) == "module 'lazypkg' has no attribute 'missing'", error
        else:
            raise SystemExit("no AttributeError")
        print("ok")
    """)
    result = _run(where, code)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


def test_every_subpackage_resolves_each_exported_name():
    """Each ``__all__`` name of the packages that use the mechanism is where the table says."""
    import importlib

    for package in ("nst_tf", "nst_tf.optim", "nst_tf.show", "nst_tf.transfer", "nst_tf.vgg", "nst_tf.losses"):
        module = importlib.import_module(package)
        table = module._EXPORTS
        assert [name for name in module.__all__ if name != "__version__"] == list(table)
        for name, where in table.items():
            defining = importlib.import_module(f"{package}.{where}")
            assert getattr(module, name) is getattr(defining, name), (package, name)
            assert name in dir(module)


def test_bad_tables_are_refused():
    with pytest.raises(ValueError, match="share names: x"):
        lazy_exports("pkg", {"x": "m"}, {}, submodules=("x",))
    with pytest.raises(TypeError, match="package"):
        lazy_exports("", {}, {})
