"""What a cgroup has accounted, in one shape for v1 and v2 (runc's events --stats fields)."""

from __future__ import annotations

from hull.record import field, record, to_dict

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


@record
class CpuStats:
    usage_total: int = 0           # ns
    usage_user: int = 0            # ns
    usage_kernel: int = 0          # ns
    usage_percpu: list[int] = field(default_factory=list)
    periods: int = 0
    throttled_periods: int = 0
    throttled_time: int = 0        # ns


@record
class MemoryStats:
    usage: int = 0
    max_usage: int = 0
    limit: int = 0
    failcnt: int = 0
    swap_usage: int = 0
    swap_limit: int = 0
    cache: int = 0
    raw: dict[str, int] = field(default_factory=dict)


@record
class BlkioEntry:
    major: int
    minor: int
    op: str
    value: int


@record
class CgroupStats:
    cpu: CpuStats = field(default_factory=CpuStats)
    memory: MemoryStats = field(default_factory=MemoryStats)
    pids_current: int = 0
    pids_limit: int = 0
    io_service_bytes: list[BlkioEntry] = field(default_factory=list)
    io_serviced: list[BlkioEntry] = field(default_factory=list)
    hugetlb: dict[str, dict[str, int]] = field(default_factory=dict)
    oom_kills: int = 0

    def to_runc(self) -> dict[str, Any]:
        """The `data` object of `runc events --stats`."""
        def blk(entries: list[BlkioEntry]) -> list[dict[str, Any]]:
            return [to_dict(e) for e in entries]
        return {
            "cpu": {
                "usage": {"total": self.cpu.usage_total, "percpu": self.cpu.usage_percpu,
                          "kernel": self.cpu.usage_kernel, "user": self.cpu.usage_user},
                "throttling": {"periods": self.cpu.periods,
                               "throttledPeriods": self.cpu.throttled_periods,
                               "throttledTime": self.cpu.throttled_time},
            },
            "memory": {
                "usage": {"limit": self.memory.limit, "usage": self.memory.usage,
                          "max": self.memory.max_usage, "failcnt": self.memory.failcnt},
                "swap": {"limit": self.memory.swap_limit, "usage": self.memory.swap_usage},
                "cache": self.memory.cache,
                "raw": self.memory.raw,
            },
            "pids": {"current": self.pids_current, "limit": self.pids_limit},
            "blkio": {"ioServiceBytesRecursive": blk(self.io_service_bytes),
                      "ioServicedRecursive": blk(self.io_serviced)},
            "hugetlb": self.hugetlb,
        }
