"""The v2 driver: one directory, controllers enabled down the path through subtree_control."""

from __future__ import annotations

import os
import time
from contextlib import suppress

from hull.cgroups import files
from hull.cgroups.hierarchy import (
    CGROUP_ROOT,
    destroy_dirs,
    missing_dirs,
    own_cgroups,
    resolve,
)
from hull.cgroups.resources import Resources
from hull.cgroups.stats import CgroupStats
from hull.cgroups.v1 import pids as pids_ctl
from hull.cgroups.v2 import cpu, io, memory
from hull.errors import Unavailable


def locate(cgroups_path: str, container_id: str, root: str = CGROUP_ROOT) -> str:
    rel = resolve(cgroups_path, container_id, own_cgroups().get("", "/"))
    return os.path.join(root, rel.lstrip("/")).rstrip("/")


class V2Driver:
    def __init__(self, path: str, created: list[str] | None = None,
                 root: str = CGROUP_ROOT) -> None:
        self.path = path
        self.root = root
        self.created: list[str] = created or []

    def plan(self) -> None:
        """Name, before making them, the directories create() will make (see V1Driver)."""
        self.created = missing_dirs(self.path)

    def create(self) -> None:
        if not self.created:
            self.plan()
        # delegate every available controller from the first existing ancestor downwards
        for m in self.created:
            _enable_controllers(os.path.dirname(m))
            with suppress(FileExistsError):
                os.mkdir(m)
        if not self.created:
            _enable_controllers(os.path.dirname(self.path))

    def add_process(self, pid: int) -> None:
        files.write(self.path, "cgroup.procs", pid)

    def _need(self, controller: str, what: str) -> None:
        if controller not in files.read(self.path, "cgroup.controllers").split():
            raise Unavailable(f"linux.resources.{what}: the {controller} controller is not "
                              f"enabled for {self.path}")

    def apply(self, res: Resources) -> None:
        c = res.cpu
        if any(v is not None for v in (c.shares, c.quota, c.period, c.burst, c.idle)):
            self._need("cpu", "cpu")
        if c.cpus is not None or c.mems is not None:
            self._need("cpuset", "cpu.cpus")
        cpu.apply(self.path, c)
        if res.memory.any_set():
            self._need("memory", "memory")
            memory.apply(self.path, res.memory)
        if res.pids_limit is not None:
            self._need("pids", "pids")
            pids_ctl.apply(self.path, res.pids_limit)
        b = res.block_io
        if b.weight or b.weight_device or b.throttle_read_bps or b.throttle_write_bps \
                or b.throttle_read_iops or b.throttle_write_iops:
            self._need("io", "blockIO")
            io.apply(self.path, b)
        for size, limit in res.hugepage_limits.items():
            files.write(self.path, f"hugetlb.{size}.max", limit)
        if res.devices:
            from hull.cgroups.v2 import devices
            devices.apply(self.path, res.devices)
        for key, value in res.unified.items():
            if "/" in key or key.startswith("cgroup."):
                raise Unavailable(f"linux.resources.unified: {key!r} is not a resource file")
            files.write(self.path, key, value)

    def freeze(self, frozen: bool) -> None:
        files.write(self.path, "cgroup.freeze", int(frozen))
        for _ in range(2000):
            if self.frozen() == frozen:
                return
            time.sleep(0.001)
        raise TimeoutError(f"{self.path}: did not reach frozen={frozen}")

    def frozen(self) -> bool:
        return files.read_keyed(self.path, "cgroup.events").get("frozen", 0) == 1

    def pids(self) -> list[int]:
        return files.read_pids(self.path)

    def kill_all(self, sig: int) -> None:
        if sig == 9 and os.path.exists(f"{self.path}/cgroup.kill"):
            files.write(self.path, "cgroup.kill", 1)
            return
        self.freeze(True)
        try:
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        finally:
            self.freeze(False)

    def stats(self) -> CgroupStats:
        st = CgroupStats()
        cpu.stats(self.path, st.cpu)
        memory.stats(self.path, st.memory)
        st.oom_kills = memory.oom_kills(self.path)
        st.pids_current = files.read_int(self.path, "pids.current")
        st.pids_limit = max(0, files.read_int(self.path, "pids.max"))
        st.io_service_bytes, st.io_serviced = io.entries(self.path)
        for name in os.listdir(self.path):
            if name.startswith("hugetlb.") and name.endswith(".current"):
                size = name[len("hugetlb."):-len(".current")]
                st.hugetlb[size] = {
                    "usage": files.read_int(self.path, name),
                    "max": files.read_int(self.path, f"hugetlb.{size}.max"),
                    "failcnt": files.read_keyed(self.path, f"hugetlb.{size}.events").get("max", 0)}
        return st

    def oom_kills(self) -> int:
        return memory.oom_kills(self.path)

    def paths(self) -> dict[str, str]:
        return {"": self.path}

    def destroy(self) -> None:
        destroy_dirs([self.path], self.created)


def _enable_controllers(parent: str) -> None:
    """Delegate to children every controller the parent has and has not yet enabled."""
    try:
        available = files.read(parent, "cgroup.controllers").split()
        enabled = set(files.read(parent, "cgroup.subtree_control").split())
    except OSError:
        return
    todo = [c for c in available if c not in enabled]
    if todo:
        try:
            files.write(parent, "cgroup.subtree_control", " ".join("+" + c for c in todo))
        except Exception:
            # a cgroup with processes cannot delegate (no internal processes rule)
            pass
