"""Give the memory of freed tensors back to the system (glibc's malloc, Linux).

TensorFlow on a CPU allocates tensors with ``malloc``. glibc serves blocks of 128 KiB and more
with ``mmap``, so that freeing one returns it to the system at once, but after the first such
block is freed it raises that threshold (up to 32 MiB on 64-bit systems). From then on the
activations of a VGG (several MiB each) come from the heap, and what they leave behind when
freed stays in the process's resident memory, where a classroom server's limit counts it. A
fixed threshold of 1 MiB (``mallopt(M_MMAP_THRESHOLD)``, which also turns the raising off)
keeps large blocks on ``mmap``; ``mallopt(M_ARENA_MAX, 2)`` keeps TensorFlow's threads from
spreading the rest over many arenas. ``benchmarks/bench_lesson_memory.py`` measures the effect.

:func:`tune_malloc` runs when ``nst_tf`` is imported. ``NST_TF_MALLOC`` chooses: ``auto`` (the
default) tunes malloc in a Jupyter kernel, where a classroom server's memory limit applies, and
leaves it alone elsewhere (the command line, scripts: each large block then costs an ``mmap`` and
its page faults, whose effect on speed is not measured yet); ``tuned`` everywhere; ``default``
nowhere. Elsewhere than glibc (macOS, Windows, musl) it does nothing. Imports nothing heavy.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ["tune_malloc", "MMAP_THRESHOLD", "ARENA_MAX"]

M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8  # glibc's malloc.h
MMAP_THRESHOLD = 1 << 20
ARENA_MAX = 2
_done: list[bool] = []


def tune_malloc() -> bool:
    """Fix glibc's mmap threshold and arena count (once per process); True when both were set."""
    if _done:
        return _done[0]
    ok = False
    choice = os.environ.get("NST_TF_MALLOC", "").strip().lower() or "auto"
    if choice not in ("auto", "tuned", "default"):  # one line, not a traceback at `import nst_tf`
        sys.stderr.write(f"nst-tf: NST_TF_MALLOC must be 'auto', 'tuned' or 'default', got {choice!r}; "
                         "malloc left as it is\n")
        choice = "default"
    wanted = choice == "tuned" or (choice == "auto" and "ipykernel" in sys.modules)
    if wanted and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            mallopt = libc.mallopt
            mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
            ok = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_ARENA_MAX, ARENA_MAX))
        except (OSError, AttributeError):  # not glibc
            ok = False
    _done.append(ok)
    return ok
