"""benchmarks/bench_memory.py keeps running (its numbers live in its output, not in a test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_memory_runs_and_reports_every_case(tmp_path):
    out = tmp_path / "mem.json"
    completed = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_memory.py"), "--side", "600",
                                "--steps", "1", "--json", str(out)],
                               capture_output=True, text=True, env=dict(os.environ, NST_TF_WEIGHTS="offline"),
                               timeout=900)
    assert completed.returncode == 0, completed.stderr[-2000:]
    rows = json.loads(out.read_text())["rows"]
    assert len(rows) == 7 and all(row["status"] == 0 and row["peak_mib"] > 0 for row in rows)
    assert "largest stylize ratio" in completed.stdout
