"""Bad bundles and requests: a one-line error naming the field, a non-zero exit, and nothing
left behind (no state directory, cgroup, mount or process; the fixtures check all four)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import Bundle, RuntimeCLI, leftover_cgroups, one_problem

pytestmark = pytest.mark.root

Edit = Callable[[dict[str, Any]], None]


def _ns(kind: str) -> Edit:
    return lambda c: c["linux"]["namespaces"].append({"type": kind})


CASES: list[tuple[str, Edit, str]] = [
    ("unknown namespace", _ns("bogus"), "linux.namespaces[6].type"),
    ("duplicate namespace", _ns("pid"), "duplicate namespace"),
    ("relative root", lambda c: c["root"].update(path="no/such/dir"), "root.path"),
    ("missing root", lambda c: c.pop("root"), "root.path"),
    ("bad id mapping", lambda c: (c["linux"]["namespaces"].append({"type": "user"}),
                                  c["linux"].update(uidMappings=[{"containerID": 0,
                                                                  "hostID": 0, "size": 0}],
                                                    gidMappings=[])), "linux.uidMappings"),
    ("unknown capability", lambda c: c["process"]["capabilities"]["bounding"].append(
        "CAP_FLY"), "unknown capability 'CAP_FLY'"),
    ("relative cwd", lambda c: c["process"].update(cwd="tmp"), "process.cwd"),
    ("empty args", lambda c: c["process"].update(args=[]), "process.args"),
    ("bad rlimit", lambda c: c["process"].update(rlimits=[{"type": "RLIMIT_BOGUS", "soft": 1,
                                                           "hard": 1}]), "RLIMIT_BOGUS"),
    ("bad seccomp action", lambda c: c["linux"].update(seccomp={"defaultAction": "SCMP_NOPE"}),
     "linux.seccomp.defaultAction"),
    ("namespace path missing", lambda c: c["linux"]["namespaces"].__setitem__(
        0, {"type": "pid", "path": "/proc/999999999/ns/pid"}), "linux.namespaces[0].path"),
    ("cpu quota too small", lambda c: c["linux"]["resources"].update(cpu={"quota": 10}),
     "linux.resources.cpu.quota"),
    ("bad device type", lambda c: c["linux"]["resources"]["devices"].append(
        {"allow": True, "type": "x"}), "linux.resources.devices[1].type"),
    ("unified on v1", lambda c: c["linux"]["resources"].update(unified={"memory.max": "1"}),
     "linux.resources.unified"),
    ("hook relative path", lambda c: c.update(hooks={"prestart": [{"path": "x"}]}),
     "hooks.prestart[0].path"),
    ("old oci version", lambda c: c.update(ociVersion="0.9"), "ociVersion"),
    ("negative shares", lambda c: c["linux"]["resources"].update(cpu={"shares": -5}),
     "linux.resources.cpu.shares: -5 is below the minimum 0"),
    ("period out of range", lambda c: c["linux"]["resources"].update(cpu={"period": 5000000}),
     "linux.resources.cpu.period"),
    ("missing controller", lambda c: c["linux"]["resources"].update(
        hugepageLimits=[{"pageSize": "2MB", "limit": 1 << 21}]), "hugetlb"),
    ("bad cpuset list", lambda c: c["linux"]["resources"].update(cpu={"cpus": "1-x"}),
     "linux.resources.cpu.cpus"),
    ("intel rdt absent", lambda c: c["linux"].update(intelRdt={"closID": "x"}),
     "linux.intelRdt"),
    ("notify without listener", lambda c: c["linux"].update(seccomp={
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
     "linux.seccomp.listenerPath"),
]


@pytest.mark.parametrize("edit,field", [(e, f) for _, e, f in CASES],
                         ids=[name for name, _, _ in CASES])
def test_invalid_config(runtime: RuntimeCLI, bundle: Bundle, edit: Edit, field: str) -> None:
    edit(bundle.config)
    proc = runtime.run(bundle, check=False)
    assert proc.returncode != 0
    assert field in proc.stderr
    assert one_problem(proc.stderr), proc.stderr
    assert "Traceback" not in proc.stderr
    assert runtime.ids() == []
    assert not leftover_cgroups(bundle.linux.get("cgroupsPath", "/nonexistent"))


def test_malformed_json(runtime: RuntimeCLI, bundle: Bundle) -> None:
    bundle.write()
    (bundle.path / "config.json").write_text("{not json")
    proc = runtime("run", "--bundle", str(bundle.path), "t", check=False)
    assert proc.returncode != 0 and "malformed JSON" in proc.stderr


def test_missing_bundle(runtime: RuntimeCLI, tmp_path: Path) -> None:
    proc = runtime("run", "--bundle", str(tmp_path / "nope"), "t", check=False)
    assert proc.returncode != 0 and "no such directory" in proc.stderr


@pytest.mark.parametrize("cid", ["a/b", "..", "", "with space", "x\ny"])
def test_invalid_container_id(runtime: RuntimeCLI, bundle: Bundle, cid: str) -> None:
    proc = runtime("create", "--bundle", str(bundle.write()), cid, check=False)
    assert proc.returncode != 0 and "invalid container ID" in proc.stderr


def test_id_that_exists(runtime: RuntimeCLI, bundle: Bundle) -> None:
    bundle.process["args"] = ["sleep", "30"]
    runtime.detached("create", "--bundle", str(bundle.write()), "dup")
    proc = runtime("create", "--bundle", str(bundle.path), "dup", check=False)
    assert proc.returncode != 0 and "already exists" in proc.stderr
    assert runtime.state("dup")["status"] == "created"   # the first one is untouched
    runtime("delete", "--force", "dup")


def test_error_is_logged_as_json_for_the_shim(runtime: RuntimeCLI, bundle: Bundle,
                                              tmp_path: Path) -> None:
    bundle.process["args"] = ["/no/such/binary"]
    log = tmp_path / "log.json"
    proc = runtime("--log", str(log), "--log-format", "json", "run", "--bundle",
                   str(bundle.write()), "t", check=False)
    assert proc.returncode == 127
    last = json.loads(log.read_text().splitlines()[-1])
    assert last["level"] == "error" and "/no/such/binary" in last["msg"]


def test_systemd_cgroup_not_supported(runtime: RuntimeCLI, bundle: Bundle) -> None:
    proc = runtime("--systemd-cgroup", "run", "--bundle", str(bundle.write()), "t",
                   check=False)
    assert proc.returncode != 0 and "systemd cgroup driver is not supported" in proc.stderr
