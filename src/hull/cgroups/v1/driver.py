"""The v1 (and hybrid) driver: one directory per mounted hierarchy, the same relative path in
each, as the seeds describe ("create a directory under each subsystem, write the PID")."""

from __future__ import annotations

import os
from contextlib import suppress

from hull.cgroups import files
from hull.cgroups.hierarchy import (
    CGROUP_ROOT,
    destroy_dirs,
    missing_dirs,
    mounted_hierarchies,
    own_cgroups,
    resolve,
)
from hull.cgroups.resources import Resources
from hull.errors import InvalidArgument, Unavailable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hull.cgroups.stats import CgroupStats

UNIFIED = "unified"   # key of the controller-less v2 hierarchy on hybrid hosts


def locate(cgroups_path: str, container_id: str) -> dict[str, str]:
    """Directory per controller key for a container's cgroupsPath on this host."""
    own = own_cgroups()
    out: dict[str, str] = {}
    for h in mounted_hierarchies():
        if not h.mountpoint.startswith(CGROUP_ROOT + "/"):
            continue
        keys = list(h.controllers) if h.version == 1 else [UNIFIED]
        if h.version == 2 and h.mountpoint != f"{CGROUP_ROOT}/{UNIFIED}":
            continue
        if any(k in out for k in keys):
            continue
        cg = resolve(cgroups_path, container_id, own.get(keys[0] if h.version == 1 else "", "/"))
        rel = cg[len(h.root):] if h.root != "/" and cg.startswith(h.root) else cg
        for key in keys:
            out[key] = os.path.join(h.mountpoint, rel.lstrip("/")).rstrip("/")
    return out


class V1Driver:
    def __init__(self, dirs: dict[str, str], created: list[str] | None = None) -> None:
        self.dirs = dirs
        self.created: list[str] = created or []

    def _unique(self) -> list[str]:
        return list(dict.fromkeys(self.dirs.values()))

    def _need(self, controller: str, what: str) -> str:
        if controller not in self.dirs:
            raise Unavailable(f"linux.resources.{what}: the {controller} cgroup controller is "
                              "not mounted on this host")
        return self.dirs[controller]

    def plan(self) -> None:
        """Name, before making them, the directories create() will make: a record saved
        in between lets a later delete remove them even if create is killed midway."""
        self.created = list(dict.fromkeys(m for d in self._unique() for m in missing_dirs(d)))

    def create(self) -> None:
        if not self.created:
            self.plan()
        for m in self.created:
            with suppress(FileExistsError):
                os.mkdir(m)
        cs = self.dirs.get("cpuset")
        for m in self.created:   # top-down, so each level inherits from a filled parent
            if cs is not None and (cs == m or cs.startswith(m + "/")):
                from hull.cgroups.v1 import cpuset
                cpuset.inherit(m)

    def add_process(self, pid: int) -> None:
        for d in self._unique():
            files.write(d, "cgroup.procs", pid)

    def apply(self, res: Resources) -> None:
        # controller modules load only when their resource is asked for: start-up cost
        if res.unified:
            raise InvalidArgument("linux.resources.unified: needs a cgroup v2 host; "
                                  "this host's controllers are on cgroup v1")
        if res.cpu.scheduler_set():
            from hull.cgroups.v1 import cpu
            cpu.apply(self._need("cpu", "cpu"), res.cpu)
        if res.cpu.cpus is not None or res.cpu.mems is not None:
            from hull.cgroups.v1 import cpuset
            cpuset.apply(self._need("cpuset", "cpu.cpus"), res.cpu)
        if res.memory.any_set():
            from hull.cgroups.v1 import memory
            memory.apply(self._need("memory", "memory"), res.memory)
        if res.pids_limit is not None:
            from hull.cgroups.v1 import pids
            pids.apply(self._need("pids", "pids"), res.pids_limit)
        if res.block_io.any_set():
            from hull.cgroups.v1 import blkio
            blkio.apply(self._need("blkio", "blockIO"), res.block_io)
        if res.devices:
            from hull.cgroups.v1 import devices
            devices.apply(self._need("devices", "devices"), res.devices)
        if res.hugepage_limits:
            from hull.cgroups.v1 import hugetlb
            hugetlb.apply(self._need("hugetlb", "hugepageLimits"), res.hugepage_limits)
        if res.net_class_id is not None or res.net_priorities:
            from hull.cgroups.v1 import net
            if res.net_class_id is not None:
                net.apply_classid(self._need("net_cls", "network.classID"), res.net_class_id)
            if res.net_priorities:
                net.apply_priorities(self._need("net_prio", "network.priorities"),
                                     res.net_priorities)

    def freeze(self, frozen: bool) -> None:
        from hull.cgroups.v1 import freezer
        freezer.set_state(self._need("freezer", "freezer"), frozen)

    def frozen(self) -> bool:
        from hull.cgroups.v1 import freezer
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
        unified = self.dirs.get(UNIFIED)
        if sig == 9 and unified and os.path.exists(f"{unified}/cgroup.kill"):
            files.write(unified, "cgroup.kill", 1)   # SIGKILL to all at once (Linux 5.14+)
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
        from hull.cgroups.stats import CgroupStats
        from hull.cgroups.v1 import blkio, cpu, memory
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
        if "hugetlb" in self.dirs:
            from hull.cgroups.v1 import hugetlb
            st.hugetlb = hugetlb.stats(self.dirs["hugetlb"])
        if "blkio" in self.dirs:
            d = self.dirs["blkio"]
            st.io_service_bytes = blkio.entries(d, "blkio.throttle.io_service_bytes")
            st.io_serviced = blkio.entries(d, "blkio.throttle.io_serviced")
        return st

    def oom_kills(self) -> int:
        from hull.cgroups.v1 import memory
        d = self.dirs.get("memory")
        return memory.oom_kills(d) if d else 0

    def paths(self) -> dict[str, str]:
        return dict(self.dirs)

    def destroy(self) -> None:
        destroy_dirs(self._unique(), self.created)
