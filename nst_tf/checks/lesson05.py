"""Checks for lesson 05: luminance-only colour preservation, built from its pieces.

The exercise: ``recombine_luminance(generated_image, content_image)`` takes two RGB images
``(H, W, 3)`` in [0, 1] of the same size and returns an RGB image with the *brightness*
(Y of YIQ) of the generated image and the *colour* (I and Q) of the content image:

    to YIQ (each pixel times YIQ_FROM_RGB transposed) -> Y from the generated, I and Q from the
    content -> back to RGB (the inverse matrix) -> clip to [0, 1].

The student writes the colour conversions too, from the matrix ``colour.YIQ_FROM_RGB``:
the package's ``rgb_to_yiq``, ``yiq_to_rgb``, ``recombine_luminance`` and
``luminance_image`` are hidden while the check runs, and the check's own references are
NumPy matrix products written here.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..image.colour import YIQ_FROM_RGB
from ._common import exercise_check, fail, passed

__all__ = ["check_recombine_luminance"]

#: The package's colour conversions, unavailable to an answer while the check runs.
HIDDEN = (
    "nst_tf.image.colour:rgb_to_yiq",
    "nst_tf.image.colour:yiq_to_rgb",
    "nst_tf.image.colour:recombine_luminance",
    "nst_tf.image.colour:luminance_image",
    "nst_tf.image.colour:_apply_colour_matrix",
    "skimage.color:rgb2yiq",
    "skimage.color:yiq2rgb",
)


def rgb_to_yiq(image: np.ndarray) -> np.ndarray:
    """The check's own conversion: every pixel (a row of 3) times the matrix's transpose."""
    return np.asarray(image, np.float64) @ YIQ_FROM_RGB.T


def yiq_to_rgb(image: np.ndarray) -> np.ndarray:
    return np.asarray(image, np.float64) @ np.linalg.inv(YIQ_FROM_RGB).T


def _reference(generated: np.ndarray, content: np.ndarray) -> np.ndarray:
    combined = np.concatenate([rgb_to_yiq(generated)[..., :1], rgb_to_yiq(content)[..., 1:]], axis=-1)
    return np.clip(yiq_to_rgb(combined), 0.0, 1.0)


def _picture(height: int, width: int, seed: int, saturation: float) -> np.ndarray:
    """A smooth, softly coloured picture (H, W, 3) in [0.2, 0.8]: bright and dark parts, no pure colours."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    brightness = 0.5 + 0.15 * np.sin(2 * np.pi * (xx + rng.uniform()) + 3 * yy)
    phase = rng.uniform(0, 2 * np.pi, 3)
    tint = np.stack([np.sin(4 * xx - 2 * yy + p) for p in phase], axis=-1)
    return np.clip(brightness[..., None] + saturation * tint, 0.0, 1.0).astype(np.float32)


def _inputs(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A generated and a content image whose recombination needs no clipping."""
    generated = _picture(10, 14, seed, 0.12)
    content = _picture(10, 14, seed + 100, 0.12)
    return generated, content


def _as_image(value: object, name: str, shape: tuple[int, ...]) -> np.ndarray:
    if value is None:
        fail(f"{name} returned None: end the function with `return` and the RGB image.")
    array = np.asarray(value.numpy() if hasattr(value, "numpy") else value, dtype=np.float64)
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.shape != tuple(shape):
        fail(
            f"{name} returned shape {array.shape}, but the result is an RGB image of the inputs' shape "
            f"{tuple(shape)}. Keep the channel axis last: take Y with yiq[..., :1] (or yiq[..., 0] and put "
            "it back with np.stack / np.concatenate on axis=-1)."
        )
    return array


def _mistake(result: np.ndarray, generated: np.ndarray, content: np.ndarray) -> str | None:
    """A message naming the first typical mistake that explains ``result``, else None."""
    gen_yiq, con_yiq = rgb_to_yiq(generated).astype(np.float64), rgb_to_yiq(content).astype(np.float64)
    candidates = {
        "You returned the generated image unchanged: its colours are the painting's. Keep only its "
        "luminance Y (channel 0 in YIQ) and take I and Q (channels 1 and 2) from the content image.": generated,
        "You returned the content image: the stylized brightness is lost. Take Y (channel 0) from the "
        "generated image and only I and Q (channels 1 and 2) from the content image.": content,
        "Y and the colour come from the wrong images: this has the content's brightness and the generated "
        "image's colours. Y (channel 0) comes from generated_image, I and Q (channels 1, 2) from content_image.": yiq_to_rgb(
            np.concatenate([con_yiq[..., :1], gen_yiq[..., 1:]], axis=-1)
        ),
        "The result still is in YIQ (Y around 0.5, I and Q around 0): convert it back to RGB with the "
        "inverse matrix before returning.": np.concatenate([gen_yiq[..., :1], con_yiq[..., 1:]], axis=-1),
        "You combined the channels in RGB (red from the generated image, green and blue from the content). "
        "Convert both images to YIQ first: Y, I and Q separate brightness from colour, R, G and B "
        "do not.": np.concatenate([generated[..., :1], content[..., 1:]], axis=-1),
        "You converted back with YIQ_FROM_RGB again: the way back to RGB is its inverse "
        "(np.linalg.inv(YIQ_FROM_RGB)), not the same matrix.": rgb_to_yiq(
            np.concatenate([gen_yiq[..., :1], con_yiq[..., 1:]], axis=-1)
        ),
        "The matrix was applied the wrong way round: image @ YIQ_FROM_RGB mixes the wrong entries. Each pixel "
        "is a row (r, g, b), and Y = 0.299 r + 0.587 g + 0.114 b is the first *row* of the matrix times it: "
        "use image @ YIQ_FROM_RGB.T (and the inverse's transpose on the way back).": (
            np.concatenate([(generated @ YIQ_FROM_RGB)[..., :1], (content @ YIQ_FROM_RGB)[..., 1:]], axis=-1)
            @ np.linalg.inv(YIQ_FROM_RGB)
        ),
    }
    for message, wrong in candidates.items():
        if np.allclose(result, wrong, atol=2e-3):
            return message
    return None


@exercise_check("recombine_luminance", HIDDEN)
def check_recombine_luminance(recombine_luminance: Callable) -> None:
    """Exercise: the generated image's luminance with the content image's I and Q, back in RGB."""
    name = "recombine_luminance"
    for seed in (1, 2):
        generated, content = _inputs(seed)
        kept_generated, kept_content = generated.copy(), content.copy()
        value = recombine_luminance(generated, content)
        result = _as_image(value, name, generated.shape)
        if not (np.array_equal(generated, kept_generated) and np.array_equal(content, kept_content)):
            fail(
                f"{name} changed one of its input images in place (an assignment like image[..., 0] = ...). "
                "Work on the arrays rgb_to_yiq returns, or on copies, so the caller's images stay as they were."
            )
        mistake = _mistake(result, generated, content)
        if mistake:
            fail(mistake)
        expected = _reference(generated, content)
        yiq = rgb_to_yiq(result)
        if not np.allclose(yiq[..., 0], rgb_to_yiq(generated)[..., 0], atol=2e-3):
            fail(
                f"The brightness of your result is not the generated image's: its Y channel ((result @ YIQ_FROM_RGB.T)[..., 0]) "
                "must equal that of the generated image. Take channel 0 from the generated image."
            )
        if not np.allclose(yiq[..., 1:], rgb_to_yiq(content)[..., 1:], atol=2e-3):
            fail(
                "The colour of your result is not the content image's: channels 1 and 2 of "
                "the result in YIQ must equal those of the content image in YIQ."
            )
        if not np.allclose(result, expected, atol=2e-3):
            fail(f"{name} does not give the expected image (largest difference {np.abs(result - expected).max():.3g}).")

    # Brighter than RGB can show with that colour: the result must still be a valid image.
    bright = np.clip(_picture(10, 14, 7, 0.0) + 0.35, 0.0, 1.0)
    saturated = _picture(10, 14, 8, 0.45)
    result = _as_image(recombine_luminance(bright, saturated), name, bright.shape)
    if result.min() < -1e-6 or result.max() > 1 + 1e-6:
        fail(
            f"{name} returned values from {result.min():.3f} to {result.max():.3f}. A bright Y with a strong colour "
            "can leave the RGB range: clip the result to [0, 1] (np.clip) so it is a valid image."
        )
    same = _as_image(recombine_luminance(saturated, saturated), name, saturated.shape)
    if not np.allclose(same, np.clip(saturated, 0, 1), atol=2e-3):
        fail(f"{name}(image, image) must give the image back: its own brightness with its own colour.")
    passed(name)
