"""Helpers every benchmark uses: timing a command, summarizing samples."""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
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


@contextlib.contextmanager
def scratch(name: str) -> Iterator[Path]:
    """A benchmark's private directory in /var/lib (file creation under /var/tmp measured
    ~3x slower on this machine kind), removed with whatever was left mounted under it."""
    work = Path(tempfile.mkdtemp(prefix=f"hull-bench-{name}-", dir="/var/lib"))
    work.chmod(0o755)
    try:
        yield work
    finally:
        unmount_and_remove(work)


def unmount_and_remove(work: Any) -> None:
    """A benchmark's scratch directory, with whatever the engines left mounted under it."""
    import shutil
    subprocess.run(["sh", "-c", f"grep -o ' {work}[^ ]*' /proc/self/mounts | sort -r | "
                    "xargs -r -n1 umount -l"], check=False)
    for _ in range(20):   # an engine service still on its way out may write a last file
        shutil.rmtree(work, ignore_errors=True)
        if not os.path.exists(work):
            return
        time.sleep(0.25)


def pairwise_ratio(ours: list[float], theirs: list[float]) -> float:
    """The median of run-by-run ratios (runs were interleaved, so pairs share conditions)."""
    return round(statistics.median(h / o for h, o in zip(ours, theirs, strict=True)), 2)


def write_result(result: dict[str, Any], out: str) -> None:
    import json
    from pathlib import Path
    Path(out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
