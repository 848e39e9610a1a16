"""v2 cpu and cpuset: weight (converted from OCI shares), cpu.max, burst, idle; usage."""

from __future__ import annotations

from hull.cgroups.files import read, read_keyed, write
from hull.cgroups.resources import Cpu
from hull.cgroups.stats import CpuStats
from hull.errors import Unavailable


def shares_to_weight(shares: int) -> int:
    """Map v1 shares [2, 262144] onto v2 weight [1, 10000] linearly, as runc and crun do."""
    if shares == 0:
        return 0
    return 1 + ((shares - 2) * 9999) // 262142


def apply(d: str, cpu: Cpu) -> None:
    if cpu.shares:
        write(d, "cpu.weight", shares_to_weight(cpu.shares))
    if cpu.quota is not None or cpu.period is not None:
        quota: int | str = "max" if cpu.quota is None or cpu.quota < 0 else cpu.quota
        if cpu.period is None:
            period = read(d, "cpu.max").split()[1]
            write(d, "cpu.max", f"{quota} {period}")
        else:
            write(d, "cpu.max", f"{quota} {cpu.period}")
    if cpu.burst is not None:
        write(d, "cpu.max.burst", cpu.burst)
    if cpu.idle is not None:
        write(d, "cpu.idle", cpu.idle)
    if cpu.realtime_runtime or cpu.realtime_period:
        raise Unavailable("linux.resources.cpu.realtime*: cgroup v2 has no realtime "
                          "CPU controller")
    if cpu.cpus is not None:
        write(d, "cpuset.cpus", cpu.cpus)
    if cpu.mems is not None:
        write(d, "cpuset.mems", cpu.mems)


def stats(d: str, out: CpuStats) -> None:
    st = read_keyed(d, "cpu.stat")
    out.usage_total = st.get("usage_usec", 0) * 1000
    out.usage_user = st.get("user_usec", 0) * 1000
    out.usage_kernel = st.get("system_usec", 0) * 1000
    out.periods = st.get("nr_periods", 0)
    out.throttled_periods = st.get("nr_throttled", 0)
    out.throttled_time = st.get("throttled_usec", 0) * 1000
