"""TensorFlow's C++ start-up lines stay out of the terminal and out of the lessons."""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from notebook_outputs import PatientNotebookClient

ROOT = Path(__file__).resolve().parents[2]
CHATTER = ("absl::InitializeLog", "I0000", "oneDNN", "cuda")


def test_stderr_fd_silenced_hides_c_level_writes_and_restores_them():
    code = (
        "import os\n"
        "from nst_tf._runtime.quiet import stderr_fd_silenced\n"
        "with stderr_fd_silenced():\n"
        "    os.write(2, b'hidden\\n')\n"
        "os.write(2, b'shown\\n')\n"
        "with stderr_fd_silenced(False):\n"
        "    os.write(2, b'also shown\\n')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0
    assert done.stderr.splitlines() == ["shown", "also shown"]


@pytest.mark.slow
def test_a_lesson_kernel_shows_no_tensorflow_start_up_lines(monkeypatch, tmp_path):

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("import nst_tf\nimport tensorflow as tf\nimport keras"),
        nbformat.v4.new_code_cell("print(float(tf.reduce_sum(tf.ones((2, 2)))))"),
        # the library's "which weights" line (nst_tf.vgg.extractor logs it) is shown without any logging set-up
        nbformat.v4.new_code_cell("from nst_tf._runtime.logs import get_logger\n"
                                  "get_logger('nst_tf.vgg.extractor').info('using the test weights')"),
    ]
    PatientNotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    printed = "".join(output.get("text", "") for cell in notebook.cells[:2] for output in cell.outputs)
    assert printed.strip() == "4.0", f"the lesson's first output is not its own: {printed!r}"
    assert not any(word in printed for word in CHATTER)
    logged = [(output.get("name"), output.get("text", "")) for output in notebook.cells[2].outputs]
    assert logged == [("stderr", "nst-tf: using the test weights\n")], logged
