"""nst-tf: learn and do neural style transfer with TensorFlow/Keras.

The subpackages follow the method, from the bottom up:

* :mod:`nst_tf.image`: pictures in and out (:func:`load_image`, :func:`save_image`);
* :mod:`nst_tf.vgg`: the network that sees (:func:`load_vgg`, :func:`feature_extractor`, lesson 01);
* :mod:`nst_tf.losses`: Gram matrices and the costs (lessons 02-03);
* :mod:`nst_tf.optim`: solvers that move the pixels, progress, memory (lesson 04);
* :mod:`nst_tf.transfer`: :class:`StyleTransfer` and the one :func:`stylize` with its controls (04-05);
* :mod:`nst_tf.fast`: a network that stylizes in one pass (lesson 06);
* :mod:`nst_tf.show`: display, visualisations, the method diagram;
* :mod:`nst_tf.checks`: the exercise checks and the lessons' claims;
* :mod:`nst_tf.cli`: the ``nst-tf`` command;
* :mod:`nst_tf.defaults` (every default) and :mod:`nst_tf.settings` (fast mode, lesson sizes).

The most used names are available at the top level and imported on first use, so
``import nst_tf`` stays quick and the command-line tool can quiet TensorFlow first.
"""

from __future__ import annotations

import sys

#: The one version number: pyproject.toml reads it from here (hatchling, [tool.hatch.version]).
__version__ = "0.1.0"

_EXPORTS = {
    "load_image": "image.load",
    "save_image": "image.save",
    "Image": "image.types",
    "ImageBatch": "image.types",
    "ImageSource": "image.types",
    "load_vgg": "vgg.extractor",
    "feature_extractor": "vgg.extractor",
    "gram_matrix": "losses.gram",
    "content_loss": "losses.terms",
    "style_layer_loss": "losses.terms",
    "style_loss": "losses.terms",
    "tv_loss": "losses.terms",
    "StyleTransfer": "transfer.style_transfer",
    "stylize": "transfer.controls",
    "show_image": "show.display",
    "show_images": "show.display",
    "stylize_fast": "fast.network",
    "transform_net": "fast.network",
}


_SUBMODULES = ("checks", "cli", "defaults", "fast", "image", "losses", "optim", "settings", "show", "transfer", "vgg")


from ._runtime.allocator import trim_between_cells as _trim_between_cells, tune_malloc as _tune_malloc
from ._runtime.lazy import lazy_exports as _lazy_exports

_tune_malloc()  # two malloc arenas in a Jupyter kernel (nst_tf/_runtime/allocator.py; NST_TF_MALLOC chooses)
_trim_between_cells()  # and the heap's free pages back to the system after each cell

if "ipykernel" in sys.modules and "tensorflow" not in sys.modules:
    # In a notebook the lesson needs TensorFlow next: load it now, without the C++ start-up
    # lines that would otherwise be the student's first output. The command line stays lazy.
    from ._runtime.quiet import import_tensorflow as _import_tensorflow

    _import_tensorflow()


# Names and subpackages imported on first use (``nst_tf.settings`` works after a bare ``import nst_tf``).
__getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS, globals(), submodules=_SUBMODULES)


__all__ = ["__version__", *_EXPORTS]
