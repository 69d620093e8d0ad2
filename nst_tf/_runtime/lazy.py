"""Names a package exports, imported on first use (PEP 562), so that importing one module of a package
(the TensorFlow-free ones especially) does not import the others.

A package's ``__init__`` keeps its docstring index, its table of names and ``__all__``, and gets its
module-level ``__getattr__`` and ``__dir__`` from :func:`lazy_exports`::

    _EXPORTS = {"LBFGS": "lbfgs", "History": "progress"}
    __all__ = list(_EXPORTS)
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str], namespace: Mapping[str, Any],
                 submodules: Iterable[str] = ()) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return the ``__getattr__`` and ``__dir__`` of ``package``.

    ``exports`` maps each exported name to the module, relative to ``package`` (``"lbfgs"``,
    ``"image.load"``), that defines it; the module is imported when the name is first asked for.
    ``submodules`` are subpackages that ``package.<name>`` imports on first use. ``namespace`` is the
    package's ``globals()``, so that ``dir()`` lists what is already defined as well.
    """
    if not isinstance(package, str) or not package:
        raise TypeError(f"package must be a module name, got {package!r}")
    table = dict(exports)
    modules = tuple(submodules)
    clash = sorted(set(table) & set(modules))
    if clash:
        raise ValueError(f"exports and submodules share names: {', '.join(clash)}")

    def __getattr__(name: str) -> Any:
        if name in table:
            return getattr(importlib.import_module(f".{table[name]}", package), name)
        if name in modules:
            return importlib.import_module(f".{name}", package)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(table) | set(modules))

    return __getattr__, __dir__
