"""Whole ``nst-tf`` runs in a subprocess, for the end-to-end tests (test_lost_work, test_hostile_corpus):
the environment, two small pictures, and a run that is interfered with once it has made progress; and
:func:`ctrl_c_reaches_it`, which tests/image/test_fetch.py also uses for its interrupted downloads."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def ctrl_c_reaches_it() -> None:
    """``preexec_fn`` for a child that a test stops with SIGINT, as Ctrl-C in a terminal would.

    A shell starts a background job (``pytest ... &``, ``nohup``, some CI runners) with SIGINT ignored;
    the children inherit that and Python then installs no ``KeyboardInterrupt`` handler, so the signal
    would do nothing and the test would hang. The child gets SIGINT's default back, as a foreground job has."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


#: Printed on stdout by :data:`ANNOUNCE_PROGRESS` after each report from step 3 on.
PROGRESS = "PROGRESS"

#: ``python -c ANNOUNCE_PROGRESS <nst-tf arguments>``: the command line, announcing progress on stdout
#: (the in-TensorFlow L-BFGS reports after chunks of evaluations, so "step 3" may come late).
ANNOUNCE_PROGRESS = f"""
import sys
from nst_tf.cli import commands as cli
from nst_tf.optim import progress
original = progress.Watcher.after_steps
def announce(self, step, *args, **kwargs):
    if step >= 3:
        print({PROGRESS!r}, flush=True)
    return original(self, step, *args, **kwargs)
progress.Watcher.after_steps = announce
sys.exit(cli.main(sys.argv[1:]))
"""


def cli_env(**extra: str) -> dict:
    """This tree's nst_tf, the offline backbone, and ``extra``."""
    return dict(os.environ, PYTHONPATH=str(ROOT), NST_TF_WEIGHTS="offline", **extra)


def write_pictures(folder: Path) -> Path:
    """``content.png`` (64x48, smooth ramps) and ``style.png`` (48x48 noise) in ``folder``."""
    y, x = np.mgrid[0:48, 0:64]
    Image.fromarray(np.stack([x * 4, y * 5, (x + y) * 2], axis=2).astype(np.uint8)).save(folder / "content.png")
    noise = np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    Image.fromarray(noise).save(folder / "style.png")
    return folder


def run_after_progress(argv: Sequence[object], then: Callable[[subprocess.Popen], None], *, env: dict | None = None,
                       cwd: Path | None = None, wait_s: float = 300, finish_s: float = 120) -> tuple[int, str, str]:
    """Run the command line with ``argv`` until it announces progress, call ``then(process)`` (send
    signals, take the output folder away ...), and let it finish; ``(exit status, stdout, stderr)``.

    Fails if no progress comes within ``wait_s`` or the run does not end ``finish_s`` after ``then``;
    the process is killed whatever happens.
    """
    process = subprocess.Popen([sys.executable, "-c", ANNOUNCE_PROGRESS, *map(str, argv)],
                               env=cli_env() if env is None else env, cwd=cwd, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + wait_s
        line = ""
        while PROGRESS not in line and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                break
        if PROGRESS not in line:
            process.kill()
            _, stderr = process.communicate(timeout=30)
            raise AssertionError(f"no progress within {wait_s} s: {stderr[-2000:]}")
        then(process)
        stdout, stderr = process.communicate(timeout=finish_s)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)
    return process.returncode, stdout, stderr
