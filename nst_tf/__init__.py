"""nst-tf: learn and do neural style transfer with TensorFlow/Keras.

Modules follow the lessons: ``features`` (01), ``gram`` (02), ``losses`` and ``objective`` (03),
``optimize``, ``solvers``, ``precondition`` and ``progress`` (04), ``controls`` with ``colour``, ``masks`` and
``pyramid`` (05), ``fast`` (06); ``decoding``, ``images``,
``saving``, ``display`` and ``data`` for pictures in and out; ``checks`` for the exercises.

The most used names are available at the top level and imported on first use, so
``import nst_tf`` stays quick and the command-line tool can quiet TensorFlow first.
"""

from __future__ import annotations

import importlib
import sys

#: The one version number: pyproject.toml reads it from here (hatchling, [tool.hatch.version]).
__version__ = "0.1.0"

_EXPORTS = {
    "feature_extractor": "features",
    "load_vgg": "features",
    "gram_matrix": "gram",
    "content_loss": "losses",
    "style_layer_loss": "losses",
    "style_loss": "losses",
    "tv_loss": "losses",
    "StyleTransfer": "optimize",
    "stylize": "controls",
    "load_image": "decoding",
    "save_image": "saving",
    "show_image": "display",
    "show_images": "display",
    "stylize_fast": "fast",
    "transform_net": "fast",
}


_SUBMODULES = ("checks", "cli", "cli_common", "colour", "controls", "data", "decoding", "defaults", "diagram", "display", "fast",
               "features", "fetch", "gram", "images", "logs", "losses", "masks", "memory", "modelcheck", "objective",
               "optimize", "precondition", "progress", "pyramid", "quiet", "safefile", "saving", "settings", "signals", "solvers",
               "validate", "visualize")


from .allocator import tune_malloc as _tune_malloc

_tune_malloc()  # freed tensors go back to the system (nst_tf/allocator.py; NST_TF_MALLOC=default: not)

if "ipykernel" in sys.modules and "tensorflow" not in sys.modules:
    # In a notebook the lesson needs TensorFlow next: load it now, without the C++ start-up
    # lines that would otherwise be the student's first output. The command line stays lazy.
    from .quiet import import_tensorflow as _import_tensorflow

    _import_tensorflow()


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    if name in _SUBMODULES:  # ``nst_tf.settings`` works after a bare ``import nst_tf``
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'nst_tf' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_EXPORTS) + list(_SUBMODULES))


__all__ = ["__version__", *_EXPORTS]
