"""Import TensorFlow without its C++ start-up lines (the command line and the lessons).

TensorFlow's C++ code prints ``WARNING: All log messages before absl::InitializeLog() ...``,
``I0000 ... oneDNN custom operations are on`` and CUDA-stub lines straight to file descriptor 2
while it loads, whatever ``TF_CPP_MIN_LOG_LEVEL`` says. In a terminal they bury the tool's own
messages; in Jupyter they are a student's first output. :func:`import_tensorflow` points
descriptor 2 at /dev/null around the import and the first device set-up, and nowhere else.

This module imports nothing heavy itself.
"""

from __future__ import annotations

import contextlib
import os
import sys
import types
from typing import Iterator

__all__ = ["stderr_fd_silenced", "import_tensorflow", "in_kernel"]


@contextlib.contextmanager
def stderr_fd_silenced(enabled: bool = True) -> Iterator[None]:
    """Point file descriptor 2 at /dev/null inside the block (C++ log lines bypass ``sys.stderr``)."""
    if not enabled:
        yield
        return
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 at all
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow(verbose: bool = False) -> types.ModuleType:
    """Import TensorFlow (and Keras) quietly unless ``verbose``; returns the module.

    A no-op apart from the return value once TensorFlow is imported.
    """
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with stderr_fd_silenced(not verbose and "tensorflow" not in sys.modules):
        import tensorflow as tf

        import keras  # noqa: F401 - loads its backend now, also quietly

        tf.config.list_logical_devices()  # GPU set-up logs its lines here
    if not verbose:
        tf.get_logger().setLevel("ERROR")
        tf.autograph.set_verbosity(0)
        with contextlib.suppress(Exception):
            import absl.logging

            absl.logging.set_verbosity(absl.logging.ERROR)
    return tf


def in_kernel() -> bool:
    """True inside a Jupyter (IPython) kernel, where C++ lines would land in the notebook."""
    return "ipykernel" in sys.modules
