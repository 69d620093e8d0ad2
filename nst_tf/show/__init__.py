"""Looking at things in a notebook.

* :mod:`~nst_tf.show.display`: :func:`show_image`, :func:`show_images`, :func:`download_image`;
* :mod:`~nst_tf.show.visualize`: feature maps, filters, activation maximisation, reconstructions (lesson 01);
* :mod:`~nst_tf.show.diagram`: one picture of the whole method.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._runtime.lazy import lazy_exports

#: Each name and the module that defines it, imported on first use (nst_tf/_runtime/lazy.py).
_EXPORTS = {
    "method_diagram": "diagram",
    "download_image": "display",
    "show_image": "display",
    "show_images": "display",
}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and readers
    from .diagram import method_diagram
    from .display import download_image, show_image, show_images

__all__ = list(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
