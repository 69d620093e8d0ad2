"""Paint the sample style images in ``data/style/`` (deterministic, offline).

Every style image of nst-tf is painted by this script from fixed random seeds with
numpy, Pillow and scipy, so the project owns it outright (MIT, like the code).
Each painter works on a canvas ``SUPERSAMPLE`` times larger than the result and
shrinks it at the end, which gives smooth, anti-aliased strokes.

Usage::

    python data/make_styles.py            # writes data/style/<name>.jpg
    python data/make_styles.py --out DIR  # somewhere else
    python data/make_styles.py --show swirls mosaic   # only some, print timings

The painters can also be imported, e.g. ``paint("swirls")`` returns a ``uint8``
``(H, W, 3)`` array of the same image that the script saves (before JPEG coding).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import math
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

__all__ = [
    "STYLES", "SIZES", "DESCRIPTIONS", "paint", "paint_swirls", "paint_mosaic", "paint_waves", "paint_cubist",
    "encode_jpeg", "save_jpeg", "main",
]

#: Where the script writes by default.
STYLE_DIR = Path(__file__).resolve().parent / "style"
#: Canvas scale factor used while painting (results are shrunk by this factor).
SUPERSAMPLE = 2
#: JPEG quality of the committed files.
JPEG_QUALITY = 92

RGB = tuple[int, int, int]


# ----------------------------------------------------------------------------- helpers


def _hex(colour: str) -> np.ndarray:
    """``"#rrggbb"`` -> float array ``[r, g, b]`` in 0..255."""
    colour = colour.lstrip("#")
    return np.array([int(colour[i : i + 2], 16) for i in (0, 2, 4)], dtype=np.float64)


def _rgb(values: np.ndarray | Sequence[float]) -> RGB:
    """Float colour -> clipped integer RGB tuple for Pillow."""
    r, g, b = (int(round(min(255.0, max(0.0, float(v))))) for v in values)
    return (r, g, b)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian-blurred white noise rescaled to zero mean and unit standard deviation."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    field -= field.mean()
    field /= field.std() + 1e-12
    return field


def _finish(canvas: Image.Image | np.ndarray, width: int, height: int) -> np.ndarray:
    """Shrink a supersampled canvas to ``(height, width, 3)`` uint8."""
    if isinstance(canvas, np.ndarray):
        canvas = Image.fromarray(np.clip(np.rint(canvas), 0, 255).astype(np.uint8))
    canvas = canvas.convert("RGB")
    if canvas.size != (width, height):
        canvas = canvas.resize((width, height), Image.Resampling.LANCZOS)
    return np.asarray(canvas, dtype=np.uint8).copy()


# ----------------------------------------------------------------------------- swirls


def _brush(draw: ImageDraw.ImageDraw, pts: list[tuple[float, float]], width: float, rim: float, colour: np.ndarray) -> None:
    """One thick, round-ended stroke along ``pts``: a dark rim, the paint, a light ridge."""
    for w, c in ((width + 2 * rim, colour * 0.62), (width, colour)):
        fill = _rgb(c)
        draw.line(pts, fill=fill, width=max(1, int(round(w))), joint="curve")
        r = w / 2
        for x, y in (pts[0], pts[-1]):
            draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
    if width > 8:
        draw.line(pts[1:-1] or pts, fill=_rgb(colour * 1.15 + 14), width=max(1, int(round(width * 0.22))), joint="curve")



def paint_swirls(width: int = 512, height: int = 384, seed: int = 1889) -> np.ndarray:
    """A starry night sky of thick swirling brush strokes (deep blues, yellows, whites).

    Strokes follow a flow field made of a few vortices, a gently waving drift and
    the curl of smooth noise; they are layered from broad to fine, each with a
    darker rim and a lighter ridge, over a dark cypress and rolling hills.
    """
    rng = np.random.default_rng(seed)
    s = SUPERSAMPLE
    W, H = width * s, height * s
    unit = min(width, height) / 384.0  # stroke sizes scale with the picture

    # --- the underlying "design": colour and flow as functions of position (u, v in [0, 1])
    vortices = [  # (u, v, radius, strength): +1 counter-clockwise on screen
        (0.40, 0.36, 0.16, +1.0),
        (0.62, 0.30, 0.10, -1.0),
        (0.18, 0.22, 0.09, +1.0),
    ]
    stars = [(0.86, 0.16, 0.075), (0.55, 0.12, 0.035), (0.28, 0.48, 0.03), (0.72, 0.52, 0.035),
             (0.10, 0.08, 0.03), (0.95, 0.45, 0.03), (0.47, 0.58, 0.028)]
    moon = (0.86, 0.16)
    gh, gw = 96, int(round(96 * width / height))
    noise = _smooth_noise(rng, (gh, gw), 6.0)
    tone_noise = _smooth_noise(rng, (gh, gw), 3.0)

    def hills_v(u: np.ndarray) -> np.ndarray:
        return 0.72 + 0.05 * np.sin(2 * np.pi * (0.8 * u + 0.1)) + 0.025 * np.sin(2 * np.pi * (2.3 * u + 0.6))

    def cypress(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """True inside the flame-shaped tree at the left."""
        top = 0.08
        half = 0.08 * np.clip((v - top) / (1.0 - top), 0, 1) ** 0.7
        half *= 1 + 0.3 * np.sin(v * 37) + 0.15 * np.sin(v * 83 + 1)
        return (v > top) & (np.abs(u - 0.13 - 0.02 * np.sin(v * 9)) < half)

    def sample(field: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        fh, fw = field.shape
        return ndimage.map_coordinates(field, [v * (fh - 1), u * (fw - 1)], order=1, mode="wrap")

    # curl of the noise: d/dy, -d/dx
    dn_dv, dn_du = np.gradient(noise)

    def flow(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        aspect = width / height
        fu = 1.0 + 0.0 * u
        fv = 0.35 * np.sin(2 * np.pi * (1.5 * u + 0.2))
        for cu, cv, r, strength in vortices:
            du, dv = (u - cu) * aspect, v - cv
            d2 = du * du + dv * dv
            w = strength * 2.5 * np.exp(-d2 / (2 * r * r)) / r
            fu += -dv * w * 0.5
            fv += du * w * 0.5
        for cu, cv, r in stars:  # stars get small whirls of their own
            du, dv = (u - cu) * aspect, v - cv
            d2 = du * du + dv * dv
            w = 3.0 * np.exp(-d2 / (2 * (1.6 * r) ** 2)) / r
            fu += -dv * w * 0.5
            fv += du * w * 0.5
        fu += 0.6 * sample(dn_dv, u, v) * 6
        fv -= 0.6 * sample(dn_du, u, v) * 6
        below = v > hills_v(u)
        fv = np.where(below, 0.25 * fv, fv)
        tree = cypress(u, v)
        fu = np.where(tree, 0.3 * np.sin(v * 30), fu)
        fv = np.where(tree, -1.0, fv)
        return fu, fv

    navy, blue, mid, pale, teal = _hex("#0c1a4a"), _hex("#1f3f91"), _hex("#3d6cc0"), _hex("#b7d3ea"), _hex("#4f8fa3")
    yellow, gold, cream, white = _hex("#f2cf3a"), _hex("#d9a21b"), _hex("#f6eec2"), _hex("#fbfaf2")
    hill_dark, hill_mid, tree_dark, tree_mid = _hex("#0f1d3a"), _hex("#2e4a74"), _hex("#0b1109"), _hex("#2a3319")

    def colour(u: np.ndarray, v: np.ndarray, jitter: np.ndarray) -> np.ndarray:
        aspect = width / height
        t = sample(tone_noise, u, v)
        sky = navy + (blue - navy) * np.clip(v * 1.6 + 0.25 * t, 0, 1)[:, None]
        sky = sky + (mid - sky) * np.clip(0.5 + 0.5 * np.sin(6 * sample(noise, u, v) + 2 * v), 0, 1)[:, None] ** 3 * 0.9
        for cu, cv, r, _ in vortices:  # pale rings around the big vortices
            d = np.hypot((u - cu) * aspect, v - cv) / r
            ring = np.exp(-((d - 1.0) ** 2) / 0.04) + np.exp(-((d - 0.5) ** 2) / 0.015) * 0.8
            sky = sky + (pale - sky) * np.clip(ring, 0, 1)[:, None]
            sky = sky + (teal - sky) * np.clip(np.exp(-((d - 0.75) ** 2) / 0.01) * 0.7, 0, 1)[:, None]
        for cu, cv, r in stars:
            d = np.hypot((u - cu) * aspect, v - cv) / r
            halo = np.clip(np.exp(-((d - 1.5) ** 2) / 0.25), 0, 1)[:, None]
            sky = sky + (cream - sky) * halo * 0.8
            sky = np.where((d < 1.0)[:, None], yellow + (white - yellow) * np.clip(1 - d, 0, 1)[:, None] ** 2, sky)
            sky = np.where(((d >= 1.0) & (d < 1.3))[:, None], gold, sky)
        d = np.hypot((u - moon[0]) * aspect, v - moon[1])
        sky = np.where((d < 0.055)[:, None], yellow + (cream - yellow) * 0.4, sky)
        land = hill_dark + (hill_mid - hill_dark) * np.clip(0.5 + 0.8 * t + 0.5 * np.sin(u * 20 + v * 9), 0, 1)[:, None]
        out = np.where((v > hills_v(u))[:, None], land, sky)
        tree = tree_dark + (tree_mid - tree_dark) * np.clip(0.5 + 0.6 * t, 0, 1)[:, None]
        out = np.where(cypress(u, v)[:, None], tree, out)
        return out * jitter

    # --- underpainting: the design, blurred, as a flat base
    vv, uu = np.mgrid[0:height, 0:width]
    uu, vv = (uu.ravel() + 0.5) / width, (vv.ravel() + 0.5) / height
    base = colour(uu, vv, np.ones((uu.size, 1))).reshape(height, width, 3)
    base = ndimage.gaussian_filter(base, (3, 3, 0))
    canvas = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)).resize((W, H), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(canvas)

    # --- layers of strokes: broad to fine
    for stroke_w, count, steps, rim in ((13, 700, 10, 2.0), (9, 1300, 9, 1.5), (6, 2000, 7, 1.2), (3.5, 2000, 5, 0.8)):
        w = stroke_w * unit
        n = int(count * width * height / (512 * 384))
        u = rng.random(n)
        v = rng.random(n)
        lengths = rng.integers(max(2, steps - 2), steps + 3, n)
        jitter = 1.0 + rng.normal(0, 0.09, (n, 1)) + rng.normal(0, 0.04, (n, 3))
        cols = colour(u, v, jitter)
        wid = w * rng.uniform(0.75, 1.25, n)
        path_u, path_v = [u.copy()], [v.copy()]
        step = 0.8 * w / width
        for _ in range(steps + 2):  # trace streamlines, all strokes at once
            fu, fv = flow(path_u[-1], path_v[-1])
            norm = np.hypot(fu * width, fv * height) + 1e-9
            path_u.append(path_u[-1] + step * fu * width / norm)
            path_v.append(path_v[-1] + step * fv * width / norm * width / height)
        pu, pv = np.stack(path_u, 1) * W, np.stack(path_v, 1) * H
        for i in range(n):
            pts = list(zip(pu[i, : lengths[i]].tolist(), pv[i, : lengths[i]].tolist()))
            c = cols[i]
            ww = wid[i] * s
            _brush(draw, pts, ww, rim * s, c)
    return _finish(canvas, width, height)


# ----------------------------------------------------------------------------- mosaic


def paint_mosaic(width: int = 512, height: int = 512, seed: int = 1248) -> np.ndarray:
    """A stained-glass rose window: Voronoi panes in jewel colours, dark lead, shaded glass.

    Cell centres sit on rings around the middle (with jitter), so the panes form
    petals and bands; the corners are filled with smaller random panes. Each pane
    has a linear light gradient, a darker rim near the lead and a mottled texture.
    """
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    s = SUPERSAMPLE
    W, H = width * s, height * s
    side = min(W, H)
    cx, cy = W / 2, H / 2
    radius = 0.47 * side

    palette = [_hex(c) for c in ("#b3122e", "#1d3f9e", "#e0a21a", "#1f7a4a", "#6b2a8c", "#1996a6", "#d8602a", "#eadfb8")]
    ruby, cobalt, amber, emerald, violet, turq, orange, milk = palette

    points: list[tuple[float, float]] = [(cx, cy)]
    colours: list[np.ndarray] = [amber]
    rings = [(0.06, 6, (milk, amber)), (0.13, 8, (ruby, amber)), (0.20, 12, (cobalt, turq)),
             (0.28, 12, (emerald, amber)), (0.36, 16, (ruby, violet)), (0.43, 20, (turq, cobalt))]
    for k, (r, count, (a, b)) in enumerate(rings):
        offset = (k % 2) * np.pi / count
        for j in range(count):
            for sub in (0.0, 0.5) if r > 0.2 else (0.0,):  # outer rings: two panes per petal
                ang = offset + 2 * np.pi * (j + sub) / count + rng.normal(0, 0.015)
                rr = r * side * (1 + (0.12 if sub else 0) + rng.normal(0, 0.01))
                points.append((cx + rr * np.cos(ang), cy + rr * np.sin(ang)))
                colours.append((a if (j + (sub > 0)) % 2 == 0 else b))
    # background panes outside the rose: jittered grid
    step = side / 9
    for gy in np.arange(step / 2, H, step):
        for gx in np.arange(step / 2, W, step):
            x, y = gx + rng.uniform(-0.35, 0.35) * step, gy + rng.uniform(-0.35, 0.35) * step
            if math.hypot(x - cx, y - cy) > radius + 0.4 * step:
                points.append((x, y))
                colours.append([cobalt, violet, cobalt, ruby, emerald][rng.integers(0, 5)] * 0.8)
    pts = np.array(points)
    cols = np.array(colours) * rng.uniform(0.85, 1.12, (len(points), 1)) + rng.normal(0, 8, (len(points), 3))

    # label every pixel with its nearest centre (after a gentle warp, so the lead wobbles)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    warp = 0.012 * side
    wx = xx + warp * ndimage.zoom(_smooth_noise(rng, (32, 32), 2.0), (H / 32, W / 32), order=1)[:H, :W]
    wy = yy + warp * ndimage.zoom(_smooth_noise(rng, (32, 32), 2.0), (H / 32, W / 32), order=1)[:H, :W]
    _, label = cKDTree(pts).query(np.stack([wx.ravel(), wy.ravel()], 1), workers=1)
    label = label.reshape(H, W)
    # the round frame of the rose is lead too
    rim = np.abs(np.hypot(xx - cx, yy - cy) - radius * 1.02) < 0.006 * side

    edges = np.zeros((H, W), bool)
    edges[:, 1:] |= label[:, 1:] != label[:, :-1]
    edges[1:, :] |= label[1:, :] != label[:-1, :]
    lead = ndimage.binary_dilation(edges | rim, iterations=max(1, int(round(1.6 * s))))
    dist = ndimage.distance_transform_edt(~lead)

    # per-pane linear light gradient in a random direction
    angle = rng.uniform(0, 2 * np.pi, len(points))
    gx, gy = np.cos(angle)[label], np.sin(angle)[label]
    grad = ((xx - pts[label, 0]) * gx + (yy - pts[label, 1]) * gy) / (0.06 * side)
    shade = 1.0 + 0.22 * np.tanh(grad)
    shade *= 1.0 - 0.35 * np.exp(-dist / (3.0 * s))  # darker along the lead
    mottle = 1.0 + 0.07 * _smooth_noise(rng, (H, W), 2.0 * s) + 0.04 * _smooth_noise(rng, (H, W), 0.7 * s)
    glass = cols[label] * (shade * mottle)[..., None]
    # a soft glow from the middle, as if lit from behind
    glow = 0.85 + 0.3 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * (0.45 * side) ** 2))
    glass *= glow[..., None]
    lead_col = _hex("#1b1a1d") * (1 + 0.15 * _smooth_noise(rng, (H, W), 1.5 * s))[..., None]
    image = np.where(lead[..., None], lead_col, glass)
    return _finish(image, width, height)


# ----------------------------------------------------------------------------- waves


def _ribbon(xs: np.ndarray, ys: np.ndarray, widths: np.ndarray) -> list[tuple[float, float]]:
    """Polygon of a band of ``widths`` along the polyline ``(xs, ys)`` (offset to its left)."""
    dx, dy = np.gradient(xs), np.gradient(ys)
    norm = np.hypot(dx, dy) + 1e-9
    nx, ny = dy / norm, -dx / norm  # left normal in image coordinates (y down)
    outer = list(zip((xs + nx * widths).tolist(), (ys + ny * widths).tolist()))
    inner = list(zip(xs.tolist(), ys.tolist()))
    return outer + inner[::-1]


def _claws(
    draw: ImageDraw.ImageDraw, xs: np.ndarray, ys: np.ndarray, sizes: np.ndarray, lean: float,
    rng: np.random.Generator, fill: RGB, ink: RGB, line: int,
) -> None:
    """Foam 'fingers' on the left side of the polyline: curved tapering hooks of ``sizes``."""
    dx, dy = np.gradient(xs), np.gradient(ys)
    norm = np.hypot(dx, dy) + 1e-9
    tx, ty = dx / norm, dy / norm
    nx, ny = ty, -tx
    for i in range(1, len(xs) - 1):
        h = sizes[i] * rng.uniform(0.7, 1.2)
        if h <= 1:
            continue
        base = 0.45 * h
        # tip out along the normal, leaning forward along the tangent, hooked back
        bx0, by0 = xs[i] - tx[i] * base, ys[i] - ty[i] * base
        bx1, by1 = xs[i] + tx[i] * base, ys[i] + ty[i] * base
        mx, my = xs[i] + nx[i] * h * 0.6 + tx[i] * h * lean * 0.5, ys[i] + ny[i] * h * 0.6 + ty[i] * h * lean * 0.5
        tipx, tipy = xs[i] + nx[i] * h + tx[i] * h * lean, ys[i] + ny[i] * h + ty[i] * h * lean
        back = 0.25 * np.sign(lean)
        hookx, hooky = tipx + tx[i] * h * back - nx[i] * h * 0.3, tipy + ty[i] * h * back - ny[i] * h * 0.3
        poly = [(bx0, by0), (mx - tx[i] * base * 0.3, my - ty[i] * base * 0.3), (tipx, tipy), (hookx, hooky),
                (mx + tx[i] * base * 0.5, my + ty[i] * base * 0.5), (bx1, by1)]
        draw.polygon(poly, fill=fill, outline=ink, width=line)


def paint_waves(width: int = 512, height: int = 352, seed: int = 1831) -> np.ndarray:
    """A woodblock print of great waves: Prussian-blue bands, clawed foam, paper grain.

    Flat colour regions with dark outlines, curling crests with white foam fingers,
    spray dots, a small snowy mountain and a beige paper with fibres and grain.
    """
    rng = np.random.default_rng(seed)
    s = SUPERSAMPLE
    W, H = width * s, height * s
    px = min(width / 512, height / 352) * s  # one "print pixel" of the 512 px design
    ink = _rgb(_hex("#13213a"))
    line = max(1, int(round(1.6 * px)))
    paper_col = _hex("#e9dcbd")
    foam = _rgb(_hex("#f5efdc"))
    blues = [_hex(c) for c in ("#5b84ad", "#2c5282", "#1c3a63", "#22476f", "#173258")]
    stripe = _hex("#7ea3c6")

    # --- paper: colour, a darker printed sky band at the top ("bokashi"), blotches, grain
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    paper = np.broadcast_to(paper_col, (H, W, 3)).copy()
    sky = np.clip(1 - yy / (0.3 * H), 0, 1)[..., None] ** 1.5
    paper = paper * (1 - 0.45 * sky) + _hex("#8c8678") * 0.45 * sky
    blotch = _smooth_noise(rng, (max(2, H // 8), max(2, W // 8)), 6.0)
    paper *= 1 + 0.035 * ndimage.zoom(blotch, (H / blotch.shape[0], W / blotch.shape[1]), order=1)[:H, :W, None]
    canvas = Image.fromarray(np.clip(paper, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(500 * width * height / (512 * 352))):  # paper fibres
        x0, y0 = rng.uniform(0, W), rng.uniform(0, H)
        ang, ln = rng.uniform(0, np.pi), rng.uniform(4, 14) * px
        shade = paper_col * rng.uniform(0.86, 1.04)
        draw.line([(x0, y0), (x0 + ln * np.cos(ang), y0 + ln * np.sin(ang))], fill=_rgb(shade), width=1)

    # --- the mountain on the horizon
    fx, fy, fw, fh = 0.60 * W, 0.66 * H, 0.11 * W, 0.09 * H
    ts = np.linspace(-1, 1, 41)
    ridge = [(fx + fw * t_, fy - fh * (1 - abs(t_)) ** 1.6 - 0.02 * fh) for t_ in ts]
    foot = [(fx + fw, fy + 0.05 * H), (fx - fw, fy + 0.05 * H)]
    draw.polygon(ridge + foot, fill=_rgb(_hex("#4f6b8f")), outline=ink, width=line)
    snow = [(fx + fw * t_, fy - fh * (1 - abs(t_)) ** 1.6) for t_ in np.linspace(-0.42, 0.42, 15)]
    zig = [(fx + fw * t_, fy - fh * 0.5 + (fh * 0.12 if k % 2 else 0)) for k, t_ in enumerate(np.linspace(0.42, -0.42, 9))]
    draw.polygon(snow + zig, fill=foam, outline=ink, width=line)

    # --- wave bands, back to front: (base y, amplitude, wavelength, phase, colour, foam width, claw size)
    bands = [
        (0.70, 0.045, 0.16, 0.10, 0, 2.5, 3.0),
        (0.76, 0.08, 0.27, 0.55, 1, 4.0, 6.0),
        (0.90, 0.27, 0.55, 0.22, 3, 6.5, 12.0),
        (1.04, 0.13, 0.33, 0.65, 2, 5.0, 9.0),
    ]
    xs = np.linspace(-0.05 * W, 1.05 * W, 400)

    def crest(x: np.ndarray, y0: float, amp: float, wl: float, phase: float) -> np.ndarray:
        t_ = x / (wl * W) + phase
        t_ = t_ - 0.11 * np.sin(2 * np.pi * t_)  # steeper fronts: waves run to the right
        return (y0 - amp * ((1 + np.cos(2 * np.pi * t_)) / 2) ** 2.2) * H

    def wave_band(ys: np.ndarray, col: np.ndarray, amp_px: float, foam_w: float, claw: float, y0: float) -> None:
        surface = list(zip(xs.tolist(), ys.tolist()))
        draw.polygon(surface + [(xs[-1], H + 10), (xs[0], H + 10)], fill=_rgb(col), outline=ink, width=line)
        height_above = np.clip((y0 * H - ys) / max(amp_px, 1e-6), 0, 1)  # 0 in troughs .. 1 on crests
        for k in range(1, 7):  # striations that follow the surface and fade with depth
            off = k * 3.2 * foam_w * px
            sy = ys + off + (y0 * H - ys) * (1 - 0.8 ** k) * 0.6
            tint = _rgb(col + (stripe - col) * (0.65 - 0.07 * k))
            draw.line(list(zip(xs.tolist(), sy.tolist())), fill=tint, width=max(1, int(round(1.2 * px))))
        fw_ = foam_w * px * (0.25 + 1.2 * height_above ** 1.5)
        draw.polygon(_ribbon(xs[::-1], ys[::-1], fw_[::-1]), fill=foam, outline=ink, width=line)
        sel = slice(None, None, 3)
        sizes = claw * px * np.clip(height_above[sel] - 0.35, 0, 1) * 1.6
        _claws(draw, xs[sel], ys[sel] + 0.3 * fw_[sel], sizes, 0.7, rng, foam, ink, line)

    for y0, amp, wl, phase, ci, foam_w, claw in bands[:2]:
        wave_band(crest(xs, y0, amp, wl, phase), blues[ci], amp * H, foam_w, claw, y0)

    # --- the great wave: a swell rising from the left whose lip curls over to the right
    R = 0.17 * H
    top_x, top_y = 0.34 * W, 0.25 * H
    cx, cy = top_x, top_y + R  # centre of the curl
    theta = np.linspace(-0.5 * np.pi, 0.62 * np.pi, 140)
    frac = (theta - theta[0]) / (theta[-1] - theta[0])
    r_out = R * (1 - 0.3 * frac)
    ox, oy = cx + r_out * np.cos(theta), cy + r_out * np.sin(theta)
    r_in = r_out - 0.5 * R * (1 - frac) ** 0.9 - 0.5 * px
    ix, iy = cx + r_in * np.cos(theta), cy + r_in * np.sin(theta)
    back_x = np.linspace(-0.05 * W, top_x, 120)
    back_y = 0.93 * H - (0.93 * H - top_y) * np.exp(-(((back_x - top_x) / (0.2 * W)) ** 2)) ** 1.3
    trough = [(ox[-1] + 0.1 * R, cy + 1.4 * R), (cx + 1.6 * R, 0.86 * H), (1.05 * W, 0.9 * H),
              (1.05 * W, H + 10), (-0.05 * W, H + 10)]
    body = list(zip(back_x.tolist(), back_y.tolist())) + list(zip(ox.tolist(), oy.tolist())) + trough
    big = blues[4]
    draw.polygon(body, fill=_rgb(big), outline=ink, width=line)
    for k in range(1, 9):  # striations along the back of the swell
        off = k * 0.03 * H
        draw.line(list(zip(back_x.tolist(), (back_y + off * (1 + 0.4 * k / 8)).tolist())),
                  fill=_rgb(big + (stripe - big) * (0.6 - 0.05 * k)), width=max(1, int(round(1.2 * px))))
    # the hollow under the lip: a lighter face with its own striations
    wall = [(cx - 0.55 * R, cy - 0.05 * R), (cx - 0.62 * R, cy + 0.5 * R), (cx - 0.45 * R, cy + 0.95 * R),
            (ix[-1] + 0.05 * R, iy[-1] + 0.25 * R)]
    hollow = list(zip(ix[::-1].tolist(), iy[::-1].tolist()))
    hollow_poly = hollow + [(cx - 0.25 * R, cy - 0.45 * R)] + wall
    face = blues[1]
    draw.polygon(hollow_poly, fill=_rgb(face), outline=ink, width=line)
    arc = np.linspace(0.1 * np.pi, 0.9 * np.pi, 30)  # lower half-circles under the lip
    for k in range(1, 5):
        rk = (0.6 - 0.1 * k) * R
        draw.line(list(zip((cx + 0.05 * R + rk * np.cos(arc)).tolist(), (cy + 0.2 * R + 0.9 * rk * np.sin(arc)).tolist())),
                  fill=_rgb(face + (stripe - face) * 0.55), width=max(1, int(round(1.2 * px))))
    # foam along the top of the swell and round the lip, with claws hanging from the lip
    fsel = back_x > top_x - 0.22 * W
    fb = 8 * px * np.clip((back_x[fsel] - (top_x - 0.22 * W)) / (0.22 * W), 0, 1) ** 1.2 + px
    fx_all = np.concatenate([back_x[fsel], ox[1:]])
    fy_all = np.concatenate([back_y[fsel], oy[1:]])
    fw_all = np.concatenate([fb, 9 * px * (1 - frac[1:]) ** 0.7 + px])
    draw.polygon(_ribbon(fx_all, fy_all, -fw_all), fill=foam, outline=ink, width=line)
    csel = slice(10, None, 4)
    csize = 13 * px * (0.35 + 0.9 * np.sin(np.pi * frac[csel]) ** 0.8)
    _claws(draw, ox[csel], oy[csel], csize, 0.9, rng, foam, ink, line)
    bsel = np.nonzero(fsel)[0][::5]
    _claws(draw, back_x[bsel], back_y[bsel], 6 * px * np.linspace(0.3, 1.0, bsel.size), 0.9, rng, foam, ink, line)

    for y0, amp, wl, phase, ci, foam_w, claw in bands[2:]:
        wave_band(crest(xs, y0, amp, wl, phase), blues[ci], amp * H, foam_w, claw, y0)

    # --- spray: foam dots above the great wave
    for _ in range(int(45 * width * height / (512 * 352))):
        ang = rng.uniform(-np.pi * 0.35, 0.45 * np.pi)
        dist = R * rng.uniform(1.2, 1.75)
        x0, y0 = cx + dist * np.cos(ang), cy + dist * np.sin(ang)
        r = rng.uniform(1.2, 3.2) * px
        draw.ellipse((x0 - r, y0 - r, x0 + r, y0 + r), fill=foam, outline=ink, width=max(1, line // 2))

    # --- print the grain over everything
    img = np.asarray(canvas, dtype=np.float64)
    grain = 1 + 0.045 * _smooth_noise(rng, (H, W), 0.6 * s) + 0.02 * _smooth_noise(rng, (H, W), 4 * s)
    return _finish(img * grain[..., None], width, height)


# ----------------------------------------------------------------------------- cubist


def paint_cubist(width: int = 384, height: int = 512, seed: int = 1910) -> np.ndarray:
    """Analytic-cubist planes: angular, overlapping, translucent facets with hatching.

    An ochre / brown / grey palette; facets cluster round a vertical 'figure',
    each shaded darker towards one edge, some hatched, with broken dark contours,
    a few arcs and circles, all on a canvas weave.
    """
    rng = np.random.default_rng(seed)
    s = SUPERSAMPLE
    W, H = width * s, height * s
    px = min(width / 384, height / 512) * s
    palette = [_hex(c) for c in ("#c9a45c", "#a8692f", "#5c3e27", "#8d877a", "#5d6366", "#e2d4b0", "#7b7346", "#3a302a")]
    umber, cream = _hex("#2e2119"), _hex("#efe3c4")

    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    img = (_hex("#b59e74") * (1 - yy / H)[..., None] * 0.6 + _hex("#7d705a") * (0.4 + 0.6 * yy / H)[..., None])
    mottle = _smooth_noise(rng, (max(2, H // 16), max(2, W // 16)), 2.0)
    img *= 1 + 0.05 * ndimage.zoom(mottle, (H / mottle.shape[0], W / mottle.shape[1]), order=1)[:H, :W, None]

    directions = np.deg2rad(np.array([0, 18, 72, 90, 108, 162, 35, 125]))
    layers = [(0.5, 0), (0.42, 10), (0.26, 24), (0.15, 34), (0.08, 30)]
    mask_img = Image.new("L", (W, H))
    mdraw = ImageDraw.Draw(mask_img)
    edges: list[tuple[list[tuple[float, float]], bool]] = []
    grid = [(gx, gy) for gy in np.linspace(0.08, 0.92, 5) for gx in np.linspace(0.1, 0.9, 4)]
    for scale, count in layers:
        centres = grid if count == 0 else [None] * int(count * width * height / (384 * 512))
        for centre in centres:
            if centre is None:  # centres cluster round a standing figure in the middle
                cxp = W * np.clip(0.5 + rng.normal(0, 0.24), 0.02, 0.98)
                cyp = H * np.clip(0.48 + rng.normal(0, 0.28), 0.02, 0.98)
            else:  # the first layer tiles the whole canvas
                cxp, cyp = W * (centre[0] + rng.normal(0, 0.03)), H * (centre[1] + rng.normal(0, 0.03))
            size = scale * min(W, H) * rng.uniform(0.6, 1.3)
            a = rng.choice(directions)
            diffs = np.abs((directions - a + np.pi / 2) % np.pi - np.pi / 2)
            b = rng.choice(directions[diffs > np.deg2rad(50)])  # no slivers
            la, lb = size * rng.uniform(0.5, 1.0), size * rng.uniform(0.3, 0.8)
            ua, ub = np.array([np.cos(a), np.sin(a)]), np.array([np.cos(b), np.sin(b)])
            c0 = np.array([cxp, cyp]) - (ua * la + ub * lb) / 2
            quad = [c0, c0 + ua * la, c0 + ua * la + ub * lb * rng.uniform(0.5, 1.2), c0 + ub * lb]
            if rng.random() < 0.35:  # a triangle instead
                quad = [quad[0], quad[1], quad[3] + ua * la * rng.uniform(0, 1)]
            poly = [(float(x), float(y)) for x, y in quad]
            mask_img.paste(0, (0, 0, W, H))
            mdraw.polygon(poly, fill=255)
            xs_, ys_ = [pt[0] for pt in poly], [pt[1] for pt in poly]
            x0, x1 = max(0, int(min(xs_)) - 1), min(W, int(max(xs_)) + 2)
            y0, y1 = max(0, int(min(ys_)) - 1), min(H, int(max(ys_)) + 2)
            if x1 <= x0 or y1 <= y0:
                continue
            m = np.asarray(mask_img, dtype=np.float64)[y0:y1, x0:x1] / 255.0
            bx, by = xx[y0:y1, x0:x1], yy[y0:y1, x0:x1]
            col = palette[rng.integers(0, len(palette))] * rng.uniform(0.9, 1.1)
            # shading: dark at one edge, light at the other ("passage")
            g = rng.uniform(0, 2 * np.pi)
            proj = ((bx - cxp) * np.cos(g) + (by - cyp) * np.sin(g)) / (size * 0.5)
            layer = col * (0.95 + 0.3 * np.clip(proj, -1, 1))[..., None]
            if rng.random() < 0.55:  # hatching
                hang = rng.choice(np.deg2rad([45, 135, 60, 120]))
                spacing = rng.uniform(5.0, 8.0) * px
                phase = (bx * np.cos(hang) + by * np.sin(hang)) % spacing
                hatch = np.clip(1.0 - np.abs(phase - spacing / 2) / (0.8 * px), 0, 1) * rng.uniform(0.45, 0.7)
                layer = layer * (1 - hatch[..., None]) + umber * hatch[..., None]
            alpha = rng.uniform(0.5, 0.85) * m[..., None]
            region = img[y0:y1, x0:x1]
            img[y0:y1, x0:x1] = region * (1 - alpha) + layer * alpha
            edges.append((poly, rng.random() < 0.25))

    canvas = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    # short parallel brush dabs in the local colour (Cezanne's "constructive stroke")
    n_dabs = int(2600 * width * height / (384 * 512))
    dx_, dy_ = rng.uniform(0, W, n_dabs), rng.uniform(0, H, n_dabs)
    local = img[dy_.astype(int), dx_.astype(int)] * rng.uniform(0.82, 1.15, (n_dabs, 1))
    dab_ang = np.deg2rad(62) + rng.normal(0, 0.12, n_dabs)
    dab_len = rng.uniform(5, 11, n_dabs) * px
    dab_w = rng.uniform(1.6, 3.2, n_dabs) * px
    for i in range(n_dabs):
        ex, ey = dab_len[i] * np.cos(dab_ang[i]) / 2, dab_len[i] * np.sin(dab_ang[i]) / 2
        draw.line([(dx_[i] - ex, dy_[i] + ey), (dx_[i] + ex, dy_[i] - ey)], fill=_rgb(local[i]), width=int(round(dab_w[i])))
    for poly, light in edges:  # broken contours: only some sides are drawn
        n = len(poly)
        for k in range(n):
            if rng.random() < 0.45:
                continue
            p0, p1 = poly[k], poly[(k + 1) % n]
            colour = cream * 0.95 if light else umber * rng.uniform(0.8, 1.3)
            draw.line([p0, p1], fill=_rgb(colour), width=max(1, int(round(rng.uniform(1.2, 2.6) * px))))
    for _ in range(4):  # arcs and circles: bottles, guitar curves, a table edge
        r = rng.uniform(0.06, 0.2) * min(W, H)
        x0, y0 = W * rng.uniform(0.2, 0.8), H * rng.uniform(0.2, 0.8)
        start = rng.uniform(0, 360)
        stop = start + rng.uniform(70, 160)
        draw.arc((x0 - r, y0 - r, x0 + r, y0 + r), start, stop, fill=_rgb(umber), width=int(round(1.8 * px)))
    r = 0.05 * min(W, H)
    x0, y0 = 0.58 * W, 0.36 * H
    box = (x0 - r, y0 - r, x0 + r, y0 + r)
    draw.ellipse(box, fill=_rgb(palette[5] * 0.95), outline=_rgb(umber), width=int(round(2 * px)))

    # canvas weave and a slight softening
    out = np.asarray(canvas, dtype=np.float64)
    weave = 1 + 0.025 * (np.sin(xx * np.pi / (1.5 * px)) * np.sin(yy * np.pi / (1.5 * px)))
    weave += 0.03 * _smooth_noise(rng, (H, W), 0.8 * s)
    return _finish(out * weave[..., None], width, height)


# ----------------------------------------------------------------------------- registry

#: Painter of each style image, by name.
STYLES: dict[str, Callable[..., np.ndarray]] = {
    "swirls": paint_swirls,
    "mosaic": paint_mosaic,
    "waves": paint_waves,
    "cubist": paint_cubist,
}
#: What each style image shows (for data/README.md and data/manifest.json).
DESCRIPTIONS: dict[str, str] = {
    "swirls": "Starry night of thick swirling brush strokes (deep blues, yellows, whites)",
    "mosaic": "Stained-glass rose window: Voronoi panes in jewel colours with dark lead",
    "waves": "Woodblock print of great waves: Prussian blue, clawed foam, paper grain",
    "cubist": "Analytic-cubist facets in ochre, brown and grey with hatching and dabs",
}
#: Size (width, height) of each committed style image.
SIZES: dict[str, tuple[int, int]] = {
    "swirls": (512, 384),
    "mosaic": (512, 512),
    "waves": (512, 352),
    "cubist": (384, 512),
}


def paint(name: str, size: tuple[int, int] | None = None) -> np.ndarray:
    """Paint the style image ``name`` at ``size`` = (width, height) (default: committed size)."""
    if name not in STYLES:
        raise ValueError(f"unknown style {name!r}; choose from {', '.join(sorted(STYLES))}")
    width, height = size or SIZES[name]
    return STYLES[name](width, height)


def encode_jpeg(image: np.ndarray) -> bytes:
    """A uint8 RGB array as JPEG bytes: fixed quality, 4:2:0 chroma, optimised tables, no metadata."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=JPEG_QUALITY, subsampling=2, optimize=True)
    return buffer.getvalue()


def save_jpeg(image: np.ndarray, path: Path) -> None:
    """Save a uint8 RGB array as a JPEG file (see :func:`encode_jpeg`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_jpeg(image))


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: paint the chosen (default: all) styles into ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help=f"styles to paint (default: all of {', '.join(STYLES)})")
    parser.add_argument("--out", type=Path, default=STYLE_DIR, help="output folder (default: data/style)")
    args = parser.parse_args(argv)
    for name in args.names or list(STYLES):
        start = time.perf_counter()
        image = paint(name)
        target = args.out / f"{name}.jpg"
        save_jpeg(image, target)
        digest = hashlib.sha256(target.read_bytes()).hexdigest()
        print(f"{target}: {image.shape[1]}x{image.shape[0]}, {target.stat().st_size // 1024} KiB, "
              f"{time.perf_counter() - start:.1f} s, sha256 {digest[:16]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
