"""The kernel interfaces a container shares with the host: each classic way out is tried
from a default container, and the host side is read before and after."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from tests.conftest import HullCLI
from tests.security.probing import HOST_PYTHON

pytestmark = pytest.mark.root


def _sh(hull: HullCLI, script: str, *flags: str) -> subprocess.CompletedProcess[str]:
    return hull("run", "--rm", *flags, "busybox", "sh", "-c", script, check=False)


def test_proc_sys_sysrq_and_core_pattern(hull: HullCLI) -> None:
    """Writes to /proc/sys (core_pattern is the classic: a pipe handler runs as host
    root), /proc/sysrq-trigger, and the namespaced hostname through /proc all fail."""
    before = {p: Path(p).read_text() for p in ("/proc/sys/kernel/core_pattern",
                                                "/proc/sys/vm/swappiness",
                                                "/proc/sys/kernel/hostname")}
    out = _sh(hull, "for f in /proc/sys/kernel/core_pattern /proc/sys/vm/swappiness "
                    "/proc/sysrq-trigger /proc/sys/kernel/hostname; do "
                    "echo '|/bin/sh -c pwn' > $f && echo WROTE $f; done; true").stdout
    assert "WROTE" not in out
    assert {p: Path(p).read_text() for p in before} == before


def test_cgroup_release_agent(hull: HullCLI) -> None:
    """cgroup v1 release_agent runs a host path as host root when a cgroup empties.
    A container can neither mount a cgroup hierarchy (no CAP_SYS_ADMIN), nor write the
    mounted ones (read-only), nor get CAP_SYS_ADMIN by unsharing a user namespace first
    (CVE-2022-0492: the filter refuses the unshare)."""
    agents = sorted(Path("/sys/fs/cgroup").glob("*/release_agent"))
    before = {p: p.read_text() for p in agents}
    out = _sh(hull, "mkdir -p /tmp/cg; mount -t cgroup -o memory cgroup /tmp/cg && echo MOUNTED;"
                    "for f in /sys/fs/cgroup/*/release_agent /sys/fs/cgroup/*/notify_on_release;"
                    " do echo /pwn > $f && echo WROTE $f; done;"
                    "unshare -UrmC sh -c 'mount -t cgroup -o rdma cgroup /tmp/cg' && "
                    "echo UNSHARED; true").stdout
    assert "MOUNTED" not in out and "WROTE" not in out and "UNSHARED" not in out, out
    assert {p: p.read_text() for p in agents} == before


def _root_block_device() -> tuple[int, int]:
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        major, minor = (int(x) for x in fields[2].split(":"))
        if fields[4] == "/" and major != 0:
            return major, minor
    for dev in sorted(Path("/sys/block").iterdir()):
        major, minor = (int(x) for x in (dev / "dev").read_text().split(":"))
        return major, minor
    pytest.skip("no block device on this host")


def test_host_block_device_through_mknod(hull: HullCLI) -> None:
    """CAP_MKNOD lets a container make a device node, but the device cgroup refuses to
    open any block device: the host's disk cannot be read raw."""
    major, minor = _root_block_device()
    out = _sh(hull, f"mknod /tmp/disk b {major} {minor} && echo MADE; "
                    "head -c 512 /tmp/disk | wc -c; true")
    assert out.stdout.split()[-1] == "0", out
    assert "Operation not permitted" in out.stderr, out.stderr
    # character devices outside Docker's standard set too: fuse only when given
    fuse = "mknod /tmp/fuse c 10 229; exec 3<>/tmp/fuse && echo OPENED"
    assert "OPENED" not in _sh(hull, fuse).stdout
    if os.path.exists("/dev/fuse"):
        assert "OPENED" in _sh(hull, "exec 3<>/dev/fuse && echo OPENED", "--device",
                               "/dev/fuse").stdout


def test_syscalls_without_the_capability(hull: HullCLI) -> None:
    """The everyday tools for what a default container may not do fail, and nothing
    changed on the host."""
    host_name = os.uname().nodename
    mounts_before = Path("/proc/self/mountinfo").read_text().count("\n")
    out = _sh(hull, "hostname pwned && echo OK-hostname; "
                    "mount -t tmpfs none /mnt && echo OK-mount; "
                    "umount /proc && echo OK-umount; "
                    "nsenter -t 1 -m true && echo OK-setns; "
                    "unshare -U true && echo OK-unshare; "
                    "swapoff -a && echo OK-swapoff; "
                    # busybox date reports a refused clock change but exits 0
                    "date -s 2000-01-01 2>&1 | grep -q \"can't set\" || echo OK-date; "
                    "true")
    assert "OK-" not in out.stdout, out.stdout
    assert os.uname().nodename == host_name
    assert time.gmtime().tm_year > 2000   # the clock was not set back
    assert Path("/proc/self/mountinfo").read_text().count("\n") == mounts_before


def test_host_processes_are_invisible(hull: HullCLI) -> None:
    marker = f"hull-host-process-{os.getpid()}"
    host = subprocess.Popen(["sh", "-c", f"exec -a {marker} sleep 60"])
    try:
        time.sleep(0.1)
        out = _sh(hull, "ps -o pid,args; ls /proc | grep -c '^[0-9]'").stdout
        assert marker not in out and "sleep 60" not in out
        assert int(out.split()[-1]) <= 3   # sh, ps/ls/grep: only the container's own
        assert f"/proc/{host.pid}" not in out
    finally:
        host.kill()
        host.wait()


def test_engine_state_is_unreachable(hull: HullCLI) -> None:
    """Nothing of hull's own state (its root, metadata database, runtime state, other
    containers' layers) is visible from a container, by path or through /proc."""
    hull("run", "-d", "--name", "neighbour", "busybox", "sleep", "60")
    out = _sh(hull, "find / -xdev \\( -name metadata.db -o -name events.log -o "
                    "-name config.json -o -name state.json \\) 2>/dev/null; "
                    f"ls {hull.root} 2>&1; ls /proc/1/root/ | tr '\\n' ' '; "
                    "cat /proc/1/mountinfo | grep -c ' / / '").stdout
    assert "metadata.db" not in out and "state.json" not in out and "config.json" not in out
    assert "No such file or directory" in out   # hull's root path is not there
    hull("rm", "-f", "neighbour")


def test_cannot_raise_its_own_limits(hull: HullCLI) -> None:
    """The cgroup files a container sees are read-only: it cannot lift its memory or pids
    limit, checked from the host after the attempt."""
    hull("run", "-d", "--name", "limited", "-m", "64m", "--pids-limit", "20", "busybox",
         "sleep", "60")
    out = hull("exec", "limited", "sh", "-c",
               "for f in /sys/fs/cgroup/memory/memory.limit_in_bytes "
               "/sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/memory.max; do "
               "[ -e $f ] && echo -1 > $f && echo WROTE $f; done; true").stdout
    assert "WROTE" not in out
    limit = hull("stats", "--no-stream", "--format", "{{.MemUsage}}", "limited").stdout
    assert "64MiB" in limit, limit
    hull("rm", "-f", "limited")


def test_proc_exe_of_a_joining_process(hull: HullCLI) -> None:
    """CVE-2019-5736 / CVE-2016-9962 class: while `hull exec` joins the container, a
    process inside watches /proc for new PIDs and tries to open their exe, mem and fds.
    Until the joining process has exec'd the container's own program it is non-dumpable,
    so every such open must fail; whatever the watcher did open must be the program the
    container runs, never the runtime's interpreter (and with it hull's open files)."""
    hull("run", "-d", "--name", "target", *HOST_PYTHON, "busybox", "/usr/bin/python3", "-I",
         "/probe/exe_watcher.py", "/tmp/watch.log")
    for _ in range(25):
        hull("exec", "target", "true")
    time.sleep(0.2)
    log = hull("exec", "target", "cat", "/tmp/watch.log").stdout.splitlines()
    hull("rm", "-f", "target")
    opened = [line for line in log if line.startswith("OPENED")]
    denied = [line for line in log if line.startswith("DENIED")]
    assert denied, "the watcher never saw a joining process: the race was not run"
    leaks = [line for line in opened if "runtime" in line]
    assert not leaks, leaks
