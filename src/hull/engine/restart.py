"""Restart policies without a daemon.

Who restarts a container that exited:

    its monitor          the normal case: the monitor that saw the exit decides with
                         `should_restart`, waits the backoff, starts the container again
                         and goes on supervising it (one process for the container's life)
    any hull command     when the monitor was killed: `refresh` (behind ps, inspect, …)
                         finds the container orphaned and starts a new monitor for it — an
                         adopter that waits for the running container to end (its exit
                         code is lost with its parent), or restarts an exited one
    `hull system reconcile`  the same for every container, at boot (a systemd unit that
                         `hull system install-service` writes) and every 30 s (its timer),
                         so a policy holds even when no one runs hull

Docker's rules: `no`; `on-failure[:N]` restarts after a non-zero exit, at most N times;
`always` restarts after any exit; `unless-stopped` too, and also at boot, unless a user
stopped it. A user's `stop` (StoppedByUser) ends all of them; `kill` does not. The
backoff doubles from 100 ms to at most 1 minute and starts over once a run lasted 10 s.
(Adoption and `reconcile` live in reconcile.py; this module is the policy alone, which the
monitor applies.)
"""

from __future__ import annotations

import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hull.engine.core import Engine
    from hull.engine.store import Container

UNKNOWN_EXIT = "exit status unknown: the monitor was killed"
INITIAL_DELAY = 0.1
MAX_DELAY = 60.0
RESET_AFTER = 10.0


def policy(c: Container) -> tuple[str, int]:
    p = c.host_config.get("RestartPolicy") or {}
    return str(p.get("Name") or "no"), int(p.get("MaximumRetryCount") or 0)


def should_restart(c: Container) -> bool:
    name, retries = policy(c)
    if c.state.get("StoppedByUser") or c.host_config.get("AutoRemove") or name == "no":
        return False
    if name == "on-failure":
        return c.state.get("ExitCode") != 0 and \
            (not retries or int(c.state.get("RestartCount") or 0) < retries)
    return name in ("always", "unless-stopped")


def run_for(c: Container) -> float:
    from hull.engine.humanize import parse_time
    started = parse_time(c.state.get("StartedAt", ""))
    finished = parse_time(c.state.get("FinishedAt", ""))
    return max(finished - started, 0.0) if started and finished else 0.0


def wait_to_restart(service: Engine, cid: str, delay: float) -> bool:
    """Sleep the backoff in short steps; False when the container was stopped by a user or
    removed meanwhile (then nothing is restarted)."""
    from hull.errors import NotFound
    service.store.update_state(cid, Status="restarting", Restarting=True)
    deadline = time.monotonic() + delay
    while True:
        try:
            c = service.store.get(cid)
        except NotFound:
            return False
        if not should_restart(c):
            service.store.update_state(cid, Status="exited", Restarting=False)
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            count = int(c.state.get("RestartCount") or 0) + 1
            service.store.update_state(cid, Restarting=False, RestartCount=count)
            return True
        time.sleep(min(left, 0.1))


def next_delay(c: Container, delay: float) -> float:
    """The wait before the next start: reset after a run of RESET_AFTER seconds."""
    return INITIAL_DELAY if run_for(c) >= RESET_AFTER else min(delay * 2, MAX_DELAY)


def monitor_alive(c: Container) -> bool:
    """Whether the monitor recorded for c still runs (its pid, and the same process)."""
    from hull.runtime.state import process_start_time
    pid = int(c.state.get("MonitorPid") or 0)
    return bool(pid) and process_start_time(pid) == c.state.get("MonitorStart")
