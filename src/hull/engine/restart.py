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
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hull.engine.containers import ContainerService
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


def wait_to_restart(service: ContainerService, cid: str, delay: float) -> bool:
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


def adopt(service: ContainerService, c: Container) -> None:
    """A container whose monitor is gone but whose policy asks for supervision gets a new
    monitor (see the module docstring). Returns once the new monitor has taken over (its
    pid is in the record), so the next refresh does not adopt again."""
    from hull.engine import monitor
    notify = monitor.spawn_adopter(service.root, service.state_dir, c.id)
    try:
        monitor.read_message(notify)
    finally:
        os.close(notify)


def unit_files(hull: str, root: str) -> dict[str, str]:
    """The systemd units `hull system install-service` writes."""
    service = f"""[Unit]
Description=hull: start containers whose restart policy asks for it ({root})
After=local-fs.target network.target
Documentation=file://{os.path.dirname(os.path.dirname(hull))}/docs/engine.md

[Service]
Type=oneshot
ExecStart={hull} --root {root} system reconcile

[Install]
WantedBy=multi-user.target
"""
    timer = f"""[Unit]
Description=hull: keep restart policies of {root} honoured when a monitor was killed

[Timer]
OnBootSec=30s
OnUnitActiveSec=30s

[Install]
WantedBy=timers.target
"""
    state = "/run/hull" if root == "/var/lib/hull" else os.path.join(root, "state")
    socket = f"""[Unit]
Description=hull: the engine service's socket for {root} (started on the first command)

[Socket]
ListenStream={state}/hull.sock
SocketMode=0600
DirectoryMode=0711

[Install]
WantedBy=sockets.target
"""
    engine = f"""[Unit]
Description=hull: the engine service for {root}
Requires=hull.socket
After=hull.socket

[Service]
ExecStart={hull} --root {root} system service
KillMode=process

[Install]
WantedBy=multi-user.target
"""
    return {"hull-reconcile.service": service, "hull-reconcile.timer": timer,
            "hull.socket": socket, "hull.service": engine}


def boot_time() -> float:
    """When this host booted (btime in /proc/stat)."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("btime "):
                return float(line.split()[1])
    return 0.0


def stopped_before_boot(c: Container, booted: float) -> bool:
    """`always` starts again after a reboot even when a user stopped it (docker: after a
    daemon restart); `unless-stopped` does not."""
    from hull.engine.humanize import parse_time
    return policy(c)[0] == "always" and bool(c.state.get("StoppedByUser")) and \
        parse_time(c.state.get("FinishedAt", "")) < booted


def reconcile(service: ContainerService, booted: float | None = None) -> None:
    """Every container checked: orphans adopted (by refresh), and those whose policy says
    they should run but that no monitor looks after — after a reboot — started."""
    booted = boot_time() if booted is None else booted
    for c in service.store.all():
        c = service.refresh(c)
        if c.state.get("Status") == "restarting" and not _monitor_alive(c):
            service.store.update_state(c.id, Status="exited", Restarting=False)
            c = service.store.get(c.id)
        if c.state.get("Status") != "exited" or _monitor_alive(c):
            continue
        if stopped_before_boot(c, booted):
            service.store.update_state(c.id, StoppedByUser=False)
            c = service.store.get(c.id)
        if should_restart(c):
            adopt(service, c)


def _monitor_alive(c: Container) -> bool:
    from hull.runtime.state import process_start_time
    pid = int(c.state.get("MonitorPid") or 0)
    return bool(pid) and process_start_time(pid) == c.state.get("MonitorStart")

