"""nst_tf._runtime.allocator, with glibc: two arenas for many threads, and with ``lean`` large freed blocks go
back to the system (each measured in a child process, which the setting cannot leave)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
glibc_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")

# The module is loaded from its file alone: importing the package in a (pretended) Jupyter kernel would load
# TensorFlow too, which these children do not need.
LOAD = """
import importlib.util
spec = importlib.util.spec_from_file_location("allocator", sys.argv[1] + "/nst_tf/_runtime/allocator.py")
allocator = importlib.util.module_from_spec(spec)
spec.loader.exec_module(allocator)
"""

# Frees one 4 MiB block (glibc then raises its mmap threshold to 4 MiB), then makes 100 blocks of 2 MiB and
# frees every other one (the others stay, so the freed ones are holes): prints the resident MiB they leave.
# The C library's malloc and free, and the process's resident MiB.
HEAP = """
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
"""

RETAINED = """
import ctypes, ctypes.util, os, sys
{load}print("tuned", allocator.tune_malloc())
{heap}def touched(size):
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
""".replace("{load}", LOAD).replace("{heap}", HEAP)

# Eight threads each allocate (ctypes releases the GIL, so they run at once, as TensorFlow's pools do); glibc
# gives each new thread an arena of its own up to its limit. Prints how many arenas malloc_info reports.
ARENAS = """
import ctypes, ctypes.util, sys, tempfile, threading
{load}print("tuned", allocator.tune_malloc())
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.fopen.restype, libc.fopen.argtypes = ctypes.c_void_p, [ctypes.c_char_p, ctypes.c_char_p]
libc.fclose.argtypes = [ctypes.c_void_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
start = threading.Barrier(8)
kept = []
def work():
    start.wait()
    blocks = [libc.malloc(4096) for _ in range(2000)]
    kept.append(blocks)
threads = [threading.Thread(target=work) for _ in range(8)]
for thread in threads: thread.start()
for thread in threads: thread.join()
with tempfile.NamedTemporaryFile(suffix=".xml") as report:
    handle = libc.fopen(report.name.encode(), b"w")
    libc.malloc_info(0, handle)
    libc.fclose(handle)
    print("arenas", open(report.name).read().count("<heap nr="))
""".replace("{load}", LOAD)


def run_child(script: str, tmp_path: Path, **env: str) -> dict[str, str]:
    done = subprocess.run([sys.executable, "-c", script, str(ROOT)], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, **env), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return dict(line.split(" ", 1) for line in done.stdout.splitlines())


@glibc_only
def test_lean_gives_freed_large_blocks_back(tmp_path):
    lean = run_child(RETAINED, tmp_path, NST_TF_MALLOC="lean")
    untuned = run_child(RETAINED, tmp_path, NST_TF_MALLOC="default")
    arenas = run_child(RETAINED, tmp_path, NST_TF_MALLOC="arenas")
    assert lean["tuned"] == "True" and untuned["tuned"] == "False"
    assert float(untuned["retained"]) > 80, f"glibc kept only {untuned['retained']} MiB: the test shows nothing"
    assert float(lean["retained"]) < 10, f"{lean['retained']} MiB of 100 MiB freed stayed resident"
    assert float(arenas["retained"]) > 80  # two arenas alone leave the threshold to glibc: the holes stay


@glibc_only
def test_arenas_keep_many_threads_to_two(tmp_path):
    counts = {choice: int(run_child(ARENAS, tmp_path, NST_TF_MALLOC=choice)["arenas"])
              for choice in ("default", "arenas", "lean")}
    assert counts["default"] > 2, f"glibc made only {counts['default']} arenas for 8 threads: the test shows nothing"
    assert counts["arenas"] <= 2 and counts["lean"] <= 2, counts


@glibc_only
def test_auto_leaves_scripts_alone_and_tunes_a_jupyter_kernel(tmp_path):
    assert run_child(RETAINED, tmp_path, NST_TF_MALLOC="auto")["tuned"] == "False"  # not in a Jupyter kernel
    kernel = "import sys, types; sys.modules['ipykernel'] = types.ModuleType('ipykernel')\n" + ARENAS
    seen = run_child(kernel, tmp_path, NST_TF_MALLOC="auto")
    assert seen["tuned"] == "True" and int(seen["arenas"]) <= 2


def test_a_misspelt_choice_is_said_in_one_line_and_changes_nothing(tmp_path):
    assert run_child(RETAINED, tmp_path, NST_TF_MALLOC="tuned")["tuned"] == "False"
    done = subprocess.run([sys.executable, "-c", "import nst_tf"], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, NST_TF_MALLOC="tunned", PYTHONPATH=str(ROOT)), cwd=tmp_path)
    assert done.returncode == 0 and done.stderr.strip().splitlines() == [
        "nst-tf: NST_TF_MALLOC must be one of 'auto', 'arenas', 'lean', 'default', got 'tunned'; malloc left as it is"]


# 200 MiB in 64 KiB blocks from the heap (under glibc's mmap threshold), all freed but the last one, which pins
# the top of the heap so that free() alone cannot shrink it: prints the resident MiB before and after trim().
TRIMMED = """
import ctypes, ctypes.util, os, sys
{load}print("tuned", allocator.tune_malloc())
{heap}blocks = []
for _ in range(3200):
    block = libc.malloc(64 << 10)
    ctypes.memset(block, 1, 64 << 10)
    blocks.append(block)
for block in blocks[:-1]:
    libc.free(block)
print("before", rss())
print("trimmed", allocator.trim())
print("after", rss())
""".replace("{load}", LOAD).replace("{heap}", HEAP)


@glibc_only
def test_trim_gives_the_heaps_free_pages_back(tmp_path):
    seen = run_child(TRIMMED, tmp_path, NST_TF_MALLOC="arenas")
    before, after = float(seen["before"]), float(seen["after"])
    assert before - after > 150, f"trim left {after:.0f} of {before:.0f} MiB resident"
    assert seen["trimmed"] == "True"


class FakeEvents:
    def __init__(self):
        self.callbacks = {"post_run_cell": []}

    def register(self, event, callback):
        self.callbacks[event].append(callback)


class FakeShell:
    def __init__(self):
        self.events = FakeEvents()


def test_kernels_with_two_arenas_trim_after_each_cell_once(monkeypatch):
    from nst_tf._runtime import allocator

    shell = FakeShell()
    monkeypatch.setattr(allocator, "_done", [True])
    monkeypatch.setattr(allocator, "_chosen", ["arenas"])
    assert allocator.trim_between_cells(shell) and allocator.trim_between_cells(shell)
    assert [callback.__name__ for callback in shell.events.callbacks["post_run_cell"]] == ["_trim_after_cell"]
    shell.events.callbacks["post_run_cell"][0](None)  # a cell ended: runs without error
    for chosen, done in (("lean", [True]), ("default", [False]), ("arenas", [False])):
        other = FakeShell()
        monkeypatch.setattr(allocator, "_done", done)
        monkeypatch.setattr(allocator, "_chosen", [chosen])
        assert not allocator.trim_between_cells(other) and other.events.callbacks["post_run_cell"] == []
