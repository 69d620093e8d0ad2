"""Looking at things in a notebook.

* :mod:`~nst_tf.show.display`: :func:`show_image`, :func:`show_images`, :func:`download_image`;
* :mod:`~nst_tf.show.visualize`: feature maps, filters, activation maximisation, reconstructions (lesson 01);
* :mod:`~nst_tf.show.diagram`: one picture of the whole method.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

#: Each name and the module that defines it; imported on first use, so that importing one module of
#: this package (the TensorFlow-free ones especially) does not import the others.
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


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_EXPORTS))
