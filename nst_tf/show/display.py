"""Notebook helpers: show one image, or a labelled row / grid of images, with matplotlib.

Images are arrays or tensors of shape ``(H, W, 3)`` or ``(1, H, W, 3)`` with values
in ``[0, 1]`` (see :func:`nst_tf.image.arrays.to_numpy_image`). ``matplotlib.pyplot`` is
imported inside the functions, so importing this module (or the command-line tool)
does not pay for it.

In a notebook, end the cell with ``;`` (``show_images(...);``) or assign the result,
otherwise Jupyter shows the returned figure a second time.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ..image.arrays import to_numpy_image

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["show_image", "show_images", "download_image"]


def show_image(image: Any, title: str | None = None, ax: "Axes | None" = None, *, size: float = 4.0) -> "Axes":
    """Draw one image ``(H, W, 3)`` or ``(1, H, W, 3)`` without axis ticks; returns the Axes.

    Without ``ax`` a new figure is made whose longer side is ``size`` inches.
    """
    picture = to_numpy_image(image)
    if ax is None:
        import matplotlib.pyplot as plt

        height, width = picture.shape[:2]
        scale = size / max(height, width)
        _, ax = plt.subplots(figsize=(max(width * scale, 1.0), max(height * scale, 1.0)), layout="constrained")
    ax.imshow(picture, vmin=0.0, vmax=1.0)
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title)
    return ax


def show_images(
    images: Sequence[Any] | Mapping[str, Any],
    titles: Sequence[str] | None = None,
    *,
    size: float = 3.0,
    columns: int | None = None,
) -> "Figure":
    """Draw several images side by side (or in a grid of ``columns``) with titles; returns the Figure.

    ``images`` is a sequence of images or a mapping ``{title: image}``; each image
    gets a ``size`` x ``size`` inch cell.
    """
    pictures, labels = _pictures_and_titles(images, titles)
    n = len(pictures)
    if columns is not None and (not isinstance(columns, int) or columns < 1):
        raise ValueError(f"columns must be a positive integer, got {columns!r}")
    cols = n if columns is None else min(columns, n)
    rows = math.ceil(n / cols)

    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows), squeeze=False, layout="constrained")
    flat = list(axes.ravel())
    for ax, picture, label in zip(flat, pictures, labels):
        show_image(picture, label, ax=ax)
    for ax in flat[n:]:
        fig.delaxes(ax)
    return fig


def _pictures_and_titles(
    images: Sequence[Any] | Mapping[str, Any], titles: Sequence[str] | None
) -> tuple[list[Any], list[str | None]]:
    """Split ``images`` (sequence or mapping) into a list of pictures and one title (or None) each."""
    if isinstance(images, Mapping):
        if titles is not None:
            raise ValueError("give titles either as the keys of a mapping or as titles=, not both")
        titles = [str(key) for key in images]
        pictures = list(images.values())
    else:
        pictures = list(images)
    if not pictures:
        raise ValueError("show_images() needs at least one image")
    if titles is None:
        return pictures, [None] * len(pictures)
    labels = list(titles)
    if len(labels) != len(pictures):
        raise ValueError(f"got {len(pictures)} images but {len(labels)} titles")
    return pictures, labels


def download_image(image: Any, path: "str | os.PathLike[str]" = "nst-tf.png") -> Path:
    """Save ``image`` to ``path`` and, on Colab, send the file to your computer; returns the path.

    One call in a notebook: ``display.download_image(result.image, "mine.png")``. Outside
    Colab the file stays where it was saved, and one printed line says where.
    """
    from ..image.save import save_image

    out = save_image(image, path)
    if "google.colab" in sys.modules:
        from google.colab import files

        files.download(os.fspath(out))
        print(f"Saved {out.name}; your browser downloads it now.")
    else:
        print(f"Saved {out.resolve()}")
    return out
