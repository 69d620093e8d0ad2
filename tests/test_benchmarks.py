"""The benchmark scripts keep running (they are not timed here: speed goals live in their output).

Each script's ``--quick`` mode runs in a subprocess at 64 px with the offline weights.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from nst_tf.optimize import DEFAULT_PRECONDITION

ROOT = Path(__file__).resolve().parents[1]


def test_bench_optimize_quick_runs_and_reports_every_part(tmp_path):
    out = tmp_path / "bench.json"
    env = dict(os.environ, NST_TF_WEIGHTS="offline")
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_optimize.py"), "--quick", "--no-xla",
         "--weights", "offline", "--json", str(out)],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    for heading in ("Loss check", "1. Time per Adam step", "2. Time to reach the tutorial's loss"):
        assert heading in completed.stdout
    results = json.loads(out.read_text())
    row = results["results"][0]
    assert row["loss_check"]["relative_difference"] < 1e-4
    runs = row["reach"]["runs"]
    assert [run["precondition"] for run in runs] == [DEFAULT_PRECONDITION, 0.0]  # the default, then pixels
    for run in runs:
        # what the script calls reached, the tutorial's own loss function confirms
        assert not run["reached"] or run["verified_loss"] <= row["reach"]["tutorial_final_loss"] * (1 + 1e-5)


def test_bench_normalize_quick_reports_first_use_stability_and_step_ratio():
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_normalize.py"), "--quick"],
        capture_output=True, text=True, env=dict(os.environ, NST_TF_WEIGHTS="offline"), timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    for text in ("first use:", "leave-one-out, per channel:", "ratio raw/normalised"):
        assert text in completed.stdout
