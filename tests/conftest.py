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
        help="tests/test_notebooks.py runs the solved lessons (solutions/) here instead of the student copies "
             "(CI runs the solved ones in tests/test_colab.py)",
    )
