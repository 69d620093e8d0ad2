"""Style transfer by optimisation (Gatys et al.): one object, and the one ``stylize`` with every control.

* :mod:`~nst_tf.transfer.style_transfer`: :class:`StyleTransfer` and :class:`MaskedStyleTransfer` (lesson 04);
* :mod:`~nst_tf.transfer.controls`: :func:`stylize` with colour preservation, blends, masks and
  coarse-to-fine (lesson 05).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

#: Each name and the module that defines it; imported on first use, so that importing one module of
#: this package (the TensorFlow-free ones especially) does not import the others.
_EXPORTS = {
    "stylize": "controls",
    "stylize_multiscale": "controls",
    "luminance_transfer": "controls",
    "StyleTransfer": "style_transfer",
    "MaskedStyleTransfer": "style_transfer",
}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and readers
    from .controls import stylize, stylize_multiscale, luminance_transfer
    from .style_transfer import StyleTransfer, MaskedStyleTransfer

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_EXPORTS))
