"""Restart policies, as the engine service applies them.

When a container ends, the service's finish job records the exit and asks
`should_restart`; if so the container is marked restarting and the service's timer starts
it again after the backoff (re-checking, under the container's lock, that no `stop` or
`rm` came meanwhile). A service that finds containers restarting, or recorded running but
gone (a reboot, a killed service), does the same when it starts.

Docker's rules: `no`; `on-failure[:N]` restarts after a non-zero exit, at most N times;
`always` restarts after any exit; `unless-stopped` too, and also at boot, unless a user
stopped it. A user's `stop` (StoppedByUser) ends all of them; `kill` does not. The
backoff doubles from 100 ms to at most 1 minute and starts over once a run lasted 10 s.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hull.engine.store import Container

UNKNOWN_EXIT = "exit status unknown: the engine service was killed"
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


def next_delay(c: Container, delay: float) -> float:
    """The wait before the next start: reset after a run of RESET_AFTER seconds."""
    return INITIAL_DELAY if run_for(c) >= RESET_AFTER else min(delay * 2, MAX_DELAY)
