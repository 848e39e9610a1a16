"""Small things several commands share: Docker's confirmation prompt and its times, and
the containers as commands handle them."""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hull.engine.containers import ContainerService


def confirm(warning: str) -> bool:
    """Docker's prune prompt; anything but y/yes (or no input) declines."""
    sys.stdout.write(f"{warning}\nAre you sure you want to continue? [y/N] ")
    sys.stdout.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def when(text: str) -> float:
    """--since/--until: an RFC 3339 time or date, a Unix time, or a duration ago (10s,
    1h30m); anything else refused as the docker command refuses it (exit 1)."""
    from hull.engine.filters import timestamp
    from hull.errors import ClientError, InvalidArgument
    try:
        return timestamp(text)
    except InvalidArgument as e:
        raise ClientError(str(e)) from None


def container_service(root: str) -> ContainerService:
    """The containers of root, with the engine service supervising those that run."""
    from hull.engine.containers import ContainerService
    from hull.service.supervision import ServiceSupervision
    service = ContainerService(root)
    service.supervision = ServiceSupervision(service.root, service.state_dir)
    return service
