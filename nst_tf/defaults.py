"""The library's defaults, in one place that imports nothing (no TensorFlow, no NumPy).

The library modules import their defaults from here, and the command line reads the
same names for its options and its ``--help`` text, so ``nst-tf --help`` stays instant
and the two can never disagree. Values only: what they mean is documented where they
are used (:mod:`nst_tf.transfer.style_transfer`, :mod:`nst_tf.fast`, ...).
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_CONTENT_LAYERS",
    "DEFAULT_STYLE_LAYERS",
    "DEFAULT_WEIGHTS",
    "DEFAULT_STEPS",
    "DEFAULT_SIZE",
    "DEFAULT_LEARNING_RATE",
    "DEFAULT_PRECONDITION",
    "PRECONDITIONED_FRACTION",
    "OPTIMIZERS",
    "INITS",
    "LBFGS_MEMORY",
    "SCIPY_LBFGS_MEMORY",
    "LBFGS_CHUNK_SECONDS",
    "PRESERVE_COLORS",
    "DEFAULT_FAST_CONTENT_LAYER",
    "DEFAULT_FAST_STYLE_LAYERS",
    "DEFAULT_FAST_WEIGHTS",
    "FAST_TRAINING",
    "FAST_RARE_FLOOR",
    "IMAGE_SUFFIXES",
    "STRATEGIES",
]

# ------------------------------------------------------------------ optimisation (lesson 04)

DEFAULT_CONTENT_LAYERS = ("block4_conv2",)
DEFAULT_STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
#: Weights for the default ("mse" costs, "l2" TV) on a *normalised* VGG (every channel's mean
#: activation 1, the default), picked by eye on the normalised offline VGG16 (benchmarks/README.md).
#: Every term is a mean, so a run at 96 px and one at 256 px end with the same balance of content,
#: style and TV (tests/losses/test_balance.py). With ``normalize=False`` they mean something else per backbone.
DEFAULT_WEIGHTS = {"content_weight": 1.0, "style_weight": 30.0, "tv_weight": 200.0}
#: Optimisation steps (L-BFGS: cost evaluations) when none are given: at 256 px on two CPU
#: cores, about 40-55 s; 200 lowers the cost by another ~10 % and looks much the same.
DEFAULT_STEPS = 100
#: Longest side of ``stylize``'s result in pixels (``nst-tf stylize --size``).
DEFAULT_SIZE = 384
#: Adam's step size (pixels in [0, 1]).
DEFAULT_LEARNING_RATE = 0.02
#: L-BFGS's default preconditioner: cosine frequency f scaled by 1 / f ** DEFAULT_PRECONDITION.
DEFAULT_PRECONDITION = 0.25
#: The share of L-BFGS's evaluations spent preconditioned; the rest work on the pixels directly.
PRECONDITIONED_FRACTION = 0.5
#: "lbfgs" runs in TensorFlow (nst_tf.optim.lbfgs); "lbfgs-scipy" is scipy's L-BFGS-B, kept for comparison.
OPTIMIZERS = ("lbfgs", "lbfgs-scipy", "adam")
#: Starting images: the content, noise or the style image.
INITS = ("content", "noise", "style")
#: Correction pairs the default L-BFGS keeps on the device (scipy's ``maxcor``).
LBFGS_MEMORY = 10
#: Correction pairs scipy's L-BFGS-B keeps (``optimizer="lbfgs-scipy"``; its ``maxcor``).
SCIPY_LBFGS_MEMORY = 20
#: The default L-BFGS returns to Python about this often (seconds) for progress, previews and Ctrl-C.
LBFGS_CHUNK_SECONDS = 1.0

# ------------------------------------------------------------------ artist's controls (lesson 05)

#: Accepted values of ``preserve_colors`` (``"none"`` means the same as ``None``).
PRESERVE_COLORS = (None, "none", "luminance", "histogram")

# ------------------------------------------------------------------ fast style transfer (lesson 06)

#: Johnson et al. compare content at relu2_2 (Keras: ``block2_conv2``, whose ReLU is built in).
#: A network that must work for every photo keeps edges and small shapes there; the
#: deeper ``block4_conv2`` of lesson 04 lets it wander further from the photo.
DEFAULT_FAST_CONTENT_LAYER = "block2_conv2"
#: The same style layers as the optimisation method (lesson 04), so the two compare directly.
DEFAULT_FAST_STYLE_LAYERS = tuple(DEFAULT_STYLE_LAYERS)
#: Weights of the three "mse" costs for the default layers (content at block2_conv2) on a normalised
#: VGG (the default); picked by eye from short trainings on two paintings (benchmarks/README.md).
DEFAULT_FAST_WEIGHTS = {"content_weight": 1.0, "style_weight": 0.5, "tv_weight": 3.0}
#: The fast network's loss VGG divides rarely firing channels by this x their mean |pre-activation|
#: (the optimisation lessons use nst_tf.vgg.normalize.RARE_FLOOR, 0.2): with 0.2 and 0.5 the network
#: learnt fine horizontal stripes to excite them, with 1.0 not (issue 23, benchmarks/README.md).
FAST_RARE_FLOOR = 1.0
#: ``nst_tf.fast.train``'s defaults that ``nst-tf train-fast`` offers as options.
FAST_TRAINING = {"steps": 2000, "batch_size": 4, "size": 256, "learning_rate": 1e-3, "checkpoint_every": 500}
#: File endings that a folder of training photos (``train-fast --images``, ``apply DIR``) is searched for.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")
#: The ``tf.distribute`` strategies ``nst_tf.fast.distribute.make_strategy`` knows (``--distribute``).
STRATEGIES = ("auto", "none", "mirrored", "multi-worker", "tpu")
