"""v1 hugetlb: per page size limits (hugetlb.<size>.limit_in_bytes)."""

from __future__ import annotations

from pathlib import Path

from hull.cgroups.files import write


def apply(d: Path, limits: dict[str, int]) -> None:
    for size, limit in limits.items():
        write(d, f"hugetlb.{size}.limit_in_bytes", limit)
