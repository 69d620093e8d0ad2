"""Shared test setup: offline weights, quiet TensorFlow, a headless matplotlib."""

import os

# Before TensorFlow is imported by any test module.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
# Tests never touch the network: "auto" weights resolve to the offline backbone.
os.environ.setdefault("NST_TF_WEIGHTS", "offline")


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
