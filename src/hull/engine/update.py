"""`docker update`: new resource limits (and restart policy) for a container, written to the
running container's cgroup at once through the runtime, and kept in its HostConfig so
`inspect` shows them and the next start uses them."""

from __future__ import annotations

from hull.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hull.engine.containers import ContainerService
    from hull.engine.store import Container

UPDATABLE = ("NanoCpus", "CpuPeriod", "CpuQuota", "CpuShares", "CpusetCpus", "CpusetMems",
             "Memory", "MemorySwap", "MemoryReservation", "PidsLimit", "BlkioWeight",
             "RestartPolicy")


def update(service: ContainerService, name: str, changes: dict[str, Any]) -> Container:
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise InvalidArgument(f"update: {', '.join(sorted(unknown))} cannot be updated")
    with service.locked(name) as c:   # read, check and write HostConfig in one step
        return _update(service, c, changes)


def _update(service: ContainerService, c: Container, changes: dict[str, Any]) -> Container:
    host = {**c.host_config, **changes}
    _check(host, changes)
    if c.state.get("Running") and set(changes) - {"RestartPolicy"}:
        from hull.engine import ocispec
        resources = ocispec.resources(host, [])
        resources.pop("devices", None)
        if "PidsLimit" in changes and not changes["PidsLimit"]:
            resources["pids"] = {"limit": -1}   # 0 or -1: unlimited again
        service.runtime().update(c.id, resources)
    service.store.update_host_config(c.id, host)
    c.host_config = host
    service.event(c, "update")
    return c


def _check(host: dict[str, Any], changes: dict[str, Any]) -> None:
    """Docker's rules for combinations, checked before anything is written."""
    policy = (changes.get("RestartPolicy") or {}).get("Name", "no")
    if host.get("AutoRemove") and policy not in ("", "no"):
        raise InvalidArgument("Restart policy cannot be updated because AutoRemove is enabled "
                              "for the container")
    memory, swap = host.get("Memory") or 0, host.get("MemorySwap") or 0
    if "Memory" in changes and "MemorySwap" not in changes and swap > 0 and memory > swap:
        raise InvalidArgument("Memory limit should be smaller than already set memoryswap "
                              "limit, update the memoryswap at the same time")
    from hull.engine.createspec import check_memory  # create's rules, with dockerd's words
    check_memory(memory or None, swap if swap > 0 else None,
                 host.get("MemoryReservation") or None)
    if changes.get("NanoCpus") and (host.get("CpuQuota") or host.get("CpuPeriod")):
        raise InvalidArgument("Conflicting options: --cpus and --cpu-period/--cpu-quota "
                              "cannot both be set")
    if (changes.get("CpuQuota") or changes.get("CpuPeriod")) and host.get("NanoCpus"):
        raise InvalidArgument("Conflicting options: CPU Quota cannot be updated as NanoCPUs "
                              "has already been set")
