"""hull-runtime on a real cgroup v2 host (scripts/cgroup2-tests boots one): resources land
in the unified files, the eBPF device filter enforces the device list, freeze and kill use
cgroup.freeze and cgroup.kill, and stats come from the v2 accounting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import Bundle, RuntimeCLI

pytestmark = [pytest.mark.root, pytest.mark.cgroup_v2]


def cg(bundle: Bundle) -> Path:
    return Path("/sys/fs/cgroup") / bundle.linux["cgroupsPath"].lstrip("/")


def test_resources_in_unified_files(runtime: RuntimeCLI, bundle: Bundle) -> None:
    bundle.linux["resources"].update(
        memory={"limit": 64 << 20, "reservation": 32 << 20, "swap": 96 << 20},
        cpu={"shares": 1024, "quota": 20000, "period": 100000, "cpus": "0"},
        pids={"limit": 30}, unified={"memory.high": str(60 << 20)})
    bundle.process["args"] = ["sh", "-c", "cat /sys/fs/cgroup/memory.max "
                              "/sys/fs/cgroup/memory.swap.max /sys/fs/cgroup/cpu.max "
                              "/sys/fs/cgroup/cpu.weight /sys/fs/cgroup/pids.max "
                              "/sys/fs/cgroup/memory.high /sys/fs/cgroup/memory.low "
                              "/sys/fs/cgroup/cpuset.cpus"]
    out = runtime.run(bundle).stdout.split()
    assert out == [str(64 << 20), str(32 << 20), "20000", "100000", "39", "30",
                   str(60 << 20), str(32 << 20), "0"]


def test_device_filter(runtime: RuntimeCLI, bundle: Bundle) -> None:
    caps = ["CAP_MKNOD", "CAP_DAC_OVERRIDE"]
    bundle.process["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted")}
    bundle.process["args"] = ["sh", "-c", "mknod /dev/z2 c 1 5 && head -c 2 /dev/z2 | wc -c; "
                              "mknod /dev/lc c 10 237 && (cat /dev/lc 2>&1 || true); "
                              "mknod /dev/sda-like b 8 0 && (head -c 1 /dev/sda-like 2>&1 "
                              "|| true)"]
    out = runtime.run(bundle).stdout.splitlines()
    assert out[0] == "2"
    assert "Operation not permitted" in out[1]
    assert "Operation not permitted" in out[2]


def test_freeze_kill_stats_update_delete(runtime: RuntimeCLI, bundle: Bundle) -> None:
    bundle.process["args"] = ["sh", "-c", "sleep 300 & sleep 300 & wait"]
    bundle.linux["resources"]["memory"] = {"limit": 64 << 20}
    runtime.detached("run", "-d", "--bundle", str(bundle.write()), "v2")
    runtime("pause", "v2")
    assert runtime.state("v2")["status"] == "paused"
    assert "frozen 1" in (cg(bundle) / "cgroup.events").read_text()
    runtime("resume", "v2")
    assert runtime.state("v2")["status"] == "running"
    runtime("update", "--memory", "128m", "v2")
    assert (cg(bundle) / "memory.max").read_text().strip() == str(128 << 20)
    stats = json.loads(runtime("events", "--stats", "v2").stdout)["data"]
    assert stats["memory"]["usage"]["limit"] == 128 << 20
    assert stats["pids"]["current"] == 3
    runtime("kill", "--all", "v2", "KILL")
    for _ in range(200):
        if runtime.state("v2")["status"] == "stopped":
            break
    runtime("delete", "v2")
    assert not cg(bundle).exists()
