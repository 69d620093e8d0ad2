"""Moving the pixels down a cost (lesson 04), and watching them move.

* :mod:`~nst_tf.optim.progress`: progress bars, loss history, live preview;
* :mod:`~nst_tf.optim.precondition`: the cosine-frequency parameterisation;
* :mod:`~nst_tf.optim.lbfgs`: L-BFGS inside TensorFlow;
* :mod:`~nst_tf.optim.solvers`: :class:`ImageSolver` (L-BFGS, scipy's L-BFGS-B, Adam) for any cost;
* :mod:`~nst_tf.optim.pyramid`: the levels of a coarse-to-fine run;
* :mod:`~nst_tf.optim.memory`: how much memory a run needs, checked before it starts (no TensorFlow).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

#: Each name and the module that defines it; imported on first use, so that importing one module of
#: this package (the TensorFlow-free ones especially) does not import the others.
_EXPORTS = {
    "LBFGS": "lbfgs",
    "History": "progress",
    "NonFiniteLossError": "progress",
    "ProgressBar": "progress",
    "ImageSolver": "solvers",
    "StyleTransferResult": "solvers",
}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and readers
    from .lbfgs import LBFGS
    from .progress import History, NonFiniteLossError, ProgressBar
    from .solvers import ImageSolver, StyleTransferResult

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_EXPORTS))
