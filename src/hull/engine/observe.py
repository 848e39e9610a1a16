"""Watching running containers from the host: `stats` and `top`.

CPU % is the seeds' formula applied to the cgroup instead of one process: the CPU time the
cgroup accounted between two samples (cpuacct.usage on v1, cpu.stat usage_usec on v2),
over the wall-clock time between them,

    CPU % = (usage₂ − usage₁) / (t₂ − t₁) × 100        (100 % = one CPU busy)

which is what docker prints too (it divides by the host's total CPU time and multiplies by
the number of CPUs: the same ratio). Memory is the cgroup's usage minus the page cache
the kernel can drop at once (inactive_file; total_inactive_file on v1), as docker
computes it; the limit is the cgroup's, or the host's memory when that is lower.
"""

from __future__ import annotations

import os
import time

from hull.record import record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hull.engine.containers import ContainerService
    from hull.engine.store import Container


@record
class Sample:
    at: float = 0.0          # monotonic seconds
    cpu_ns: int = 0
    mem_used: int = 0
    mem_limit: int = 0
    blk_read: int = 0
    blk_write: int = 0
    net_rx: int = 0
    net_tx: int = 0
    pids: int = 0
    running: bool = False


def host_memory() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def sample(service: ContainerService, c: Container, host_mem: int) -> Sample:
    """One reading of a container's cgroup (zeros for a container that is not running)."""
    from hull.errors import NotFound
    out = Sample(at=time.monotonic())
    if not c.state.get("Running"):
        return out
    rt = service.runtime()
    try:
        st = rt.state(c.id)
        stats = rt.driver(st).stats() if st.cgroup else None
    except (NotFound, OSError):
        return out
    if stats is None:
        return out
    raw = stats.memory.raw
    inactive = raw.get("total_inactive_file", raw.get("inactive_file", 0))
    limit = stats.memory.limit
    out.running = True
    out.cpu_ns = stats.cpu.usage_total
    out.mem_used = max(stats.memory.usage - inactive, 0)
    out.mem_limit = min(limit, host_mem) if limit > 0 else host_mem
    out.pids = stats.pids_current
    for e in stats.io_service_bytes:
        if e.op.lower() == "read":
            out.blk_read += e.value
        elif e.op.lower() == "write":
            out.blk_write += e.value
    out.net_rx, out.net_tx = _network(st.pid)
    return out


def _network(pid: int) -> tuple[int, int]:
    """Bytes received and sent on the container's interfaces, loopback left out (what
    leaves or enters the container), from its network namespace's /proc/net/dev."""
    rx = tx = 0
    try:
        with open(f"/proc/{pid}/net/dev") as f:
            lines = f.readlines()[2:]
    except OSError:
        return 0, 0
    for line in lines:
        name, _, numbers = line.partition(":")
        if name.strip() == "lo":
            continue
        fields = numbers.split()
        rx += int(fields[0])
        tx += int(fields[8])
    return rx, tx


def row(c: Container, before: Sample, after: Sample) -> dict[str, str]:
    """One line of `stats`, with the fields docker's --format knows."""
    from hull.engine import humanize
    elapsed = after.at - before.at
    cpu = 0.0
    if after.running and before.running and elapsed > 0:
        cpu = max(after.cpu_ns - before.cpu_ns, 0) / (elapsed * 1e9) * 100
    mem_pct = after.mem_used / after.mem_limit * 100 if after.mem_limit else 0.0
    if not after.running:   # Docker's zeros for a container that is not running
        return {"Container": c.short_id, "ID": c.short_id, "Name": c.name,
                "CPUPerc": "0.00%", "MemUsage": "0B / 0B", "MemPerc": "0.00%",
                "NetIO": "0B / 0B", "BlockIO": "0B / 0B", "PIDs": "0"}
    return {"Container": c.short_id, "ID": c.short_id, "Name": c.name,
            "CPUPerc": f"{cpu:.2f}%",
            "MemUsage": f"{humanize.binary(after.mem_used)} / "
                        f"{humanize.binary(after.mem_limit)}",
            "MemPerc": f"{mem_pct:.2f}%",
            "NetIO": f"{humanize.size(after.net_rx)} / {humanize.size(after.net_tx)}",
            "BlockIO": f"{humanize.size(after.blk_read)} / {humanize.size(after.blk_write)}",
            "PIDs": str(after.pids)}


def top(service: ContainerService, name: str, ps_args: list[str]) -> list[list[str]]:
    """`docker top`: the host's `ps` (options as given, -ef by default), only the rows of
    the container's processes — host PIDs, as docker shows them."""
    import subprocess

    from hull.errors import FailedPrecondition, HullError
    c = service.store.get(name)
    if not c.state.get("Running"):
        raise FailedPrecondition(f"Container {c.id} is not running")
    pids = {str(p) for p in service.runtime().pids(c.id)}
    proc = subprocess.run(["ps", *(ps_args or ["-ef"])], capture_output=True, text=True,
                          env={**os.environ, "LC_ALL": "C"})
    if proc.returncode != 0:
        raise HullError(f"ps: {proc.stderr.strip() or 'failed'}")
    lines = proc.stdout.splitlines()
    header = lines[0].split()
    if "PID" not in header:
        raise HullError("Couldn't find PID field in ps output")
    column = header.index("PID")
    out = [header]
    for line in lines[1:]:
        fields = line.split(None, len(header) - 1)
        if len(fields) > column and fields[column] in pids:
            out.append(fields)
    return out


def stats_rows(service: ContainerService, containers: list[Container],
               interval: float, previous: dict[str, Sample] | None = None
               ) -> tuple[list[dict[str, str]], dict[str, Sample]]:
    """One table: each container sampled twice, `interval` apart (or against the samples
    of the previous table when streaming)."""
    host_mem = host_memory()
    before = previous if previous is not None else \
        {c.id: sample(service, c, host_mem) for c in containers}
    if previous is None and interval > 0:
        time.sleep(interval)
    after = {c.id: sample(service, c, host_mem) for c in containers}
    rows = [row(c, before.get(c.id) or after[c.id], after[c.id]) for c in containers]
    return rows, after

