"""containerd's ctr with --runc-binary hull-runtime, through containerd's own shim."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.clients.conftest import Containerd
from tests.conftest import HULL_RUNTIME

pytestmark = [pytest.mark.root, pytest.mark.clients]
IMAGE = "docker.io/library/busybox:hull"


def test_ctr_run_rm(containerd: Containerd) -> None:
    out = containerd("run", "--rm", "--runc-binary", HULL_RUNTIME, IMAGE, "ctr-1", "sh", "-c",
                     "echo $$; grep CapEff /proc/self/status").stdout.split()
    assert out[0] == "1"
    assert out[2] == "00000000a80425fb"


def test_ctr_exit_code(containerd: Containerd) -> None:
    proc = containerd("run", "--rm", "--runc-binary", HULL_RUNTIME, IMAGE, "ctr-2", "sh",
                      "-c", "exit 4", check=False)
    assert proc.returncode == 4, proc.stderr


def test_ctr_detached_exec_kill(containerd: Containerd) -> None:
    containerd("run", "-d", "--runc-binary", HULL_RUNTIME, "--memory-limit", str(64 << 20),
               IMAGE, "ctr-3", "sleep", "300")
    try:
        # ctr mounts no cgroupfs inside; its cgroupsPath is /<namespace>/<id> on the host
        limit = Path("/sys/fs/cgroup/memory/hull-test/ctr-3/memory.limit_in_bytes")
        assert int(limit.read_text()) == 64 << 20
        out = containerd("task", "exec", "--exec-id", "e1", "ctr-3", "echo", "exec-ok").stdout
        assert out.strip() == "exec-ok"
        containerd("task", "kill", "-s", "SIGKILL", "ctr-3")
        containerd("task", "delete", "ctr-3", check=False)
    finally:
        containerd("task", "delete", "-f", "ctr-3", check=False)
        containerd("container", "delete", "ctr-3", check=False)
