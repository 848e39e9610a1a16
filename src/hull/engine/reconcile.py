"""After a reboot: the records say running but nothing runs. A new engine service finds
that (hull.service's survey) and records the exits; `always` and `unless-stopped`
containers are started again. `hull system reconcile` starts the service at boot (the
systemd units `hull system install-service` writes, which also socket-activate it)."""

from __future__ import annotations

import os

from hull.engine.restart import policy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hull.engine.store import Container


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
    api_path = "/run/hull/docker.sock" if root == "/var/lib/hull" else f"{state}/docker.sock"
    api_socket = f"""[Unit]
Description=hull: the Docker Engine API socket for {root} (its group `hull` is root-equivalent)

[Socket]
ListenStream={api_path}
SocketMode=0660
SocketUser=root
SocketGroup=hull
DirectoryMode=0755

[Install]
WantedBy=sockets.target
"""
    api = f"""[Unit]
Description=hull: the Docker Engine API for {root}
Requires=hull-api.socket
After=hull-api.socket

[Service]
ExecStart={hull} --root {root} system service --socket fd:// --time 0
KillMode=process

[Install]
WantedBy=multi-user.target
"""
    return {"hull-reconcile.service": service, "hull.socket": socket, "hull.service": engine,
            "hull-api.socket": api_socket, "hull-api.service": api}


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
