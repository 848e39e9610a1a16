"""v1 hugetlb: per page size limits (hugetlb.<size>.limit_in_bytes)."""

from __future__ import annotations

from hull.cgroups.files import read_int, write


def apply(d: str, limits: dict[str, int]) -> None:
    for size, limit in limits.items():
        write(d, f"hugetlb.{size}.limit_in_bytes", limit)


def stats(d: str) -> dict[str, dict[str, int]]:
    """Per page size: usage, max usage and failcnt (runc's hugetlb stats)."""
    import os
    out: dict[str, dict[str, int]] = {}
    for name in os.listdir(d):
        if name.startswith("hugetlb.") and name.endswith(".usage_in_bytes"):
            size = name[len("hugetlb."):-len(".usage_in_bytes")]
            out[size] = {key: read_int(d, f"hugetlb.{size}.{fname}") for key, fname in
                         (("usage", "usage_in_bytes"), ("max", "max_usage_in_bytes"),
                          ("failcnt", "failcnt"))}
    return out
