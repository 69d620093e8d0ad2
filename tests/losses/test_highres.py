"""Issue 26: the bounded-memory path (nst_tf/highres.py) gives the plain path's cost and gradient.

The reference is the plain path itself: the whole Keras model on the whole picture, one tape
(:class:`nst_tf.objective.Objective` without ``bounded_memory``). Random weights of VGG16's and
ImageNet VGG19's shapes, small pictures and small tiles, so each picture is cut into many
tiles with halos on every side (the code paths of a 2048 px run, in seconds).
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from nst_tf.cli import commands as cli
from nst_tf.defaults import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS
from nst_tf.losses import highres
from nst_tf.losses.compose import ContentTerm, StyleTerm, Term, TVTerm
from nst_tf.losses.objective import Objective
from nst_tf.optim import memory
from nst_tf.transfer.style_transfer import StyleTransfer
from nst_tf.vgg import sizes
from nst_tf.vgg.extractor import feature_extractor

HEIGHT, WIDTH = 112, 136
TILE = 40  # interiors of 40 px (stride 8), halos of 32 px: 3 x 4 tiles


@pytest.fixture(scope="module")
def extractors():
    layers = list(DEFAULT_CONTENT_LAYERS) + list(DEFAULT_STYLE_LAYERS) + ["block3_conv2"]
    return {net: feature_extractor(layers, weights="random", net=net) for net in ("vgg16", "vgg19")}


def pictures(seed: int = 0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH] / 40.0
    smooth = np.stack([np.sin(x + y), np.cos(x * 1.3), np.sin(y * 0.7 - x)], axis=-1) * 0.3 + 0.5
    content = np.clip(smooth + rng.normal(0, 0.05, smooth.shape), 0, 1).astype(np.float32)
    styles = [rng.uniform(0, 1, (90, 104, 3)).astype(np.float32), rng.uniform(0, 1, (72, 64, 3)).astype(np.float32)]
    image = np.clip(content + rng.normal(0, 0.1, content.shape), 0, 1).astype(np.float32)
    return content, styles, tf.constant(image[np.newaxis])


def masks():
    mask = np.zeros((HEIGHT, WIDTH), np.float32)
    mask[:, : WIDTH // 3] = 1.0
    mask[:, WIDTH // 3: WIDTH // 2] = 0.4  # a fractional band across tile borders
    return [mask, 1.0 - mask]


_COMPILED: dict[int, tuple] = {}  # id(objective) -> (objective, its one compiled step): traced once, as a solver does


def value_and_gradient(objective, image):
    if id(objective) not in _COMPILED:
        @tf.function
        def compiled(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                costs = objective(x)
            return costs, tape.gradient(costs["total"], x)

        _COMPILED[id(objective)] = (objective, compiled)  # the objective kept alive: its id stays its own
    costs, gradient = _COMPILED[id(objective)][1](image)
    return {key: float(value) for key, value in costs.items()}, gradient.numpy().ravel()


def both(extractor, statistic, masked, content_layers=DEFAULT_CONTENT_LAYERS, tile=TILE, blocks=None):
    content, styles, image = pictures()
    options = dict(content_layers=content_layers, style_layers=DEFAULT_STYLE_LAYERS, content_weight=1.0,
                   style_weight=10.0, tv_weight=0.5, style_statistic=statistic, extractor=extractor)
    options.update(style_masks=masks()) if masked else options.update(style_blend=[0.3, 0.7])
    plain = Objective(content, styles, **options)
    bounded = Objective(content, styles, bounded_memory=True, **options)
    if blocks is not None:  # the targets do not depend on the tiling: keep them
        bounded.bounded = highres.BoundedCost(bounded, prefix_blocks=blocks)
    bounded.bounded.tile = tile
    return plain, bounded, image


# One case in the quick loop (-m "not slow"); the others, each a minute of CPU, in the full suite.
SLOW = pytest.mark.slow


@pytest.mark.parametrize("net, statistic, masked, blocks", [
    pytest.param("vgg16", "gram", False, 3, marks=SLOW), pytest.param("vgg19", "gram", True, 3, marks=SLOW),
    pytest.param("vgg19", "mean_std", False, 2, marks=SLOW), pytest.param("vgg19", "mean_std", True, 3, marks=SLOW),
    pytest.param("vgg16", "gram_centered", True, 2, marks=SLOW), pytest.param("vgg19", "gram", False, 2, marks=SLOW),
])
def test_bounded_path_gives_the_plain_cost_and_gradient(extractors, net, statistic, masked, blocks):
    """Blocks 1-3 (stride 8, halo 32 px) or 1-2 (stride 4, halo 12 px) in tiles."""
    plain, bounded, image = both(extractors[net], statistic, masked, blocks=blocks)
    assert bounded.bounded.stride == 2 ** blocks
    rows, cols = bounded.bounded._tiles(HEIGHT, WIDTH)
    assert len(rows) * len(cols) >= 9  # interior tiles with halos on four sides
    costs_p, grad_p = value_and_gradient(plain, image)
    costs_b, grad_b = value_and_gradient(bounded, image)
    for key in ("content", "style", "tv", "total"):
        assert costs_b[key] == pytest.approx(costs_p[key], rel=1e-4), key
    assert np.linalg.norm(grad_b) == pytest.approx(np.linalg.norm(grad_p), rel=1e-3)
    cosine = grad_b @ grad_p / (np.linalg.norm(grad_b) * np.linalg.norm(grad_p))
    assert cosine > 1 - 1e-3
    assert np.abs(grad_b - grad_p).max() <= 1e-3 * np.abs(grad_p).max()  # pixel by pixel, borders included


@SLOW
def test_a_shallower_content_layer_tiles_fewer_blocks_and_stays_exact(extractors):
    plain, bounded, image = both(extractors["vgg19"], "gram", False, content_layers=("block3_conv2",))
    assert bounded.bounded.stride == 4 and bounded.bounded.halo == 12  # blocks 1-2 only: radius 9 px
    costs_p, grad_p = value_and_gradient(plain, image)
    costs_b, grad_b = value_and_gradient(bounded, image)
    assert costs_b["total"] == pytest.approx(costs_p["total"], rel=1e-4)
    assert np.abs(grad_b - grad_p).max() <= 1e-3 * np.abs(grad_p).max()


def test_blocks_tiled_follow_the_size():
    layers = list(DEFAULT_CONTENT_LAYERS) + list(DEFAULT_STYLE_LAYERS)
    assert sizes.highres_blocks(1024, 1024, layers, "vgg16") == 2  # the faster choice, as small
    assert sizes.highres_blocks(2048, 2048, layers, "vgg16") == 3  # blocks 3-5 on 512 px would dominate
    assert sizes.highres_blocks(4096, 4096, layers, "vgg19") == 3
    assert sizes.highres_blocks(4096, 4096, layers, "vgg19", content_layers=["block3_conv2"]) == 2
    assert sizes.highres_blocks(4096, 4096, layers, "vgg19", content_layers=["block1_conv2"]) == 0


@SLOW  # quick: one tile in tests/losses/test_tiles.py, exactness on many tiles in the case above
def test_one_tile_is_the_whole_picture(extractors):
    plain, bounded, image = both(extractors["vgg16"], "gram", False, tile=512)
    assert bounded.bounded._tiles(HEIGHT, WIDTH) == ([(0, HEIGHT, 0, HEIGHT)], [(0, WIDTH, 0, WIDTH)])
    assert value_and_gradient(bounded, image)[0]["total"] == pytest.approx(
        value_and_gradient(plain, image)[0]["total"], rel=1e-4)


def test_only_the_total_carries_a_gradient(extractors):
    _, bounded, image = both(extractors["vgg16"], "gram", False, tile=512)  # one tile: the same rule, 12 x cheaper
    with tf.GradientTape() as tape:
        tape.watch(image)
        costs = bounded(image)
    with pytest.raises(tf.errors.InvalidArgumentError, match="total cost only"):
        tape.gradient(costs["content"], image)


def test_refused_where_it_cannot_be_exact(extractors):
    content, styles, _ = pictures()
    options = dict(style_layers=DEFAULT_STYLE_LAYERS, content_weight=1.0, style_weight=1.0, tv_weight=0.0,
                   extractor=extractors["vgg16"], bounded_memory=True)
    with pytest.raises(ValueError, match="content layers below block 1"):
        Objective(content, styles[0], content_layers=("block1_conv1",), **options)
    with pytest.raises(ValueError, match="named style statistic"):
        Objective(content, styles[0], content_layers=DEFAULT_CONTENT_LAYERS,
                  style_statistic=lambda f: tf.reduce_max(f, axis=(1, 2)), **options)
    with pytest.raises(TypeError, match="bounded_memory"):
        Objective(content, styles[0], content_layers=DEFAULT_CONTENT_LAYERS, **{**options, "bounded_memory": "yes"})


# ----- a sum of terms on the bounded path (issue 25) ---------------------------------------------


def summed(extractor, statistic, masked, second=None):
    """``content + 10 * style + 0.5 * tv`` (and ``+ 3 * texture``, a second style term) from terms sharing ``extractor``."""
    content, styles, image = pictures()
    extra = dict(masks=masks(), size=(HEIGHT, WIDTH)) if masked else dict(blend=[0.3, 0.7])
    objective = ContentTerm(content, DEFAULT_CONTENT_LAYERS, extractor=extractor) \
        + 10 * StyleTerm(styles, DEFAULT_STYLE_LAYERS, statistic=statistic, extractor=extractor, **extra) \
        + 0.5 * TVTerm()
    if second is not None:
        objective = objective + 3 * StyleTerm(styles[1], {"block1_conv1": 1.0, "block3_conv1": 2.0, "block5_conv1": 1.0},
                                              statistic=second, extractor=extractor, name="texture")
    return objective, image


def assert_same(costs_b, grad_b, costs_p, grad_p):
    assert set(costs_b) == set(costs_p)
    for key in costs_p:
        assert costs_b[key] == pytest.approx(costs_p[key], rel=1e-4), key
    assert np.linalg.norm(grad_b) == pytest.approx(np.linalg.norm(grad_p), rel=1e-3)
    cosine = grad_b @ grad_p / (np.linalg.norm(grad_b) * np.linalg.norm(grad_p))
    assert cosine > 1 - 1e-3
    assert np.abs(grad_b - grad_p).max() <= 1e-3 * np.abs(grad_p).max()


@pytest.mark.parametrize("net, statistic, masked, second, blocks", [
    pytest.param("vgg19", "gram", False, None, 2, marks=SLOW),
    pytest.param("vgg16", "gram", True, None, 3, marks=SLOW),
    pytest.param("vgg19", "mean_std", False, None, 3, marks=SLOW),
    pytest.param("vgg19", "mean_std", True, "gram", 2, marks=SLOW),
    pytest.param("vgg16", "gram_centered", False, "mean_std", 3, marks=SLOW),
])
def test_a_sum_of_terms_on_the_bounded_path_gives_the_plain_cost_and_gradient(extractors, net, statistic, masked,
                                                                             second, blocks):
    """The reference is the sum itself, called on the whole picture with one tape."""
    objective, image = summed(extractors[net], statistic, masked, second)
    bounded = highres.BoundedCost(objective, tile=TILE, prefix_blocks=blocks)
    assert bounded.stride == 2 ** blocks and bounded.loss_keys == objective.loss_keys
    rows, cols = bounded._tiles(HEIGHT, WIDTH)
    assert len(rows) * len(cols) >= 9
    first = value_and_gradient(bounded, image)
    assert_same(*first, *value_and_gradient(objective, image))
    if second is None and not masked:  # a weight set on the sum is read by the bounded cost at its next call
        objective.style_weight = 3.0  # (by the steps already compiled: value_and_gradient traces each cost once)
        after = value_and_gradient(bounded, image)
        assert after[0]["style"] == pytest.approx(0.3 * first[0]["style"], rel=1e-4)
        assert_same(*after, *value_and_gradient(objective, image))


@SLOW
def test_the_argument_built_objective_is_a_sum_of_terms_on_either_path(extractors):
    plain, bounded, image = both(extractors["vgg19"], "gram", False)
    assert bounded.bounded.objective is bounded  # BoundedCost reads the terms of the very sum
    assert [type(term) for term in bounded.parts.values()] == [ContentTerm, StyleTerm, TVTerm]
    objective, _ = summed(extractors["vgg19"], "gram", False)
    ours, theirs = value_and_gradient(plain, image), value_and_gradient(objective, image)
    assert ours[0] == pytest.approx(theirs[0], rel=1e-6)


class Brightness(Term):
    name = "brightness"

    def cost(self, image, features):
        return tf.reduce_mean(image)


def test_a_sum_the_bounded_path_cannot_compute_is_refused_in_one_line(extractors):
    content, styles, _ = pictures()
    term = ContentTerm(content, DEFAULT_CONTENT_LAYERS, extractor=extractors["vgg16"])
    cases = {
        "cannot compute term 'brightness'": term + Brightness(),
        "one shared extractor": term + StyleTerm(styles[0], DEFAULT_STYLE_LAYERS, extractor=extractors["vgg19"]),
        "named style statistic": term + StyleTerm(styles[0], DEFAULT_STYLE_LAYERS, extractor=extractors["vgg16"],
                                                  statistic=lambda f: tf.reduce_max(f, axis=(1, 2))),
        "reads VGG features|shared extractor": TVTerm() * 2,
        "sum of cost terms": lambda image: {"total": tf.reduce_sum(image)},
    }
    for message, objective in cases.items():
        problem = highres.bounded_problem(objective)
        assert problem is not None and "\n" not in problem
        with pytest.raises(ValueError, match=message):
            highres.BoundedCost(objective)
    assert highres.bounded_problem(term + 2 * TVTerm()) is None
    with pytest.raises(ValueError, match="cannot compute term"):  # the transfer asks for it, and is told why
        StyleTransfer(objective=term + Brightness(), bounded_memory=True)


@SLOW
def test_a_transfer_minimises_a_ready_sum_on_the_bounded_path(extractors):
    objective, image = summed(extractors["vgg16"], "gram", False)
    transfer = StyleTransfer(objective=objective, bounded_memory=True)
    assert isinstance(transfer.cost, highres.BoundedCost) and transfer.objective is objective
    # 2 x 2 tiles: the point is the transfer on this path (exactness on 3 x 4 tiles is the sum test's above);
    # each tile is one more VGG prefix in the graph the solver traces.
    transfer.cost.tile = 72
    assert [len(axis) for axis in transfer.cost._tiles(HEIGHT, WIDTH)] == [2, 2]
    before = transfer.losses()
    assert before == pytest.approx({key: float(value) for key, value in objective(transfer.image).items()}, rel=1e-4)
    result = transfer.run(4, progress=False)
    assert result.history["total"][-1] < before["total"]


@pytest.mark.parametrize("length, tile, stride, halo", [(2048, 512, 8, 32), (1000, 512, 8, 32), (13, 512, 8, 32),
                                                        (137, 40, 8, 32), (2049, 300, 4, 12)])
def test_tiles_cover_the_axis_once_on_the_stride(length, tile, stride, halo):
    tiles = highres.axis_tiles(length, tile, stride, halo)
    assert tiles[0][0] == 0 and tiles[-1][1] == length
    for (a, b, a0, b0), following in zip(tiles, tiles[1:] + [None]):
        assert a % stride == 0 and 0 < b - a <= tile
        assert a0 == max(0, a - halo) and b0 == min(length, b + halo) and a0 % stride == 0
        if following is not None:
            assert following[0] == b  # no gap, no overlap


def test_receptive_radius_by_hand(extractors):
    chain = [layer for layer in extractors["vgg19"].vgg.layers[1:] if layer.name[5:6] in ("", "1", "2", "3")
             or layer.name == "vgg_preprocess"]
    chain = [layer for layer in chain if layer.name == "vgg_preprocess" or int(layer.name[5]) <= 3]
    # 1 + 1 (block 1), +1 pool, 2 + 2 (block 2), +2 pool, 4 x 4 (block 3), +4 pool; stride 8
    assert highres.receptive_radius(chain) == (29, 8)


# ----- the memory model and the automatic choice ---------------------------------------------------
LAYERS = list(DEFAULT_CONTENT_LAYERS) + list(DEFAULT_STYLE_LAYERS)


@pytest.mark.parametrize("net", ["vgg16", "vgg19"])
def test_estimate_of_the_bounded_path_at_2048_px_is_under_6_gib(net):
    plain = memory.estimate_stylize_bytes((2048, 2048), [(2048, 2048)], LAYERS, net=net)
    bounded = memory.estimate_stylize_bytes((2048, 2048), [(2048, 2048)], LAYERS, net=net, bounded=True)
    assert bounded < 6 * 2**30 < plain
    # it still grows with the pixels (the optimiser's state and the picture-sized buffers)
    assert memory.estimate_stylize_bytes((4096, 4096), [], LAYERS, net=net, bounded=True) > 3 * bounded // 2


def test_bounded_activations_by_hand():
    # 64 x 64 px, VGG19 up to block5_conv1, one tile (64 < 512 + halos): the tile is the picture.
    prefix = sizes.activation_bytes(64, 64, ["block3_pool"])
    deep = sizes.activation_bytes(64, 64, ["block5_conv1"]) - prefix
    expected = 3 * max(prefix, deep) + 2 * 4 * 8 * 8 * 256 + 4 * 4 * 3 * 64 * 64
    assert sizes.bounded_activation_bytes(64, 64, ["block5_conv1"], blocks=3) == expected
    # 2048 px, blocks 1-3: one tile of 512 + 2 * 32 px, the deep blocks on 256 x 256
    tile = sizes.activation_bytes(576, 576, ["block3_pool"])
    deep = sizes.activation_bytes(2048, 2048, ["block5_conv1"]) - sizes.activation_bytes(2048, 2048, ["block3_pool"])
    expected = 3 * max(tile, deep) + 2 * 4 * 256 * 256 * 256 + 4 * 4 * 3 * 2048 * 2048
    assert sizes.bounded_activation_bytes(2048, 2048, ["block5_conv1"], blocks=3) == expected


def test_automatic_choice_follows_the_estimate():
    shape, styles = (2048, 2048), [(2048, 2048)]
    plain = memory.estimate_stylize_bytes(shape, styles, LAYERS)
    bounded = memory.estimate_stylize_bytes(shape, styles, LAYERS, bounded=True)
    choose = memory.choose_bounded
    assert choose(shape, styles, LAYERS, budgets=(plain + 1, None)) is False  # the plain run fits: plain
    assert choose(shape, styles, LAYERS, budgets=(plain - 1, None)) is True
    assert choose(shape, styles, LAYERS, bounded=False, budgets=(bounded, None)) is False  # forced off
    assert choose(shape, styles, LAYERS, bounded=True, budgets=(10 * plain, None)) is True  # forced on
    assert choose(shape, styles, LAYERS, content_layers=["block1_conv2"], budgets=(bounded, None)) is False
    with pytest.raises(ValueError, match="below block 1"):
        choose(shape, styles, LAYERS, content_layers=["block1_conv2"], bounded=True)
    with pytest.raises(ValueError, match="bounded_memory must be"):
        choose(shape, styles, LAYERS, bounded="yes")


def test_check_names_a_size_that_fits_on_the_bounded_path(monkeypatch):
    budget_mb = 4000
    monkeypatch.setenv("NST_TF_MEMORY_LIMIT_MB", str(budget_mb))
    budget = budget_mb * 1024 * 1024 * memory.HEADROOM
    assert memory.check_stylize((1280, 1280), [(1280, 1280)], LAYERS, content_layers=DEFAULT_CONTENT_LAYERS) is True
    with pytest.raises(memory.MemoryEstimateError, match="bounded-memory path") as info:
        memory.check_stylize((4096, 4096), [(4096, 4096)], LAYERS, option="--size",
                             content_layers=DEFAULT_CONTENT_LAYERS)
    side = int(str(info.value).split("use --size ")[1].split()[0])
    assert memory.estimate_stylize_bytes((side, side), [(side, side)], LAYERS, bounded=True) <= budget
    assert memory.estimate_stylize_bytes((side + 16,) * 2, [(side + 16,) * 2], LAYERS, bounded=True) > budget
    with pytest.raises(memory.MemoryEstimateError, match="use --size"):  # forced off: the plain path's size
        memory.check_stylize((1280, 1280), [(1280, 1280)], LAYERS, option="--size", bounded=False)


# ----- end to end: both solvers, the pyramid, the command ------------------------------------------
@SLOW
@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_stylize_on_the_bounded_path_matches_the_plain_one(extractors, optimizer):
    from nst_tf import stylize

    content, styles, _ = pictures()
    runs = {}
    for bounded in (False, True):
        runs[bounded] = stylize(content, styles[0], size=None, steps=4, optimizer=optimizer, progress=False,
                                extractor=extractors["vgg16"], bounded_memory=bounded, multiscale=False,
                                style_weight=10.0)
    assert np.isfinite(runs[True].image).all()
    assert runs[True].history["total"][-1] < runs[True].history["total"][0]
    assert np.abs(runs[True].image - runs[False].image).max() < 2e-3
    assert runs[True].history["total"][-1] == pytest.approx(runs[False].history["total"][-1], rel=1e-3)


@SLOW
def test_pyramid_on_the_bounded_path(extractors):
    from nst_tf import stylize

    content, styles, _ = pictures()
    result = stylize(content, styles, size=None, levels=[64, WIDTH], steps=2, progress=False,
                     extractor=extractors["vgg19"], bounded_memory=True, style_masks=masks())
    assert [level.size for level in result.levels] == [(53, 64), (HEIGHT, WIDTH)]
    assert np.isfinite(result.image).all()


def test_stylize_refuses_a_bad_option():
    from nst_tf import stylize

    content, styles, _ = pictures()
    with pytest.raises(ValueError, match="bounded_memory must be"):
        stylize(content, styles[0], size=None, steps=1, progress=False, weights="random", bounded_memory="on")


def test_cli_option_is_checked_before_tensorflow(tmp_path, capsys):
    from PIL import Image

    Image.fromarray(np.full((64, 64, 3), 120, np.uint8)).save(tmp_path / "c.png")
    status = cli.main(["stylize", str(tmp_path / "c.png"), str(tmp_path / "c.png"), "-o", str(tmp_path / "o.png"),
                       "--bounded-memory", "on", "--content-layers", "block1_conv2", "--weights", "offline",
                       "--no-progress"])
    err = capsys.readouterr().err
    assert status != 0 and "--bounded-memory on" in err and "block 1" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
