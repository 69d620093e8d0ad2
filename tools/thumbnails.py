"""The README's lesson thumbnails, cut from the figures of a rendered lesson (tools/render_solutions.py).

Each lesson names one figure (the first output picture of the first code cell whose source
contains ``pattern``) and one panel of it (``panel``, in reading order, negative from the end).
Panels are found as the figure's non-white regions between white rows and columns (matplotlib
leaves white space between axes; titles are thinner than ``MIN_PANEL`` and left out). Lesson 06's
thumbnail is the feed-forward network's output on a photo, not the optimiser's.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np

THUMBNAILS_OUT = Path(__file__).resolve().parents[1] / "docs" / "images"
SIDE = 160  # the thumbnail's long side, px
MIN_PANEL = 40  # px: smaller regions are titles or tick labels

#: lesson number -> (a string in the source of the cell that draws the figure, which panel)
FIGURES = {
    "01": ("The photo rebuilt from one layer", 2),
    "02": ("Textures painted from Gram matrices alone", 3),  # blocks 1-3
    "03": ("Which layers carry the style", -1),
    "04": ("Three style weights", 1),
    "05": ("Three ways to colour the result", 1),
    "06": ("One call of the trained network on a batch", -1),  # the network's output, bottom row
}


def _runs(blank: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) ranges where ``blank`` is False, at least MIN_PANEL long."""
    runs, start = [], None
    for index, empty in enumerate(list(blank) + [True]):
        if not empty and start is None:
            start = index
        elif empty and start is not None:
            if index - start >= MIN_PANEL:
                runs.append((start, index))
            start = None
    return runs


def panels(picture: np.ndarray) -> list[np.ndarray]:
    """The panels of a figure (H, W, 3 uint8), row band by row band, left to right."""
    white = (picture[..., :3] >= 245).all(axis=-1)
    found = []
    for top, bottom in _runs(white.all(axis=1)):
        band = white[top:bottom]
        for left, right in _runs(band.all(axis=0)):
            rows = np.flatnonzero(~band[:, left:right].all(axis=1))
            found.append(picture[top + rows[0]:top + rows[-1] + 1, left:right])
    return [panel for panel in found if min(panel.shape[:2]) >= MIN_PANEL]


def figure_png(notebook, pattern: str) -> bytes | None:
    for cell in notebook.cells:
        if cell.cell_type == "code" and pattern in cell.source:
            for output in cell.get("outputs", []):
                if "image/png" in output.get("data", {}):
                    return base64.b64decode(output["data"]["image/png"])
    return None


def write_thumbnail(notebook, path: Path, folder: Path) -> Path | None:
    """Cut lesson ``path``'s thumbnail from its executed ``notebook`` into ``folder``/lessonNN.jpg."""
    from PIL import Image

    number = path.name[:2]
    if number not in FIGURES or path.name[2] != "_":
        return None  # a lesson without a thumbnail in the README (04b, a new one): nothing to cut
    pattern, index = FIGURES[number]
    png = figure_png(notebook, pattern)
    if png is None:
        raise SystemExit(f"render_solutions: {path.name} has no figure drawn by a cell containing {pattern!r} "
                         "(update FIGURES in tools/thumbnails.py)")
    picture = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    found = panels(picture)
    if not found or not -len(found) <= index < len(found):
        raise SystemExit(f"render_solutions: {path.name}'s figure has {len(found)} panels, not panel {index}")
    panel = Image.fromarray(found[index])
    panel.thumbnail((SIDE, SIDE), Image.LANCZOS)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"lesson{number}.jpg"
    panel.save(target, quality=88)
    return target
