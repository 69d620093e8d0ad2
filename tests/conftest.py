"""Shared test setup: offline weights, quiet TensorFlow, a headless matplotlib."""

import atexit
import os
import sys

# Before TensorFlow is imported by any test module.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
# Tests never touch the network: "auto" weights resolve to the offline backbone.
os.environ.setdefault("NST_TF_WEIGHTS", "offline")

# nbformat imports jsonschema, which builds an Earley parser for the "iri" string formats at import when
# rfc3987-syntax is installed (jupyter-events asks for it): about 3 s in every test process on 2 cores, for a
# format no notebook schema uses. Without the module jsonschema leaves those two formats unchecked.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def _leave_without_teardown() -> None:
    """An xdist worker's last act: end the process at once, its results already sent.

    Unwinding a process that has built TensorFlow graphs and Keras models (finalising every module
    and freeing the heap) takes 2-4 s, which the whole run waits for. Registered as this file is
    first imported, before TensorFlow, multiprocessing or any test adds its own exit handlers, it
    runs after all of those (only pytest's, registered earlier, are skipped).
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if os.environ.get("PYTEST_XDIST_WORKER"):
    atexit.register(_leave_without_teardown)


def pytest_addoption(parser):
    parser.addoption(
        "--solved", action="store_true",
        help="tests/lessons/test_notebooks.py runs every solved lesson (solutions/) in this environment, not only the "
             "widget lesson (CI runs every lesson in a simulated Colab: tests/lessons/test_colab.py, test_colab_students.py)",
    )
    parser.addoption(
        "--student", action="store_true",
        help="tests/lessons/test_notebooks.py runs every student copy (notebooks/) in this environment",
    )
