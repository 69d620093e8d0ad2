"""Moving the pixels down a cost (lesson 04), and watching them move.

* :mod:`~nst_tf.optim.progress`: progress bars, loss history, live preview;
* :mod:`~nst_tf.optim.precondition`: the cosine-frequency parameterisation;
* :mod:`~nst_tf.optim.lbfgs`: L-BFGS inside TensorFlow;
* :mod:`~nst_tf.optim.solvers`: :class:`ImageSolver` (L-BFGS, scipy's L-BFGS-B, Adam) for any cost;
* :mod:`~nst_tf.optim.pyramid`: the levels of a coarse-to-fine run;
* :mod:`~nst_tf.optim.memory`: how much memory a run needs, checked before it starts (no TensorFlow).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._runtime.lazy import lazy_exports

#: Each name and the module that defines it, imported on first use (nst_tf/_runtime/lazy.py).
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

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
