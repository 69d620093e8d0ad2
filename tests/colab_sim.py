"""A simulated Colab runtime for the lesson tests (tests/lessons/test_colab.py, tests/lessons/test_colab_students.py).

A fresh virtual environment stands in for a Colab runtime. Like Colab it has the heavy
packages preinstalled: it sees this environment's TensorFlow, Keras, NumPy, Jupyter kernel
and so on through a folder of links (installing them again would cost minutes and gigabytes),
but neither this checkout nor this environment's nst-tf install, and it has Colab's
ipywidgets 7 instead of 8. A stand-in ``google.colab`` (imported at kernel start, as on
Colab) provides ``files.upload``, ``files.download`` and ``output.enable_custom_widget_manager``
and records each call; ``files.upload`` fails, because on Colab it would wait for a person.

The wheel is built from this checkout and installed non-editable by the lessons' own install
cell (``NST_TF_SOURCE`` pointing at it, set as a student would). Each test file that needs a
runtime builds its own (about a minute), so that pytest-xdist can run the files side by side.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import nbformat
from notebook_outputs import PatientNotebookClient

ROOT = Path(__file__).resolve().parents[1]
SOLVED = sorted((ROOT / "solutions").glob("[0-9][0-9]*_*.ipynb"))
STUDENT = sorted((ROOT / "notebooks").glob("[0-9][0-9]*_*.ipynb"))
KERNEL = "colab-simulated"
# What this environment has that Colab would not see: this checkout's nst-tf (its editable
# install's .pth and metadata) and ipywidgets 8 with its front-end packages.
HIDDEN = re.compile(r"nst[_-]tf|^(ipywidgets|widgetsnbextension|jupyterlab_widgets)([-_.]|$)", re.I)
WIDGETS_7 = ["ipywidgets>=7.6,<8"]

STAND_IN = {
    "__init__.py": '"""Stand-in for Colab\'s google.colab (tests/lessons/test_colab.py); records every call."""\n'
                   "from . import files, output\n",
    "_log.py": "import json, os\n\n"
               "def record(call, **details):\n"
               "    with open(os.environ['COLAB_SIM_LOG'], 'a') as log:\n"
               "        log.write(json.dumps(dict(call=call, **details)) + '\\n')\n",
    "files.py": "import os\nfrom ._log import record\n\n"
                "def upload():\n"
                "    record('upload')\n"
                "    raise RuntimeError('files.upload() waits for a person: Run all must not call it')\n\n"
                "def download(filename):\n"
                "    path = os.path.abspath(filename)\n"
                "    with open(path, 'rb') as file:\n"
                "        head = file.read(8)\n"
                "    record('download', path=path, head=head.hex())\n",
    "output.py": "from ._log import record\n\n"
                 "def enable_custom_widget_manager():\n"
                 "    record('enable_custom_widget_manager')\n\n"
                 "def disable_custom_widget_manager():\n"
                 "    record('disable_custom_widget_manager')\n",
}

FINAL_CHECK = (
    "import sys, nst_tf, ipywidgets\n"
    "print('KERNEL', sys.prefix, nst_tf.__file__, ipywidgets.__version__, 'google.colab' in sys.modules)"
)
VERSIONS = (
    "import importlib.metadata as m, json\n"
    "seen = {}\n"
    "for d in m.distributions():\n"
    "    seen.setdefault((d.metadata['Name'] or '').lower().replace('_', '-'), d.version)\n"
    "print(json.dumps(seen))"
)



class SimulatedColab:
    def __init__(self, base: Path):
        self.base = base
        self.prefix = base / "colab-venv"
        venv.EnvBuilder(with_pip=False, symlinks=True).create(self.prefix)
        self.python = self.prefix / "bin" / "python"
        self.site = Path(self.ask("import sysconfig; print(sysconfig.get_paths()['purelib'])", clean=True))
        self.workdir = base / "content"  # Colab's working folder; nothing of the checkout in it
        self.workdir.mkdir()
        self.env = self._environment()
        self._link_preinstalled_packages()
        self._add_stand_in()
        self._add_kernel()

    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        env.update(
            NST_TF_FAST="1", NST_TF_WEIGHTS="offline", MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="3",
            PYTHONNOUSERSITE="1", JUPYTER_PATH=str(self.base / "jupyter"), IPYTHONDIR=str(self.base / "ipython"),
            COLAB_SIM_LOG=str(self.base / "colab-calls.jsonl"), PIP_DISABLE_PIP_VERSION_CHECK="1",
        )
        return env

    def ask(self, code: str, clean: bool = False) -> str:
        env = None if clean else self.env
        result = subprocess.run([str(self.python), "-c", code], capture_output=True, text=True, env=env,
                                cwd=self.base, check=True)
        return result.stdout.strip()

    def _link_preinstalled_packages(self):
        farm = self.base / "preinstalled"
        farm.mkdir()
        sources = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
        for source in map(Path, sources):
            for entry in source.iterdir():
                if not HIDDEN.search(entry.name) and not (farm / entry.name).exists():
                    (farm / entry.name).symlink_to(entry)
        # addsitedir also runs the .pth files among the links (except the hidden nst-tf one).
        (self.site / "zz_colab_preinstalled.pth").write_text(f"import site; site.addsitedir({str(farm)!r})\n")

    def _add_stand_in(self):
        package = self.site / "google" / "colab"  # google/ stays a namespace package (protobuf lives there too)
        package.mkdir(parents=True)
        for name, text in STAND_IN.items():
            (package / name).write_text(text)
        startup = self.base / "ipython" / "profile_default" / "startup"
        startup.mkdir(parents=True)
        (startup / "00-colab.py").write_text("import google.colab  # Colab's kernel has it loaded\n")

    def _add_kernel(self):
        spec = self.base / "jupyter" / "kernels" / KERNEL
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [str(self.python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Colab (simulated)", "language": "python",
        }))

    def pip(self, *args: str):
        return subprocess.run([str(self.python), "-m", "pip", *args], capture_output=True, text=True, env=self.env,
                              cwd=self.base)

    def versions(self) -> dict[str, str]:
        return json.loads(self.ask(VERSIONS))

    def calls(self) -> list[dict]:
        log = Path(self.env["COLAB_SIM_LOG"])
        calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        log.unlink(missing_ok=True)
        return calls

    def execute(self, notebook, allow_errors: bool = False):
    
        notebook.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Colab (simulated)", "language": "python"}
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env)  # the kernel inherits this process's environment
        try:
            PatientNotebookClient(notebook, timeout=900, kernel_name=KERNEL, allow_errors=allow_errors,
                           resources={"metadata": {"path": str(self.workdir)}}).execute()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        return notebook


def printed(cell) -> str:
    return "".join(output.get("text", "") for output in cell.outputs if output.output_type == "stream")


def _install_cell() -> str:
    notebook = nbformat.read(SOLVED[0], as_version=4)
    return next(cell.source for cell in notebook.cells if cell.cell_type == "code")


def run_install_cell(colab: SimulatedColab, source: str) -> str:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(f"import os\nos.environ['NST_TF_SOURCE'] = {source!r}"),
        nbformat.v4.new_code_cell(_install_cell()),
    ]
    return printed(colab.execute(notebook).cells[1])


def build_wheel(base: Path) -> Path:
    """This checkout as a wheel, as a course's home would serve it."""
    assert ROOT not in base.parents
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(base / "wheel"),
         str(ROOT)], capture_output=True, text=True,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (base / "wheel").glob("nst_tf-*.whl")
    return wheel


def colab_with_widgets_7(base: Path) -> SimulatedColab:
    """A runtime with Colab's own ipywidgets 7 (and what it needs), every package already there kept at its version."""
    colab = SimulatedColab(base)
    pins = base / "preinstalled.txt"
    pins.write_text("".join(f"{name}==={version}\n" for name, version in colab.versions().items() if name))
    widgets = colab.pip("install", "-q", "-c", str(pins), *WIDGETS_7)
    assert widgets.returncode == 0, widgets.stderr
    colab.before = colab.versions()
    assert colab.before["ipywidgets"].startswith("7.") and "nst-tf" not in colab.before, colab.before
    return colab


def check_final_cell(colab: SimulatedColab, notebook) -> None:
    """The last cell (FINAL_CHECK) ran in the simulated runtime, with the installed wheel and ipywidgets 7."""
    shown = printed(notebook.cells[-1]).split()
    assert shown[:2] == ["KERNEL", str(colab.prefix)], shown
    assert shown[2] == str(colab.site / "nst_tf" / "__init__.py"), f"nst_tf came from {shown[2]}"
    assert shown[3].startswith("7.") and shown[4] == "True", shown


def check_colab_calls(colab: SimulatedColab, path: Path) -> None:
    """No cell waited for an upload; downloads were PNG files; lesson 04 offers its result as a download."""
    calls = colab.calls()
    assert not [call for call in calls if call["call"] == "upload"], "a cell waits for an upload during Run all"
    downloads = [call for call in calls if call["call"] == "download"]
    for call in downloads:
        assert bytes.fromhex(call["head"]).startswith(b"\x89PNG"), call
    if path.name.startswith("04_"):
        assert downloads, "lesson 04 offers the result as a download"
