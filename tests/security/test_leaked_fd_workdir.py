"""CVE-2024-21626 class: a working directory given as /proc/self/fd/N must never leave the
process in a host directory through a descriptor the runtime still holds while it sets
up the process. Whatever N is, the container either refuses to start or runs inside its
own root."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from tests.conftest import Bundle, HullCLI, RuntimeCLI, one_problem

pytestmark = pytest.mark.root


def test_workdir_through_proc_self_fd_stays_inside(hull: HullCLI, tmp_path: Path) -> None:
    canary = f"host-canary-{secrets.token_hex(4)}"
    (tmp_path / canary).write_text("host\n")
    for n in range(3, 16):
        proc = hull("run", "--rm", "-w", f"/proc/self/fd/{n}", "busybox", "sh", "-c",
                    "ls -a . .. ../.. ../../.. ../../../.. 2>/dev/null; true",
                    check=False)
        assert canary not in proc.stdout, (n, proc.stdout)
        assert "metadata.db" not in proc.stdout, (n, proc.stdout)   # hull's own state
        assert "(unreachable)" not in proc.stdout
        if proc.returncode != 0:
            assert one_problem(proc.stderr), proc.stderr
    assert hull("ps", "-aq").stdout == ""


def test_cwd_through_a_preserved_host_directory_is_refused(
        runtime: RuntimeCLI, bundle: Bundle, tmp_path: Path) -> None:
    """The runtime side: a host directory open as fd 3 (passed with --preserve-fds) and
    process.cwd /proc/self/fd/3 would start the process in that host directory; the
    runtime must refuse instead (runc does the same since 1.1.12)."""
    host_dir = tmp_path / "host-dir"
    host_dir.mkdir()
    (host_dir / "host-only-file").write_text("x")
    bundle.process["cwd"] = "/proc/self/fd/3"
    bundle.process["args"] = ["ls"]
    fd = os.open(host_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.dup2(fd, 3, inheritable=True)
        proc = runtime("run", "--preserve-fds", "1", "--bundle", str(bundle.write()), "cwd",
                       pass_fds=(3,), check=False)
    finally:
        os.close(fd)
    assert "host-only-file" not in proc.stdout
    assert proc.returncode != 0 and "outside the container's root" in proc.stderr


def test_only_the_standard_descriptors_reach_the_container(hull: HullCLI) -> None:
    """A container's process starts with fds 0-2 only, in `run` and in `exec`, with and
    without a terminal: no descriptor of the engine, runtime or service leaks in. (The
    shell lists its own fds; "; true" keeps busybox sh from exec'ing ls in its place.)"""
    listing = "ls /proc/$$/fd; true"
    hull("run", "-d", "--name", "fds", "busybox", "sleep", "60")
    outputs = [hull("run", "--rm", "busybox", "sh", "-c", listing).stdout,
               hull("run", "--rm", "-t", "busybox", "sh", "-c", listing).stdout,
               hull("exec", "fds", "sh", "-c", listing).stdout,
               hull("exec", "-t", "fds", "sh", "-c", listing).stdout,
               hull("exec", "fds", "ls", "/proc/1/fd").stdout]
    hull("rm", "-f", "fds")
    for out in outputs:
        assert out.split() == ["0", "1", "2"], outputs
