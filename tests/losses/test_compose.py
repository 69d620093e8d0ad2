"""Cost terms that add and scale (nst_tf.losses.compose) against the whole Objective, NumPy and the solvers."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from nst_tf.losses.compose import ContentTerm, StyleTerm, Term, TVTerm, WeightedSum
from nst_tf.losses.objective import Objective
from nst_tf.optim.progress import NonFiniteLossError
from nst_tf.optim.solvers import ImageSolver
from nst_tf.transfer.style_transfer import StyleTransfer
from nst_tf.vgg.extractor import feature_extractor

CONTENT_LAYERS = ["block2_conv2"]
STYLE_LAYERS = ["block1_conv1", "block2_conv1"]


@pytest.fixture(scope="module")
def extractor():
    return feature_extractor(CONTENT_LAYERS + STYLE_LAYERS, weights="random", net="vgg16", seed=0, normalize=False)


@pytest.fixture(scope="module")
def pictures():
    rng = np.random.default_rng(0)
    content = rng.uniform(size=(24, 28, 3)).astype(np.float32)
    styles = [rng.uniform(size=(20, 32, 3)).astype(np.float32), rng.uniform(size=(28, 24, 3)).astype(np.float32)]
    generated = rng.uniform(size=(1, 24, 28, 3)).astype(np.float32)
    return content, styles, generated


def _value_and_gradient(cost, image):
    image = tf.constant(image)
    with tf.GradientTape() as tape:
        tape.watch(image)
        values = cost(image)
    return {key: float(value) for key, value in values.items()}, tape.gradient(values["total"], image).numpy()


def _half_masks(height, width):
    left = np.zeros((height, width), np.float32)
    left[:, : width // 2] = 1.0
    return [left, 1.0 - left]


CASES = {
    "plain": dict(),
    "blend": dict(blend=[0.25, 0.75]),
    "masks": dict(masks=True),
    "gatys, layer weights, l1": dict(normalization="gatys", style_layers={"block1_conv1": 1.0, "block2_conv1": 3.0},
                                     tv_kind="l1", statistic="gram_centered"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_sum_of_terms_equals_the_whole_objective(case, extractor, pictures):
    """content + 30 * style + 200 * tv gives the Objective's numbers and gradient (built on the same images)."""
    options = CASES[case]
    content, styles, generated = pictures
    normalization = options.get("normalization", "mse")
    style_layers = options.get("style_layers", STYLE_LAYERS)
    statistic = options.get("statistic", "gram")
    masks = _half_masks(24, 28) if options.get("masks") else None
    whole = Objective(content, styles, content_layers=CONTENT_LAYERS, style_layers=style_layers, content_weight=1.5,
                      style_weight=30.0, tv_weight=200.0, style_blend=options.get("blend"), style_masks=masks,
                      content_normalization=normalization, style_normalization=normalization,
                      style_statistic=statistic, tv_kind=options.get("tv_kind", "l2"), extractor=extractor)
    objective = (1.5 * ContentTerm(content, CONTENT_LAYERS, normalization=normalization, extractor=extractor)
                 + 30 * StyleTerm(styles, style_layers, blend=options.get("blend"), masks=masks, size=(24, 28),
                                  normalization=normalization, statistic=statistic, extractor=extractor)
                 + 200 * TVTerm(options.get("tv_kind", "l2")))
    expected, expected_gradient = _value_and_gradient(whole, generated)
    got, gradient = _value_and_gradient(objective, generated)
    assert set(got) == {"content", "style", "tv", "total"}
    for key in expected:
        assert got[key] == pytest.approx(expected[key], rel=1e-6), key
    assert np.abs(expected_gradient).max() > 0
    np.testing.assert_allclose(gradient, expected_gradient, rtol=1e-5, atol=1e-6 * np.abs(expected_gradient).max())


class _SquaresExtractor:
    """A stand-in for VGG whose features NumPy computes by hand: ``a = 2 x``, ``b = x ** 2`` pooled 2x2 by mean."""

    layers = ["a", "b"]
    min_side = 2

    def __init__(self):
        self.calls = 0

    def model(self, images, training=False):
        self.calls += 1
        images = tf.convert_to_tensor(images, tf.float32)
        return {"a": 2.0 * images, "b": tf.nn.avg_pool2d(tf.square(images), 2, 2, "VALID")}

    def __call__(self, images):
        return self.model(images)


def _numpy_features(image):
    image = image.astype(np.float64)
    squared = image**2
    height, width = image.shape[1] // 2 * 2, image.shape[2] // 2 * 2
    pooled = squared[:, :height, :width].reshape(1, height // 2, 2, width // 2, 2, 3).mean(axis=(2, 4))
    return {"a": 2.0 * image, "b": pooled}


@pytest.mark.parametrize("normalization", ["mse", "course", "gatys"])
def test_a_content_term_is_the_content_loss_by_hand(normalization):
    rng = np.random.default_rng(3)
    content, generated = rng.uniform(size=(6, 8, 3)).astype(np.float32), rng.uniform(size=(1, 6, 8, 3)).astype(np.float32)
    term = ContentTerm(content, ["a", "b"], normalization=normalization, extractor=_SquaresExtractor())
    target, mine = _numpy_features(content[np.newaxis]), _numpy_features(generated)
    by_layer = []
    for layer in ("a", "b"):
        squared = (mine[layer] - target[layer]) ** 2
        by_layer.append({"mse": squared.mean(), "course": squared.mean() / 4, "gatys": 0.5 * squared.sum()}[normalization])
    value = term(tf.constant(generated))
    assert set(value) == {"content", "total"}
    assert float(value["content"]) == pytest.approx(np.mean(by_layer), rel=1e-5)
    assert float(value["total"]) == float(value["content"])


def test_terms_on_one_extractor_run_it_once_per_evaluation():
    rng = np.random.default_rng(4)
    shared = _SquaresExtractor()
    content, style = rng.uniform(size=(6, 8, 3)).astype(np.float32), rng.uniform(size=(8, 8, 3)).astype(np.float32)
    objective = ContentTerm(content, ["b"], extractor=shared) + 2 * StyleTerm(style, ["a", "b"], extractor=shared) \
        + TVTerm()
    before = shared.calls
    objective(tf.constant(rng.uniform(size=(1, 6, 8, 3)).astype(np.float32)))
    assert shared.calls - before == 1


def test_scaling_a_term_scales_its_value_and_gradient(extractor, pictures):
    content, styles, generated = pictures
    style = StyleTerm(styles[0], STYLE_LAYERS, extractor=extractor)
    once, gradient = _value_and_gradient(style, generated)
    thrice, gradient3 = _value_and_gradient(3 * style, generated)
    assert thrice["style"] == float(np.float32(3.0) * np.float32(once["style"]))  # one float32 product: exact
    # The factor 3 meets the gradient before the network's backward pass, whose float32 sums then round
    # differently: about 1e-6 of the largest entry where terms cancel (oneDNN, which TensorFlow turns on for
    # CPUs with AVX-512 VNNI or BF16); a wrong factor would be off by whole multiples.
    np.testing.assert_allclose(gradient3, 3.0 * gradient, rtol=1e-6, atol=1e-5 * np.abs(gradient3).max())
    scaled_sum, _ = _value_and_gradient(2 * (style + 0.5 * TVTerm()), generated)
    assert scaled_sum["style"] == pytest.approx(2 * once["style"], rel=1e-7)
    assert scaled_sum["tv"] == pytest.approx(float(TVTerm()(generated)["tv"]), rel=1e-6)
    assert (3 * style).style_weight == 3.0 and (style * 3).style_weight == 3.0
    summed = sum([style, 0.5 * TVTerm()])  # sum() starts from 0
    assert isinstance(summed, WeightedSum) and summed.loss_keys == ("total", "style", "tv")


def test_changing_a_weight_never_retraces_the_compiled_step(extractor, pictures):
    content, styles, generated = pictures
    objective = ContentTerm(content, CONTENT_LAYERS, extractor=extractor) + 1e-3 * StyleTerm(styles, STYLE_LAYERS,
                                                                                             extractor=extractor)
    solver = ImageSolver(objective, tf.Variable(generated))
    first = float(solver.value_and_grad(tf.constant(generated))[0]["style"])
    objective.style_weight = 1e-2
    second = float(solver.value_and_grad(tf.constant(generated))[0]["style"])
    assert second == pytest.approx(10 * first, rel=1e-5)
    assert solver.value_and_grad.experimental_get_tracing_count() == 1
    assert objective.weight_values() == {"content_weight": 1.0, "style_weight": pytest.approx(1e-2)}


def test_bad_sums_are_refused_with_the_argument_named(extractor, pictures):
    content, styles, _ = pictures
    term = ContentTerm(content, CONTENT_LAYERS, extractor=extractor)
    with pytest.raises(ValueError, match="named 'content'"):
        term + 2 * term
    other = ContentTerm(content, ["block1_conv1"], extractor=extractor, name="shallow")
    assert (term + other).loss_keys == ("total", "content", "shallow")
    with pytest.raises(ValueError, match="factor must not be negative"):
        -1 * term
    with pytest.raises(TypeError):
        "3" * term
    with pytest.raises(TypeError):
        term * term
    with pytest.raises(ValueError, match="masks need size"):
        StyleTerm(styles, STYLE_LAYERS, masks=_half_masks(24, 28), extractor=extractor)
    with pytest.raises(ValueError, match="name must be"):
        TVTerm(name="total")
    with pytest.raises(ValueError, match="does not compute"):
        ContentTerm(content, ["block5_conv1"], extractor=extractor)
    with pytest.raises(ValueError, match="style_weight must not be negative"):
        (term + StyleTerm(styles, STYLE_LAYERS, extractor=extractor)).style_weight = -1


# lbfgs (a solver traced for it alone) in the full suite only; quick: the in-graph L-BFGS runs a sum without a style
# term below ([lbfgs] of the non-finite test) and minimises a composed objective (the transfer test), and
# test_optimize.py::test_steps_gives_exactly_that_many_history_entries[lbfgs] counts its history and evaluations.
@pytest.mark.parametrize("optimizer", [pytest.param("lbfgs", marks=pytest.mark.slow), "lbfgs-scipy", "adam"])
def test_every_solver_minimises_a_lone_content_term(optimizer, extractor, pictures):
    content, _, generated = pictures
    term = ContentTerm(content, CONTENT_LAYERS, extractor=extractor)
    solver = ImageSolver(term, tf.Variable(generated))
    result = solver.run(12, optimizer, precondition=0.0, learning_rate=0.05, progress=False)
    assert set(result.history) == {"step", "total", "content", "time"}
    assert len(result.history["total"]) == 12 == result.evaluations
    assert result.history["total"][-1] < (0.9 if optimizer == "adam" else 0.5) * result.history["total"][0]
    assert result.history["content"] == result.history["total"]


# lbfgs: a solver traced for this alone, in the full suite; quick, the transfer test's own solver meets an overflow below.
@pytest.mark.parametrize("optimizer", [pytest.param("lbfgs", marks=pytest.mark.slow), "adam"])
def test_a_non_finite_cost_names_the_objectives_own_weights(optimizer, extractor, pictures):
    content, _, generated = pictures
    objective = 3e38 * ContentTerm(content, CONTENT_LAYERS, extractor=extractor) + 2 * TVTerm(name="smooth")
    solver = ImageSolver(objective, tf.Variable(generated))
    with pytest.raises(NonFiniteLossError, match=r"content_weight=3e\+38, smooth_weight=2"):
        solver.run(5, optimizer, precondition=0.0, learning_rate=0.05, progress=False)


@pytest.fixture(scope="module")
def ready(extractor, pictures):
    """A transfer that holds a composed objective, shared by the tests that run it: each new transfer
    traces an L-BFGS loop of its own (2-3 s of CPU), and its weights are variables, free to change."""
    content, styles, _ = pictures
    objective = ContentTerm(content, CONTENT_LAYERS, extractor=extractor) \
        + 1e-3 * StyleTerm(styles, STYLE_LAYERS, extractor=extractor) + 0.1 * TVTerm()
    return objective, StyleTransfer(objective=objective, init="noise", seed=2)


def test_a_transfer_holds_a_ready_objective(extractor, pictures, ready):
    content, styles, _ = pictures
    objective, transfer = ready
    transfer.reset("noise")
    assert transfer.objective is objective and transfer.generated_image.shape == content.shape
    assert transfer.extractor is extractor  # the one the terms share, read through the objective
    transfer.style_weight = 2e-3
    assert objective.style_weight == pytest.approx(2e-3)
    before = transfer.losses()
    result = transfer.run(8, progress=False)
    assert set(before) == {"content", "style", "tv", "total"} and result.history["total"][-1] < before["total"]
    with pytest.raises(TypeError, match="not both"):
        StyleTransfer(content, styles, objective=objective)
    with pytest.raises(ValueError, match="no content term"):
        StyleTransfer(objective=TVTerm())
    assert StyleTransfer(content, objective=TVTerm(), init="content").losses()["total"] > 0


def test_the_transfers_lbfgs_names_the_objectives_own_weights_when_the_cost_overflows(ready):
    objective, transfer = ready
    transfer.reset("noise")
    content_weight = objective.content_weight
    objective.content_weight = 3e38
    try:
        with pytest.raises(NonFiniteLossError, match=r"content_weight=3e\+38, style_weight=\S+, tv_weight=0\.1"):
            transfer.run(5, progress=False)
    finally:
        objective.content_weight = content_weight  # the shared transfer as the other tests know it
    assert np.isfinite(transfer.run(2, progress=False).history["total"]).all()  # and it runs on afterwards


def test_a_transfer_built_from_arguments_holds_an_objective(extractor, pictures):
    content, styles, generated = pictures
    transfer = StyleTransfer(content, styles, content_layers=CONTENT_LAYERS, style_layers=STYLE_LAYERS,
                             extractor=extractor, style_weight=1e-3)
    assert isinstance(transfer.objective, Objective) and not isinstance(transfer, Objective)
    transfer.tv_weight = 0.5
    assert transfer.objective.tv_weight == 0.5 and transfer.tv_weight == 0.5
    assert transfer.targets is transfer.objective.targets
    values = transfer.losses()
    assert values == pytest.approx({key: float(value) for key, value in transfer.objective(transfer.image).items()},
                                   rel=1e-6)


class _Brighter(Term):
    """A term written outside the package whose cost branches on a tensor (AutoGraph turns the if into a tf.cond)."""

    name = "brighter"

    def cost(self, image, features):
        if tf.reduce_mean(image) > 0.5:
            return tf.reduce_mean(image) - 0.5
        return 0.5 - tf.reduce_mean(image)


def test_a_term_of_ones_own_that_branches_on_a_tensor_still_compiles():
    """The package's own costs skip AutoGraph (compose._cost_of); a term from outside still goes through it."""
    objective = 2 * _Brighter() + TVTerm()
    compiled = tf.function(lambda image: objective(image)["brighter"])
    lone = tf.function(lambda image: _Brighter()(image)["total"])
    for level, expected in ((0.2, 2 * 0.3), (0.9, 2 * 0.4)):
        image = tf.fill((1, 8, 8, 3), level)
        assert float(compiled(image)) == pytest.approx(expected, rel=1e-5)
        assert float(lone(image)) == pytest.approx(expected / 2, rel=1e-5)


# ----- new pictures for built terms: the targets are variables, assigned ------------------------------------


def _values(targets):
    if isinstance(targets, dict):
        return {layer: np.asarray(value) for layer, value in targets.items()}
    return [_values(each) for each in targets]


def _assert_same(first, second):
    if isinstance(first, dict):
        assert first.keys() == second.keys()
        for layer in first:
            np.testing.assert_array_equal(first[layer], second[layer])
    else:
        assert len(first) == len(second)
        for a, b in zip(first, second):
            _assert_same(a, b)


def test_a_content_term_takes_a_new_picture_of_its_size(extractor, pictures):
    content, _, _ = pictures
    other = np.random.default_rng(5).uniform(size=content.shape).astype(np.float32)
    term = ContentTerm(content, CONTENT_LAYERS, extractor=extractor)
    variables = dict(term.targets)
    term.set_content_image(other)
    _assert_same(_values(term.targets), _values(ContentTerm(other, CONTENT_LAYERS, extractor=extractor).targets))
    assert all(term.targets[layer] is variables[layer] for layer in variables)  # assigned, not replaced
    np.testing.assert_array_equal(term.content_image, other)
    before = _values(term.targets)
    with pytest.raises(ValueError, match="28 x 24 px"):
        term.set_content_image(content[:20])
    _assert_same(_values(term.targets), before)  # nothing changed


@pytest.mark.parametrize("masked", [False, True])
def test_a_style_term_takes_new_pictures_as_a_new_term_would(masked, extractor, pictures):
    content, styles, _ = pictures
    rng = np.random.default_rng(6)
    others = [rng.uniform(size=(36, 30, 3)).astype(np.float32), rng.uniform(size=(24, 24, 3)).astype(np.float32)]
    masks = _half_masks(*content.shape[:2]) if masked else None
    other_masks = [np.flipud(mask) * 0.5 for mask in masks] if masked else None
    options = dict(masks=masks, size=content.shape[:2]) if masked else dict(blend=[0.3, 0.7])
    new_options = dict(masks=other_masks, size=content.shape[:2]) if masked else dict(blend=[0.9, 0.1])
    term = StyleTerm(styles, STYLE_LAYERS, extractor=extractor, **options)
    term.set_style_images(others, **{k: v for k, v in new_options.items() if k != "size"})
    fresh = StyleTerm(others, STYLE_LAYERS, extractor=extractor, **new_options)
    _assert_same(_values(term.targets), _values(fresh.targets))
    if masked:
        _assert_same(_values(term.layer_masks), _values(fresh.layer_masks))
    generated = np.random.default_rng(7).uniform(size=(1, *content.shape)).astype(np.float32)
    assert float(term(generated)["total"]) == float(fresh(generated)["total"])


def test_a_style_term_refuses_pictures_that_cannot_take_the_old_ones_place(extractor, pictures):
    content, styles, _ = pictures
    masked = StyleTerm(styles, STYLE_LAYERS, extractor=extractor, masks=_half_masks(*content.shape[:2]),
                       size=content.shape[:2])
    before = _values(masked.targets)
    with pytest.raises(ValueError, match="matches 2 styles"):
        masked.set_style_images(styles[:1], masks=_half_masks(*content.shape[:2])[:1])
    with pytest.raises(ValueError, match="built with masks"):
        masked.set_style_images(styles)
    _assert_same(_values(masked.targets), before)
    spatial = StyleTerm(styles[0], STYLE_LAYERS, extractor=extractor, statistic=lambda features: features[0, :4, :4])
    with pytest.raises(ValueError, match="new target of block1_conv1 has shape"):
        spatial.set_style_images(styles[1][:3, :3])


@pytest.mark.slow
def test_a_compiled_solver_runs_on_new_pictures_as_a_new_one_would(extractor, pictures):
    """One traced L-BFGS, retargeted: the same evaluations, to the last bit, as a transfer built for the pictures."""
    content, styles, _ = pictures
    rng = np.random.default_rng(8)
    other_content = rng.uniform(size=content.shape).astype(np.float32)
    other_style = rng.uniform(size=(30, 30, 3)).astype(np.float32)
    options = dict(extractor=extractor, content_layers=CONTENT_LAYERS, style_layers=STYLE_LAYERS)
    kept = StyleTransfer(content, styles[0], **options)
    kept.run(6, progress=False)
    traced = kept.solver.device_lbfgs()
    kept.retarget(other_content, other_style, init="noise", seed=3)
    again = kept.run(6, progress=False)
    fresh = StyleTransfer(other_content, other_style, init="noise", seed=3, **options).run(6, progress=False)
    assert kept.solver.device_lbfgs() is traced
    np.testing.assert_array_equal(again.image, fresh.image)
    assert again.history["total"] == fresh.history["total"]
