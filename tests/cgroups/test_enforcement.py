"""Limits proven by measurement, on whichever cgroup version this host has (the suite runs
here, on a v1/hybrid host, and again inside a cgroup v2 VM through scripts/cgroup2-tests).
Every figure is read from the kernel's own accounting, from outside the container."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import Bundle, RuntimeCLI, make_bundle

pytestmark = [pytest.mark.root, pytest.mark.cgroups]
V2 = Path("/sys/fs/cgroup/cgroup.controllers").exists()


class Cgroup:
    """The container's cgroup files as the host sees them."""

    def __init__(self, bundle: Bundle) -> None:
        self.rel = bundle.linux["cgroupsPath"].lstrip("/")

    def path(self, v1_controller: str, name: str) -> Path:
        if V2:
            return Path("/sys/fs/cgroup", self.rel, name)
        return Path("/sys/fs/cgroup", v1_controller, self.rel, name)

    def counter(self, v1_controller: str, v1_file: str, v1_key: str, v2_file: str,
                v2_key: str) -> int:
        path = self.path(v2_file.split(".")[0], v2_file) if V2 else \
            self.path(v1_controller, v1_file)
        pairs = dict(line.split() for line in path.read_text().splitlines())
        return int(pairs[v2_key if V2 else v1_key])

    def cpu_usage_s(self) -> float:
        if V2:
            stat = dict(line.split() for line in self.path("", "cpu.stat").read_text()
                        .splitlines())
            return int(stat["usage_usec"]) / 1e6
        return int(self.path("cpuacct", "cpuacct.usage").read_text()) / 1e9


def busy(bundle: Bundle, **cpu: object) -> None:
    bundle.process["args"] = ["sh", "-c", "while :; do :; done"]
    bundle.linux["resources"]["cpu"] = cpu


def measure(cgroups: list[Cgroup], seconds: float = 3.0) -> list[float]:
    time.sleep(0.5)   # let the loops get going
    before = [c.cpu_usage_s() for c in cgroups]
    start = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - start
    return [(c.cpu_usage_s() - b) / elapsed for c, b in zip(cgroups, before, strict=True)]


def test_cpu_quota_is_a_share_of_one_cpu(runtime: RuntimeCLI, bundle: Bundle) -> None:
    busy(bundle, quota=20000, period=100000)
    runtime.detached("run", "-d", "--bundle", str(bundle.write()), "quota")
    try:
        (usage,) = measure([Cgroup(bundle)])
    finally:
        runtime("delete", "--force", "quota")
    assert 0.15 <= usage <= 0.25, f"CPU usage {usage:.3f} of one CPU, want 0.20 ± 0.05"


def test_cpu_shares_split_a_contended_cpu_1_to_3(runtime: RuntimeCLI, bundle: Bundle,
                                                 tmp_path: Path, busybox_rootfs: Path) -> None:
    heavy = make_bundle(tmp_path / "heavy", busybox_rootfs, runtime)
    busy(bundle, shares=1024, cpus="0")
    busy(heavy, shares=3072, cpus="0")
    runtime.detached("run", "-d", "--bundle", str(bundle.write()), "light")
    runtime.detached("run", "-d", "--bundle", str(heavy.write()), "heavy")
    try:
        light_use, heavy_use = measure([Cgroup(bundle), Cgroup(heavy)])
    finally:
        runtime("delete", "--force", "light")
        runtime("delete", "--force", "heavy")
    ratio = heavy_use / light_use
    assert 3 * 0.85 <= ratio <= 3 * 1.15, f"usage ratio {ratio:.2f}, want 3 ± 15%"


def test_cpuset_pins_the_container(runtime: RuntimeCLI, bundle: Bundle) -> None:
    bundle.linux["resources"]["cpu"] = {"cpus": "0"}
    bundle.process["args"] = ["sh", "-c", "grep Cpus_allowed_list /proc/self/status"]
    assert runtime.run(bundle).stdout.split() == ["Cpus_allowed_list:", "0"]


def test_cpuset_naming_a_missing_cpu_is_refused(runtime: RuntimeCLI, bundle: Bundle) -> None:
    bundle.linux["resources"]["cpu"] = {"cpus": "0-63"}
    proc = runtime.run(bundle, check=False)
    assert proc.returncode != 0
    assert "linux.resources.cpu.cpus: CPU" in proc.stderr and "online:" in proc.stderr
    assert runtime.ids() == []


def _oom_bundle(bundle: Bundle, single_victim: bool = True, gate: Path | None = None) -> None:
    """A container that overruns its 32 MiB; with gate, only once that file exists."""
    bundle.linux["resources"]["memory"] = {"limit": 32 << 20, "swap": 32 << 20}
    if single_victim:
        # one process, no pipe partner: dd's 64 MiB buffer is the only thing that grows,
        # so there is exactly one victim
        hog = "dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null"
    else:
        # a shell string that grows until the limit (held there when the killer is off)
        hog = "sh -c 'x=$(head -c 67108864 /dev/zero | tr \"\\\\0\" a)'"
    wait = "sleep 0.5"
    if gate is not None:
        bundle.config["mounts"].append({"destination": "/gate", "type": "bind",
                                        "source": str(gate.parent), "options": ["rbind"]})
        wait = f"while [ ! -e /gate/{gate.name} ]; do sleep 0.05; done"
    bundle.process["args"] = ["sh", "-c", f"{wait}; {hog}; echo child-exit=$?; sleep 1"]


def test_memory_limit_oom_kill_counted_and_reported(runtime: RuntimeCLI, bundle: Bundle,
                                                    tmp_path: Path) -> None:
    gate_dir = tmp_path / "gate"
    gate_dir.mkdir()
    _oom_bundle(bundle, gate=gate_dir / "go")
    out_file = runtime.root.parent / "out"
    with open(out_file, "w") as out:
        runtime.detached("run", "-d", "--bundle", str(bundle.write()), "oom")
        events = subprocess.Popen([runtime.binary, "--root", str(runtime.root), "events",
                                   "--interval", "60s", "oom"], stdout=subprocess.PIPE,
                                  text=True, stderr=out)
        assert events.stdout is not None
        first = events.stdout.readline()   # events is watching (its first stats line)
        (gate_dir / "go").touch()          # only now may the container overrun
        deadline = time.monotonic() + 60
        while runtime.state("oom")["status"] != "stopped" and time.monotonic() < deadline:
            time.sleep(0.1)
    stream, _ = events.communicate(timeout=30)
    stream = first + stream
    stats = json.loads(runtime("events", "--stats", "oom").stdout)["data"]
    kills = Cgroup(bundle).counter("memory", "memory.oom_control", "oom_kill",
                                   "memory.events", "oom_kill")
    runtime("delete", "oom")
    kinds = [json.loads(line)["type"] for line in stream.splitlines()]
    assert kinds.count("oom") == 1
    assert kills == 1
    assert "child-exit=137" in (runtime.root.parent / "container-output").read_text()
    assert stats["memory"]["usage"]["limit"] == 32 << 20


@pytest.mark.only_v1   # memory.oom_control (disableOOMKiller) exists only on v1
def test_disabled_oom_killer_holds_the_process_under_oom(runtime: RuntimeCLI,
                                                         bundle: Bundle) -> None:
    _oom_bundle(bundle, single_victim=False)
    bundle.linux["resources"]["memory"]["disableOOMKiller"] = True
    runtime.detached("run", "-d", "--bundle", str(bundle.write()), "held")
    control = Cgroup(bundle).path("memory", "memory.oom_control")
    try:
        deadline = time.monotonic() + 30
        while "under_oom 1" not in control.read_text():
            assert time.monotonic() < deadline, control.read_text()
            time.sleep(0.1)
        assert "oom_kill 0" in control.read_text()
        assert runtime.state("held")["status"] == "running"
    finally:
        runtime("delete", "--force", "held")


def test_pids_limit_refuses_the_eleventh_task(runtime: RuntimeCLI, bundle: Bundle) -> None:
    bundle.linux["resources"]["pids"] = {"limit": 10}
    # a shell exits when fork fails, so the forking happens in a child shell and PID 1
    # lives on to say so
    bundle.process["args"] = ["sh", "-c", "sh -c 'i=0; while [ $i -lt 15 ]; do sleep 60 & "
                              "i=$((i+1)); done'; echo alive; sleep 60"]
    runtime.detached("run", "-d", "--bundle", str(bundle.write()), "pids")
    cg = Cgroup(bundle)
    try:
        time.sleep(1.5)
        refused = cg.counter("pids", "pids.events", "max", "pids.events", "max")
        current = int(cg.path("pids", "pids.current").read_text())
        assert runtime.state("pids")["status"] == "running"
    finally:
        runtime("delete", "--force", "pids")
    output = (runtime.root.parent / "container-output").read_text()
    assert refused >= 1 and current <= 10
    assert "Resource temporarily unavailable" in output or "can't fork" in output
    assert "alive" in output


def test_freeze_stops_progress_until_thaw(runtime: RuntimeCLI, bundle: Bundle) -> None:
    bundle.config["mounts"].append({"destination": "/w", "type": "tmpfs", "source": "tmpfs"})
    # appending: a freeze between truncate and write cannot empty the file
    bundle.process["args"] = ["sh", "-c", "while :; do echo x >> /w/n; done"]
    runtime.detached("run", "-d", "--bundle", str(bundle.write()), "frz")
    counter = Path(f"/proc/{runtime.state('frz')['pid']}/root/w/n")
    try:
        time.sleep(0.3)
        runtime("pause", "frz")
        frozen = counter.stat().st_size
        time.sleep(1.0)
        assert counter.stat().st_size == frozen
        runtime("resume", "frz")
        time.sleep(1.0)
        assert counter.stat().st_size > frozen > 0
    finally:
        runtime("delete", "--force", "frz")


@pytest.fixture
def loop_fs(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """An ext4 filesystem on a loop device, mounted on the host: (mount point, maj:min)."""
    if not Path("/dev/loop-control").exists():
        subprocess.run(["modprobe", "loop"], check=False)   # a fresh VM has no loop yet
    image = tmp_path / "disk.img"
    with open(image, "wb") as f:
        f.truncate(96 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    dev = subprocess.run(["losetup", "--find", "--show", str(image)], check=True,
                         capture_output=True, text=True).stdout.strip()
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    try:
        subprocess.run(["mount", dev, str(mnt)], check=True)
        try:
            st = os.stat(dev)
            yield mnt, f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
        finally:
            subprocess.run(["umount", str(mnt)], check=True)
    finally:
        subprocess.run(["losetup", "-d", dev], check=True)


def _throttled_write(runtime: RuntimeCLI, bundle: Bundle, loop: tuple[Path, str],
                     command: str) -> float:
    mnt, majmin = loop
    major, minor = (int(x) for x in majmin.split(":"))
    bundle.linux["resources"]["blockIO"] = {
        "throttleWriteBpsDevice": [{"major": major, "minor": minor, "rate": 1 << 20}]}
    bundle.config["mounts"].append({"destination": "/data", "type": "bind",
                                    "source": str(mnt), "options": ["rbind"]})
    bundle.process["args"] = ["sh", "-c", command]
    start = time.monotonic()
    proc = runtime.run(bundle)
    assert "8388608 bytes" in proc.stderr or "8.0MB" in proc.stderr or proc.returncode == 0
    return time.monotonic() - start


def test_direct_io_write_is_throttled(runtime: RuntimeCLI, bundle: Bundle,
                                      loop_fs: tuple[Path, str]) -> None:
    elapsed = _throttled_write(runtime, bundle, loop_fs,
                               "dd if=/dev/zero of=/data/f bs=1M count=8 oflag=direct")
    assert elapsed >= 6, f"8 MiB at 1 MiB/s took only {elapsed:.1f} s"


@pytest.mark.only_v2   # v1 blkio cannot throttle buffered writes: the warning test below
def test_buffered_write_is_throttled_on_v2(runtime: RuntimeCLI, bundle: Bundle,
                                           loop_fs: tuple[Path, str]) -> None:
    elapsed = _throttled_write(runtime, bundle, loop_fs,
                               "dd if=/dev/zero of=/data/f bs=1M count=8 conv=fsync")
    assert elapsed >= 6, f"8 MiB of buffered writes at 1 MiB/s took only {elapsed:.1f} s"


@pytest.mark.only_v1
def test_v1_warns_that_buffered_writes_escape(runtime: RuntimeCLI, bundle: Bundle) -> None:
    bundle.linux["resources"]["blockIO"] = {
        "throttleWriteBpsDevice": [{"major": 7, "minor": 0, "rate": 1 << 20}]}
    proc = runtime.run(bundle)
    assert "buffered writes" in proc.stderr and "escape" in proc.stderr
