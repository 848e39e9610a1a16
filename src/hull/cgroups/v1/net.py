"""v1 net_cls and net_prio: a class ID for tc and per-interface priorities."""

from __future__ import annotations

from hull.cgroups.files import write


def apply_classid(d: str, classid: int) -> None:
    write(d, "net_cls.classid", classid)


def apply_priorities(d: str, priorities: dict[str, int]) -> None:
    for iface, prio in priorities.items():
        write(d, "net_prio.ifpriomap", f"{iface} {prio}")
