"""The v1 (and hybrid) driver: one directory per mounted hierarchy, the same relative path in
each, as the seeds describe ("create a directory under each subsystem, write the PID")."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from hull.cgroups import files
from hull.cgroups.hierarchy import (
    CGROUP_ROOT,
    destroy_dirs,
    mounted_hierarchies,
    own_cgroups,
    resolve,
)
from hull.cgroups.resources import Resources
from hull.cgroups.stats import CgroupStats
from hull.cgroups.v1 import blkio, cpu, cpuset, devices, freezer, hugetlb, memory, net, pids
from hull.errors import InvalidArgument, Unavailable

UNIFIED = "unified"   # key of the controller-less v2 hierarchy on hybrid hosts


def locate(cgroups_path: str, container_id: str) -> dict[str, Path]:
    """Directory per controller key for a container's cgroupsPath on this host."""
    own = own_cgroups()
    out: dict[str, Path] = {}
    for h in mounted_hierarchies():
        if not str(h.mountpoint).startswith(CGROUP_ROOT + "/"):
            continue
        keys = list(h.controllers) if h.version == 1 else [UNIFIED]
        if h.version == 2 and h.mountpoint != Path(CGROUP_ROOT, UNIFIED):
            continue
        if any(k in out for k in keys):
            continue
        cg = resolve(cgroups_path, container_id, own.get(keys[0] if h.version == 1 else "", "/"))
        rel = cg[len(h.root):] if h.root != "/" and cg.startswith(h.root) else cg
        for key in keys:
            out[key] = h.mountpoint / rel.lstrip("/")
    return out


class V1Driver:
    def __init__(self, dirs: dict[str, Path], created: list[Path] | None = None) -> None:
        self.dirs = dirs
        self.created: list[Path] = created or []

    def _unique(self) -> list[Path]:
        return list(dict.fromkeys(self.dirs.values()))

    def _need(self, controller: str, what: str) -> Path:
        if controller not in self.dirs:
            raise Unavailable(f"linux.resources.{what}: the {controller} cgroup controller is "
                              "not mounted on this host")
        return self.dirs[controller]

    def create(self) -> None:
        for d in self._unique():
            missing = []
            p = d
            while not p.exists():
                missing.append(p)
                p = p.parent
            for m in reversed(missing):
                try:
                    m.mkdir()
                except FileExistsError:
                    continue
                self.created.append(m)
        cs = self.dirs.get("cpuset")
        for m in self.created:   # top-down, so each level inherits from a filled parent
            if cs is not None and cs.is_relative_to(m):
                cpuset.inherit(m)

    def add_process(self, pid: int) -> None:
        for d in self._unique():
            files.write(d, "cgroup.procs", pid)

    def apply(self, res: Resources) -> None:
        if res.unified:
            raise InvalidArgument("linux.resources.unified: needs a cgroup v2 host; "
                                  "this host's controllers are on cgroup v1")
        if cpu.wanted(res.cpu):
            cpu.apply(self._need("cpu", "cpu"), res.cpu)
        if res.cpu.cpus is not None or res.cpu.mems is not None:
            cpuset.apply(self._need("cpuset", "cpu.cpus"), res.cpu)
        if memory.wanted(res.memory):
            memory.apply(self._need("memory", "memory"), res.memory)
        if res.pids_limit is not None:
            pids.apply(self._need("pids", "pids"), res.pids_limit)
        if blkio.wanted(res.block_io):
            blkio.apply(self._need("blkio", "blockIO"), res.block_io)
        if res.devices:
            devices.apply(self._need("devices", "devices"), res.devices)
        if res.hugepage_limits:
            hugetlb.apply(self._need("hugetlb", "hugepageLimits"), res.hugepage_limits)
        if res.net_class_id is not None:
            net.apply_classid(self._need("net_cls", "network.classID"), res.net_class_id)
        if res.net_priorities:
            net.apply_priorities(self._need("net_prio", "network.priorities"),
                                 res.net_priorities)

    def freeze(self, frozen: bool) -> None:
        freezer.set_state(self._need("freezer", "freezer"), frozen)

    def frozen(self) -> bool:
        d = self.dirs.get("freezer")
        try:
            return d is not None and freezer.is_frozen(d)
        except OSError:
            return False

    def pids(self) -> list[int]:
        for key in ("pids", "freezer", "memory", "cpu", UNIFIED):
            if key in self.dirs:
                return files.read_pids(self.dirs[key])
        return []

    def kill_all(self, sig: int) -> None:
        kill_file = self.dirs.get(UNIFIED, Path("/nonexistent")) / "cgroup.kill"
        if sig == signal.SIGKILL and kill_file.exists():
            files.write(kill_file.parent, "cgroup.kill", 1)
            return
        # freeze first so nothing forks between reading the list and signalling it
        can_freeze = "freezer" in self.dirs
        if can_freeze:
            self.freeze(True)
        try:
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        finally:
            if can_freeze:
                self.freeze(False)

    def stats(self) -> CgroupStats:
        st = CgroupStats()
        if "cpu" in self.dirs:
            cpu.throttling(self.dirs["cpu"], st.cpu)
        if "cpuacct" in self.dirs:
            cpu.usage(self.dirs["cpuacct"], st.cpu)
        if "memory" in self.dirs:
            memory.stats(self.dirs["memory"], st.memory)
            st.oom_kills = memory.oom_kills(self.dirs["memory"])
        if "pids" in self.dirs:
            st.pids_current = files.read_int(self.dirs["pids"], "pids.current")
            st.pids_limit = max(0, files.read_int(self.dirs["pids"], "pids.max"))
        if "blkio" in self.dirs:
            d = self.dirs["blkio"]
            st.io_service_bytes = blkio.entries(d, "blkio.throttle.io_service_bytes")
            st.io_serviced = blkio.entries(d, "blkio.throttle.io_serviced")
        return st

    def oom_kills(self) -> int:
        d = self.dirs.get("memory")
        return memory.oom_kills(d) if d else 0

    def paths(self) -> dict[str, Path]:
        return dict(self.dirs)

    def destroy(self) -> None:
        destroy_dirs(self._unique(), self.created)
