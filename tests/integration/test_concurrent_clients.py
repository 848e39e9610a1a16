"""Twenty clients at once on one container: of the `start`s one starts it, of the `rm -f`s
one removes it (the others get Docker's "No such container" and still exit 0), a storm of
mixed start/stop/kill/rm leaves a record that matches what runs — each command checked
and acted under the container's lock (engine/locks.py)."""

from __future__ import annotations

import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from tests.conftest import HULL, HullCLI
from tests.integration.conftest import hull  # noqa: F401

pytestmark = pytest.mark.root


def parallel(h: HullCLI, commands: list[list[str]]) -> list[subprocess.CompletedProcess[str]]:
    def one(args: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run([HULL, "--root", str(h.root), *args], capture_output=True,
                              text=True, env=h.env, timeout=120, stdin=subprocess.DEVNULL)
    with ThreadPoolExecutor(len(commands)) as pool:
        return list(pool.map(one, commands))


def container_processes(h: HullCLI, marker: str) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().split(b"\0")[:2] == [b"sleep", marker.encode()]:
                    out.append(int(entry.name))
            except OSError:
                continue
    return out


def test_twenty_starts_start_it_once(hull: HullCLI) -> None:  # noqa: F811
    hull("create", "--name", "c", "busybox", "sleep", "1001")
    results = parallel(hull, [["start", "c"]] * 20)
    assert [r.returncode for r in results] == [0] * 20
    assert all(r.stdout == "c\n" for r in results)   # Docker prints it for a running one too
    assert len(container_processes(hull, "1001")) == 1
    assert hull.state("c")["Running"]


def test_twenty_removals_remove_it_once(hull: HullCLI) -> None:  # noqa: F811
    hull("run", "-d", "--name", "c", "busybox", "sleep", "1002")
    results = parallel(hull, [["rm", "-f", "c"]] * 20)
    assert [r.returncode for r in results] == [0] * 20
    assert sum(r.stdout == "c\n" for r in results) == 1
    assert all("No such container: c" in r.stderr for r in results if r.stdout != "c\n")
    assert hull("ps", "-aq").stdout == ""
    assert container_processes(hull, "1002") == []
    assert list((hull.root / "containers").iterdir()) == []


def test_a_storm_leaves_a_consistent_record(hull: HullCLI) -> None:  # noqa: F811
    hull("run", "-d", "--name", "c", "busybox", "sleep", "1003")
    storm = [["start", "c"], ["stop", "-t", "0", "c"], ["kill", "c"], ["restart", "-t", "0",
             "c"], ["pause", "c"], ["unpause", "c"]] * 3 + [["inspect", "c"]] * 2
    results = parallel(hull, storm)
    assert all("Traceback" not in r.stderr for r in results)

    def consistent() -> bool:
        """What the record says runs, runs (a kill's exit is recorded by the service a
        moment after the command returns, as in Docker)."""
        state = json.loads(hull("inspect", "c").stdout)[0]["State"]
        running = container_processes(hull, "1003")
        return running == ([state["Pid"]] if state["Running"] else [])
    deadline = time.monotonic() + 10
    while not consistent():
        assert time.monotonic() < deadline, "record and processes disagree"
        time.sleep(0.1)
