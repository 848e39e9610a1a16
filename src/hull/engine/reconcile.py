"""Restart policies when no monitor is left to apply them: a command that finds a
container whose monitor was killed has it adopted by a new one (`adopt`, from `refresh`),
and `hull system reconcile` does the same for every container at boot (systemd units from
`hull system install-service`, which also socket-activate the engine service)."""

from __future__ import annotations

import os

from hull.engine.restart import monitor_alive, policy, should_restart

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hull.engine.containers import ContainerService
    from hull.engine.store import Container


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
        if c.state.get("Status") == "restarting" and not monitor_alive(c):
            service.store.update_state(c.id, Status="exited", Restarting=False)
            c = service.store.get(c.id)
        if c.state.get("Status") != "exited" or monitor_alive(c):
            continue
        if stopped_before_boot(c, booted):
            service.store.update_state(c.id, StoppedByUser=False)
            c = service.store.get(c.id)
        if should_restart(c):
            adopt(service, c)
