"""Multi-stage builds: independent stages run at the same time (observed from inside: each
stage waits for the other to have started, through a shared cache mount — built one after
the other, the first would wait in vain), and a failing stage cancels its siblings and
leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.integration.conftest import Hull
from tests.integration.test_build import build, write

pytestmark = pytest.mark.root

MEET = ("RUN --mount=type=cache,id=meet,target=/meet,sharing=shared "
        "touch /meet/{me}-$STAMP && for i in $(seq 200); do "
        "test -e /meet/{other}-$STAMP && break; sleep 0.1; done; "
        "if test -e /meet/{other}-$STAMP; then echo saw-{other}; else echo alone; fi > /{me}")


def test_independent_stages_run_together(hull: Hull, tmp_path: Path) -> None:
    dockerfile = "\n".join([
        "FROM busybox AS a", "ARG STAMP", MEET.format(me="a", other="b"),
        "FROM busybox AS b", "ARG STAMP", MEET.format(me="b", other="a"),
        "FROM busybox", "COPY --from=a /a /a", "COPY --from=b /b /b", ""])
    ctx = write(tmp_path / "ctx", {"Dockerfile": dockerfile})
    out = build(hull, ctx, "-t", "together:1", "--build-arg", f"STAMP={tmp_path.name}")
    assert hull("run", "--rm", "together:1", "cat", "/a", "/b").stdout == "saw-b\nsaw-a\n"
    numbers = [line.split()[0] for line in out.stderr.splitlines() if " DONE " in line]
    assert len(numbers) == len(set(numbers))   # one sequence of steps, none twice


def test_failing_stage_cancels_its_siblings(hull: Hull, tmp_path: Path) -> None:
    dockerfile = "\n".join([
        "FROM busybox AS slow", "RUN sleep 30 && echo slow-output && touch /f",
        "FROM busybox AS broken", "RUN sleep 1; exit 9",
        "FROM busybox", "COPY --from=slow /f /f", "COPY --from=broken /etc/passwd /p", ""])
    ctx = write(tmp_path / "ctx", {"Dockerfile": dockerfile})
    proc = build(hull, ctx, check=False)
    assert proc.returncode == 1
    assert "exit code: 9" in proc.stderr
    # cancelled: the slow stage never printed its output
    assert not [line for line in proc.stderr.splitlines()
                if line.startswith("#") and line.endswith(" slow-output")]
    assert ">>> RUN sleep 1; exit 9" in proc.stderr
    mounts = [m for m in Path("/proc/self/mounts").read_text().splitlines()
              if str(hull.root) in m]
    assert not mounts
    runtime = hull.root / "state" / "runtime"
    assert not [p for p in runtime.iterdir() if p.name != "@seccomp"] \
        if runtime.exists() else True
