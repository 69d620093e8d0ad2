"""SIGTERM handled like Ctrl-C: a ``timeout``, ``docker stop`` or a closed terminal keeps the work.

``kill`` (SIGTERM) normally ends Python at once: no ``finally`` block runs, the best
image so far is lost and temporary files stay behind. Inside
:func:`terminate_as_interrupt`, SIGTERM instead raises :class:`Terminated`, a
:class:`KeyboardInterrupt`, so every place that already handles Ctrl-C (keep the best
image, remove temporary files) handles it too; the command line then exits with
status 143 (128 + SIGTERM) instead of 130.

**Bursts.** Process managers send several SIGTERMs, impatient people press Ctrl-C
several times. Only the *first* SIGTERM or SIGINT raises; every later one inside the
block is counted and ignored, so the clean stop it started (keep the best image, write
it, remove temporary files) is never cut short by a second exception -- that used to
leave "nothing written", ``Exception ignored ... Terminated`` tracebacks, or the
starting image instead of the best one. The exit status follows the first signal.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from types import FrameType
from typing import Iterator

__all__ = ["Terminated", "EXIT_TERMINATED", "terminate_as_interrupt", "exit_status_for_interrupt", "terminated",
           "signals_received"]

#: Exit status after SIGTERM, as a shell reports a process killed by it.
EXIT_TERMINATED = 128 + int(signal.SIGTERM)
_EXIT_CTRL_C = 130


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM."""


_received: list[int] = []


def terminated() -> bool:
    """Whether the first stopping signal inside the current (or last) :func:`terminate_as_interrupt`
    block was SIGTERM."""
    return bool(_received) and _received[0] == signal.SIGTERM


def signals_received() -> list[int]:
    """Every SIGTERM/SIGINT received inside the current (or last) block, in order (later ones were ignored)."""
    return list(_received)


def _stop(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001 - signal handler signature
    _received.append(signum)
    if len(_received) > 1:
        return  # a stop is already under way: let it finish and write the result
    if signum == signal.SIGTERM:
        raise Terminated("terminated (SIGTERM)")
    raise KeyboardInterrupt


def _raise_terminated(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001 - kept for callers of the old name
    _stop(signum, frame)


@contextlib.contextmanager
def terminate_as_interrupt(only_if_default: bool = False) -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated`; the previous handler is restored after.

    Does nothing outside the main thread (Python only runs handlers there), and with
    ``only_if_default`` nothing when the program already handles SIGTERM itself.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    try:
        previous = signal.getsignal(signal.SIGTERM)
        previous_int = signal.getsignal(signal.SIGINT)
    except (ValueError, OSError):  # pragma: no cover - no signals on this platform
        yield
        return
    if only_if_default and previous not in (signal.SIG_DFL, None):
        yield
        return
    signal.signal(signal.SIGTERM, _stop)
    take_int = previous_int is signal.default_int_handler  # leave a program's own Ctrl-C handling alone
    if take_int:
        signal.signal(signal.SIGINT, _stop)
    _received.clear()
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
        if take_int:
            signal.signal(signal.SIGINT, previous_int)


def exit_status_for_interrupt(error: BaseException | None = None) -> int:
    """143 after SIGTERM (or for :class:`Terminated`), 130 for Ctrl-C."""
    return EXIT_TERMINATED if isinstance(error, Terminated) or terminated() else _EXIT_CTRL_C
