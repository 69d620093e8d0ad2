"""Bounded waits for what Python cannot interrupt: connecting to a TPU or a cluster of workers.

While TensorFlow waits for a TPU or for the other workers of a cluster, the main thread
sits in C++ code: Python's signal handlers do not run (SIGTERM and Ctrl-C seem ignored)
and nothing times out. A :class:`Watchdog` is a thread that watches such a wait:

* if the wait has not ended after ``seconds``, it prints one line
  ``nst-tf: error: <what> did not answer within N s ...`` and ends the process (exit 2);
* if SIGTERM or SIGINT arrives during the wait and the main thread does not react within
  :data:`GRACE_SECONDS` (it is stuck in C++), it prints one line and ends the process with
  143 or 130 (nothing was written yet, or the last checkpoint is kept).

The signal is seen through :func:`signal.set_wakeup_fd`, which Python's C-level handler
writes to even while the main thread is blocked. ``NST_TF_CLUSTER_TIMEOUT_S`` sets the
limit (default :data:`DEFAULT_SECONDS`), checked like an option.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import threading

__all__ = ["Watchdog", "DEFAULT_SECONDS", "CLUSTER_SECONDS", "GRACE_SECONDS", "limit_seconds", "disarm"]

#: How long a TPU may take to answer, in seconds.
DEFAULT_SECONDS = 120.0
#: How long a cluster may take from its start to the end of the first training step (all workers there).
CLUSTER_SECONDS = 600.0
#: How long the main thread has to react to SIGTERM/SIGINT before the watchdog ends the process.
GRACE_SECONDS = 5.0

_current: list["Watchdog"] = []


def limit_seconds(default: float = DEFAULT_SECONDS) -> float:
    """``NST_TF_CLUSTER_TIMEOUT_S`` (checked) or ``default``."""
    from .settings import seconds_from_environment

    value = seconds_from_environment("NST_TF_CLUSTER_TIMEOUT_S")
    return default if value is None else value


def disarm() -> None:
    """End the wait of the watchdog started last (the first training step has run)."""
    while _current:
        _current.pop().stop()


class Watchdog:
    """Watch a wait named ``what`` for at most ``seconds`` (see the module docstring)."""

    def __init__(self, what: str, seconds: float | None = None, *, advice: str = ""):
        self.what = what
        self.seconds = limit_seconds() if seconds is None else float(seconds)
        self.advice = advice
        self._done = threading.Event()
        self._read = self._write = None
        self._previous_fd = None
        self._stderr = None
        self._thread = threading.Thread(target=self._watch, name="nst-tf-watchdog", daemon=True)

    def start(self) -> "Watchdog":
        with contextlib.suppress(OSError):
            self._stderr = os.dup(2)  # the terminal's stderr, even if fd 2 is silenced later
        if threading.current_thread() is threading.main_thread():
            with contextlib.suppress(ValueError, OSError):
                self._read, self._write = os.pipe()
                os.set_blocking(self._write, False)
                self._previous_fd = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        self._thread.start()
        _current.append(self)
        return self

    def stop(self) -> None:
        if self._done.is_set():
            return
        self._done.set()
        if self._write is not None:
            with contextlib.suppress(ValueError, OSError):
                signal.set_wakeup_fd(-1 if self._previous_fd is None else self._previous_fd)
            with contextlib.suppress(OSError):
                os.write(self._write, b"\0")  # wake the thread up
        self._thread.join(timeout=1.0)
        for fd in (self._read, self._write, self._stderr):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._read = self._write = self._stderr = None

    def __enter__(self) -> "Watchdog":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        if self in _current:
            _current.remove(self)

    def _end(self, line: str, status: int) -> None:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        with contextlib.suppress(Exception):
            if self._stderr is not None:
                os.write(self._stderr, f"nst-tf: {line}\n".encode())
            else:
                print(f"nst-tf: {line}", file=sys.stderr, flush=True)
        os._exit(status)

    def _watch(self) -> None:
        import time

        deadline = time.monotonic() + self.seconds
        while not self._done.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                self._end(f"error: {self.what} did not answer within {self.seconds:g} s"
                          f"{'; ' + self.advice if self.advice else ''} (NST_TF_CLUSTER_TIMEOUT_S sets the limit)", 2)
            if self._read is None:
                self._done.wait(min(left, 0.5))
                continue
            ready, _, _ = select.select([self._read], [], [], min(left, 0.5))
            if not ready or self._done.is_set():
                continue
            received = b""
            with contextlib.suppress(OSError):
                received = os.read(self._read, 64)
            stops = [b for b in received if b in (signal.SIGTERM, signal.SIGINT)]
            if stops and not self._done.wait(GRACE_SECONDS):  # the main thread did not react: it is stuck
                signum = stops[0]
                name = "terminated" if signum == signal.SIGTERM else "interrupted"
                self._end(f"{name} while waiting for {self.what}; nothing more written", 128 + signum)
