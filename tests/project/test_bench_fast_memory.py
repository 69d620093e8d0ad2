"""benchmarks/bench_fast_memory.py keeps running (its numbers live in its output and benchmarks/README.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_fast_memory_quick_measures_one_training_and_one_apply(tmp_path):
    out = tmp_path / "fast_mem.json"
    completed = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_fast_memory.py"), "--quick",
                                "--json", str(out)], capture_output=True, text=True, env=dict(os.environ),
                               timeout=900)
    assert completed.returncode == 0, completed.stderr[-2000:]
    rows = json.loads(out.read_text())
    assert [row["command"] for row in rows] == ["train-fast", "apply"]
    assert all(row["peak"] > 200 * 2 ** 20 and row["estimate"] > 0 for row in rows)  # TensorFlow alone is more
    assert "estimate / peak from" in completed.stdout
