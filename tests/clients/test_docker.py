"""A private dockerd with `--add-runtime hull=hull-runtime`: docker run --runtime hull."""

from __future__ import annotations

import subprocess

import pytest
from tests.clients.conftest import Docker

pytestmark = [pytest.mark.root, pytest.mark.clients]
RUN = ["run", "--runtime", "hull", "--network", "none"]
IMAGE = "busybox:hull"


def test_run_rm(docker: Docker) -> None:
    out = docker(*RUN, "--rm", "--hostname", "hulled", IMAGE, "sh", "-c",
                 "hostname; echo $$; grep CapEff /proc/self/status").stdout.split()
    assert out[:2] == ["hulled", "1"]
    assert out[3] == "00000000a80425fb"
    assert docker(*RUN, "--rm", IMAGE, "sh", "-c", "exit 9", check=False).returncode == 9


def test_detached_exec_logs_stop_rm(docker: Docker) -> None:
    docker(*RUN, "-d", "--name", "dk-d", IMAGE, "sh", "-c",
           "echo started; trap 'exit 0' TERM; while :; do sleep 0.1; done")
    try:
        assert docker("exec", "dk-d", "echo", "in").stdout.strip() == "in"
        assert "started" in docker("logs", "dk-d").stdout
        docker("stop", "dk-d")
        assert docker("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}",
                      "dk-d").stdout.split() == ["exited", "0"]
    finally:
        docker("rm", "-f", "dk-d", check=False)


def test_limits_pause_update_top(docker: Docker) -> None:
    docker(*RUN, "-d", "--name", "dk-l", "-m", "64m", "--cpus", "0.5", "--pids-limit", "20",
           IMAGE, "sleep", "300")
    try:
        out = docker("exec", "dk-l", "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                     "/sys/fs/cgroup/pids/pids.max",
                     "/sys/fs/cgroup/cpu/cpu.cfs_quota_us").stdout.split()
        assert out == [str(64 << 20), "20", "50000"]
        docker("pause", "dk-l")
        assert docker("inspect", "--format", "{{.State.Status}}", "dk-l").stdout.strip() == \
            "paused"
        docker("unpause", "dk-l")
        docker("update", "--memory", "128m", "--memory-swap", "256m", "dk-l")
        assert docker("exec", "dk-l", "cat",
                      "/sys/fs/cgroup/memory/memory.limit_in_bytes").stdout.strip() == \
            str(128 << 20)
        assert "sleep 300" in docker("top", "dk-l").stdout
    finally:
        docker("rm", "-f", "dk-l", check=False)


def test_interactive_tty(docker: Docker) -> None:
    cmd = f"docker -H unix://{docker.sock} run -it --rm --runtime hull --network none " \
          f"{IMAGE} sh -c 'tty; exit 3'"
    proc = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 3
    assert "/dev/pts/0" in proc.stdout
