"""Real-time style transfer: a network that learns to stylize in one pass (lesson 06).

Optimising the pixels (lesson 04) needs hundreds of VGG forward and backward passes
for every picture. Johnson, Alahi and Fei-Fei (2016, "Perceptual Losses for Real-Time
Style Transfer and Super-Resolution", https://arxiv.org/abs/1603.08155) train a
*transformation network* once per style instead: it maps any photo to its stylized
version in a single forward pass, and its training loss is the same content, style
and total-variation cost as before (the "perceptual loss"), averaged over many photos.

One module per idea (defaults in :mod:`nst_tf.defaults`); every name below is also available here, as ``fast.train`` and so on:

* :mod:`~nst_tf.fast.layers`: mirror padding and instance normalisation (:func:`instance_norm`);
* :mod:`~nst_tf.fast.network`: :func:`transform_net` builds the network (RGB in [0, 1] ->
  RGB in [0, 1], any size), :func:`stylize_fast` runs it, :func:`layer_table` lists its layers;
* :mod:`~nst_tf.fast.loss`: :class:`PerceptualLoss` scores a batch of outputs against their
  photos and one style, with a VGG whose rarely firing channels :mod:`~nst_tf.fast.floor`
  floors higher than the optimisation lessons do (else the network learns stripes);
* :mod:`~nst_tf.fast.photos`: :func:`training_images`, the ``tf.data`` pipeline of random crops;
* :mod:`~nst_tf.fast.distribute`: ``tf.distribute`` strategies by name, chief-only checkpoints;
* :mod:`~nst_tf.fast.training`: :func:`train` puts them together (Adam, checkpoints, previews);
* :mod:`~nst_tf.fast.model_files`: :func:`save_model` and :func:`load_model` (:class:`ModelError`);
* :mod:`~nst_tf.fast.stripes`: :func:`stripe_energy`, how much of a picture is fine horizontal stripes.

>>> model, history = train("style/swirls", steps=2000, size=256)      # doctest: +SKIP
>>> save_model(model, "swirls.keras")                                   # doctest: +SKIP
>>> stylized = stylize_fast(load_model("swirls.keras"), photo)          # doctest: +SKIP
"""

from __future__ import annotations

from .layers import CropToMatch, InstanceNormalization, PadToMultiple, ReflectionPad2D, instance_norm
from .loss import PerceptualLoss
from .model_files import ModelError, load_model, save_model
from .network import layer_table, stylize_fast, transform_net, with_package_norm
from .photos import image_files, training_images
from .stripes import stripe_energy
from .training import FastTrainingResult, train

__all__ = [
    "ModelError",
    "ReflectionPad2D",
    "InstanceNormalization",
    "PadToMultiple",
    "CropToMatch",
    "instance_norm",
    "transform_net",
    "with_package_norm",
    "PerceptualLoss",
    "image_files",
    "training_images",
    "FastTrainingResult",
    "train",
    "stylize_fast",
    "save_model",
    "load_model",
    "layer_table",
    "stripe_energy",
]
