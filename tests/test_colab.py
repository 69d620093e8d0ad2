"""Colab, simulated: every lesson runs from a wheel that the lesson's own first cell installed.

A fresh virtual environment stands in for a Colab runtime. Like Colab it has the heavy
packages preinstalled: it sees this environment's TensorFlow, Keras, NumPy, Jupyter kernel
and so on through a folder of links (installing them again would cost minutes and gigabytes),
but neither this checkout nor this environment's nst-tf install, and it has Colab's
ipywidgets 7 instead of 8. A stand-in ``google.colab`` (imported at kernel start, as on
Colab) provides ``files.upload``, ``files.download`` and ``output.enable_custom_widget_manager``
and records each call; ``files.upload`` fails, because on Colab it would wait for a person.

The wheel is built from this checkout and installed non-editable by the install cell of the
lessons (``NST_TF_SOURCE`` pointing at it, set as a student would). Then every solved and
every student notebook runs in fast mode with the offline weights in a temporary folder
outside the repository, and a last cell proves which nst_tf and which ipywidgets it used.
Student notebooks keep their unsolved exercises: the only errors allowed there are the
"not attempted yet" ones, and every cell must have run.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import nbformat
import pytest
from notebook_outputs import RUN_TWICE, check_widgets_shown, compare_printed_costs

ROOT = Path(__file__).resolve().parents[1]
SOLVED = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
KERNEL = "colab-simulated"
# What this environment has that Colab would not see: this checkout's nst-tf (its editable
# install's .pth and metadata) and ipywidgets 8 with its front-end packages.
HIDDEN = re.compile(r"nst[_-]tf|^(ipywidgets|widgetsnbextension|jupyterlab_widgets)([-_.]|$)", re.I)
WIDGETS_7 = ["ipywidgets>=7.6,<8"]

STAND_IN = {
    "__init__.py": '"""Stand-in for Colab\'s google.colab (tests/test_colab.py); records every call."""\n'
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

slow = pytest.mark.slow


class SimulatedColab:
    def __init__(self, base: Path):
        self.base = base
        self.prefix = base / "colab-venv"
        venv.EnvBuilder(with_pip=False, symlinks=True).create(self.prefix)
        self.python = self.prefix / "bin" / "python"
        self.site = Path(self._ask("import sysconfig; print(sysconfig.get_paths()['purelib'])", clean=True))
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

    def _ask(self, code: str, clean: bool = False) -> str:
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
        return json.loads(self._ask(VERSIONS))

    def calls(self) -> list[dict]:
        log = Path(self.env["COLAB_SIM_LOG"])
        calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        log.unlink(missing_ok=True)
        return calls

    def execute(self, notebook, allow_errors: bool = False):
        from nbclient import NotebookClient

        notebook.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Colab (simulated)", "language": "python"}
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env)  # the kernel inherits this process's environment
        try:
            NotebookClient(notebook, timeout=900, kernel_name=KERNEL, allow_errors=allow_errors,
                           resources={"metadata": {"path": str(self.workdir)}}).execute()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        return notebook


def _printed(cell) -> str:
    return "".join(output.get("text", "") for output in cell.outputs if output.output_type == "stream")


def _install_cell() -> str:
    notebook = nbformat.read(SOLVED[0], as_version=4)
    return next(cell.source for cell in notebook.cells if cell.cell_type == "code")


def _run_install_cell(colab: SimulatedColab, source: str) -> str:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(f"import os\nos.environ['NST_TF_SOURCE'] = {source!r}"),
        nbformat.v4.new_code_cell(_install_cell()),
    ]
    return _printed(colab.execute(notebook).cells[1])


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    base = tmp_path_factory.mktemp("colab")
    assert ROOT not in base.parents
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(base / "wheel"),
         str(ROOT)], capture_output=True, text=True,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (base / "wheel").glob("nst_tf-*.whl")

    colab = SimulatedColab(base)
    # Colab's own ipywidgets 7 with what it needs (the classic notebook among it), every package
    # that is there already kept at its version.
    pins = base / "preinstalled.txt"
    pins.write_text("".join(f"{name}==={version}\n" for name, version in colab.versions().items() if name))
    widgets = colab.pip("install", "-q", "-c", str(pins), *WIDGETS_7)
    assert widgets.returncode == 0, widgets.stderr
    colab.before = colab.versions()
    assert colab.before["ipywidgets"].startswith("7.") and "nst-tf" not in colab.before, colab.before

    colab.wheel = wheel
    colab.failed = _run_install_cell(colab, str(base / "missing" / wheel.name))
    colab.failed_calls = colab.calls()

    # A runtime whose preinstalled packages already disagree (tqdm's metadata here asks for an
    # older NumPy than the one installed): pip cannot resolve without changing NumPy, so the
    # cell adds nst-tf without touching anything. Then that stand-in metadata goes again.
    tqdm = colab.site / f"tqdm-{colab.before['tqdm']}.dist-info"
    tqdm.mkdir()
    (tqdm / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: tqdm\nVersion: {colab.before['tqdm']}\nRequires-Dist: numpy<1\n")
    colab.conflicted = _run_install_cell(colab, str(wheel))
    colab.conflicted_after = colab.versions()
    removed = colab.pip("uninstall", "-y", "-q", "nst-tf")
    assert removed.returncode == 0, removed.stderr
    shutil.rmtree(tqdm)
    assert colab.versions() == colab.before

    colab.installed = _run_install_cell(colab, str(wheel))
    colab.installed_calls = colab.calls()
    colab.after = colab.versions()
    return colab


@slow
def test_a_failing_install_prints_one_line_that_says_what_to_do(colab):
    assert colab.failed.count("\n") == 1, colab.failed
    assert "Traceback" not in colab.failed and "CalledProcessError" not in colab.failed
    assert f"Could not install nst-tf from {colab.base / 'missing' / colab.wheel.name}" in colab.failed
    assert "NST_TF_SOURCE" in colab.failed


@slow
def test_the_install_cell_copes_with_preinstalled_packages_that_conflict(colab):
    assert colab.conflicted.count("\n") == 1, colab.conflicted
    assert colab.conflicted.startswith(f"installed nst-tf from {colab.wheel} without resolving dependencies"), (
        colab.conflicted)
    assert {name: version for name, version in colab.conflicted_after.items() if name != "nst-tf"} == colab.before


@slow
def test_the_install_cell_adds_nst_tf_and_changes_nothing_else(colab):
    assert colab.installed.count("\n") == 1, colab.installed
    assert colab.installed.startswith(f"installed nst-tf from {colab.wheel}; GPU: "), colab.installed
    assert set(colab.after) - set(colab.before) == {"nst-tf"}
    changed = {name: (version, colab.after[name]) for name, version in colab.before.items() if colab.after[name] != version}
    assert not changed, f"the install cell changed preinstalled packages: {changed}"
    assert colab.installed_calls == [], "ipywidgets 7 needs no custom widget manager"
    installed = Path(colab._ask("import nst_tf; print(nst_tf.__file__)"))
    assert installed.parent.parent == colab.site and not installed.is_symlink()
    assert (colab.site / "nst_tf" / "_sample_data").is_dir(), "the wheel carries the sample images"


def _check_final_cell(colab, notebook):
    printed = _printed(notebook.cells[-1]).split()
    assert printed[:2] == ["KERNEL", str(colab.prefix)], printed
    assert printed[2] == str(colab.site / "nst_tf" / "__init__.py"), f"nst_tf came from {printed[2]}"
    assert printed[3].startswith("7.") and printed[4] == "True", printed


def _check_colab_calls(colab, path):
    calls = colab.calls()
    assert not [call for call in calls if call["call"] == "upload"], "a cell waits for an upload during Run all"
    downloads = [call for call in calls if call["call"] == "download"]
    for call in downloads:
        assert bytes.fromhex(call["head"]).startswith(b"\x89PNG"), call
    if path.name.startswith("04_"):
        assert downloads, "lesson 04 offers the result as a download"


@slow
@pytest.mark.notebooks
@pytest.mark.parametrize("path", SOLVED, ids=lambda path: path.stem)
def test_solved_lesson_runs_in_colab(colab, path):
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.read(path, as_version=4)
    lesson = list(notebook.cells)
    if path.stem in RUN_TWICE:  # no hidden state: the second run in the same kernel prints the same costs
        notebook.cells += copy.deepcopy(lesson)
    notebook.cells.append(nbformat.v4.new_code_cell(FINAL_CHECK))
    try:
        colab.execute(notebook)
    except CellExecutionError as error:
        pytest.fail(f"{path.name} in simulated Colab: {error}", pytrace=False)
    if path.stem in RUN_TWICE:
        compared = compare_printed_costs(notebook.cells[:len(lesson)], notebook.cells[len(lesson):2 * len(lesson)])
        assert compared >= 10, f"only {compared} printed costs to compare in {path.name}"
    assert _printed(notebook.cells[[c.cell_type for c in notebook.cells].index("code")]).startswith(
        "nst-tf is installed; GPU: ")
    _check_final_cell(colab, notebook)
    check_widgets_shown(notebook)
    _check_colab_calls(colab, path)


# ----- the download helper, here (no kernel needed) ----------------------------------------


@pytest.mark.parametrize("on_colab", [False, True])
def test_download_image_saves_and_on_colab_downloads(on_colab, tmp_path, monkeypatch, capsys):
    import types

    import numpy as np
    from PIL import Image

    from nst_tf import display

    downloaded = []
    if on_colab:
        files = types.SimpleNamespace(download=downloaded.append)
        monkeypatch.setitem(sys.modules, "google.colab", types.SimpleNamespace(files=files))
        monkeypatch.setitem(sys.modules, "google.colab.files", files)
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    image = np.linspace(0.0, 1.0, 4 * 5 * 3, dtype=np.float32).reshape(4, 5, 3)
    out = display.download_image(image, tmp_path / "result.png")
    assert out == tmp_path / "result.png"
    saved = np.asarray(Image.open(out))
    assert np.array_equal(saved, np.round(image * 255).astype(np.uint8))
    assert downloaded == ([os.fspath(out)] if on_colab else [])
    assert capsys.readouterr().out.count("\n") == 1
