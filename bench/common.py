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
