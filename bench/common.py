"""Helpers every benchmark uses: timing a command, summarizing samples."""

from __future__ import annotations

import statistics
import subprocess
import time
from typing import Any


def timed(cmd: list[str], **kw: Any) -> float:
    """Wall time of one command in milliseconds (its output discarded)."""
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   stdin=subprocess.DEVNULL, **kw)
    return (time.perf_counter() - start) * 1000


def summary(samples: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(samples), 1),
            "min_ms": round(min(samples), 1), "max_ms": round(max(samples), 1),
            "runs": len(samples)}


def unmount_and_remove(work: Any) -> None:
    """A benchmark's scratch directory, with whatever the engines left mounted under it."""
    import shutil
    subprocess.run(["sh", "-c", f"grep -o ' {work}[^ ]*' /proc/self/mounts | sort -r | "
                    "xargs -r -n1 umount -l"], check=False)
    shutil.rmtree(work, ignore_errors=True)


def pairwise_ratio(ours: list[float], theirs: list[float]) -> float:
    """The median of run-by-run ratios (runs were interleaved, so pairs share conditions)."""
    return round(statistics.median(h / o for h, o in zip(ours, theirs, strict=True)), 2)


def write_result(result: dict[str, Any], out: str) -> None:
    import json
    from pathlib import Path
    Path(out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
