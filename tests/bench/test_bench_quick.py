"""`python -m bench --quick`: every suite runs end to end against real runc, docker and
podman with tiny counts, and the report comes out. Nothing here asserts a timing — this
only keeps the benchmarks from rotting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.root
REPO = Path(__file__).resolve().parent.parent.parent


def test_quick_bench_writes_the_report(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--no-install",
                           "--results", str(tmp_path)], cwd=REPO, capture_output=True,
                          text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for suite in ("runtime_start", "run_start", "lifecycle", "density", "scaling", "ps_many",
                  "images", "data_ops", "build"):
        assert (tmp_path / f"{suite}.json").exists(), suite
    report = (tmp_path / "REPORT.md").read_text()
    for section in ("## Machine", "## `run --rm busybox true`", "## exec, stop, throughput",
                    "## Memory", "## How start latency grows", "## Targets"):
        assert section in report
    assert "## Build" in report
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "build.png", "density.png", "exec_stop.png", "run_start.png", "scaling-containers.png",
        "scaling-count.png", "throughput.png"]
    mounts = Path("/proc/self/mounts").read_text()
    assert "hull-bench-" not in mounts
