"""Bounded waits for what Python cannot always interrupt: connecting to a TPU or a cluster of workers.

While TensorFlow waits for a TPU or for the other workers of a cluster, the main thread sits
in C++ code: Python's signal handlers do not run (SIGTERM and Ctrl-C seem ignored) and nothing
times out. Waiting for a TPU releases the interpreter lock, so other Python threads run; the
cluster's start-up (measured with TF 2.x: from about 25 s into the wait on) *holds* it, so
nothing written in Python runs at all. The :class:`Watchdog` therefore ends the wait in three
layers, each of which also works where the one before cannot:

1. a daemon :class:`threading.Timer` at the limit: the one line
   ``nst-tf: error: <what> did not answer within N s ...`` and ``os._exit(2)`` (the interpreter
   lock is free: a TPU);
2. a POSIX timer (``timer_create`` with ``SIGEV_THREAD``, via :mod:`ctypes`; Linux) that calls
   C's ``_exit(2)`` from a thread of the C library one second later, without the interpreter
   (a cluster); where there are no POSIX timers (macOS) this layer is missing;
3. a backstop :func:`faulthandler.dump_traceback_later` (a C thread) :data:`BACKSTOP_SECONDS`
   after the limit, which ends the process with exit status 1 (fixed by faulthandler).

The one line is printed by a tiny helper process holding the real stderr (TensorFlow's start-up
runs with stderr silenced): it prints at the limit by its own clock, or as soon as the watched
process writes to it, and leaves quietly when the wait ends in time. So a wait past its limit
ends with that line and exit status 2 (or 1 from the backstop where layer 2 is missing and
the interpreter lock is held).

SIGTERM and SIGINT get their default action during the wait, so ``timeout``, ``docker stop``
or Ctrl-C end the process at once (143, 130); nothing was written yet. (Once a cluster's
coordination service has started, TensorFlow catches SIGTERM itself -- its preemption
notifier -- and only the limit ends the wait.)

The wait ends with :meth:`Watchdog.stop` (or :func:`disarm`, which the training loop calls
after its first step). ``NST_TF_CLUSTER_TIMEOUT_S`` sets the limit, checked like an option
(:data:`DEFAULT_SECONDS` for a TPU, :data:`CLUSTER_SECONDS` for a cluster's first step).
"""

from __future__ import annotations

from typing import Any

import contextlib
import ctypes
import ctypes.util
import faulthandler
import os
import signal
import subprocess
import sys
import threading
import time

__all__ = ["Watchdog", "DEFAULT_SECONDS", "CLUSTER_SECONDS", "BACKSTOP_SECONDS", "EXIT_STATUS", "limit_seconds",
           "disarm"]

#: How long a TPU may take to answer, in seconds.
DEFAULT_SECONDS = 120.0
#: How long a cluster may take from its start to the end of the first training step (all workers there).
CLUSTER_SECONDS = 600.0
#: The exit status of a wait past its limit (layers 1 and 2; faulthandler's backstop exits 1).
EXIT_STATUS = 2
#: Seconds after the limit at which the C timer (layer 2) ends the process.
NATIVE_DELAY_SECONDS = 1.0
#: Seconds after the limit at which faulthandler's backstop (layer 3) ends the process.
BACKSTOP_SECONDS = 5.0

#: The helper: one line on stderr at the limit (argv[2], a time.monotonic() deadline: one clock for the whole
#: machine) or as soon as the watched process writes anything; nothing when the pipe is closed before the limit
#: (the wait ended in time, or SIGTERM / Ctrl-C ended the process).
_HELPER = ("import select, sys, time\n"
           "deadline = float(sys.argv[2])\n"
           "ready, _, _ = select.select([sys.stdin], [], [], max(0.0, deadline - time.monotonic()))\n"
           "if not ready or sys.stdin.buffer.read(1) or time.monotonic() >= deadline:\n"
           "    sys.stderr.write(sys.argv[1] + '\\n')\n"
           "    sys.stderr.flush()\n")

_current: list["Watchdog"] = []


def limit_seconds(default: float = DEFAULT_SECONDS) -> float:
    """``NST_TF_CLUSTER_TIMEOUT_S`` (checked) or ``default``."""
    from .env import seconds_from_environment

    value = seconds_from_environment("NST_TF_CLUSTER_TIMEOUT_S")
    return default if value is None else value


def disarm() -> None:
    """End the watched wait (the first training step has run); a no-op when nothing is watched."""
    while _current:
        _current.pop().stop()


# --------------------------------------------------------------------------- layer 2: a C timer calling _exit

_SIGEV_THREAD = 2
_CLOCK_MONOTONIC = 1


class _SigEvent(ctypes.Structure):  # glibc's struct sigevent on 64-bit Linux (64 bytes)
    _fields_ = [("value", ctypes.c_void_p), ("signo", ctypes.c_int), ("notify", ctypes.c_int),
                ("function", ctypes.c_void_p), ("attribute", ctypes.c_void_p), ("pad", ctypes.c_byte * 32)]


class _TimeSpec(ctypes.Structure):
    _fields_ = [("sec", ctypes.c_long), ("nsec", ctypes.c_long)]


class _ITimerSpec(ctypes.Structure):
    _fields_ = [("interval", _TimeSpec), ("value", _TimeSpec)]


class _ExitTimer:
    """A POSIX timer whose expiry calls C's ``_exit(status)`` in a thread of the C library (Linux only)."""

    def __init__(self, seconds: float, status: int):
        self._timer = ctypes.c_void_p()
        self._delete: Any = None
        if not sys.platform.startswith("linux") or ctypes.sizeof(ctypes.c_void_p) != 8:
            raise OSError("no POSIX timers calling a C function here")
        libc = ctypes.CDLL(None, use_errno=True)
        create = getattr(libc, "timer_create", None)
        if create is None:  # glibc before 2.34 keeps the timers in librt
            rt = ctypes.CDLL(ctypes.util.find_library("rt") or "librt.so.1", use_errno=True)
            create, settime, self._delete = rt.timer_create, rt.timer_settime, rt.timer_delete
        else:
            settime, self._delete = libc.timer_settime, libc.timer_delete
        for function in (create, settime, self._delete):
            function.restype = ctypes.c_int
        event = _SigEvent(value=status, notify=_SIGEV_THREAD,
                          function=ctypes.cast(libc._exit, ctypes.c_void_p).value)
        if create(_CLOCK_MONOTONIC, ctypes.byref(event), ctypes.byref(self._timer)) != 0:
            raise OSError(ctypes.get_errno(), "timer_create failed")
        whole = int(seconds)
        when = _ITimerSpec(value=_TimeSpec(whole, int((seconds - whole) * 1e9)))
        if settime(self._timer, 0, ctypes.byref(when), None) != 0:
            self.cancel()
            raise OSError(ctypes.get_errno(), "timer_settime failed")

    def cancel(self) -> None:
        if self._delete is not None:
            self._delete(self._timer)
            self._delete = None


# --------------------------------------------------------------------------- the watchdog


class Watchdog:
    """Watch a wait named ``what`` for at most ``seconds`` (see the module docstring)."""

    def __init__(self, what: str, seconds: float | None = None, *, advice: str = ""):
        self.what = what
        self.seconds = limit_seconds() if seconds is None else float(seconds)
        self.line = (f"nst-tf: error: {what} did not answer within {self.seconds:g} s"
                     f"{'; ' + advice if advice else ''} (NST_TF_CLUSTER_TIMEOUT_S sets the limit)")
        self._pipe: Any = None
        self._helper: subprocess.Popen | None = None
        self._timer: threading.Timer | None = None
        self._native: _ExitTimer | None = None
        self._handlers: dict[int, object] = {}
        self._stderr: int | None = None

    def start(self) -> "Watchdog":
        read, write = os.pipe()
        deadline = time.monotonic() + self.seconds
        try:
            self._helper = subprocess.Popen([sys.executable, "-c", _HELPER, self.line, repr(deadline)],
                                            stdin=read, stdout=subprocess.DEVNULL, close_fds=True)
        except OSError:  # no helper: layer 1 prints the line itself
            self._helper = None
            self._stderr = os.dup(2)
        finally:
            os.close(read)
        self._pipe = os.fdopen(write, "w")
        faulthandler.dump_traceback_later(self.seconds + BACKSTOP_SECONDS, exit=True, file=self._pipe)
        try:
            self._native = _ExitTimer(self.seconds + NATIVE_DELAY_SECONDS, EXIT_STATUS)
        except (OSError, AttributeError, ValueError):
            self._native = None  # layer 3 ends a wait that holds the interpreter lock
        self._timer = threading.Timer(self.seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(ValueError, OSError):
                    self._handlers[signum] = signal.signal(signum, signal.SIG_DFL)
        _current.append(self)
        return self

    def _expire(self) -> None:
        """Layer 1 (a Python thread): have the helper print the line, then end the process with exit 2."""
        with contextlib.suppress(Exception):
            pipe, helper = self._pipe, self._helper
            if pipe is None:  # stopped meanwhile
                return
            pipe.write("!")
            pipe.flush()
            if helper is not None:
                helper.wait(timeout=3)
            elif self._stderr is not None:
                os.write(self._stderr, (self.line + "\n").encode())
        if self._pipe is not None:
            os._exit(EXIT_STATUS)

    def stop(self) -> None:
        if self._pipe is None:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._native is not None:
            self._native.cancel()
            self._native = None
        faulthandler.cancel_dump_traceback_later()
        for signum, handler in self._handlers.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(signum, handler)  # type: ignore[arg-type]  # what signal.getsignal gave back
        self._handlers.clear()
        pipe, self._pipe = self._pipe, None
        with contextlib.suppress(OSError):
            pipe.close()  # the helper reads end-of-file and leaves quietly
        if self._helper is not None:
            with contextlib.suppress(subprocess.TimeoutExpired, OSError):
                self._helper.wait(timeout=5)
        if self._stderr is not None:
            with contextlib.suppress(OSError):
                os.close(self._stderr)
            self._stderr = None
        if self in _current:
            _current.remove(self)

    def __enter__(self) -> "Watchdog":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
