"""Peak memory of each solved lesson's kernel, for a classroom server that gives a student 2 GB.

    python benchmarks/bench_lesson_memory.py                      # every lesson, CPU defaults, both backbones
    python benchmarks/bench_lesson_memory.py 03 --backbone vgg19  # one lesson, ImageNet-shaped VGG19
    python benchmarks/bench_lesson_memory.py --fast               # NST_TF_FAST=1 (what the test runs)
    python benchmarks/bench_lesson_memory.py 03 --env MALLOC_ARENA_MAX=2   # try an allocator setting
    python benchmarks/bench_lesson_memory.py --json lessons.json

Each lesson runs top to bottom in a fresh Jupyter kernel (this interpreter's ``python3``
kernel, matplotlib's inline backend as in JupyterLab, a temporary working folder). A thread
samples the kernel's resident memory every ``--interval`` seconds (0.5), the kernel's child
processes included, and notes which cell was running; the table gives each lesson's peak, the
cell that made it and whether it stays within ``--limit`` GiB (1.5: what is left of 2 GB for
JupyterLab's own server and the system).

Backbones: ``vgg16`` is the offline VGG16 (``NST_TF_WEIGHTS=offline``); ``vgg19`` is a VGG19 of
ImageNet's shapes with seeded random weights (``NST_TF_WEIGHTS=random``): memory does not depend
on the weights' values, so it measures ImageNet's VGG19 offline. Before the VGG19 runs, its
normalisation scales are measured once in a separate process and cached on disk, as ImageNet's
are after a student's first lesson. Claims are reported, not asserted (``NST_TF_CLAIMS=report``):
random weights make no real features, and memory is what is measured here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
GIB = 1024 ** 3
BACKBONES = {"vgg16": "offline", "vgg19": "random"}
WARM_VGG19 = ("import nst_tf; nst_tf.load_vgg('random', 'vgg19'); "
              "print('VGG19 normalisation scales ready')")


def lessons(selection: list[str]) -> list[Path]:
    found = sorted((ROOT / "solutions").glob("[0-9][0-9]*_*.ipynb"))
    if selection:
        found = [path for path in found if any(path.name.startswith(prefix) for prefix in selection)]
    if not found:
        raise SystemExit(f"bench_lesson_memory: no solved lesson matches {' '.join(selection)}")
    return found


def tree_rss(pid: int) -> int:
    """Resident bytes of process ``pid`` and all its descendants (0 once it has gone)."""
    import psutil

    try:
        process = psutil.Process(pid)
        total = process.memory_info().rss
        for child in process.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        return total
    except psutil.Error:
        return 0


class Sampler(threading.Thread):
    """Samples the kernel of ``client`` every ``interval`` s; ``peak`` bytes and the ``peak_cell`` then."""

    def __init__(self, client, interval: float):
        super().__init__(daemon=True)
        self.client, self.interval = client, interval
        self.cell, self.peak, self.peak_cell, self.samples = -1, 0, -1, 0
        self.by_cell: dict[int, int] = {}  # cell index -> the most resident bytes while it ran
        self.done = threading.Event()

    def kernel_pid(self):
        manager = getattr(self.client, "km", None)
        provisioner = getattr(manager, "provisioner", None) if manager else None
        return getattr(provisioner, "pid", None) if provisioner else None

    def run(self):
        while not self.done.is_set():
            pid = self.kernel_pid()
            if pid:
                rss = tree_rss(pid)
                self.samples += 1
                self.by_cell[self.cell] = max(rss, self.by_cell.get(self.cell, 0))
                if rss > self.peak:
                    self.peak, self.peak_cell = rss, self.cell
            self.done.wait(self.interval)


def measure(path: Path, backbone: str, *, fast: bool, interval: float, extra_env: dict, timeout: int) -> dict:
    """Run lesson ``path`` in a fresh kernel and return its row (peak GiB, the cell that made it, ...)."""
    import nbformat
    from notebook_client import PatientNotebookClient

    notebook = nbformat.read(path, as_version=4)
    environment = {"NST_TF_WEIGHTS": BACKBONES[backbone], "NST_TF_FAST": "1" if fast else "0",
                   "NST_TF_CLAIMS": "report", "TF_CPP_MIN_LOG_LEVEL": "2",
                   "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
                   **extra_env}
    saved = {key: os.environ.get(key) for key in [*environment, "MPLBACKEND"]}
    os.environ.update(environment)
    os.environ.pop("MPLBACKEND", None)  # the kernel's own inline backend, as in JupyterLab
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="nst-tf-lesson-memory-") as folder:
            client = PatientNotebookClient(notebook, timeout=timeout, kernel_name="python3", allow_errors=True,
                                           resources={"metadata": {"path": folder}})
            sampler = Sampler(client, interval)
            starts: list[tuple[int, float]] = []  # (cell index, when it started)

            def cell_started(cell, cell_index):
                sampler.cell = cell_index
                starts.append((cell_index, time.perf_counter()))

            client.on_cell_start = cell_started
            sampler.start()
            try:
                client.execute()
            finally:
                sampler.done.set()
                sampler.join()
            ended = time.perf_counter()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    errors = [f"cell {index}: {output.ename}: {output.evalue}"[:200] for index, cell in enumerate(notebook.cells)
              if cell.cell_type == "code" for output in cell.outputs if output.output_type == "error"]
    source = notebook.cells[sampler.peak_cell].source if sampler.peak_cell >= 0 else ""
    return {"lesson": path.stem, "backbone": backbone, "fast": fast, "env": extra_env,
            "peak_gib": sampler.peak / GIB, "peak_cell": sampler.peak_cell,
            "peak_cell_line": next((line.strip() for line in source.splitlines()
                                    if line.strip() and not line.lstrip().startswith("#")), "")[:60],
            "by_cell_gib": {index: round(rss / GIB, 3) for index, rss in sorted(sampler.by_cell.items())},
            "by_cell_seconds": {index: round(end - start, 1) for (index, start), (_, end)
                                in zip(starts, [*starts[1:], (-1, ended)])},
            "samples": sampler.samples, "seconds": time.perf_counter() - started, "errors": errors}


def warm_vgg19() -> None:
    """Measure and cache the random VGG19's normalisation scales outside the measured kernels."""
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    subprocess.run([sys.executable, "-c", WARM_VGG19], check=True, env=environment, timeout=1800)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", help="lesson numbers or name prefixes (default: every solved lesson)")
    parser.add_argument("--backbone", choices=["vgg16", "vgg19", "both"], default="both")
    parser.add_argument("--fast", action="store_true", help="NST_TF_FAST=1: small images, few steps")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between samples (default 0.5)")
    parser.add_argument("--limit", type=float, default=1.5, help="GiB a lesson may peak at (default 1.5)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="an environment variable for the kernel (e.g. MALLOC_ARENA_MAX=2); repeatable")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds one cell may take (default 1800)")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    parser.add_argument("--cells", action="store_true",
                        help="also print each cell's highest sample and the seconds of each cell taking 1 s or more")
    args = parser.parse_args(argv)
    if args.interval <= 0:
        parser.error("--interval must be positive")
    extra_env = {}
    for item in args.env:
        key, equals, value = item.partition("=")
        if not equals or not key:
            parser.error(f"--env takes KEY=VALUE, not {item!r}")
        extra_env[key] = value
    paths = lessons(args.lessons)
    backbones = ["vgg16", "vgg19"] if args.backbone == "both" else [args.backbone]
    if "vgg19" in backbones:
        warm_vgg19()
    mode = "fast mode (NST_TF_FAST=1)" if args.fast else "CPU defaults"
    print(f"Lesson kernels' peak memory, {mode}, sampled every {args.interval} s with children; "
          f"{os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}"
          + (f"; kernel environment {extra_env}" if extra_env else ""))
    print(f"{'lesson':<34} {'backbone':<8} {'peak GiB':>8} {'<= ' + str(args.limit):>7} {'s':>6}  peak at cell")
    rows = []
    for path in paths:
        for backbone in backbones:
            row = measure(path, backbone, fast=args.fast, interval=args.interval, extra_env=extra_env,
                          timeout=args.timeout)
            row["within_limit"] = row["peak_gib"] <= args.limit
            rows.append(row)
            print(f"{row['lesson']:<34} {backbone:<8} {row['peak_gib']:8.2f} {'yes' if row['within_limit'] else 'NO':>7} "
                  f"{row['seconds']:6.0f}  {row['peak_cell']}: {row['peak_cell_line']}", flush=True)
            if args.cells:
                print("    by cell (GiB): " + ", ".join(f"{index}: {gib:.2f}" for index, gib in row["by_cell_gib"].items()))
                print("    by cell (s):   " + ", ".join(f"{index}: {seconds:.0f}"
                                                       for index, seconds in row["by_cell_seconds"].items()
                                                       if seconds >= 1))
            for error in row["errors"]:
                print(f"    error in the lesson: {error}")
    worst = max(rows, key=lambda row: row["peak_gib"])
    print(f"highest peak: {worst['lesson']} with {worst['backbone']}, {worst['peak_gib']:.2f} GiB; "
          f"{sum(row['within_limit'] for row in rows)} of {len(rows)} within {args.limit} GiB")
    if args.json:
        args.json.write_text(json.dumps({"limit_gib": args.limit, "fast": args.fast, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
