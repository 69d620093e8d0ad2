"""Issue 16, points 5 and 6: SIGTERM, killed saves, races on the output name, and the small items."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from nst_tf.image import load_image, ImageError
from nst_tf.cli import commands as cli
from nst_tf.image import save as saving
from nst_tf._runtime import safefile

from cli_runs import cli_env, run_after_progress, write_pictures

FAST = ["--weights", "offline", "--no-progress"]
_env = cli_env


@pytest.fixture
def pics(tmp_path):
    return write_pictures(tmp_path)


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


# ----------------------------------------------------------------------------- SIGTERM


@pytest.mark.slow
def test_sigterm_keeps_the_best_image_and_exits_143(pics):
    out = pics / "out.png"
    argv = ["stylize", pics / "content.png", pics / "style.png", "-o", out, "--size", "48", "--steps", "100000", *FAST]
    status, stdout, stderr = run_after_progress(argv, lambda process: process.send_signal(signal.SIGTERM))
    assert status == 143, stderr
    assert "interrupted: wrote the best image so far" in stdout
    with Image.open(out) as im:
        assert max(im.size) == 48
    assert "Traceback" not in stderr
    assert [p.name for p in pics.iterdir() if p.name.startswith(".")] == []


def test_sigterm_before_any_work_exits_143_and_writes_nothing(pics):
    code = ("import os, signal, sys\nfrom nst_tf.cli import commands as cli\n"
            "def run(args):\n    os.kill(os.getpid(), signal.SIGTERM)\n    return 0\n"
            "cli.run_stylize = run\nparser = cli.build_parser\n"
            "sys.exit(cli.main(sys.argv[1:]))\n")
    # run_stylize is looked up when the parser is built, so patch through set_defaults instead:
    code = code.replace("cli.run_stylize = run\n", "cli._register_stylize.__globals__['run_stylize'] = run\n")
    out = pics / "out.png"
    result = subprocess.run([sys.executable, "-c", code, "stylize", str(pics / "content.png"),
                             str(pics / "style.png"), "-o", str(out), *FAST], env=_env(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 143, result.stderr
    assert result.stderr.strip().splitlines() == ["nst-tf: terminated; nothing written"]
    assert not out.exists()


# ----------------------------------------------------------------------------- saving


def test_a_killed_saves_temporary_file_is_removed_by_the_next_save(tmp_path):
    stale = tmp_path / f".old.png.nsttf-{_dead_pid()}-abc123.tmp"
    stale.write_bytes(b"half a picture")
    alive = tmp_path / f".other.png.nsttf-{os.getpid()}-def456.tmp"  # a save in progress: kept
    alive.write_bytes(b"being written")
    saving.save_image(np.zeros((8, 8, 3)), tmp_path / "new.png")
    assert not stale.exists() and alive.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, "new.png"])


def test_a_killed_save_in_another_process_is_cleaned_up(tmp_path):
    code = ("import sys, numpy as np\nfrom PIL import Image\nfrom nst_tf.image import save as saving\n"
            "def hang(self, fp, *a, **k):\n    fp.write(b'partial'); fp.flush(); print('WRITING', flush=True)\n"
            "    import time; time.sleep(600)\n"
            "Image.Image.save = hang\nsaving.save_image(np.zeros((8, 8, 3)), sys.argv[1])\n")
    process = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "out.png")], env=_env(),
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "WRITING"
    process.kill()
    process.wait(timeout=30)
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".out.png.")]
    assert len(leftovers) == 1 and not (tmp_path / "out.png").exists()
    saving.save_image(np.zeros((8, 8, 3)), tmp_path / "again.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.png"]


@pytest.mark.parametrize("links", [True, False], ids=["hard links", "no hard links"])
def test_publishing_without_overwrite_never_replaces_a_file_created_meanwhile(tmp_path, monkeypatch, links):
    out = tmp_path / "result.png"
    original_save = Image.Image.save

    def save_while_another_run_finishes(self, fp, *args, **kwargs):
        out.write_bytes(b"the other run's picture")
        return original_save(self, fp, *args, **kwargs)

    if not links:
        def no_links(*args, **kwargs):
            raise PermissionError(1, "Operation not permitted")
        monkeypatch.setattr(os, "link", no_links)
    monkeypatch.setattr(Image.Image, "save", save_while_another_run_finishes)
    with pytest.raises(ImageError, match="already exists"):
        saving.save_image(np.zeros((8, 8, 3)), out, overwrite=False)
    assert out.read_bytes() == b"the other run's picture"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.png"]
    monkeypatch.setattr(Image.Image, "save", original_save)
    saving.save_image(np.ones((8, 8, 3)), tmp_path / "fresh.png", overwrite=False)  # a free name works
    assert load_image(tmp_path / "fresh.png", min_size=1).min() == 1.0


def test_models_are_published_the_same_way_and_fsynced(tmp_path, monkeypatch):
    from nst_tf import fast

    synced = []
    real_fsync = os.fsync

    def recording_fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}") if os.path.exists("/proc/self/fd") else fd)
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    model = fast.transform_net(filters=8, residual_blocks=1)  # small: any network is published alike
    out = tmp_path / "m.keras"
    fast.save_model(model, out)
    assert any(".m.keras.nsttf-" in str(path) for path in synced)  # the model's bytes, before the rename
    with pytest.raises(fast.ModelError, match="already exists"):
        fast.save_model(model, out, overwrite=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras"]


def test_stale_names_match_only_our_temporaries(tmp_path):
    assert safefile.temporary_name_pattern.match(".a.png.nsttf-123-xyz_1.tmp")
    assert safefile.temporary_name_pattern.match(".m.keras.nsttf-9-abc.keras")
    assert not safefile.temporary_name_pattern.match(".bashrc")
    assert not safefile.temporary_name_pattern.match("a.png.nsttf-123-x.tmp")


# ----------------------------------------------------------------------------- point 6


@pytest.mark.slow
def test_python_dash_m_nst_tf(tmp_path):
    version = subprocess.run([sys.executable, "-m", "nst_tf", "--version"], env=_env(), capture_output=True,
                             text=True, timeout=120)
    assert version.returncode == 0 and version.stdout.startswith("nst-tf ")
    for command in (["train-fast", "style/swirls", "-o", str(tmp_path / "m.txt")],
                    ["apply", str(tmp_path / "missing.keras"), "x.png", "-o", str(tmp_path / "o.png")]):
        result = subprocess.run([sys.executable, "-m", "nst_tf", *command], env=_env(), capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 2, (command, result.stderr)
        assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("nst-tf: error: ")


def test_apply_with_several_inputs_and_an_image_name_makes_no_folder(tmp_path, pics, capsys):
    from nst_tf import fast

    model = tmp_path / "m.keras"
    fast.save_model(fast.transform_net(filters=8, residual_blocks=1), model)
    status = cli.main(["apply", str(model), str(pics / "content.png"), str(pics / "style.png"),
                       "-o", str(tmp_path / "two.png"), "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2 and "looks like an image file name" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "two.png").exists()


def test_a_bad_nst_tf_weights_is_named(pics, capsys, monkeypatch):
    monkeypatch.setenv("NST_TF_WEIGHTS", str(pics / "nope.h5"))
    status = cli.main(["stylize", str(pics / "content.png"), str(pics / "style.png"), "-o", str(pics / "o.png"),
                       "--size", "48", "--steps", "1", "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2 and "NST_TF_WEIGHTS" in err and len(err.splitlines()) == 1


def test_weights_errors_are_not_cut(monkeypatch, tmp_path):
    from nst_tf.vgg import extractor as features
    from nst_tf.vgg import weights as vgg_weights

    reason = "a reason that goes on " * 12 + "THE END"
    weights = tmp_path / "w.h5"
    weights.write_bytes(b"x")

    def broken(*args, **kwargs):
        raise ValueError(reason)

    monkeypatch.setattr(features, "vgg_constructor", lambda net: broken)
    monkeypatch.setattr(vgg_weights, "detect_net", lambda path: "vgg16")  # get past the file check to Keras' error
    features._load_vgg_cached.cache_clear() if hasattr(features._load_vgg_cached, "cache_clear") else None
    with pytest.raises(features.WeightsError) as info:
        features.feature_extractor(["block1_conv1"], weights=str(weights))
    assert "THE END" in str(info.value)


def test_the_aspect_ratio_error_names_the_option(tmp_path, capsys):
    Image.fromarray(np.zeros((40, 400, 3), np.uint8)).save(tmp_path / "wide.png")
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "style.png")
    status = cli.main(["stylize", str(tmp_path / "wide.png"), str(tmp_path / "style.png"), "-o",
                       str(tmp_path / "o.png"), "--size", "64", *FAST])
    err = capsys.readouterr().err
    assert status == 2 and "use a larger --size" in err and "max_size" not in err


def test_skipped_training_images_keep_their_reason(tmp_path, capsys):
    from nst_tf import fast
    from nst_tf.image.save import save_image

    for name in ("a.png", "b.png"):
        save_image(load_image("content/chelsea", 64), tmp_path / name)
    (tmp_path / "broken.jpg").write_bytes(b"not a picture")
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(tmp_path / "tiny.png")
    next(iter(fast.training_images(tmp_path, size=32, batch_size=2)))
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert any("broken.jpg" in line and "not an image file Pillow can read" in line for line in lines), err
    assert any("tiny.png" in line and "at least 32 px" in line for line in lines), err
