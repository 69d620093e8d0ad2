"""The fast network's loss VGG: rarely firing channels floored at 1.0 instead of 0.2 (issue 23).

A normalised VGG (:mod:`nst_tf.vgg.normalize`) divides each channel by
``max(mean activation, floor * mean |pre-activation|)``. With the package's floor of 0.2 the
channels that fire rarely on the reference images (2702 of the offline VGG16's 4224) answer
up to 5 times louder than the others whenever a picture excites them. The optimiser of
lessons 03-05, which starts from the photo, lives with that; a transformation network does
not: trained at lesson 06's defaults it learnt to excite them with fine horizontal stripes
about 4 px apart (stripe energy 2x the painting's, :func:`nst_tf.fast.stripe_energy`), with
the floor at 0.5 still, and at 1.0 not at all (benchmarks/README.md, "Lesson 06's stripes").

:func:`refloored` gives a copy of a normalised extractor with another floor, folded into its
convolutions exactly as the normalisation itself is (a positive factor per channel,
:func:`nst_tf.vgg.normalize.fold_scales`); the cached statistics are reused, nothing is measured.
"""

from __future__ import annotations

import weakref

import numpy as np

import keras

from ..defaults import FAST_RARE_FLOOR
from ..vgg.extractor import FeatureExtractor
from ..vgg.layers import conv_layer_names
from ..vgg.normalize import fold_scales, scales_from_statistics

__all__ = ["FAST_RARE_FLOOR", "refloored"]

_COPIES: "weakref.WeakKeyDictionary[keras.Model, dict]" = weakref.WeakKeyDictionary()


def _refloored_vgg(vgg: keras.Model, net: str, floor: float) -> keras.Model:
    import tensorflow as tf

    # A copy made inside one tf.distribute scope holds that strategy's variables: it must not be handed to a run
    # under another strategy (bench_fast trains on one replica, then two), so only copies made outside any scope
    # are kept.
    copies = _COPIES.setdefault(vgg, {}) if not tf.distribute.has_strategy() else {}
    if floor in copies:
        return copies[floor]
    normalization = vgg.nst_normalization  # type: ignore[attr-defined]
    new_scales, _dead, _rare = scales_from_statistics(normalization.means, normalization.sizes, floor)
    ratios = {name: np.asarray(new_scales[name], np.float64) / np.asarray(normalization.scales[name], np.float64)
              for name in normalization.scales}
    order = [name for name in conv_layer_names(net) if name in ratios]
    clone = keras.models.clone_model(vgg)
    clone.set_weights(vgg.get_weights())
    conv_weights = {name: clone.get_layer(name).get_weights() for name in order}
    for name, values in fold_scales(conv_weights, ratios, order).items():
        clone.get_layer(name).set_weights(values)
    clone.trainable = False
    clone.nst_description = f"{vgg.nst_description}; rare channels floored at {floor:g} for the fast network"  # type: ignore[attr-defined]
    clone.nst_normalized = True  # type: ignore[attr-defined]
    clone.nst_normalization = None  # type: ignore[attr-defined]  # not the package's normalisation any more
    copies[floor] = clone
    return clone


def refloored(extractor: FeatureExtractor, floor: float | None = FAST_RARE_FLOOR) -> FeatureExtractor:
    """``extractor`` with its rarely firing channels divided by ``floor x mean |pre-activation|``.

    Returned unchanged when ``floor`` is ``None`` or the net is not normalised by nst-tf (raw
    weights, ``normalize=False``). ``floor`` must be a number > 0.
    """
    normalization = getattr(extractor.vgg, "nst_normalization", None)
    if floor is None or normalization is None:
        return extractor
    floor = float(floor)
    if not np.isfinite(floor) or floor <= 0:
        raise ValueError(f"rare_floor must be a number > 0 (or None), got {floor!r}.")
    vgg = _refloored_vgg(extractor.vgg, extractor.net, floor)
    return FeatureExtractor(vgg, extractor.layers, extractor.net, extractor.weights)
