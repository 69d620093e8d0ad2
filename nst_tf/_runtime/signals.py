"""SIGTERM handled like Ctrl-C: a ``timeout``, ``docker stop`` or a closed terminal keeps the work.

``kill`` (SIGTERM) normally ends Python at once: no ``finally`` block runs, the best
image so far is lost and temporary files stay behind. Inside
:func:`terminate_as_interrupt`, SIGTERM instead raises :class:`Terminated`, a
:class:`KeyboardInterrupt`, so every place that already handles Ctrl-C (keep the best
image, remove temporary files) handles it too; the command line then exits with
status 143 (128 + SIGTERM) instead of 130.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator

__all__ = ["Terminated", "EXIT_TERMINATED", "terminate_as_interrupt", "exit_status_for_interrupt", "terminated"]

#: Exit status after SIGTERM, as a shell reports a process killed by it.
EXIT_TERMINATED = 128 + int(signal.SIGTERM)
_EXIT_CTRL_C = 130


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM."""


_received: list[int] = []


def terminated() -> bool:
    """Whether SIGTERM arrived inside the current (or last) :func:`terminate_as_interrupt` block."""
    return bool(_received)


def _raise_terminated(signum, frame):  # noqa: ARG001 - signal handler signature
    _received.append(signum)
    raise Terminated("terminated (SIGTERM)")


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
    except (ValueError, OSError):  # pragma: no cover - no signals on this platform
        yield
        return
    if only_if_default and previous not in (signal.SIG_DFL, None):
        yield
        return
    signal.signal(signal.SIGTERM, _raise_terminated)
    _received.clear()
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def exit_status_for_interrupt(error: BaseException | None = None) -> int:
    """143 after SIGTERM (or for :class:`Terminated`), 130 for Ctrl-C."""
    return EXIT_TERMINATED if isinstance(error, Terminated) or terminated() else _EXIT_CTRL_C
