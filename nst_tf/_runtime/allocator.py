"""Keep TensorFlow's memory on a CPU within a classroom server's limit (glibc's malloc, Linux).

TensorFlow on a CPU allocates tensors with ``malloc``. glibc gives each thread that allocates
at once an arena of its own, up to eight per core, and memory freed in one arena is not reused
by another, so TensorFlow's thread pools spread a lesson's peak over many arenas.
``mallopt(M_ARENA_MAX, 2)`` keeps them to two: measured on a lesson, this costs no time
(``benchmarks/README.md``).

A fixed mmap threshold saves a little more: glibc serves blocks of 128 KiB and more with
``mmap`` until the first such block is freed, then raises the threshold (up to 32 MiB), and from
then on a VGG's activations come from the heap and what they leave behind stays resident. A
threshold of 1 MiB (``mallopt(M_MMAP_THRESHOLD)``, which also turns the raising off) gives it
back at once, but every large buffer is then mapped and unmapped anew: lesson 02 took 1.5 times
as long for 0.17 GiB less, so it is an option, not the default.

:func:`tune_malloc` runs when ``nst_tf`` is imported. ``NST_TF_MALLOC`` chooses:

* ``auto`` (the default): two arenas in a Jupyter kernel, where a classroom server's memory limit
  applies; elsewhere (the command line, scripts) glibc's defaults;
* ``arenas``: two arenas everywhere;
* ``lean``: two arenas and the fixed 1 MiB threshold, everywhere (the least memory, slower: for
  servers that give a student less than 2 GB);
* ``default``: glibc's defaults everywhere.

Elsewhere than glibc (macOS, Windows, musl) it does nothing. Imports nothing heavy.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ["tune_malloc", "MMAP_THRESHOLD", "ARENA_MAX", "CHOICES"]

M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8  # glibc's malloc.h
MMAP_THRESHOLD = 1 << 20
ARENA_MAX = 2
CHOICES = ("auto", "arenas", "lean", "default")
_done: list[bool] = []


def _choice() -> str:
    choice = os.environ.get("NST_TF_MALLOC", "").strip().lower() or "auto"
    if choice not in CHOICES:  # one line, not a traceback at `import nst_tf`
        sys.stderr.write(f"nst-tf: NST_TF_MALLOC must be one of {', '.join(map(repr, CHOICES))}, got {choice!r}; "
                         "malloc left as it is\n")
        return "default"
    if choice == "auto":
        return "arenas" if "ipykernel" in sys.modules else "default"
    return choice


def tune_malloc() -> bool:
    """Set glibc's malloc as ``NST_TF_MALLOC`` chooses (once per process); True when it was changed."""
    if _done:
        return _done[0]
    ok = False
    choice = _choice()
    if choice != "default" and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            mallopt = libc.mallopt
            mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
            ok = bool(mallopt(M_ARENA_MAX, ARENA_MAX))
            if ok and choice == "lean":
                ok = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
        except (OSError, AttributeError):  # not glibc
            ok = False
    _done.append(ok)
    return ok
