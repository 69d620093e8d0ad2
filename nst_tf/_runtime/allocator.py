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

With two arenas, memory a cell freed stays in the heap for the next allocations, so a lesson's
resident memory after a large cell (training a network) stays near that cell's peak even when
the next cells need less. :func:`trim_between_cells` therefore gives the heap's free pages back
to the system (``malloc_trim(0)``) after each cell of a Jupyter kernel that runs with two
arenas: a few milliseconds per cell, against a mapping per allocation for ``lean``.

Elsewhere than glibc (macOS, Windows, musl) it does nothing. Imports nothing heavy.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys

__all__ = ["tune_malloc", "trim", "trim_between_cells", "MMAP_THRESHOLD", "ARENA_MAX", "CHOICES"]

M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8  # glibc's malloc.h
MMAP_THRESHOLD = 1 << 20
ARENA_MAX = 2
CHOICES = ("auto", "arenas", "lean", "default")
_done: list[bool] = []
_chosen: list[str] = []


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
    _chosen.append(choice)
    if choice != "default" and sys.platform.startswith("linux"):
        try:
            mallopt = _libc().mallopt
            mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
            ok = bool(mallopt(M_ARENA_MAX, ARENA_MAX))
            if ok and choice == "lean":
                ok = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
        except (OSError, AttributeError):  # not glibc
            ok = False
    _done.append(ok)
    return ok


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL:
    """The C library, loaded once (``find_library`` runs ``ldconfig``, and :func:`trim` runs after every cell)."""
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


def trim() -> bool:
    """Give the free pages of malloc's heaps back to the system (glibc's ``malloc_trim(0)``); True if any went."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        malloc_trim = _libc().malloc_trim
    except (OSError, AttributeError):  # not glibc
        return False
    malloc_trim.argtypes, malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
    return bool(malloc_trim(0))


def trim_between_cells(shell: object = None) -> bool:
    """In a Jupyter kernel whose malloc was set to two arenas, :func:`trim` after every cell; True when registered.

    ``shell`` is the IPython shell (default: the running one). Registered at most once per shell.
    """
    if not (_done and _done[0] and _chosen and _chosen[0] == "arenas"):
        return False
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    events = getattr(shell, "events", None)
    if events is None:
        return False
    callbacks = getattr(events, "callbacks", {}).get("post_run_cell", [])
    if any(getattr(callback, "__name__", "") == "_trim_after_cell" for callback in callbacks):
        return True
    events.register("post_run_cell", _trim_after_cell)
    return True


def _trim_after_cell(result: object = None) -> None:
    trim()
