"""The benchmark scripts keep running (they are not timed here: speed goals live in their output).

Each script's ``--quick`` mode runs in a subprocess at 64 px with the offline weights.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nst_tf.defaults import DEFAULT_PRECONDITION

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
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
    # the default, scipy's L-BFGS-B with the same preconditioner, then the pixels only
    assert [(run["optimizer"], run["precondition"]) for run in runs] == [
        ("lbfgs", DEFAULT_PRECONDITION), ("lbfgs-scipy", DEFAULT_PRECONDITION), ("lbfgs", 0.0)]
    for optimizer in ("adam", "lbfgs", "lbfgs-scipy"):
        assert row["per_evaluation_s"][optimizer] > 0 and row["one_layer_per_evaluation_s"][optimizer] > 0
    assert "4. Host time per evaluation" in completed.stdout
    for run in runs:
        # what the script calls reached, the tutorial's own loss function confirms
        assert not run["reached"] or run["verified_loss"] <= row["reach"]["tutorial_final_loss"] * (1 + 1e-5)


@pytest.mark.slow
def test_bench_fast_times_training_on_one_and_two_replicas(tmp_path):
    out = tmp_path / "fast.json"
    env = dict(os.environ, NST_TF_WEIGHTS="offline", PYTHONPATH=str(ROOT))
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_fast.py"), "--quick", "--train-only", "--weights",
         "offline", "--json", str(out)],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "images/s vs 1" in completed.stdout
    rows = json.loads(out.read_text())["training"]
    assert [(row["replicas"], row["global_batch"]) for row in rows] == [(1, 1), (2, 2)]
    assert all(row["steps_per_second"] > 0 for row in rows)
    assert rows[1]["images_per_second"] / rows[0]["images_per_second"] == pytest.approx(rows[1]["speedup"])


@pytest.mark.slow
def test_bench_normalize_quick_reports_first_use_stability_and_step_ratio():
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_normalize.py"), "--quick"],
        capture_output=True, text=True, env=dict(os.environ, NST_TF_WEIGHTS="offline"), timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    for text in ("first use:", "leave-one-out, per channel:", "ratio raw/normalised"):
        assert text in completed.stdout


@pytest.mark.slow
def test_bench_calls_quick_compares_kept_and_new_transfers_and_finds_the_same_pictures():
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_calls.py"), "--quick", "--weights", "random"],
        capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    for text in ("kept transfer: median", "new transfer:  median", "ratio new / kept:", "the same pictures both ways: yes"):
        assert text in completed.stdout
