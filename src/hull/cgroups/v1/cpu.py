"""v1 cpu and cpuacct: shares, CFS quota/period/burst, realtime, idle; usage accounting."""

from __future__ import annotations

import os

from hull.cgroups.files import read, read_int, read_keyed, write
from hull.cgroups.resources import Cpu
from hull.cgroups.stats import CpuStats


def apply(d: str, cpu: Cpu) -> None:
    if cpu.shares is not None:
        write(d, "cpu.shares", cpu.shares)
    # the period goes first: the kernel checks quota against the current period
    if cpu.period is not None:
        write(d, "cpu.cfs_period_us", cpu.period)
    if cpu.quota is not None:
        write(d, "cpu.cfs_quota_us", cpu.quota)
    if cpu.burst is not None:
        write(d, "cpu.cfs_burst_us", cpu.burst)
    if cpu.realtime_period is not None:
        write(d, "cpu.rt_period_us", cpu.realtime_period)
    if cpu.realtime_runtime is not None:
        write(d, "cpu.rt_runtime_us", cpu.realtime_runtime)
    if cpu.idle is not None:
        write(d, "cpu.idle", cpu.idle)



def throttling(d: str, stats: CpuStats) -> None:
    st = read_keyed(d, "cpu.stat")
    stats.periods = st.get("nr_periods", 0)
    stats.throttled_periods = st.get("nr_throttled", 0)
    stats.throttled_time = st.get("throttled_time", 0)


def usage(d: str, stats: CpuStats) -> None:
    stats.usage_total = read_int(d, "cpuacct.usage")
    try:
        stats.usage_percpu = [int(x) for x in read(d, "cpuacct.usage_percpu").split()]
    except OSError:
        pass
    ticks = os.sysconf("SC_CLK_TCK")
    st = read_keyed(d, "cpuacct.stat")
    stats.usage_user = st.get("user", 0) * 1_000_000_000 // ticks
    stats.usage_kernel = st.get("system", 0) * 1_000_000_000 // ticks
