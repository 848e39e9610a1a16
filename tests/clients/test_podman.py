"""Podman runs containers on hull-runtime: the everyday flows, limits, pause, update, top, -it."""

from __future__ import annotations

import os
import subprocess

import pytest
from tests.clients.conftest import Podman

pytestmark = [pytest.mark.root, pytest.mark.clients]
IMAGE = "localhost/busybox:latest"


def test_run_rm(podman: Podman) -> None:
    out = podman("run", "--rm", "--hostname", "hulled", IMAGE, "sh", "-c",
                 "hostname; echo $$; grep CapEff /proc/self/status").stdout.split()
    assert out[:2] == ["hulled", "1"]
    assert out[3] == "00000000a80425fb"   # podman's default capability set, applied by us


def test_exit_code_passes_through(podman: Podman) -> None:
    assert podman("run", "--rm", IMAGE, "sh", "-c", "exit 9", check=False).returncode == 9


def test_detached_exec_logs_stop_rm(podman: Podman) -> None:
    podman("run", "-d", "--name", "pm-d", IMAGE, "sh", "-c",
           "echo started; trap 'exit 0' TERM; while :; do sleep 0.1; done")
    try:
        assert podman("exec", "pm-d", "sh", "-c", "echo in; echo $$").stdout.split()[0] == "in"
        assert "started" in podman("logs", "pm-d").stdout
        podman("stop", "-t", "10", "pm-d")
        state = podman("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}",
                       "pm-d").stdout.split()
        assert state == ["exited", "0"]
    finally:
        podman("rm", "-f", "-t", "0", "pm-d", check=False)


def test_limits_pause_update_top(podman: Podman) -> None:
    podman("run", "-d", "--name", "pm-l", "--memory", "64m", "--cpus", "0.5",
           "--pids-limit", "20", IMAGE, "sleep", "300")
    try:
        out = podman("exec", "pm-l", "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                     "/sys/fs/cgroup/pids/pids.max", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
                     "/sys/fs/cgroup/cpu/cpu.cfs_period_us").stdout.split()
        assert out == [str(64 << 20), "20", "50000", "100000"]
        podman("pause", "pm-l")
        assert podman("inspect", "--format", "{{.State.Status}}", "pm-l").stdout.strip() == \
            "paused"
        podman("unpause", "pm-l")
        podman("update", "--memory", "128m", "pm-l")
        assert podman("exec", "pm-l", "cat",
                      "/sys/fs/cgroup/memory/memory.limit_in_bytes").stdout.strip() == \
            str(128 << 20)
        top = podman("top", "pm-l").stdout
        assert "sleep 300" in top
    finally:
        podman("rm", "-f", "-t", "0", "pm-l", check=False)


def test_interactive_tty(podman: Podman) -> None:
    cmd = ["podman", "--root", f"{podman.dir}/root", "--runroot", f"{podman.dir}/run",
           "--tmpdir", f"{podman.dir}/tmp", "--runtime", "hull", "run", "-it", "--rm", IMAGE,
           "sh", "-c", "tty; exit 3"]
    # script(1) gives podman a terminal of its own. Its stdin stays open (a pipe we hold)
    # until the container is done: at end-of-file script sends ^D to the terminal, and
    # podman's attach could end before the container's output had come through
    keep, hold = os.pipe()
    try:
        proc = subprocess.run(["script", "-qec", " ".join(cmd), "/dev/null"],
                              env=podman.env, capture_output=True, text=True, timeout=120,
                              stdin=keep)
    finally:
        os.close(keep)
        os.close(hold)
    assert proc.returncode == 3
    assert "/dev/pts/0" in proc.stdout
