"""What "like the content" and "like the style" mean, as costs (lessons 02-05).

* :mod:`~nst_tf.losses.gram`: Gram matrices and other style statistics (lesson 02);
* :mod:`~nst_tf.losses.terms`: the content, style and total-variation costs (lesson 03);
* :mod:`~nst_tf.losses.masks`: masks per style and statistics over a region (lesson 05);
* :mod:`~nst_tf.losses.objective`: the sum of terms a transfer builds from its arguments;
* :mod:`~nst_tf.losses.compose`: cost terms that add and scale (``content + 30 * style + 200 * tv``);
* :mod:`~nst_tf.losses.highres`: any such sum in bounded memory (VGG's shallow blocks in tiles).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._runtime.lazy import lazy_exports

#: Each name and the module that defines it, imported on first use (nst_tf/_runtime/lazy.py).
_EXPORTS = {
    "gram_matrix": "gram",
    "mean_std": "gram",
    "style_statistic": "gram",
    "Objective": "objective",
    "ContentTerm": "compose",
    "StyleTerm": "compose",
    "TVTerm": "compose",
    "WeightedSum": "compose",
    "NORMALIZATIONS": "terms",
    "TV_KINDS": "terms",
    "content_loss": "terms",
    "normalize_layer_weights": "terms",
    "style_layer_loss": "terms",
    "style_loss": "terms",
    "total_loss": "terms",
    "tv_loss": "terms",
}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and readers
    from .gram import gram_matrix, mean_std, style_statistic
    from .objective import Objective
    from .compose import ContentTerm, StyleTerm, TVTerm, WeightedSum
    from .terms import (NORMALIZATIONS, TV_KINDS, content_loss, normalize_layer_weights, style_layer_loss, style_loss,
                        total_loss, tv_loss)

__all__ = list(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
