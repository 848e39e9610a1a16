"""v1 pids: the task limit and current count (same files as v2)."""

from __future__ import annotations

from hull.cgroups.files import write


def apply(d: str, limit: int | None) -> None:
    if limit is not None:
        write(d, "pids.max", "max" if limit <= 0 else limit)
