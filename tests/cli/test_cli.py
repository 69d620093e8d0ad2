"""Tests for the ``nst-tf`` command line (nst_tf/cli/).

Offline and small: tiny images (48-64 px), 1-3 steps, ``--weights offline``. Most
runs call :func:`nst_tf.cli.commands` in-process; one runs ``python -m nst_tf.cli`` to
check the exit status and that stderr carries no TensorFlow start-up noise.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst_tf.cli import commands as cli

ROOT = Path(__file__).resolve().parents[2]
FAST = ["--steps", "3", "--weights", "offline", "--no-progress"]
NOISE_MARKERS = ("I0000", "W0000", "E0000", "cuInit", "oneDNN", "cuda", "absl", "Traceback", "WARNING")


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def pics(tmp_path: Path) -> dict[str, Path]:
    """A 96x72 gradient content PNG, an 80x80 noise style JPEG, a text file and a 20x20 PNG."""
    y, x = np.mgrid[0:72, 0:96]
    content = np.stack([x * 255 // 95, y * 255 // 71, (x + y) * 255 // 166], axis=2).astype(np.uint8)
    Image.fromarray(content).save(tmp_path / "content.png")
    noise = np.random.default_rng(0).integers(0, 256, (80, 80, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "style.jpg", quality=90)
    (tmp_path / "notes.txt").write_text("not an image\n")
    Image.new("RGB", (20, 20), (200, 10, 10)).save(tmp_path / "tiny.png")
    Image.new("RGB", (40, 40), (1, 2, 3)).save(tmp_path / "existing.png")
    return {
        "content": tmp_path / "content.png",
        "style": tmp_path / "style.jpg",
        "text": tmp_path / "notes.txt",
        "tiny": tmp_path / "tiny.png",
        "existing": tmp_path / "existing.png",
        "dir": tmp_path,
    }


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def run_main(capsys, argv) -> tuple[int, str, str]:
    status = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def longest_side(path: Path) -> int:
    with Image.open(path) as im:
        im.load()
        return max(im.size)


# --------------------------------------------------------------------------- success


@pytest.mark.slow
def test_stylize_in_process_writes_image_of_requested_size(pics, capsys):
    out = pics["dir"] / "out.png"
    status, stdout, _ = run_main(capsys, ["stylize", pics["content"], pics["style"], "-o", out, "--size", 64, *FAST])
    assert status == 0
    assert out.is_file() and longest_side(out) == 64
    assert f"wrote {out}" in stdout and "64x48 px" in stdout and "3 steps" in stdout

    # --overwrite replaces it; two styles with a blend, Adam, other layers and weights all go through.
    status, stdout, _ = run_main(
        capsys,
        ["stylize", pics["content"], pics["style"], pics["style"], "--style-blend", 2, 1, "-o", out, "--overwrite",
         "--size", 48, "--steps", 2, "--weights", "offline", "--no-progress", "--optimizer", "adam",
         "--content-layers", "block3_conv2", "--style-layers", "block1_conv1", "block2_conv1",
         "--tv-weight", 0, "--init", "noise", "--seed", 3, "--style-scale", 0.8, "--net", "vgg16"],
    )
    assert status == 0, stdout
    assert longest_side(out) == 48

    # L-BFGS on the pixels, without the preconditioner
    status, stdout, _ = run_main(capsys, ["stylize", pics["content"], pics["style"], "-o", out, "--overwrite",
                                          "--size", 48, "--precondition", 0, *FAST])
    assert status == 0, stdout
    assert longest_side(out) == 48

    # scipy's L-BFGS-B, kept for comparison
    status, stdout, _ = run_main(capsys, ["stylize", pics["content"], pics["style"], "-o", out, "--overwrite",
                                          "--size", 48, "--optimizer", "lbfgs-scipy", *FAST])
    assert status == 0, stdout
    assert longest_side(out) == 48


@pytest.mark.slow
def test_subprocess_exit_status_and_clean_stderr(pics):
    out = pics["dir"] / "styled.jpg"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "nst_tf", "stylize", str(pics["content"]), str(pics["style"]),
         "-o", str(out), "--size", "48", "--steps", "3", "--weights", "offline"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.is_file() and longest_side(out) == 48
    assert f"wrote {out}" in proc.stdout
    noise = [line for line in proc.stderr.splitlines() if any(marker in line for marker in NOISE_MARKERS)]
    assert not noise, proc.stderr
    assert "stylizing" in proc.stderr  # the progress bar is there
    assert "nst-tf: using offline VGG16 weights" in proc.stderr  # the library's "which weights" line (logging)


@pytest.mark.slow
def test_demo_writes_its_output(tmp_path, capsys):
    out = tmp_path / "demo.png"
    status, stdout, _ = run_main(capsys, ["demo", "-o", out, "--size", 64, *FAST])
    assert status == 0
    assert longest_side(out) == 64
    assert cli.DEMO_CONTENT in stdout and cli.DEMO_STYLE in stdout and f"wrote {out}" in stdout


def test_version_and_help(capsys):
    from nst_tf import __version__

    assert cli.main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out
    for argv in (["--help"], ["stylize", "--help"], ["demo", "--help"]):
        assert cli.main(argv) == 0
        assert "usage: nst-tf" in capsys.readouterr().out


def test_importing_the_cli_does_not_import_tensorflow():
    code = "import sys, nst_tf.cli.commands as c; c.build_parser(); sys.exit('tensorflow' in sys.modules)"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    assert subprocess.run([sys.executable, "-c", code], env=env, timeout=120).returncode == 0


# --------------------------------------------------------------------------- bad input


BAD = {
    "missing content file": lambda p: [p["dir"] / "nope.png", p["style"], "-o", p["dir"] / "o.png"],
    "text file as style": lambda p: [p["content"], p["text"], "-o", p["dir"] / "o.png"],
    "too small image": lambda p: [p["content"], p["tiny"], "-o", p["dir"] / "o.png"],
    "size 0": lambda p: [p["content"], p["style"], "-o", p["dir"] / "o.png", "--size", 0],
    "size -5": lambda p: [p["content"], p["style"], "-o", p["dir"] / "o.png", "--size", -5],
    "size abc": lambda p: [p["content"], p["style"], "-o", p["dir"] / "o.png", "--size", "abc"],
    "steps 0": lambda p: [p["content"], p["style"], "-o", p["dir"] / "o.png", "--steps", 0],
    "negative weight": lambda p: [p["content"], p["style"], "-o", p["dir"] / "o.png", "--style-weight", -1],
    "negative precondition": lambda p: [p["content"], p["style"], "-o", p["dir"] / "o.png", "--precondition", -1],
    "blend count": lambda p: [p["content"], p["style"], "-o", p["dir"] / "o.png", "--style-blend", 1, 2],
    "unknown layer": lambda p: [p["content"], p["style"], "-o", p["dir"] / "o.png", "--style-layers", "block9_conv1"],
    "weights path missing": lambda p: [p["content"], p["style"], "-o", p["dir"] / "o.png",
                                       "--weights", p["dir"] / "vgg.h5"],
    "output is an input": lambda p: [p["content"], p["style"], "-o", p["style"], "--overwrite"],
    "output is an input, other spelling": lambda p: [p["content"], p["style"], "-o",
                                                     p["dir"] / "." / "content.png", "--overwrite"],
    "existing output": lambda p: [p["content"], p["style"], "-o", p["existing"]],
    "output folder missing": lambda p: [p["content"], p["style"], "-o", p["dir"] / "no" / "o.png"],
    "unknown extension": lambda p: [p["content"], p["style"], "-o", p["dir"] / "o.xyz"],
    "random weights": lambda p: [p["content"], p["style"], "-o", p["dir"] / "o.png", "--weights", "random"],
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case, pics, capsys):
    before = snapshot(pics["dir"])
    argv = ["stylize", "--size", 48, *FAST, *BAD[case](pics)]  # the case's own options come last and win
    status, stdout, stderr = run_main(capsys, argv)
    assert status == 2, (stdout, stderr)
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("nst-tf: error: "), stderr
    assert "wrote" not in stdout
    assert snapshot(pics["dir"]) == before


def test_usage_errors_are_one_line(capsys):
    for argv in ([], ["frobnicate"], ["stylize", "a.png", "b.png"]):
        status, _, stderr = run_main(capsys, argv)
        assert status == 2
        assert len(stderr.splitlines()) == 1 and stderr.startswith("nst-tf: error: "), stderr


# --------------------------------------------------------------------------- failures during the run


@pytest.mark.slow
def test_non_finite_cost_exits_1(pics, capsys):
    out = pics["dir"] / "o.png"
    status, _, stderr = run_main(
        capsys, ["stylize", pics["content"], pics["style"], "-o", out, "--size", 48, *FAST, "--style-weight", "1e38"]
    )
    assert status == 1
    assert stderr.splitlines()[-1].startswith("nst-tf: error: The cost became")
    assert not out.exists()


@pytest.mark.slow
def test_ctrl_c_writes_the_best_image_so_far(pics, capsys, monkeypatch):
    from nst_tf.optim import progress

    original = progress.Watcher.after_steps

    def interrupt_at_step_2(self, step, *args, **kwargs):
        if step >= 2:
            raise KeyboardInterrupt
        return original(self, step, *args, **kwargs)

    monkeypatch.setattr(progress.Watcher, "after_steps", interrupt_at_step_2)
    out = pics["dir"] / "o.png"
    status, stdout, _ = run_main(capsys, ["stylize", pics["content"], pics["style"], "-o", out, "--size", 48, *FAST])
    assert status == 130
    assert "interrupted" in stdout and out.is_file()


@pytest.mark.parametrize("command", ["stylize", "train-fast"])
def test_an_interrupt_before_the_first_step_writes_nothing_and_says_so_on_stderr(command, pics, capsys, monkeypatch):
    """Every command ends an interrupted run the same way (nst_tf.cli.common)."""
    from types import SimpleNamespace

    from nst_tf.transfer import controls
    from nst_tf import fast

    def stopped_at_once(*args, **kwargs):
        return SimpleNamespace(image=np.zeros((48, 64, 3)), interrupted=True, evaluations=0, step=0,
                               history={"step": []})

    monkeypatch.setattr(controls, "stylize", stopped_at_once)
    monkeypatch.setattr(fast, "train", stopped_at_once)
    out = pics["dir"] / ("o.png" if command == "stylize" else "m.keras")
    argv = ([command, pics["content"], pics["style"]] if command == "stylize" else [command, pics["style"]])
    status, stdout, stderr = run_main(capsys, [*argv, "-o", out, "--size", 48, *FAST])
    assert status == 130
    assert stderr.splitlines()[-1] == "nst-tf: interrupted before the first step; nothing written"
    assert "interrupted" not in stdout and not out.exists()


def test_unexpected_error_is_one_line_with_hint(pics, capsys, monkeypatch):
    from nst_tf.transfer import controls

    def broken(*args, **kwargs):
        raise RuntimeError("something odd\non two lines")

    monkeypatch.setattr(controls, "stylize", broken)
    out = pics["dir"] / "o.png"
    status, _, stderr = run_main(capsys, ["stylize", pics["content"], pics["style"], "-o", out, "--size", 48, *FAST])
    assert status == 1
    assert stderr.splitlines() == ["nst-tf: error: RuntimeError: something odd on two lines (run with --verbose for details)"]
    status, _, stderr = run_main(capsys, ["stylize", pics["content"], pics["style"], "-o", out, "--size", 48, *FAST,
                                          "--verbose"])
    assert status == 1 and "Traceback" in stderr
    assert not out.exists()


# --------------------------------------------------------------------------- artist controls


def _controls_images(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(3)
    content = tmp_path / "photo.png"
    Image.fromarray((rng.uniform(0, 1, (48, 64, 3)) * 255).astype("uint8")).save(content)
    mask = np.zeros((48, 64), "uint8")
    mask[:, :32] = 255
    left, right = tmp_path / "left.png", tmp_path / "right.png"
    Image.fromarray(mask).save(left)
    Image.fromarray(255 - mask).save(right)
    return content, left, right


@pytest.mark.slow
def test_stylize_with_colour_preservation_and_masks(tmp_path, capsys):
    content, left, right = _controls_images(tmp_path)
    out = tmp_path / "out.png"
    code = cli.main(["stylize", str(content), "style/swirls", "style/mosaic", "--mask", str(left), str(right),
                 "--preserve-colors", "luminance", "-o", str(out), "--size", "48", "--steps", "3",
                 "--weights", "offline", "--no-progress"])
    assert code == 0, capsys.readouterr().err
    from nst_tf.image import load_image

    assert max(load_image(out).shape[:2]) == 48


@pytest.mark.parametrize("extra, message", [
    (["--mask", "MISSING.png"], "mask file not found"),
    (["--mask", "LEFT", "LEFT"], "masks for 1 style"),
    (["--preserve-colors", "sepia"], "invalid choice"),
])
def test_stylize_control_options_are_validated(tmp_path, capsys, extra, message):
    content, left, _ = _controls_images(tmp_path)
    extra = [str(left) if e == "LEFT" else e for e in extra]
    out = tmp_path / "out.png"
    code = cli.main(["stylize", str(content), "style/swirls", "-o", str(out), "--size", "48", "--steps", "2",
                 "--weights", "offline", "--no-progress", *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and not out.exists()
    assert len([line for line in err if line.startswith("nst-tf: error:")]) == 1
    assert message in err[-1] or any(message in line for line in err)


def test_stylize_starts_from_the_defaults_of_nst_tf_stylize():
    """``nst-tf stylize`` and ``nst_tf.stylize`` make the same picture when given nothing but the images."""
    import inspect

    import nst_tf
    from nst_tf.transfer.style_transfer import StyleTransfer

    library = inspect.signature(nst_tf.stylize).parameters
    parser = cli.build_parser()
    args = parser.parse_args(["stylize", "a.png", "b.png", "-o", "c.png"])
    for name in ("size", "steps", "optimizer", "learning_rate", "style_scale"):
        assert getattr(args, name) == library[name].default, name
    assert args.precondition is None  # left to the library; the help names its default
    actions = {a.dest: a for a in parser._subparsers._group_actions[0].choices["stylize"]._actions}
    assert f"(default: {library['precondition'].default})" in " ".join(actions["precondition"].help.split())
    costs = inspect.signature(StyleTransfer).parameters
    for name in ("content_weight", "style_weight", "tv_weight"):
        assert getattr(args, name) is None
        assert f"(default: {costs[name].default:g})" in actions[name].help
    for name in ("content_layers", "style_layers"):
        assert getattr(args, name) is None
        assert f"(default: {' '.join(costs[name].default)})" in actions[name].help
    assert args.init == costs["init"].default
