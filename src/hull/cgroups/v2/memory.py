"""v2 memory: max, low, swap.max (OCI swap is memory+swap; v2's is swap alone); OOM events."""

from __future__ import annotations

from hull.cgroups.files import read_int, read_keyed, write
from hull.cgroups.resources import Memory
from hull.cgroups.stats import MemoryStats
from hull.errors import InvalidArgument, Unavailable


def _v2(value: int) -> str | int:
    return "max" if value == -1 else value


def apply(d: str, mem: Memory) -> None:
    if mem.kernel is not None or mem.kernel_tcp is not None:
        raise Unavailable("linux.resources.memory.kernel/kernelTCP: cgroup v2 has no "
                          "separate kernel memory limit")
    if mem.swappiness is not None:
        raise Unavailable("linux.resources.memory.swappiness: not available on cgroup v2")
    if mem.disable_oom_killer:
        raise Unavailable("linux.resources.memory.disableOOMKiller: not available on cgroup v2")
    if mem.swap is not None:
        if mem.swap == -1:
            swap: int | str = "max"
        elif mem.limit is None or mem.limit == -1:
            raise InvalidArgument("linux.resources.memory.swap: needs memory.limit on cgroup v2")
        elif mem.swap < mem.limit:
            raise InvalidArgument(f"linux.resources.memory.swap: {mem.swap} is below the "
                                  f"memory limit {mem.limit} (OCI swap is memory+swap)")
        else:
            swap = mem.swap - mem.limit
        write(d, "memory.swap.max", swap)
    if mem.limit is not None:
        if mem.check_before_update and mem.limit != -1:
            usage = read_int(d, "memory.current")
            if usage > mem.limit:
                raise InvalidArgument(f"linux.resources.memory.limit: {mem.limit} is below "
                                      f"the current usage {usage}")
        write(d, "memory.max", _v2(mem.limit))
    if mem.reservation is not None:
        write(d, "memory.low", _v2(mem.reservation))


def stats(d: str, out: MemoryStats) -> None:
    out.usage = read_int(d, "memory.current")
    out.max_usage = read_int(d, "memory.peak")
    out.limit = read_int(d, "memory.max")
    out.swap_usage = read_int(d, "memory.swap.current")
    out.swap_limit = read_int(d, "memory.swap.max")
    out.failcnt = read_keyed(d, "memory.events").get("max", 0)
    out.raw = read_keyed(d, "memory.stat")
    out.cache = out.raw.get("file", 0)


def oom_kills(d: str) -> int:
    return read_keyed(d, "memory.events").get("oom_kill", 0)
