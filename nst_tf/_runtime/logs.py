"""How nst-tf reports: Python's :mod:`logging`, under the logger ``"nst_tf"``.

Each module logs to its own logger, ``logging.getLogger(__name__)`` (``nst_tf.vgg.extractor``,
``nst_tf.vgg.normalize``, ``nst_tf.fast.photos`` ...): INFO for what a run uses (the one line
``nst-tf: using offline VGG16 weights ...`` that says which weights and backbone), WARNING
for problems that do not stop it (a skipped training picture, an unusable cache).

Out of the box the ``"nst_tf"`` logger shows INFO and above on stderr, one line each,
``nst-tf: <message>`` or ``nst-tf: warning: <message>``, in a terminal, a script and a
notebook alike, so the "which weights" line is visible without any set-up. It does this
with its own handler (:data:`HANDLER`, which writes to whatever ``sys.stderr`` is at
the time, so Jupyter and pytest's ``capsys`` see it) and does not pass records on to the
root logger, so nothing is printed twice when an application configures logging too.
A level set on ``"nst_tf"`` before nst-tf is imported is kept; if that logger already has
handlers then, nst-tf adds none of its own. To choose yourself::

    logging.getLogger("nst_tf").setLevel(logging.WARNING)  # hide the "using ... weights" line
    nst_tf._runtime.logs.use_root_logging()                         # send everything to your own handlers

The command line decides what it shows with :func:`configure_for_cli` (``--verbose`` adds
DEBUG). Its own lines (results, ``nst-tf: error: ...``) are printed by :mod:`nst_tf.cli.common`.

This module imports only the standard library.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

__all__ = ["LOGGER_NAME", "HANDLER", "get_logger", "use_root_logging", "configure_for_cli"]

LOGGER_NAME = "nst_tf"


class _StderrHandler(logging.StreamHandler):
    """A StreamHandler on the *current* ``sys.stderr`` (replaced by Jupyter, pytest, ``redirect_stderr``)."""

    def __init__(self, level: int = logging.NOTSET):
        logging.Handler.__init__(self, level)

    @property
    def stream(self) -> TextIO:  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:  # StreamHandler.setStream; the stream is always the current stderr
        pass


class _Format(logging.Formatter):
    """``nst-tf: message`` for INFO and DEBUG, ``nst-tf: warning: message`` from WARNING up."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.levelno >= logging.WARNING:
            text = f"{record.levelname.lower()}: {text}"
        return f"nst-tf: {text}"


#: The handler nst-tf puts on the ``"nst_tf"`` logger when nothing else has configured it.
HANDLER = _StderrHandler()
HANDLER.setFormatter(_Format())


def _install(level: int = logging.INFO) -> logging.Logger:
    logger = logging.getLogger(LOGGER_NAME)
    if HANDLER not in logger.handlers:
        logger.addHandler(HANDLER)
    logger.setLevel(level)
    logger.propagate = False
    return logger


_root = logging.getLogger(LOGGER_NAME)
if not _root.handlers:  # nobody gave "nst_tf" a handler before importing nst-tf
    _root.addHandler(HANDLER)
    _root.propagate = False
    if _root.level == logging.NOTSET:  # a level chosen before the import is kept
        _root.setLevel(logging.INFO)


def get_logger(name: str) -> logging.Logger:
    """The logger of module ``name`` (``__name__``), under ``"nst_tf"``."""
    return logging.getLogger(name)


def use_root_logging() -> None:
    """Stop nst-tf's own handler: records go to the root logger's handlers, at the levels set there."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.removeHandler(HANDLER)
    logger.setLevel(logging.NOTSET)
    logger.propagate = True


def configure_for_cli(verbose: bool = False) -> None:
    """What ``nst-tf`` shows: INFO and up on stderr as ``nst-tf: ...`` lines; DEBUG too with ``--verbose``."""
    _install(logging.DEBUG if verbose else logging.INFO)
