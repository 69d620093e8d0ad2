"""benchmarks/bench_lesson_memory.py samples a lesson kernel's memory (its numbers live in its output and in
benchmarks/README.md, not in a test)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))


def test_tree_rss_counts_the_children():
    """A parent holding little and a child holding 200 MB: the tree's resident memory includes the child's."""
    import bench_lesson_memory
    import psutil

    child = ("import time, numpy as np; block = np.ones(200 * 2**20 // 8); print('ready', flush=True); "
             "time.sleep(60)")
    parent = subprocess.Popen([sys.executable, "-c", f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout.readline().strip() == "ready"
        alone = psutil.Process(parent.pid).memory_info().rss
        total = bench_lesson_memory.tree_rss(parent.pid)
        assert total - alone >= 200 * 2**20, (alone, total)
    finally:
        for process in psutil.Process(parent.pid).children(recursive=True):
            process.kill()
        parent.kill()
        parent.wait()
    time.sleep(0.1)
    assert bench_lesson_memory.tree_rss(parent.pid) == 0  # a process that has gone holds nothing


@pytest.mark.slow
@pytest.mark.notebooks
def test_bench_lesson_memory_runs_a_lesson_in_fast_mode(tmp_path):
    out = tmp_path / "lessons.json"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_lesson_memory.py"), "02", "--fast",
                           "--backbone", "vgg16", "--json", str(out)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    (row,) = json.loads(out.read_text())["rows"]
    assert row["lesson"] == "02_gram_matrices" and row["backbone"] == "vgg16" and row["fast"]
    assert not row["errors"], row["errors"]
    # A kernel that imported TensorFlow and built a VGG holds far more than 200 MiB; 0 would mean nothing was sampled.
    assert 0.2 < row["peak_gib"] < 8 and row["samples"] >= 4 and row["peak_cell"] >= 0
    assert "02_gram_matrices" in done.stdout and "highest peak" in done.stdout
