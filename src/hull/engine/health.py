"""Healthchecks: the image's HEALTHCHECK or the --health-* flags.

The engine service runs the check every Interval (a timer of its loop, the check itself in
a forked job) as `hull exec` does (a process joining the container), gives it Timeout, and
keeps State.Health the way docker does:

    starting ──success──► healthy ◄──success── unhealthy
        │                    │                     ▲
        └─ failures in StartPeriod don't count     └── Retries failures in a row

with the last five results (start, end, exit code, output) in State.Health.Log, a
`health_status: …` event on each change, and `(healthy)` in `ps`.
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hull.engine.core import Engine
    from hull.engine.store import Container

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


def interval(check: dict[str, Any] | None) -> float:
    """Seconds between two checks."""
    return float((check or {}).get("Interval") or DEFAULTS["Interval"]) / SECOND


def check_once(engine: Engine, cid: str, pid: int) -> None:
    """One check of the container whose PID 1 is pid, its result recorded (the engine
    service runs this in a job every Interval while the container runs)."""
    from hull.errors import NotFound
    try:
        c = engine.store.get(cid)
    except NotFound:
        return
    check = c.config.get("Healthcheck") or {}
    argv = command(check)
    if argv is None or c.state.get("Pid") != pid:
        return   # no check, or another run of the container by now
    timeout = float(check.get("Timeout") or DEFAULTS["Timeout"]) / SECOND
    result = _probe(engine, c, argv, timeout)
    c = engine.store.get(cid)
    if c.state.get("Pid") != pid or not c.state.get("Running"):
        return   # the container ended during the check: its result means nothing
    _record(engine, c, check, result)


def _record(engine: Engine, c: Container, check: dict[str, Any], result: dict[str, Any]
            ) -> None:
    from hull.engine.humanize import parse_time
    health: dict[str, Any] = dict(c.state.get("Health") or
                                  {"Status": "starting", "FailingStreak": 0, "Log": []})
    old = health["Status"]
    health["Log"] = [*health.get("Log", []), result][-KEEP_LOG:]
    retries = int(check.get("Retries") or DEFAULTS["Retries"])
    start_period = float(check.get("StartPeriod") or 0) / SECOND
    if result["ExitCode"] == 0:
        health.update(Status="healthy", FailingStreak=0)
    elif old != "starting" or time.time() - parse_time(c.state.get("StartedAt", "")) > \
            start_period:
        health["FailingStreak"] = int(health.get("FailingStreak", 0)) + 1
        if health["FailingStreak"] >= retries:
            health["Status"] = "unhealthy"
    engine.store.update_state(c.id, Health=health)
    if health["Status"] != old:
        engine.event(c, f"health_status: {health['Status']}")


def _probe(engine: Engine, c: Container, argv: list[str], timeout: float) -> dict[str, Any]:
    """Run argv in the container as `exec` would, its output (both streams) kept, killed
    after timeout (Docker's exit code -1 and message then)."""
    import select

    from hull.engine.execute import start_quietly
    from hull.engine.humanize import now
    from hull.runtime.waiting import reap
    begin = now()
    r, w = os.pipe()
    try:
        pid = start_quietly(engine, c, argv, stdout=w)
    except Exception as e:
        os.close(r)
        os.close(w)
        return {"Start": begin, "End": now(), "ExitCode": -1, "Output": str(e)}
    os.close(w)
    out = bytearray()
    deadline = time.monotonic() + timeout
    timed_out = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([r], [], [], left)
        if not ready:
            continue
        data = os.read(r, 65536)
        if not data:
            break
        if len(out) < MAX_OUTPUT:
            out += data
    os.close(r)
    if timed_out:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    code = reap(pid)
    if timed_out:
        code = -1
        out += f"Health check exceeded timeout ({timeout:g}s)".encode()
    return {"Start": begin, "End": now(), "ExitCode": code,
            "Output": bytes(out[:MAX_OUTPUT]).decode(errors="replace")}
