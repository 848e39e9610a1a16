"""v1 hugetlb: per page size limits (hugetlb.<size>.limit_in_bytes)."""

from __future__ import annotations

from hull.cgroups.files import write


def apply(d: str, limits: dict[str, int]) -> None:
    for size, limit in limits.items():
        write(d, f"hugetlb.{size}.limit_in_bytes", limit)
