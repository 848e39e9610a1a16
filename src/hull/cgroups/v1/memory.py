"""v1 memory: limit, memory+swap, reservation, swappiness, OOM killer; usage and OOM counts."""

from __future__ import annotations

import os

from hull.cgroups.files import read_int, read_keyed, write
from hull.cgroups.resources import Memory
from hull.cgroups.stats import MemoryStats
from hull.errors import InvalidArgument, Unavailable

UNLIMITED = -1


def apply(d: str, mem: Memory) -> None:
    if mem.kernel is not None or mem.kernel_tcp is not None:
        _kernel_limits(d, mem)
    if mem.limit is not None or mem.swap is not None:
        _limits(d, mem)
    if mem.reservation is not None:
        write(d, "memory.soft_limit_in_bytes", mem.reservation)
    if mem.swappiness is not None:
        write(d, "memory.swappiness", mem.swappiness)
    if mem.disable_oom_killer:
        write(d, "memory.oom_control", 1)
    if mem.use_hierarchy is not None:
        try:
            write(d, "memory.use_hierarchy", int(mem.use_hierarchy))
        except InvalidArgument:
            pass   # fixed at 1 since Linux 6.x; the kernel refuses any write


def _limits(d: str, mem: Memory) -> None:
    limit = mem.limit if mem.limit is not None else read_int(d, "memory.limit_in_bytes")
    swap = mem.swap
    if swap is not None and swap != UNLIMITED and mem.limit is not None and mem.limit != -1 \
            and swap < mem.limit:
        raise InvalidArgument(f"linux.resources.memory.swap: {swap} is below the memory "
                              f"limit {mem.limit} (on cgroup v1 swap means memory+swap)")
    if mem.check_before_update and mem.limit not in (None, -1):
        usage = read_int(d, "memory.usage_in_bytes")
        if usage > limit:
            raise InvalidArgument(f"linux.resources.memory.limit: {limit} is below the "
                                  f"current usage {usage}")
    has_swap = os.path.exists(f"{d}/memory.memsw.limit_in_bytes")
    if swap is not None and not has_swap:
        if swap != UNLIMITED and swap != limit:
            raise Unavailable("linux.resources.memory.swap: this kernel has no swap accounting "
                              "(memory.memsw.*)")
        swap = None
    # memsw must stay >= limit at every step, so the order depends on the direction
    current_memsw = read_int(d, "memory.memsw.limit_in_bytes") if has_swap else None
    if swap is not None and current_memsw is not None and (swap == UNLIMITED or
                                                           (limit != -1 and swap > current_memsw)):
        write(d, "memory.memsw.limit_in_bytes", swap)
        swap = None
    if mem.limit is not None:
        write(d, "memory.limit_in_bytes", mem.limit)
    if swap is not None:
        write(d, "memory.memsw.limit_in_bytes", swap)


def _kernel_limits(d: str, mem: Memory) -> None:
    for name, value in (("memory.kmem.limit_in_bytes", mem.kernel),
                        ("memory.kmem.tcp.limit_in_bytes", mem.kernel_tcp)):
        if value is None:
            continue
        if not os.path.exists(f"{d}/{name}"):
            # removed from Linux 5.16 (kmem) and never on v2: say so instead of ignoring it
            raise Unavailable(f"linux.resources.memory: {name} is not supported by this kernel")
        write(d, name, value)



def stats(d: str, out: MemoryStats) -> None:
    out.usage = read_int(d, "memory.usage_in_bytes")
    out.max_usage = read_int(d, "memory.max_usage_in_bytes")
    out.limit = read_int(d, "memory.limit_in_bytes")
    out.failcnt = read_int(d, "memory.failcnt")
    out.swap_usage = read_int(d, "memory.memsw.usage_in_bytes")
    out.swap_limit = read_int(d, "memory.memsw.limit_in_bytes")
    out.raw = read_keyed(d, "memory.stat")
    out.cache = out.raw.get("cache", 0)


def oom_kills(d: str) -> int:
    return read_keyed(d, "memory.oom_control").get("oom_kill", 0)
