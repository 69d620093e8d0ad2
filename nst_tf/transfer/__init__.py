"""Style transfer by optimisation (Gatys et al.): one object, and the one ``stylize`` with every control.

* :mod:`~nst_tf.transfer.style_transfer`: :class:`StyleTransfer` and :class:`MaskedStyleTransfer` (lesson 04);
* :mod:`~nst_tf.transfer.controls`: :func:`stylize` with colour preservation, blends, masks and
  coarse-to-fine (lesson 05).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._runtime.lazy import lazy_exports

#: Each name and the module that defines it, imported on first use (nst_tf/_runtime/lazy.py).
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

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
