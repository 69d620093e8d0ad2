"""nst_tf._runtime.allocator: with glibc, large freed blocks go back to the system (measured in a child process)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Frees one 4 MiB block (glibc then raises its mmap threshold to 4 MiB), then makes 100 blocks of 2 MiB and
# frees every other one (the others stay, so the freed ones are holes): prints the resident MiB they leave.
RETAINED = """
import ctypes, ctypes.util, os, sys
sys.path.insert(0, sys.argv[1])
import nst_tf._runtime.allocator as allocator
print("tuned", allocator.tune_malloc())
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
def touched(size):
    block = libc.malloc(size)
    ctypes.memset(block, 1, size)
    return block
libc.free(touched(4 << 20))
before = rss()
large = [touched(2 << 20) for _ in range(100)]
allocated = rss()
for block in large[::2]:
    libc.free(block)
print("retained", 100 - (allocated - rss()))
"""


def retained(tmp_path, **env) -> tuple[bool, float]:
    import os

    done = subprocess.run([sys.executable, "-c", RETAINED, str(ROOT)], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, **env), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    return lines["tuned"] == "True", float(lines["retained"])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_freed_large_blocks_leave_the_process(tmp_path):
    tuned, kept = retained(tmp_path, NST_TF_MALLOC="tuned")
    untuned, kept_untuned = retained(tmp_path, NST_TF_MALLOC="default")
    assert retained(tmp_path, NST_TF_MALLOC="auto")[0] is False  # not in a Jupyter kernel: left alone
    assert tuned and not untuned
    assert kept_untuned > 80, f"glibc kept only {kept_untuned:.0f} MiB untuned: the test no longer shows the effect"
    assert kept < 10, f"{kept:.0f} MiB of 100 MiB freed stayed resident"


def test_a_misspelt_choice_is_said_in_one_line_and_changes_nothing(tmp_path):
    import os

    tuned, _ = retained(tmp_path, NST_TF_MALLOC="tunned")
    assert tuned is False
    done = subprocess.run([sys.executable, "-c", "import nst_tf"], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, NST_TF_MALLOC="tunned", PYTHONPATH=str(ROOT)), cwd=tmp_path)
    assert done.returncode == 0 and done.stderr.strip().splitlines() == [
        "nst-tf: NST_TF_MALLOC must be 'auto', 'tuned' or 'default', got 'tunned'; malloc left as it is"]
