"""Checks for lesson 01: reading the activations of named VGG layers.

``check_make_extractor`` checks the lesson's exercise, ``make_extractor(layer_names)``,
whose result lessons 03 and 04 reuse; ``check_layer_activations`` the earlier one-layer
version. Both compare with the same VGG's own layers, built here with Keras directly.
"""

from __future__ import annotations

from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from ._common import close, exercise_check, fail, passed, require_gradient

__all__ = ["check_layer_activations", "check_make_extractor"]

#: The package's own feature extraction, unavailable to an answer while its check runs.
HIDDEN = ("nst_tf.vgg.extractor:feature_extractor", "nst_tf.vgg.extractor:FeatureExtractor.__call__")

_LAYERS = ("block1_conv2", "block3_conv1", "block4_conv2")


def _near(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal up to float noise, relative to the size of ``b``."""
    if a.shape != b.shape:
        return False
    return bool(np.allclose(a, b, rtol=1e-3, atol=1e-3 * (float(np.max(np.abs(b))) + 1e-6)))


class _Reference:
    """Every conv layer's activations from the same VGG the student uses, for a few inputs."""

    def __init__(self, model: keras.Model) -> None:
        self.names = [layer.name for layer in model.layers if "_conv" in layer.name]
        self.model = keras.Model(model.inputs, [model.get_layer(name).output for name in self.names])
        self._cache: dict[tuple, dict[str, np.ndarray]] = {}

    def __call__(self, key: str, batch: np.ndarray) -> dict[str, np.ndarray]:
        batch = np.asarray(batch, np.float32)
        entry = (key, batch.shape, hash(batch.tobytes()))  # the same name may come with other images
        if entry not in self._cache:
            outputs = self.model(tf.constant(batch), training=False)
            self._cache[entry] = {name: np.asarray(out) for name, out in zip(self.names, outputs)}
        return self._cache[entry]


def _diagnose_values(result: np.ndarray, expected: np.ndarray, layer: str, image: np.ndarray, reference: _Reference
                     ) -> None:
    """The shape is right but the values are not: find the likely mistake."""
    from keras.applications import vgg19

    for name, activations in reference("image", image[np.newaxis]).items():
        if name != layer and _near(result, activations):
            fail(
                f"You returned the activations of {name}, but {layer} was asked for. Build the model "
                "from vgg.get_layer(layer_name).output, using the argument rather than a fixed name."
            )
    variants = {
        "scaled": (
            255.0 * image,
            "The values match an image scaled to 0-255. The model from nst_tf.load_vgg() takes RGB values "
            "in [0, 1] and does the scaling itself (its first layer, vgg_preprocess). Pass the image as it is.",
        ),
        "twice": (
            vgg19.preprocess_input(255.0 * image),
            "The image was preprocessed twice: you called preprocess_input yourself, but the model from "
            "nst_tf.load_vgg() already turns RGB in [0, 1] into mean-subtracted BGR in 0-255 "
            "(its first layer, vgg_preprocess). Pass the RGB image in [0, 1] as it is.",
        ),
        "bgr": (
            image[..., ::-1],
            "The colour channels are reversed: you turned RGB into BGR yourself, but the model's first "
            "layer (vgg_preprocess) already does that. Pass the RGB image as it is.",
        ),
    }
    for key, (variant, message) in variants.items():
        if _near(result, reference(key, np.asarray(variant, np.float32)[np.newaxis])[layer]):
            fail(message)
    worst = float(np.max(np.abs(result - expected)))
    fail(
        f"The shape is right but the values of {layer} differ from VGG's (largest difference {worst:.3g}). "
        "Use the model from nst_tf.load_vgg() (the same weights as this check), feed it the image "
        "with a batch axis in front, and return the layer's output unchanged (the ReLU is part of the layer)."
    )


def _kind(value: object) -> str:
    return "a NumPy array" if isinstance(value, np.ndarray) else f"a {type(value).__name__}"


@exercise_check("layer_activations", HIDDEN)
def check_layer_activations(layer_activations: Callable, model: keras.Model | None = None) -> None:
    """Lesson 01 exercise: ``layer_activations(image, layer_name)`` -> ``(1, h, w, C)`` tensor.

    ``image`` is RGB ``(H, W, 3)`` in [0, 1]. The answer is compared with the same VGG
    (``model``, default ``nst_tf.load_vgg()``) on a seeded random image for three layers;
    a failure names the likely mistake: not a tensor, the batch axis missing, the wrong
    layer, or the preprocessing done by hand (scaled to 0-255, BGR, or applied twice).
    """
    from ..vgg.extractor import load_vgg

    model = load_vgg() if model is None else model
    reference = _Reference(model)
    rng = np.random.default_rng(1)
    image = rng.uniform(0.0, 1.0, (40, 56, 3)).astype(np.float32)
    for layer in _LAYERS:
        expected = reference("image", image[np.newaxis])[layer]
        result = layer_activations(image, layer)
        if isinstance(result, dict):
            fail(
                f"layer_activations returned a dict; return only the activations of the asked layer "
                f"({layer}) as one tensor."
            )
        if not isinstance(result, (tf.Tensor, tf.Variable)):
            fail(
                f"layer_activations returned {_kind(result)}, not a TensorFlow tensor. Return "
                "the model's output as it is (no .numpy()), so that later lessons can take gradients through it."
            )
        result = np.asarray(result)
        if result.shape == expected.shape[1:]:
            fail(
                f"layer_activations returned shape {result.shape}, without the batch axis. Keep it: "
                f"the activations of one image have shape {expected.shape} = (1, h, w, channels)."
            )
        if result.shape != expected.shape:
            same_shape = [name for name, out in reference("image", image[np.newaxis]).items()
                          if out.shape == result.shape]
            if same_shape:
                hint = (f"That is the shape of {' or '.join(same_shape[:2])}: build the model from "
                        "vgg.get_layer(layer_name).output.")
            else:
                hint = "Each pooling layer halves the 40 x 56 input; did you resize or crop the image?"
            fail(f"For {layer} the activations should have shape {expected.shape}, but yours have {result.shape}. {hint}")
        if not _near(result, expected):
            _diagnose_values(result, expected, layer, image, reference)
    passed("Layer activations")


def _check_one_output(result: object, expected: np.ndarray, layer: str, image: np.ndarray, reference: _Reference
                      ) -> None:
    if not isinstance(result, (tf.Tensor, tf.Variable)):
        fail(
            f"The activations of {layer} are {_kind(result)}, not a TensorFlow tensor. Return the model's "
            "outputs as they are (no .numpy()), so that lessons 03 and 04 can take gradients through them."
        )
    result = np.asarray(result)
    if result.shape != expected.shape:
        same_shape = [name for name, out in reference("image", image[np.newaxis]).items() if out.shape == result.shape]
        hint = (f"That is the shape of {' or '.join(same_shape[:2])}: take each output from the layer of the "
                "same name." if same_shape else "Did you resize or crop the image?")
        fail(f"For {layer} the activations should have shape {expected.shape}, but yours have {result.shape}. {hint}")
    if not _near(result, expected):
        _diagnose_values(result, expected, layer, image, reference)


@exercise_check("make_extractor", HIDDEN)
def check_make_extractor(make_extractor: Callable, model: keras.Model | None = None) -> None:
    """Lesson 01 exercise: ``make_extractor(layer_names)`` -> ``extract``, ``extract(batch)`` -> ``{name: (1, h, w, C)}``.

    ``batch`` is RGB ``(1, H, W, 3)`` in [0, 1]. Compared with the same VGG (``model``,
    default ``nst_tf.load_vgg()``) for two lists of layers and two image sizes; the
    gradient must flow from the activations back to the pixels. A failure names the likely
    mistake: not callable, a list instead of a dict, fixed layer names, NumPy outputs, the
    preprocessing done by hand (scaled to 0-255, BGR, or applied twice), no gradient.
    """
    from ..vgg.extractor import load_vgg

    model = load_vgg() if model is None else model
    reference = _Reference(model)
    rng = np.random.default_rng(1)
    cases = [((40, 56, 3), list(_LAYERS)), ((48, 32, 3), ["block5_conv1", "block2_conv2"])]
    for shape, layers in cases:
        image = rng.uniform(0.0, 1.0, shape).astype(np.float32)
        extract = make_extractor(list(layers))
        if extract is None or not callable(extract):
            fail(
                f"make_extractor returned {_kind(extract)}; return something you can call on a batch of images, "
                "such as the keras.Model you built (return the model itself, not its output)."
            )
        outputs = extract(tf.constant(image[np.newaxis]))
        if isinstance(outputs, (list, tuple)):
            fail(
                "Your extractor returned a list; return a dict {layer name: activations}, so that later lessons "
                "can ask for features['block4_conv2']. keras.Model accepts a dict as its outputs."
            )
        if not isinstance(outputs, dict):
            fail(
                f"Your extractor returned {_kind(outputs)}; return a dict {{layer name: activations}} with one "
                f"entry for each name in layer_names (here {layers})."
            )
        if set(outputs) != set(layers):
            fail(
                f"Asked for the layers {layers}, your extractor returned the keys {sorted(outputs)}. Build the "
                "outputs from the argument layer_names, one entry per name, with the name as the key."
            )
        expected_all = reference(f"image{shape}", image[np.newaxis])
        for layer in layers:
            _check_one_output(outputs[layer], expected_all[layer], layer, image, reference)
    layer = cases[-1][1][0]
    extract = make_extractor([layer])
    gradient = require_gradient(lambda batch: extract(batch)[layer], "your extractor", image[np.newaxis])
    if not np.any(gradient):
        fail("The gradient of the activations with respect to the pixels is zero everywhere; return the layer's output itself.")
    pixels = tf.Variable(image[np.newaxis])
    with tf.GradientTape() as tape:
        expected_output = reference.model(pixels, training=False)[reference.names.index(layer)]
        total = tf.reduce_sum(expected_output)
    expected_gradient = np.asarray(tape.gradient(total, pixels))
    if not close(gradient, expected_gradient, rtol=1e-3, atol=1e-3 * float(np.max(np.abs(expected_gradient)))):
        fail("Your activations are right but their gradient with respect to the pixels is not: something between "
             "the pixels and the layer is hidden from TensorFlow or changed on the way back. Return the layer's "
             "output of a model cut out of vgg, with nothing computed outside it.")
    passed("make_extractor")
