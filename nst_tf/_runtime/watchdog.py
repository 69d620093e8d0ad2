"""Bounded waits for what Python cannot interrupt: connecting to a TPU or a cluster of workers.

While TensorFlow waits for a TPU or for the other workers of a cluster, the main thread
sits in C++ code *holding the interpreter lock*: no Python thread runs, Python's signal
handlers do not run (SIGTERM and Ctrl-C seem ignored) and nothing times out. So the
:class:`Watchdog` uses only what works without the interpreter:

* the limit is :func:`faulthandler.dump_traceback_later` (a C thread): after ``seconds`` it
  ends the process (exit status 1). What it writes goes into a pipe to a tiny helper
  process, which prints one line instead, ``nst-tf: error: <what> did not answer within N s``;
* SIGTERM and SIGINT get their default action during the wait, so ``timeout``,
  ``docker stop`` or Ctrl-C end the process at once (143, 130); nothing was written yet.
  (Once a cluster's coordination service has started, TensorFlow catches SIGTERM itself
  -- its preemption notifier -- and only the limit ends the wait.)

The wait ends with :meth:`Watchdog.stop` (or :func:`disarm`, which the training loop calls
after its first step). ``NST_TF_CLUSTER_TIMEOUT_S`` sets the limit, checked like an option
(:data:`DEFAULT_SECONDS` for a TPU, :data:`CLUSTER_SECONDS` for a cluster's first step).
"""

from __future__ import annotations

from typing import Any

import contextlib
import faulthandler
import os
import signal
import subprocess
import sys
import threading

__all__ = ["Watchdog", "DEFAULT_SECONDS", "CLUSTER_SECONDS", "limit_seconds", "disarm"]

#: How long a TPU may take to answer, in seconds.
DEFAULT_SECONDS = 120.0
#: How long a cluster may take from its start to the end of the first training step (all workers there).
CLUSTER_SECONDS = 600.0

#: The helper: one line on stderr as soon as the watched process writes anything (the limit passed).
_HELPER = "import sys\nif sys.stdin.buffer.read(1):\n    sys.stderr.write(sys.argv[1] + '\\n')\n"

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


class Watchdog:
    """Watch a wait named ``what`` for at most ``seconds`` (see the module docstring)."""

    def __init__(self, what: str, seconds: float | None = None, *, advice: str = ""):
        self.what = what
        self.seconds = limit_seconds() if seconds is None else float(seconds)
        self.line = (f"nst-tf: error: {what} did not answer within {self.seconds:g} s"
                     f"{'; ' + advice if advice else ''} (NST_TF_CLUSTER_TIMEOUT_S sets the limit)")
        self._pipe: Any = None
        self._helper: subprocess.Popen | None = None
        self._handlers: dict[int, object] = {}

    def start(self) -> "Watchdog":
        read, write = os.pipe()
        try:
            self._helper = subprocess.Popen([sys.executable, "-c", _HELPER, self.line], stdin=read,
                                            stdout=subprocess.DEVNULL, close_fds=True)
        except OSError:
            self._helper = None
        finally:
            os.close(read)
        self._pipe = os.fdopen(write, "w")
        faulthandler.dump_traceback_later(self.seconds, exit=True, file=self._pipe)
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(ValueError, OSError):
                    self._handlers[signum] = signal.signal(signum, signal.SIG_DFL)
        _current.append(self)
        return self

    def stop(self) -> None:
        if self._pipe is None:
            return
        faulthandler.cancel_dump_traceback_later()
        for signum, handler in self._handlers.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(signum, handler)  # type: ignore[arg-type]  # what signal.getsignal gave back
        self._handlers.clear()
        with contextlib.suppress(OSError):
            self._pipe.close()  # the helper reads end-of-file and leaves quietly
        self._pipe = None
        if self._helper is not None:
            with contextlib.suppress(subprocess.TimeoutExpired, OSError):
                self._helper.wait(timeout=5)
        if self in _current:
            _current.remove(self)

    def __enter__(self) -> "Watchdog":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
