"""v1 net_cls and net_prio: a class ID for tc and per-interface priorities."""

from __future__ import annotations

from pathlib import Path

from hull.cgroups.files import write


def apply_classid(d: Path, classid: int) -> None:
    write(d, "net_cls.classid", classid)


def apply_priorities(d: Path, priorities: dict[str, int]) -> None:
    for iface, prio in priorities.items():
        write(d, "net_prio.ifpriomap", f"{iface} {prio}")
