"""Opt-in timing marks for the start-up path: HULL_TRACE=1 prints one line per step to
stderr ("hull-trace PID MILLISECONDS STEP", monotonic clock), from every process involved,
so `HULL_TRACE=1 hull-runtime run ID 2>&1 | sort -k3 -n` shows where the time goes."""

from __future__ import annotations

import os
import time

_ENABLED = "HULL_TRACE" in os.environ


def mark(step: str) -> None:
    if _ENABLED:
        os.write(2, f"hull-trace {os.getpid()} {time.monotonic() * 1000:.2f} {step}\n".encode())
