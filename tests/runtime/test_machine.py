"""The machine description shared by benchmarks/bench_optimize.py and tools/render_solutions.py."""

from __future__ import annotations

import platform

from nst_tf._runtime.machine import cpu_model, cpu_threads


def test_the_model_name_is_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9654 96-Core Processor\n"
                    "processor\t: 1\nmodel name\t: AMD EPYC 9654 96-Core Processor\n")
    assert cpu_model(info) == "AMD EPYC 9654 96-Core Processor"


def test_without_cpuinfo_platform_names_the_cpu(tmp_path):
    expected = platform.processor() or platform.machine() or "unknown CPU"
    assert cpu_model(tmp_path / "missing") == expected
    (tmp_path / "empty").write_text("processor\t: 0\n")
    assert cpu_model(tmp_path / "empty") == expected


def test_threads_is_a_positive_count():
    assert isinstance(cpu_threads(), int) and cpu_threads() >= 1
