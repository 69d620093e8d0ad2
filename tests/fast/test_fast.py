"""Fast (feed-forward) style transfer: the network, its training, saving and the CLI (lesson 06).

Small on purpose: tiny crops, a slim network (filters=8, one residual block) and the
offline VGG16, so the whole file runs in well under a minute on a CPU.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from nst_tf.cli import fast as fast_cli
from nst_tf.cli import commands as cli
from nst_tf.image import samples
from nst_tf import fast
from nst_tf.fast import photos as fast_data
from nst_tf.image import load_image
from nst_tf.image.save import save_image

TINY = {"filters": 8, "residual_blocks": 1}
STYLE = "style/swirls"


@pytest.fixture(scope="module")
def tiny_model():
    return fast.transform_net(**TINY, seed=0)


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory, tiny_model):
    return fast.save_model(tiny_model, tmp_path_factory.mktemp("model") / "tiny.keras")


# --------------------------------------------------------------------------- the network


@pytest.mark.parametrize("height, width", [(32, 32), (37, 50), (64, 48), (9, 13)])
def test_output_has_the_input_shape_and_values_in_0_1(tiny_model, height, width):
    images = tf.random.stateless_uniform((2, height, width, 3), seed=(1, 2))
    out = tiny_model(images)
    assert out.shape == (2, height, width, 3)
    assert float(tf.reduce_min(out)) >= 0.0 and float(tf.reduce_max(out)) <= 1.0


def test_default_network_is_the_papers_size():
    model = fast.transform_net(seed=0)
    assert 1.6e6 < model.count_params() < 1.8e6  # Johnson et al.: about 1.7 million weights
    assert model(tf.zeros((1, 37, 50, 3))).shape == (1, 37, 50, 3)
    names = [row[0] for row in fast.layer_table(model, 64, 64)]
    assert names[-1] == "crop_to_input" and "res5_add" in names and "up2_resize" in names
    shapes = {row[0]: row[2] for row in fast.layer_table(model, 64, 64)}
    assert shapes["down2_relu"] == (16, 16, 128) and shapes["crop_to_input"] == (64, 64, 3)


def test_same_seed_same_network():
    a = fast.transform_net(**TINY, seed=3).get_weights()
    b = fast.transform_net(**TINY, seed=3).get_weights()
    c = fast.transform_net(**TINY, seed=4).get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_instance_norm_normalises_each_image_and_channel_on_its_own():
    features = tf.random.stateless_normal((3, 5, 6, 4), seed=(0, 1)) * 7.0 + 3.0
    out = fast.instance_norm(features).numpy()
    np.testing.assert_allclose(out.mean(axis=(1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(1, 2)), 1.0, atol=1e-3)
    alone = fast.instance_norm(features[:1]).numpy()
    np.testing.assert_allclose(alone, out[:1], atol=1e-5)  # the rest of the batch does not matter


def test_stylize_fast_keeps_shapes(tiny_model):
    image = np.random.default_rng(0).uniform(size=(40, 30, 3)).astype(np.float32)
    single = fast.stylize_fast(tiny_model, image)
    assert single.shape == (40, 30, 3) and single.dtype == np.float32
    batch = fast.stylize_fast(tiny_model, np.stack([image] * 3), batch_size=2)
    assert batch.shape == (3, 40, 30, 3)
    np.testing.assert_allclose(batch[2], single, atol=1e-5)
    as_uint8 = fast.stylize_fast(tiny_model, (image * 255).astype(np.uint8))
    np.testing.assert_allclose(as_uint8, single, atol=0.02)
    several = fast.stylize_fast(tiny_model, [image, image[:32, :32]])
    assert [a.shape for a in several] == [(40, 30, 3), (32, 30, 3)]


# --------------------------------------------------------------------------- data and loss


def test_training_images_are_random_crops_of_the_requested_size():
    batch = next(iter(fast.training_images(size=32, batch_size=3, seed=0)))
    assert batch.shape == (3, 32, 32, 3) and batch.dtype == tf.float32
    assert 0.0 <= float(tf.reduce_min(batch)) and float(tf.reduce_max(batch)) <= 1.0
    again = next(iter(fast.training_images(size=32, batch_size=3, seed=0)))
    np.testing.assert_array_equal(batch.numpy(), again.numpy())  # seeded


@pytest.mark.parametrize("streaming", [False, True], ids=["in memory", "streamed from disk"])
def test_training_images_from_a_folder_skip_unreadable_files(tmp_path, capsys, monkeypatch, streaming):
    if streaming:  # what a large folder such as COCO gets
        monkeypatch.setattr(fast_data, "IN_MEMORY_LIMIT", 1)
    for name in ("a.jpg", "b.png"):
        save_image(load_image("content/chelsea", 64), tmp_path / name)
    (tmp_path / "broken.jpg").write_bytes(b"not a picture")
    (tmp_path / "notes.txt").write_text("ignored")
    assert [p.name for p in fast.image_files(tmp_path)] == ["a.jpg", "b.png", "broken.jpg"]
    batches = iter(fast.training_images(tmp_path, size=32, batch_size=2))
    for _ in range(3):  # more pictures than the folder holds: it repeats, without the broken one
        assert next(batches).shape == (2, 32, 32, 3)
    assert "skipping" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no image files"):
        fast.training_images(empty)


@pytest.mark.slow
def test_perceptual_loss_of_a_photo_against_itself_has_no_content_cost():
    loss = fast.PerceptualLoss(STYLE, weights="offline", style_size=64)
    batch = next(iter(fast.training_images(size=32, batch_size=2, seed=1)))
    values = loss(batch, batch)
    assert float(values["content"]) == 0.0 and float(values["style"]) > 0.0
    assert set(values) == {"content", "style", "tv", "total"}
    loss.style_weight = 0.0
    assert float(loss(batch, batch)["style"]) == 0.0


# --------------------------------------------------------------------------- training


@pytest.mark.slow
def test_a_few_steps_lower_the_loss_on_a_fixed_batch():
    model = fast.transform_net(**TINY, seed=0)
    loss = fast.PerceptualLoss(STYLE, weights="offline", style_size=64)
    fixed = next(iter(fast.training_images(size=32, batch_size=2, seed=123)))
    before = loss.evaluate(model, fixed)["total"]
    result = fast.train(STYLE, model=model, steps=8, size=32, batch_size=2, weights="offline",
                        style_size=64, progress=False, preview_every=4, learning_rate=3e-3)
    after = loss.evaluate(result.model, fixed)["total"]
    assert after < 0.8 * before, (before, after)
    assert result.history["step"] == list(range(1, 9))
    assert [step for step, _ in result.previews] == [4, 8]
    assert result.previews[0][1].shape[2] == 3


@pytest.mark.slow
def test_checkpoints_resume_the_step_count(tmp_path):
    options = dict(size=32, batch_size=2, weights="offline", progress=False, preview_every=0, **TINY)
    first = fast.train(STYLE, steps=2, checkpoint_dir=tmp_path, **options)
    assert first.step == 2 and first.checkpoint.endswith("ckpt-2")
    trained = first.model.get_weights()
    again = fast.train(STYLE, steps=2, checkpoint_dir=tmp_path, **options)  # nothing left to do
    assert again.step == 2 and again.history["step"] == [] and again.checkpoint == first.checkpoint
    assert all(np.array_equal(a, b) for a, b in zip(trained, again.model.get_weights()))
    more = fast.train(STYLE, steps=3, checkpoint_dir=tmp_path, **options)
    assert more.step == 3 and more.history["step"] == [3]
    assert (tmp_path / "ckpt-3.index").exists()


@pytest.mark.slow
def test_a_callback_stops_training_and_ctrl_c_keeps_the_steps_done(tmp_path):
    options = dict(size=32, batch_size=2, weights="offline", progress=False, preview_every=2, **TINY)
    seen = []

    def stop_after_four(step, image, losses):
        seen.append((step, image.shape, losses))
        return step < 4

    stopped = fast.train(STYLE, steps=10, callback=stop_after_four, **options)
    assert stopped.step == 4 and not stopped.interrupted
    assert [step for step, _ in stopped.previews] == [2, 4] and stopped.history["step"] == [1, 2, 3, 4]
    assert seen[-1][2]["total"] == stopped.history["total"][-1] and seen[-1][1][2] == 3

    def ctrl_c(step, image, losses):
        raise KeyboardInterrupt

    interrupted = fast.train(STYLE, steps=10, callback=ctrl_c, checkpoint_dir=tmp_path, checkpoint_every=100,
                             **options)
    assert interrupted.interrupted and interrupted.step == 2 and interrupted.history["step"] == [1, 2]
    assert interrupted.checkpoint.endswith("ckpt-2") and (tmp_path / "ckpt-2.index").exists()


@pytest.mark.slow
def test_an_error_tensorflow_raises_while_sigterm_arrives_is_a_stop_not_a_failure():
    """In a cluster, a worker's SIGTERM may land while TensorFlow raises (the other worker left the collective):
    pybind11 then reports a RuntimeError instead of the Terminated. The stop wins; without a signal the error
    is the error it was."""
    import signal

    from nst_tf._runtime import signals

    options = dict(size=32, batch_size=2, weights="offline", progress=False, preview_every=2, **TINY)

    def sigterm_during_an_error(step, image, losses):
        signals._received.append(signal.SIGTERM)  # what the handler records, the exception it raised lost
        raise RuntimeError("pybind11::error_already_set: MISMATCH of original and normalized active exception "
                           "types: ORIGINAL UnavailableError REPLACED BY Terminated")

    with signals.terminate_as_interrupt():
        stopped = fast.train(STYLE, steps=10, callback=sigterm_during_an_error, **options)
    assert stopped.interrupted and stopped.step == 2 and signals.terminated()

    def plain_error(step, image, losses):
        raise RuntimeError("a real failure")

    with signals.terminate_as_interrupt(), pytest.raises(RuntimeError, match="a real failure"):
        fast.train(STYLE, steps=10, callback=plain_error, **options)


def test_a_nan_cost_stops_training_at_its_step():
    from nst_tf.fast.training import _LossLog
    from nst_tf.optim.progress import History, NonFiniteLossError, ProgressBar

    log = _LossLog(History(), ProgressBar(4, enabled=False), "lower the learning rate")
    for total in (3.0, 2.0, float("nan"), 1.0):
        log.add({key: tf.constant(total) for key in ("total", "content", "style", "tv")})
    with pytest.raises(NonFiniteLossError, match="became nan at step 7: lower the learning rate"):
        log.flush(8)
    assert log.history["step"] == [5, 6] and log.history["total"] == [3.0, 2.0]
    assert log.flush(9) == log.history.last()  # nothing is read twice


def test_bad_training_arguments_are_refused():
    with pytest.raises(ValueError, match="steps"):
        fast.train(STYLE, steps=0)
    with pytest.raises(ValueError, match="learning_rate"):
        fast.train(STYLE, steps=1, learning_rate=-1.0)
    with pytest.raises(ValueError, match="content_weight"):
        fast.PerceptualLoss(STYLE, weights="offline", content_weight=float("nan"))


# --------------------------------------------------------------------------- saving


def test_save_then_load_gives_the_same_output(tmp_path, tiny_model, saved_model):
    image = np.random.default_rng(1).uniform(size=(37, 41, 3)).astype(np.float32)
    loaded = fast.load_model(saved_model)
    np.testing.assert_allclose(fast.stylize_fast(loaded, image), fast.stylize_fast(tiny_model, image), atol=1e-6)
    import keras

    plain = keras.models.load_model(saved_model)  # the custom layers are registered
    assert plain.count_params() == tiny_model.count_params()
    assert not list(saved_model.parent.glob(".*.keras"))  # no temporary file left behind
    with pytest.raises(fast.ModelError, match=r"\.keras"):
        fast.save_model(tiny_model, tmp_path / "model.h5")


def test_load_model_refuses_files_that_are_not_networks(tmp_path):
    (tmp_path / "junk.keras").write_text("junk")
    with pytest.raises(fast.ModelError, match="not a valid .keras model"):
        fast.load_model(tmp_path / "junk.keras")
    with zipfile.ZipFile(tmp_path / "empty.keras", "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(fast.ModelError, match="not a valid .keras model"):
        fast.load_model(tmp_path / "empty.keras")
    with pytest.raises(fast.ModelError, match="does not exist"):
        fast.load_model(tmp_path / "missing.keras")
    import keras

    dense = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    dense.save(tmp_path / "dense.keras")
    with pytest.raises(fast.ModelError, match="not a network from nst-tf train-fast: it uses keras.Sequential"):
        fast.load_model(tmp_path / "dense.keras")  # refused from its config: layer types we never use


# --------------------------------------------------------------------------- command line


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


@pytest.fixture()
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(samples.path("content/chelsea"), folder / "cat.jpg")
    save_image(load_image("content/coffee", 128), folder / "coffee.png")
    return folder


def test_the_cli_knows_both_commands():
    parser = cli.build_parser()
    args = parser.parse_args(["apply", "m.keras", "a.jpg", "-o", "out"])
    assert args.run is fast_cli.run_apply and args.size == 1024
    args = parser.parse_args(["train-fast", STYLE, "-o", "m.keras"])
    assert args.run is fast_cli.run_train_fast and args.images is None


def test_train_fast_starts_from_the_defaults_of_fast_train():
    """``nst-tf train-fast`` and ``nst_tf.fast.train`` train the same network when given nothing."""
    import inspect

    library = inspect.signature(fast.train).parameters
    parser = cli.build_parser()
    args = parser.parse_args(["train-fast", STYLE, "-o", "m.keras"])
    for name in ("steps", "size", "batch_size", "learning_rate", "checkpoint_every", "seed", "cache", "weights",
                 "normalize"):
        assert getattr(args, name) == library[name].default, name
    costs = parser._subparsers._group_actions[0].choices["train-fast"]._actions
    for name in ("content_weight", "style_weight", "tv_weight"):
        assert getattr(args, name) is None  # left to the library
        (action,) = [a for a in costs if a.dest == name]
        assert f"(default: {library[name].default:g})" in action.help, action.help


@pytest.mark.slow
def test_apply_to_a_folder_writes_one_image_per_input(tmp_path, photos, saved_model, capsys):
    out = tmp_path / "stylized"
    status = cli.main(["apply", str(saved_model), str(photos), "-o", str(out), "--size", "64", "--no-progress"])
    assert status == 0, capsys.readouterr().err
    written = sorted(p.name for p in out.iterdir())
    assert written == ["cat.jpg", "coffee.png"]
    assert load_image(out / "cat.jpg").shape[:2] == load_image(photos / "cat.jpg", max_size=64).shape[:2]
    single = tmp_path / "one.png"
    assert cli.main(["apply", str(saved_model), str(photos / "cat.jpg"), "-o", str(single), "--size", "48"]) == 0
    assert max(load_image(single).shape[:2]) == 48


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["{model}", "{photos}/missing.jpg", "-o", "{tmp}/x.png"], "does not exist"),
        (["{model}", "{tmp}/notes.jpg", "-o", "{tmp}/x.png"], "not an image file"),
        (["{model}", "{tmp}/tiny.png", "-o", "{tmp}/x.png"], "at least 32 px"),
        (["{tmp}/junk.keras", "{photos}/cat.jpg", "-o", "{tmp}/x.png"], "not a valid .keras model"),
        (["{model}", "{photos}/cat.jpg", "-o", "{photos}/cat.jpg"], "refusing to overwrite the input"),
        (["{model}", "{photos}", "-o", "{photos}"], "refusing to overwrite the input"),
        (["{model}", "{photos}", "-o", "{photos}/cat.jpg"], "not a folder"),
        (["{model}", "{photos}/cat.jpg", "--size", "8", "-o", "{tmp}/x.png"], "--size"),
        (["{model}", "{photos}/cat.jpg", "{tmp}/tiny.png", "-o", "{tmp}/out"], "at least 32 px"),
    ],
)
def test_apply_refuses_bad_input_with_one_line_and_no_files(tmp_path, photos, saved_model, capsys, arguments,
                                                            message):
    (tmp_path / "notes.jpg").write_text("not a picture")
    (tmp_path / "junk.keras").write_text("junk")
    save_image(np.zeros((20, 20, 3)), tmp_path / "tiny.png")
    before = _files(tmp_path)
    values = {"model": saved_model, "photos": photos, "tmp": tmp_path}
    status = cli.main(["apply", *(a.format(**values) for a in arguments)])
    err = capsys.readouterr().err
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nst-tf: error: ") and message in lines[0], err
    assert _files(tmp_path) == before


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["style/nope", "-o", "{tmp}/m.keras"], "unknown sample image"),
        ([STYLE, "-o", "{tmp}/m.h5"], "must end in .keras"),
        ([STYLE, "--images", "{tmp}/missing", "-o", "{tmp}/m.keras"], "no such folder"),
        ([STYLE, "--images", "{tmp}/empty", "-o", "{tmp}/m.keras"], "no image files"),
        ([STYLE, "--steps", "0", "-o", "{tmp}/m.keras"], "--steps"),
        ([STYLE, "--batch-size", "x", "-o", "{tmp}/m.keras"], "--batch-size"),
        ([STYLE, "--style-weight", "-1", "-o", "{tmp}/m.keras"], "--style-weight"),
        ([STYLE, "-o", "{tmp}/existing.keras"], "already exists"),
        ([STYLE, "-o", "{tmp}/m.keras", "--weights", "random"], "--weights random"),
    ],
)
def test_train_fast_refuses_bad_input_with_one_line_and_no_files(tmp_path, capsys, arguments, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "existing.keras").write_text("old")
    before = _files(tmp_path)
    status = cli.main(["train-fast", *(a.format(tmp=tmp_path) for a in arguments)])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert status == 2 and len(lines) == 1 and message in lines[0], err
    assert _files(tmp_path) == before


@pytest.mark.slow
def test_train_fast_writes_a_model_apply_can_use(tmp_path, photos, capsys):
    model = tmp_path / "m.keras"
    status = cli.main(["train-fast", STYLE, "--images", str(photos), "-o", str(model), "--steps", "2",
                       "--size", "32", "--batch-size", "2", "--weights", "offline", "--no-progress"])
    assert status == 0, capsys.readouterr().err
    assert fast.load_model(model).output_shape == (None, None, None, 3)
