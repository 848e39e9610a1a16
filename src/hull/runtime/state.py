"""Container state on disk (<root>/<id>/state.json) and the status rules of the OCI lifecycle.

The status is never trusted from the file alone: it is recomputed from the process (alive,
and the same process: its start time guards against PID reuse), the exec FIFO (present
until `start`) and the freezer.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from hull.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound

OCI_VERSION = "1.2.0"
_ID = re.compile(r"^[\w+\-.]+$")
EXEC_FIFO = "exec.fifo"
STATE_FILE = "state.json"


class Status(StrEnum):
    CREATING = "creating"
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"

    @property
    def can_start(self) -> bool:
        return self is Status.CREATED

    @property
    def can_kill(self) -> bool:
        return self in (Status.CREATED, Status.RUNNING, Status.PAUSED)

    @property
    def can_delete(self) -> bool:
        return self in (Status.STOPPED, Status.CREATED)

    @property
    def can_pause(self) -> bool:
        return self in (Status.RUNNING, Status.CREATED)

    @property
    def can_resume(self) -> bool:
        return self is Status.PAUSED

    @property
    def can_exec(self) -> bool:
        return self in (Status.CREATED, Status.RUNNING)

    def require(self, allowed: bool, action: str, container_id: str) -> None:
        if not allowed:
            raise FailedPrecondition(f"cannot {action} container {container_id}: "
                                     f"it is {self.value}")


def validate_id(container_id: str) -> None:
    if not container_id or not _ID.match(container_id) or container_id in (".", ".."):
        raise InvalidArgument(f"invalid container ID {container_id!r}: use letters, digits "
                              "and _ + - . only")


def process_start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks), None if gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2:].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


@dataclass
class State:
    id: str
    bundle: str
    rootfs: str
    pid: int = 0
    pid_start: int = 0
    created: str = ""
    owner: str = ""
    annotations: dict[str, str] = field(default_factory=dict)
    cgroup: dict[str, Any] = field(default_factory=dict)
    namespaces: dict[str, str] = field(default_factory=dict)   # type -> path to join for exec
    config: dict[str, Any] = field(default_factory=dict)
    status: Status = Status.CREATING

    def oci(self) -> dict[str, Any]:
        """The state as the OCI spec (and `runc state`) prints it."""
        out: dict[str, Any] = {
            "ociVersion": OCI_VERSION, "id": self.id, "pid": self.pid,
            "status": self.status.value, "bundle": self.bundle, "rootfs": self.rootfs,
            "created": self.created, "owner": self.owner,
        }
        if self.annotations:
            out["annotations"] = self.annotations
        if self.status is Status.STOPPED:
            out["pid"] = 0
        return out

    def alive(self) -> bool:
        return self.pid > 0 and process_start_time(self.pid) == self.pid_start


def now_rfc3339() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


class StateStore:
    """The runtime's --root directory: one subdirectory per container."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def dir(self, container_id: str) -> Path:
        return self.root / container_id

    def reserve(self, container_id: str) -> Path:
        """Claim the ID atomically (mkdir): two creates of one ID cannot both win."""
        validate_id(container_id)
        # 0711: a container whose root is an unprivileged host uid (user namespace) must
        # reach its exec FIFO, but nobody may list the containers
        self.root.mkdir(parents=True, exist_ok=True, mode=0o711)
        d = self.dir(container_id)
        try:
            d.mkdir(mode=0o711)
        except FileExistsError:
            raise AlreadyExists(f"container {container_id!r} already exists") from None
        return d

    def save(self, state: State) -> None:
        data = asdict(state)
        data["status"] = state.status.value
        path = self.dir(state.id) / STATE_FILE
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.replace(tmp, path)

    def load(self, container_id: str) -> State:
        validate_id(container_id)
        path = self.dir(container_id) / STATE_FILE
        try:
            with open(path) as f:
                data = json.load(f)
        except FileNotFoundError:
            raise NotFound(f"container {container_id!r} does not exist") from None
        data["status"] = Status(data["status"])
        state = State(**data)
        state.status = self._status(state)
        return state

    def _status(self, state: State) -> Status:
        if state.status is Status.CREATING:
            return Status.CREATING
        if not state.alive():
            return Status.STOPPED
        if (self.dir(state.id) / EXEC_FIFO).exists():
            return Status.CREATED
        if state.cgroup:
            from hull.cgroups.manager import load
            if load(state.cgroup).frozen():
                return Status.PAUSED
        return Status.RUNNING

    def ids(self) -> list[str]:
        try:
            return sorted(p.name for p in self.root.iterdir() if (p / STATE_FILE).exists())
        except FileNotFoundError:
            return []
