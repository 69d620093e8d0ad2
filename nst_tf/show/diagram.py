"""One picture of the whole method (Gatys et al.), drawn with matplotlib (lesson 01).

photo and painting -> frozen VGG -> content and style representations -> costs ->
gradient with respect to the pixels -> a new generated image, and round again.

The lessons call :func:`method_diagram` (it works in an installed package, e.g. on Colab);
``tools/make_method_diagram.py`` saves the same drawing to ``docs/images/method.png`` for
the README. Only NumPy and matplotlib are needed: no TensorFlow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["method_diagram"]

_INK = "#222222"
_BOXES = {"net": "#dde8f5", "content": "#fde9cf", "style": "#e5f2dc", "cost": "#f3dede", "image": "#ffffff"}


def _picture_or_placeholder(image: Any, fallback: str) -> np.ndarray:
    from ..image.arrays import to_numpy_image

    if image is None:
        from ..image.load import load_image

        image = load_image(fallback, max_size=256)
    return to_numpy_image(image)


def _box(ax: Axes, x: float, y: float, w: float, h: float, text: str, colour: str, *, size: float = 10.5) -> None:
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.012,rounding_size=0.02",
                                facecolor=colour, edgecolor=_INK, linewidth=1.2))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size, color=_INK, wrap=True)


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], text: str = "", *,
           curve: float = 0.0, colour: str = _INK, text_offset: tuple[float, float] = (0.0, 0.0)) -> None:
    ax.annotate("", xy=end, xytext=start,
                arrowprops=dict(arrowstyle="-|>", color=colour, linewidth=1.6, mutation_scale=16,
                                connectionstyle=f"arc3,rad={curve}", shrinkA=2, shrinkB=2))
    if text:
        middle = ((start[0] + end[0]) / 2 + text_offset[0], (start[1] + end[1]) / 2 + text_offset[1])
        ax.text(*middle, text, ha="center", va="center", fontsize=9.5, color=colour,
                bbox=dict(facecolor="white", edgecolor="none", pad=1.5))


def _thumbnail(fig: Figure, rect: tuple[float, float, float, float], picture: np.ndarray, title: str) -> None:
    ax = fig.add_axes(rect)
    ax.imshow(picture, vmin=0.0, vmax=1.0)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=10.5, color=_INK, pad=3)


def method_diagram(content_image: Any = None, style_image: Any = None, generated_image: Any = None,
                   *, width: float = 13.0) -> "Figure":
    """Draw the method as one figure and return it.

    ``content_image``, ``style_image`` and ``generated_image`` are arrays ``(H, W, 3)`` in
    [0, 1] (or anything :func:`nst_tf.image.arrays.to_numpy_image` takes). Left out, the first two
    are the samples ``content/chelsea`` and ``style/swirls``, and the generated panel shows
    the photo itself: that is where the optimisation starts by default.
    """
    import matplotlib.pyplot as plt

    content = _picture_or_placeholder(content_image, "content/chelsea")
    style = _picture_or_placeholder(style_image, "style/swirls")
    generated = content if generated_image is None else _picture_or_placeholder(generated_image, "content/chelsea")
    height = width * 0.46
    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")

    # Column 1: the three images (axes in figure coordinates, the same as ax's data coordinates).
    thumb_w = 0.11
    thumb_h = thumb_w * width / height
    _thumbnail(fig, (0.015, 0.70, thumb_w, thumb_h * 0.9), content, "content image (photo)")
    _thumbnail(fig, (0.015, 0.08, thumb_w, thumb_h * 0.9), style, "style image (painting)")
    _thumbnail(fig, (0.17, 0.38, thumb_w, thumb_h * 0.9), generated, "generated image\n(the only variable)")

    # Column 2: the frozen network.
    _box(ax, 0.33, 0.18, 0.12, 0.66, "", _BOXES["net"])
    ax.text(0.39, 0.66, "VGG\n(pretrained,\nfrozen)", ha="center", va="center", fontsize=11, color=_INK)
    ax.text(0.39, 0.33, "the same\nnetwork\nfor all three", ha="center", va="center", fontsize=9.5, color=_INK)
    _arrow(ax, (0.13, 0.80), (0.33, 0.74))
    _arrow(ax, (0.13, 0.18), (0.33, 0.26))
    _arrow(ax, (0.285, 0.56), (0.33, 0.56))

    # Column 3: what the network's layers give.
    _box(ax, 0.50, 0.64, 0.21, 0.18, "content representation\nactivations of one deep layer\n(block4_conv2)",
         _BOXES["content"], size=9.5)
    _box(ax, 0.50, 0.16, 0.21, 0.24, "style representation\nGram matrices G = FᵀF / positions\nof several layers\n"
         "(block1_conv1 … block5_conv1)", _BOXES["style"], size=9.5)
    _arrow(ax, (0.45, 0.73), (0.50, 0.73))
    _arrow(ax, (0.45, 0.28), (0.50, 0.28))

    # Column 4: the costs.
    _box(ax, 0.76, 0.66, 0.22, 0.14, "content cost\nmean (F(generated) − F(photo))²", _BOXES["cost"], size=9.5)
    _box(ax, 0.76, 0.18, 0.22, 0.2, "style cost\nΣ over layers of\nmean (G(generated) − G(painting))²",
         _BOXES["cost"], size=9.5)
    _arrow(ax, (0.71, 0.73), (0.76, 0.73))
    _arrow(ax, (0.71, 0.28), (0.76, 0.28))
    _box(ax, 0.76, 0.44, 0.22, 0.14, "total cost = α · content + β · style\n+ γ · total variation (smoothness)",
         "#ffffff", size=9.2)
    _arrow(ax, (0.87, 0.66), (0.87, 0.585))
    _arrow(ax, (0.87, 0.38), (0.87, 0.435))

    # The loop back: the gradient flows back through the network to the pixels.
    _arrow(ax, (0.76, 0.47), (0.285, 0.47), colour="#b03030")
    ax.text(0.605, 0.505, "gradient with respect to the pixels\n(backpropagation through VGG)", ha="center",
            va="center", fontsize=9.5, color="#b03030")
    ax.text(0.5, 0.03, "An optimiser (L-BFGS or Adam) uses the gradient to change the generated image; "
            "then round again, a few hundred times.", ha="center", va="bottom", fontsize=10, color="#b03030")
    ax.text(0.5, 0.975, "Neural style transfer (Gatys, Ecker & Bethge): the network stays fixed, the pixels move",
            ha="center", va="top", fontsize=12.5, color=_INK, weight="bold")
    return fig
