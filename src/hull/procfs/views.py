"""The container's own /proc files, computed from its cgroup at each read.

/proc knows nothing of cgroups: inside a container MemTotal is the host's RAM and cpuinfo
lists every CPU of the host, so programs that size heaps and thread pools from them get
OOM-killed or starved (every seed names this). Each function here renders one file the
way the kernel lays it out, with the numbers a machine of the container's size would
show — the fields lxcfs changes, derived the same way where lxcfs is right:

* memory: MemTotal is the limit (the host's RAM when lower or unlimited); MemFree the
  limit minus usage; Cached/Active/Inactive/Shmem/Mapped from memory.stat; MemAvailable
  is MemFree plus the page cache the kernel could drop; Swap from the memory+swap limit.
* CPUs: the cpuset's CPUs, and with a CFS quota no more than ceil(quota/period) of them
  (lxcfs --enable-cfs), numbered from 0 as a machine with that many CPUs would number them;
  /proc/stat's times from the cgroup's CPU accounting (v2 has no per-CPU figure: the total
  is spread over the CPUs), idle is what is left of the container's uptime.
* uptime counts from the container's start; loadavg is the kernel's exponential average,
  fed with the container's own runnable tasks (sampled on each read and every 5 s).
"""

from __future__ import annotations

import math
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

HZ = 100   # USER_HZ: the unit of /proc/stat's times (the kernel fixes it at 100)
KIB = 1024


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _int(path: str, default: int = 0) -> int:
    text = _read(path).strip()
    if not text or text == "max":
        return default
    try:
        return int(text)
    except ValueError:
        return default


def _keyed(path: str) -> dict[str, int]:
    out = {}
    for line in _read(path).splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            out[key] = int(value)
    return out


def cpu_list(text: str) -> list[int]:
    """"0-3,6" → [0, 1, 2, 3, 6]."""
    out: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        low, _, high = part.partition("-")
        out += range(int(low), int(high or low) + 1)
    return out


class Cgroup:
    """The container's cgroup files, on v1 (a directory per controller) or v2 (one)."""

    def __init__(self, paths: dict[str, str]) -> None:
        self.v2 = "" in paths
        self.paths = paths

    def _dir(self, controller: str) -> str:
        return self.paths[""] if self.v2 else self.paths.get(controller, "")

    def memory(self) -> dict[str, int]:
        d = self._dir("memory")
        if self.v2:
            st = _keyed(f"{d}/memory.stat")
            return {"limit": _int(f"{d}/memory.max", 0), "usage": _int(f"{d}/memory.current"),
                    "swap_limit": _int(f"{d}/memory.swap.max", -1),
                    "swap_usage": _int(f"{d}/memory.swap.current"),
                    "cache": st.get("file", 0), "shmem": st.get("shmem", 0),
                    "mapped": st.get("file_mapped", 0), "anon": st.get("anon", 0),
                    "active_anon": st.get("active_anon", 0),
                    "inactive_anon": st.get("inactive_anon", 0),
                    "active_file": st.get("active_file", 0),
                    "inactive_file": st.get("inactive_file", 0),
                    "unevictable": st.get("unevictable", 0),
                    "dirty": st.get("file_dirty", 0), "writeback": st.get("file_writeback", 0),
                    "slab_reclaimable": st.get("slab_reclaimable", 0),
                    "slab_unreclaimable": st.get("slab_unreclaimable", 0),
                    "kernel_stack": st.get("kernel_stack", 0),
                    "pagetables": st.get("pagetables", 0)}
        st = _keyed(f"{d}/memory.stat")
        limit = _int(f"{d}/memory.limit_in_bytes")
        memsw = _int(f"{d}/memory.memsw.limit_in_bytes", -1)
        return {"limit": limit, "usage": _int(f"{d}/memory.usage_in_bytes"),
                "swap_limit": memsw - limit if memsw >= 0 and memsw < 1 << 62 else -1,
                "swap_usage": max(0, _int(f"{d}/memory.memsw.usage_in_bytes")
                                  - _int(f"{d}/memory.usage_in_bytes"))
                if memsw >= 0 else 0,
                "cache": st.get("total_cache", 0), "shmem": st.get("total_shmem", 0),
                "mapped": st.get("total_mapped_file", 0), "anon": st.get("total_rss", 0),
                "active_anon": st.get("total_active_anon", 0),
                "inactive_anon": st.get("total_inactive_anon", 0),
                "active_file": st.get("total_active_file", 0),
                "inactive_file": st.get("total_inactive_file", 0),
                "unevictable": st.get("total_unevictable", 0),
                "dirty": st.get("total_dirty", 0), "writeback": st.get("total_writeback", 0),
                # v1 does not account these per cgroup: the container has none to show
                "slab_reclaimable": 0, "slab_unreclaimable": 0, "kernel_stack": 0,
                "pagetables": 0}

    def cpus(self) -> list[int]:
        """The host CPUs the container may use, cut to what its CFS quota pays for."""
        if self.v2:
            d = self.paths[""]
            cpus = cpu_list(_read(f"{d}/cpuset.cpus.effective")) or _host_cpus()
            quota_text = _read(f"{d}/cpu.max").split()
            quota = int(quota_text[0]) if quota_text and quota_text[0] != "max" else -1
            period = int(quota_text[1]) if len(quota_text) > 1 else 100000
        else:
            cpus = cpu_list(_read(f"{self._dir('cpuset')}/cpuset.effective_cpus")) or \
                _host_cpus()
            quota = _int(f"{self._dir('cpu')}/cpu.cfs_quota_us", -1)
            period = _int(f"{self._dir('cpu')}/cpu.cfs_period_us", 100000) or 100000
        if quota > 0:
            cpus = cpus[:max(1, math.ceil(quota / period))]
        return cpus

    def cpu_times(self, ncpus: int) -> list[tuple[int, int]]:
        """(user, system) in USER_HZ ticks for each of the container's CPUs."""
        if self.v2:
            st = _keyed(f"{self.paths['']}/cpu.stat")
            user = st.get("user_usec", 0) * HZ // 1_000_000
            system = st.get("system_usec", 0) * HZ // 1_000_000
            return [(user // ncpus, system // ncpus)] * ncpus
        d = self._dir("cpuacct")
        percpu = [int(x) for x in _read(f"{d}/cpuacct.usage_percpu").split()]
        split = _keyed(f"{d}/cpuacct.stat")
        user, system = split.get("user", 0), split.get("system", 0)
        share = user / (user + system) if user + system else 1.0
        used = sorted(percpu, reverse=True)[:ncpus] + [0] * ncpus
        return [(int(ns * share * HZ / 1e9), int(ns * (1 - share) * HZ / 1e9))
                for ns in used[:ncpus]]

    def tasks(self) -> list[int]:
        d = self.paths[""] if self.v2 else self._dir("pids") or self._dir("cpu")
        return [int(p) for p in _read(f"{d}/cgroup.threads" if self.v2 else
                                      f"{d}/tasks").split()]

    def io(self) -> dict[tuple[int, int], list[int]]:
        """(major, minor) → [reads, read bytes, writes, written bytes]."""
        out: dict[tuple[int, int], list[int]] = {}
        if self.v2:
            for line in _read(f"{self.paths['']}/io.stat").splitlines():
                dev, *fields = line.split()
                major, minor = (int(x) for x in dev.split(":"))
                kv = dict(f.split("=") for f in fields if "=" in f)
                out[(major, minor)] = [int(kv.get(k, 0)) for k in ("rios", "rbytes", "wios",
                                                                   "wbytes")]
            return out
        d = self._dir("blkio")
        for name, slot in (("blkio.throttle.io_serviced", 0),
                           ("blkio.throttle.io_service_bytes", 1)):
            for line in _read(f"{d}/{name}").splitlines():
                parts = line.split()
                if len(parts) != 3 or ":" not in parts[0]:
                    continue
                major, minor = (int(x) for x in parts[0].split(":"))
                entry = out.setdefault((major, minor), [0, 0, 0, 0])
                if parts[1] == "Read":
                    entry[slot] = int(parts[2])
                elif parts[1] == "Write":
                    entry[slot + 2] = int(parts[2])
        return out


def _host_cpus() -> list[int]:
    return cpu_list(_read("/sys/devices/system/cpu/online")) or [0]


def _host_meminfo() -> list[tuple[str, int]]:
    out = []
    for line in _read("/proc/meminfo").splitlines():
        key, _, rest = line.partition(":")
        value = rest.split()
        out.append((key, int(value[0]) if value else 0))
    return out


def memory_figures(cg: Cgroup, host: dict[str, int] | None = None) -> dict[str, int]:
    """The container's memory as a machine of its size would report it (bytes): the
    fields /proc/meminfo and sysinfo(2) share."""
    hostd = host if host is not None else dict(_host_meminfo())
    m = cg.memory()
    total = hostd.get("MemTotal", 0) * KIB
    if 0 < m["limit"] < total:
        total = m["limit"]
    used = min(m["usage"], total)
    free = total - used
    reclaimable = m["inactive_file"] + m["active_file"]
    swap_total = hostd.get("SwapTotal", 0) * KIB
    if m["swap_limit"] >= 0:
        swap_total = min(swap_total, m["swap_limit"]) if swap_total else 0
    swap_free = max(0, swap_total - m["swap_usage"])
    return {"MemTotal": total, "MemFree": free,
            "MemAvailable": min(total, free + reclaimable), "Buffers": 0,
            "Cached": max(0, m["cache"] - m["shmem"]), "SwapCached": 0,
            "Active": m["active_anon"] + m["active_file"],
            "Inactive": m["inactive_anon"] + m["inactive_file"],
            "Active(anon)": m["active_anon"], "Inactive(anon)": m["inactive_anon"],
            "Active(file)": m["active_file"], "Inactive(file)": m["inactive_file"],
            "Unevictable": m["unevictable"], "SwapTotal": swap_total, "SwapFree": swap_free,
            "AnonPages": m["anon"], "Mapped": m["mapped"], "Shmem": m["shmem"],
            "Dirty": m["dirty"], "Writeback": m["writeback"],
            "Slab": m["slab_reclaimable"] + m["slab_unreclaimable"],
            "SReclaimable": m["slab_reclaimable"], "KReclaimable": m["slab_reclaimable"],
            "SUnreclaim": m["slab_unreclaimable"], "KernelStack": m["kernel_stack"],
            "PageTables": m["pagetables"]}


def meminfo(cg: Cgroup) -> bytes:
    host = _host_meminfo()
    ours = memory_figures(cg, dict(host))
    lines = []
    for key, value in host:
        if key in ours:
            value = ours[key] // KIB
        if key.startswith("HugePages_") or key == "HugePages":
            lines.append(f"{key + ':':<16}{value:>8}")
        else:
            lines.append(f"{key + ':':<16}{value:>8} kB")
    return ("\n".join(lines) + "\n").encode()


def cpuinfo(cg: Cgroup) -> bytes:
    """The host's entries for the container's CPUs, renumbered from 0."""
    blocks = [b for b in _read("/proc/cpuinfo").split("\n\n") if b.strip()]
    by_cpu = {}
    for block in blocks:
        first = block.split("\n", 1)[0]
        if first.startswith("processor"):
            by_cpu[int(first.split(":")[1])] = block
    cpus = [c for c in cg.cpus() if c in by_cpu] or sorted(by_cpu)[:1]
    out = []
    for i, cpu in enumerate(cpus):
        lines = by_cpu[cpu].split("\n")
        lines[0] = f"processor\t: {i}"
        lines = [f"siblings\t: {len(cpus)}" if ln.startswith("siblings") else
                 f"cpu cores\t: {len(cpus)}" if ln.startswith("cpu cores") else ln
                 for ln in lines]
        out.append("\n".join(lines))
    return ("\n\n".join(out) + "\n\n").encode()


def cpu_online(cg: Cgroup) -> bytes:
    n = len(cg.cpus())
    return (f"0-{n - 1}\n" if n > 1 else "0\n").encode()


def stat(cg: Cgroup, uptime: float) -> bytes:
    cpus = cg.cpus()
    times = cg.cpu_times(len(cpus))
    tasks = cg.tasks()
    running, blocked = _states(tasks)
    lines, total = [], [0, 0, 0]
    for i, (user, system) in enumerate(times):
        idle = max(0, int(uptime * HZ) - user - system)
        total = [total[0] + user, total[1] + system, total[2] + idle]
        lines.append(f"cpu{i} {user} 0 {system} {idle} 0 0 0 0 0 0")
    out = [f"cpu  {total[0]} 0 {total[1]} {total[2]} 0 0 0 0 0 0", *lines]
    for line in _read("/proc/stat").splitlines():
        key = line.split(" ", 1)[0]
        if key.startswith("cpu"):
            continue
        if key == "procs_running":
            line = f"procs_running {running}"
        elif key == "procs_blocked":
            line = f"procs_blocked {blocked}"
        out.append(line)
    return ("\n".join(out) + "\n").encode()


def _states(tasks: list[int]) -> tuple[int, int]:
    """How many of the tasks are runnable (R) and in uninterruptible sleep (D)."""
    running = blocked = 0
    for tid in tasks:
        data = _read(f"/proc/{tid}/stat")
        state = data[data.rfind(")") + 2:data.rfind(")") + 3] if data else ""
        running += state == "R"
        blocked += state == "D"
    return running, blocked


def uptime(cg: Cgroup, seconds: float) -> bytes:
    ncpus = len(cg.cpus())
    used = sum(u + s for u, s in cg.cpu_times(ncpus)) / HZ
    return f"{seconds:.2f} {max(0.0, seconds * ncpus - used):.2f}\n".encode()


def diskstats(cg: Cgroup) -> bytes:
    names = {}
    for line in _read("/proc/diskstats").splitlines():
        f = line.split()
        if len(f) > 3:
            names[(int(f[0]), int(f[1]))] = f[2]
    out = []
    for (major, minor), (reads, rbytes, writes, wbytes) in sorted(cg.io().items()):
        name = names.get((major, minor))
        if name and (reads or writes):
            out.append(f"{major:4} {minor:7} {name} {reads} 0 {rbytes // 512} 0 {writes} 0 "
                       f"{wbytes // 512} 0 0 0 0 0 0 0 0 0 0")
    return "".join(line + "\n" for line in out).encode()


def swaps(cg: Cgroup) -> bytes:
    head = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
    info = dict(line.split(":", 1) for line in meminfo(cg).decode().splitlines())
    total = int(info.get("SwapTotal", "0 kB").split()[0])
    free = int(info.get("SwapFree", "0 kB").split()[0])
    if not total:
        return head.encode()
    return (head + f"none\t\t\t\t\tvirtual\t\t{total}\t\t{total - free}\t\t0\n").encode()


def sysinfo(cg: Cgroup, seconds: float, loads: list[float]) -> bytes:
    """struct sysinfo for sysinfo(2) (procfs/sysinfo.py writes it into the caller)."""
    from hull.procfs.sysinfo import pack
    mem = memory_figures(cg)
    return pack(seconds, loads, mem["MemTotal"], mem["MemFree"], mem["Shmem"], 0,
                mem["SwapTotal"], mem["SwapFree"], len(cg.tasks()))


class LoadAverage:
    """The kernel's 1/5/15-minute averages (exponential, per 5 s tick) of the number of
    runnable and uninterruptible tasks — of this container's tasks only."""

    _DECAY = (math.exp(-5 / 60), math.exp(-5 / 300), math.exp(-5 / 900))

    def __init__(self, cg: Callable[[], Cgroup]) -> None:
        self.cg = cg
        self.loads = [0.0, 0.0, 0.0]
        self.last = time.monotonic()
        self.current = (0, 0)

    def sample(self) -> None:
        tasks = self.cg().tasks()
        running, blocked = _states(tasks)
        self.current = (running, len(tasks))
        now = time.monotonic()
        ticks = (now - self.last) / 5
        if ticks <= 0:
            return
        self.last = now
        active = running + blocked
        self.loads = [load * d ** ticks + active * (1 - d ** ticks)
                      for load, d in zip(self.loads, self._DECAY, strict=True)]

    def render(self) -> bytes:
        self.sample()
        running, total = self.current
        a, b, c = self.loads
        return f"{a:.2f} {b:.2f} {c:.2f} {running}/{total} {total}\n".encode()
