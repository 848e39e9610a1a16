"""Healthchecks: the image's HEALTHCHECK or the --health-* flags, run by the monitor.

A thread of the container's monitor runs the check every Interval as `hull exec` does
(a process joining the container), gives it Timeout, and keeps State.Health the way
docker does:

    starting ──success──► healthy ◄──success── unhealthy
        │                    │                     ▲
        └─ failures in StartPeriod don't count     └── Retries failures in a row

with the last five results (start, end, exit code, output) in State.Health.Log, a
`health_status: …` event on each change, and `(healthy)` in `ps`.
"""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SECOND = 10**9
DEFAULTS = {"Interval": 30 * SECOND, "Timeout": 30 * SECOND, "StartPeriod": 0, "Retries": 3}
KEEP_LOG = 5
MAX_OUTPUT = 4096


def from_flags(image: dict[str, Any] | None, cmd: str | None, interval: str | None,
               timeout: str | None, start_period: str | None, retries: int | None,
               disable: bool) -> dict[str, Any] | None:
    """Config.Healthcheck: the image's, with the flags laid over it."""
    from hull.errors import InvalidArgument
    if disable:
        if cmd:
            raise InvalidArgument("--no-healthcheck conflicts with --health-* options")
        return {"Test": ["NONE"]}
    out = dict(image or {})
    if cmd is not None:
        out["Test"] = ["CMD-SHELL", cmd]
    for flag, key, value in (("--health-interval", "Interval", interval),
                             ("--health-timeout", "Timeout", timeout),
                             ("--health-start-period", "StartPeriod", start_period)):
        if value is not None:
            ns = duration(value, flag)
            if ns and ns < SECOND // 1000:
                raise InvalidArgument(f"{flag}: must be at least 1ms")
            out[key] = ns
    if retries is not None:
        if retries < 0:
            raise InvalidArgument("--health-retries cannot be negative")
        out["Retries"] = retries
    return out or None


def duration(text: str, flag: str) -> int:
    """Go's time.ParseDuration subset people use: 30s, 1m30s, 500ms, 2h → nanoseconds."""
    from hull.errors import InvalidArgument
    units = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": SECOND, "m": 60 * SECOND,
             "h": 3600 * SECOND}
    total, number, i = 0.0, "", 0
    if text == "0":
        return 0
    while i < len(text):
        if text[i].isdigit() or text[i] == ".":
            number += text[i]
            i += 1
            continue
        unit = next((u for u in ("ns", "us", "µs", "ms", "h", "m", "s")
                     if text.startswith(u, i)), None)
        if unit is None or not number:
            raise InvalidArgument(f"{flag}: invalid duration {text!r}")
        total += float(number) * units[unit]
        number, i = "", i + len(unit)
    if number:
        raise InvalidArgument(f"{flag}: invalid duration {text!r} (missing unit)")
    return int(total)


def command(check: dict[str, Any] | None) -> list[str] | None:
    """The argv a check runs, or None when there is no check."""
    test = (check or {}).get("Test") or []
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    return list(test[1:]) if test[0] == "CMD" else list(test)


class Checker:
    """The monitor's health thread for one run of the container."""

    def __init__(self, root: str, cid: str, check: dict[str, Any]) -> None:
        self.root, self.cid = root, cid
        self.argv = command(check) or []
        self.interval = (check.get("Interval") or DEFAULTS["Interval"]) / SECOND
        self.timeout = (check.get("Timeout") or DEFAULTS["Timeout"]) / SECOND
        self.start_period = (check.get("StartPeriod") or 0) / SECOND
        retries = check.get("Retries")
        self.retries = DEFAULTS["Retries"] if not retries else int(retries)
        import threading  # only containers with a check pay for it
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Checker:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=self.timeout + 5)

    def _run(self) -> None:
        from hull.engine.core import Engine
        service = Engine(self.root)   # this thread's own database connections
        started = time.monotonic()
        health: dict[str, Any] = {"Status": "starting", "FailingStreak": 0, "Log": []}
        service.store.update_state(self.cid, Health=health)
        while not self.stopped.wait(self.interval):
            result = self._probe()
            if self.stopped.is_set():
                return   # the container ended during the check: its result means nothing
            old = health["Status"]
            health["Log"] = [*health["Log"], result][-KEEP_LOG:]
            if result["ExitCode"] == 0:
                health.update(Status="healthy", FailingStreak=0)
            elif old != "starting" or time.monotonic() - started > self.start_period:
                health["FailingStreak"] += 1
                if health["FailingStreak"] >= self.retries:
                    health["Status"] = "unhealthy"
            service.store.update_state(self.cid, Health=health)
            if health["Status"] != old:
                service.event(service.store.get(self.cid),
                              f"health_status: {health['Status']}")

    def _probe(self) -> dict[str, Any]:
        import subprocess

        from hull.engine.humanize import now
        hull = os.path.join(os.path.dirname(sys.executable), "hull")
        begin = now()
        proc = subprocess.Popen([hull, "--root", self.root, "exec", self.cid, *self.argv],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        try:
            out, _ = proc.communicate(timeout=self.timeout)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            proc.terminate()   # hull exec passes it on to the check's process
            try:
                out, _ = proc.communicate(timeout=2)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
            code = -1
            out = (out or b"") + f"Health check exceeded timeout ({self.timeout:g}s)".encode()
        return {"Start": begin, "End": now(), "ExitCode": code,
                "Output": (out or b"")[:MAX_OUTPUT].decode(errors="replace")}


def start(root: str, cid: str, config: dict[str, Any]) -> Checker | None:
    check = config.get("Healthcheck")
    if command(check) is None:
        return None
    assert check is not None
    return Checker(root, cid, check).start()
