"""The container-true /proc (hull.procfs): /proc/meminfo, cpuinfo, stat, uptime, loadavg,
the online CPU list and sysinfo(2) (busybox free, uptime) show the container's limits,
compared with the host's and with Debian's lxcfs given the same container."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import HullCLI, one_problem

pytestmark = pytest.mark.root


def _field(text: str, key: str) -> int:
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{key} not in {text[:200]}")


def _sh(hull: HullCLI, script: str, *flags: str) -> str:
    return hull("run", "--rm", *flags, "busybox", "sh", "-c", script).stdout


def test_limits_show_in_proc_and_sysinfo(hull: HullCLI) -> None:
    sockets_before = set(Path("/run/hull-sysinfo").glob("*.sock"))
    out = _sh(hull, "cat /proc/meminfo; echo ==; grep -c ^processor /proc/cpuinfo; nproc; "
                    "cat /sys/devices/system/cpu/online; cut -d' ' -f1 /proc/uptime; "
                    "grep -c '^cpu' /proc/stat; echo ==; free -k",
              "-m", "64m", "--cpuset-cpus", "0")
    meminfo, rest, free = out.split("==\n")
    assert _field(meminfo, "MemTotal") == 65536
    assert 0 < _field(meminfo, "MemFree") <= 65536
    assert _field(meminfo, "MemAvailable") <= 65536
    processors, nproc, online, uptime, cpu_lines = rest.split()
    assert (processors, nproc, online) == ("1", "1", "0")
    assert float(uptime) < 5   # the container's, not the host's
    assert cpu_lines == "2"    # "cpu" and "cpu0"
    total = free.splitlines()[1].split()[1]
    assert total == "65536"    # sysinfo(2), answered through seccomp user notification
    assert set(Path("/run/hull-sysinfo").glob("*.sock")) <= sockets_before   # it went too
    host_total = _field(Path("/proc/meminfo").read_text(), "MemTotal")
    assert host_total != 65536


def test_a_cpu_quota_rounds_up_to_whole_cpus(hull: HullCLI) -> None:
    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs a host with 2 CPUs or more")
    out = _sh(hull, "grep -c ^processor /proc/cpuinfo; cat /sys/devices/system/cpu/online",
              "--cpus", "1.5").split()
    assert out == ["2", "0-1"]
    out = _sh(hull, "grep -c ^processor /proc/cpuinfo", "--cpus", "0.5").split()
    assert out == ["1"]


def test_allocation_shows_in_memfree_and_free(hull: HullCLI) -> None:
    out = _sh(hull, "grep MemFree /proc/meminfo; free -k | sed -n 2p; "
                    "dd if=/dev/zero of=/dev/shm/x bs=1M count=40 2>/dev/null; "
                    "grep -E 'MemFree|Shmem:' /proc/meminfo; free -k | sed -n 2p", "-m", "128m")
    lines = out.splitlines()
    before, after = _field(lines[0], "MemFree"), _field(lines[2], "MemFree")
    assert 38 * 1024 <= before - after <= 48 * 1024, out
    assert _field(lines[3], "Shmem") >= 40 * 1024
    free_before, free_after = int(lines[1].split()[3]), int(lines[4].split()[3])
    assert 38 * 1024 <= free_before - free_after <= 48 * 1024, out


def test_exec_loadavg_and_stat(hull: HullCLI) -> None:
    """exec'd processes see the same view; two busy loops raise the container's load
    average and its /proc/stat CPU time, not the idle host's numbers."""
    hull("run", "-d", "--name", "busy", "--cpus", "1", "busybox", "sh", "-c",
         "while :; do :; done & while :; do :; done & wait")
    time.sleep(6)
    out = hull("exec", "busy", "sh", "-c", "cat /proc/loadavg; head -1 /proc/stat; "
                                          "grep MemTotal /proc/meminfo; free -k").stdout
    hull("rm", "-f", "busy")
    load1 = float(out.split()[0])
    assert load1 > 0.05, out
    user = int(out.splitlines()[1].split()[1])
    assert user > 100, out   # > 1 s of user time in USER_HZ, in 6 s of one CPU's quota


def test_proc_view_host_and_bad_input(hull: HullCLI) -> None:
    host_total = _field(Path("/proc/meminfo").read_text(), "MemTotal")
    out = _sh(hull, "grep MemTotal /proc/meminfo", "-m", "64m", "--proc-view", "host")
    assert _field(out, "MemTotal") == host_total
    proc = hull("run", "--rm", "--proc-view", "sideways", "busybox", "true", check=False)
    assert proc.returncode == 125 and "--proc-view" in proc.stderr
    assert one_problem(proc.stderr)
    assert hull("ps", "-aq").stdout == ""


def test_default_from_the_environment(hull: HullCLI) -> None:
    env = dict(hull.env or os.environ, HULL_PROC_VIEW="host")
    h = HullCLI(hull.root, env=env)
    host_total = _field(Path("/proc/meminfo").read_text(), "MemTotal")
    out = h("run", "--rm", "-m", "64m", "busybox", "grep", "MemTotal", "/proc/meminfo").stdout
    assert _field(out, "MemTotal") == host_total


@pytest.fixture
def lxcfs() -> Iterator[Path]:
    if shutil.which("lxcfs") is None:
        pytest.skip("lxcfs is not installed (scripts/install installs it)")
    top = Path(tempfile.mkdtemp(prefix="hull-lxcfs-"))
    mnt = top / "mnt"
    mnt.mkdir()
    proc = subprocess.Popen(["lxcfs", "-f", "-p", str(top / "lxcfs.pid"), str(mnt)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not (mnt / "proc" / "meminfo").exists():
        assert proc.poll() is None and time.monotonic() < deadline, "lxcfs did not start"
        time.sleep(0.05)
    yield mnt
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    subprocess.run(["umount", "-l", str(mnt)], check=False, capture_output=True)
    shutil.rmtree(top, ignore_errors=True)


def test_same_numbers_as_lxcfs_and_right_where_it_is_not(hull: HullCLI, lxcfs: Path) -> None:
    """The same container limits read through lxcfs's files and through hull's: equal
    where lxcfs is right (MemTotal, CPUs of a cpuset), and where lxcfs cannot be (free,
    which asks sysinfo(2); a CPU quota without --enable-cfs) hull shows the container."""
    binds = [a for f in ("meminfo", "cpuinfo", "uptime", "stat")
             for a in ("-v", f"{lxcfs}/proc/{f}:/probe/{f}:ro")]
    script = ("grep MemTotal /probe/meminfo /proc/meminfo; "
              "grep -c ^processor /probe/cpuinfo; grep -c ^processor /proc/cpuinfo; "
              "free -k | sed -n 2p")
    out = _sh(hull, script, "-m", "96m", "--cpuset-cpus", "0", *binds).splitlines()
    theirs, ours = _field(out[0].split(":", 1)[1], "MemTotal"), \
        _field(out[1].split(":", 1)[1], "MemTotal")
    assert theirs == ours == 96 * 1024
    assert out[2] == out[3] == "1"
    assert out[4].split()[1] == str(96 * 1024)   # lxcfs cannot reach sysinfo; hull does
    if (os.cpu_count() or 1) >= 2:
        out = _sh(hull, "grep -c ^processor /probe/cpuinfo /proc/cpuinfo", "--cpus", "1",
                  *binds).split()
        assert out == [f"/probe/cpuinfo:{os.cpu_count()}", "/proc/cpuinfo:1"]


def _keepers() -> list[str]:
    out = subprocess.run(["pgrep", "-f", "^/bin/sleep infinity$"], capture_output=True,
                         text=True).stdout
    return out.split()


def test_view_survives_a_killed_service(hull: HullCLI) -> None:
    """The FUSE and seccomp fds live on in a keeper when the engine service is killed:
    the container's reads wait instead of failing ("Transport endpoint is not
    connected"), and the service that the next hull command starts serves them again."""
    before = set(_keepers())
    hull("run", "-d", "--name", "k", "-m", "64m", "busybox", "sh", "-c",
         "while :; do grep MemTotal /proc/meminfo >> /tmp/reads 2>&1 || echo FAILED >> "
         "/tmp/reads; free -k | sed -n 2p >> /tmp/reads 2>&1; sleep 0.1; done")
    time.sleep(0.5)
    hull.kill_service()
    time.sleep(1)
    hull("ps")   # any hull command starts a service, which takes the container over
    time.sleep(0.5)
    reads = hull("exec", "k", "cat", "/tmp/reads").stdout
    assert "FAILED" not in reads and "not connected" not in reads
    assert reads.count("MemTotal:          65536 kB") > 5
    assert all(line.split()[1] == "65536" for line in reads.splitlines()
               if line.startswith("Mem:"))
    assert hull("exec", "k", "free", "-k").stdout.splitlines()[1].split()[1] == "65536"
    hull("rm", "-f", "k")
    assert set(_keepers()) == before   # the keeper ended with the container


def test_hosts_without_fuse_or_notification_get_the_host_view(hull: HullCLI) -> None:
    host_total = _field(Path("/proc/meminfo").read_text(), "MemTotal")
    no_fuse = HullCLI(hull.root, env=dict(hull.env or os.environ,
                                          HULL_FUSE_DEVICE="/nonexistent/fuse"))
    proc = no_fuse("run", "--rm", "-m", "64m", "busybox", "grep", "MemTotal", "/proc/meminfo")
    assert _field(proc.stdout, "MemTotal") == host_total
    assert proc.stderr.count("WARNING") == 1 and "/dev/fuse" in proc.stderr
    no_notify = HullCLI(hull.root, env=dict(hull.env or os.environ, HULL_SECCOMP_NOTIFY="0"))
    proc = no_notify("run", "--rm", "-m", "64m", "busybox", "sh", "-c",
                     "grep MemTotal /proc/meminfo; free -k | sed -n 2p")
    assert _field(proc.stdout, "MemTotal") == 65536          # the files still are
    assert proc.stdout.splitlines()[1].split()[1] == str(host_total)   # sysinfo is not
    assert proc.stderr.count("WARNING") == 1 and "sysinfo" in proc.stderr
