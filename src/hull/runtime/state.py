"""Container state on disk (<root>/<id>/state.json) and the status rules of the OCI lifecycle.

The status is never trusted from the file alone: it is recomputed from the process (alive,
and the same process: its start time guards against PID reuse), the exec FIFO (present
until `start`) and the freezer.
"""

from __future__ import annotations

import os
import time

from hull import fastjson
from hull.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from hull.record import field, record, to_dict

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar

    from hull.runtime.spec import Linux

OCI_VERSION = "1.2.0"
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.")
EXEC_FIFO = "exec.fifo"
STATE_FILE = "state.json"


class Status:
    """A container's lifecycle state; the transition rules live here, as in youki.
    (A plain class, not an Enum: the enum module is a measurable part of start-up.)"""

    __slots__ = ("value",)
    CREATING: ClassVar[Status]
    CREATED: ClassVar[Status]
    RUNNING: ClassVar[Status]
    PAUSED: ClassVar[Status]
    STOPPED: ClassVar[Status]
    _ALL: ClassVar[dict[str, Status]]

    def __init__(self, value: str) -> None:
        self.value = value

    @classmethod
    def of(cls, value: str) -> Status:
        return cls._ALL[value]

    def __repr__(self) -> str:
        return f"Status.{self.value.upper()}"

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


Status._ALL = {v: Status(v) for v in ("creating", "created", "running", "paused", "stopped")}
Status.CREATING, Status.CREATED, Status.RUNNING, Status.PAUSED, Status.STOPPED = \
    Status._ALL.values()


def validate_id(container_id: str) -> None:
    if not container_id or not _ID_CHARS.issuperset(container_id) or \
            container_id in (".", ".."):
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


@record
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

    def __init__(self, root: str) -> None:
        self.root = root

    def dir(self, container_id: str) -> str:
        return f"{self.root}/{container_id}"

    def seccomp_cache(self) -> str:
        """Compiled seccomp programs ("@" is no ID character: no container clashes)."""
        return f"{self.root}/@seccomp"

    def prepare_seccomp(self, linux: Linux) -> None:
        """Compile the container's filter here, on the host side, before any fork: from the
        cache in the common case, so the container's init loads it with one syscall."""
        if linux.seccomp is None or linux.seccomp.program:
            return
        from hull.linux import seccomp
        try:
            seccomp.prepare(linux.seccomp, self.seccomp_cache())
        except OSError:
            pass   # not cached: the init compiles it and reports any error itself

    def reserve(self, container_id: str) -> str:
        """Claim the ID atomically (mkdir): two creates of one ID cannot both win."""
        validate_id(container_id)
        # 0711: a container whose root is an unprivileged host uid (user namespace) must
        # reach its exec FIFO, but nobody may list the containers
        os.makedirs(self.root, mode=0o711, exist_ok=True)
        d = self.dir(container_id)
        try:
            os.mkdir(d, 0o711)
        except FileExistsError:
            raise AlreadyExists(f"container {container_id!r} already exists") from None
        return d

    def save(self, state: State) -> None:
        data = to_dict(state)
        data["status"] = state.status.value
        path = f"{self.dir(state.id)}/{STATE_FILE}"
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(fastjson.dumps(data))
        os.replace(tmp, path)

    def load(self, container_id: str) -> State:
        validate_id(container_id)
        path = f"{self.dir(container_id)}/{STATE_FILE}"
        try:
            with open(path) as f:
                data = fastjson.loads(f.read())
        except FileNotFoundError:
            raise NotFound(f"container {container_id!r} does not exist") from None
        data["status"] = Status.of(data["status"])
        state = State(**data)
        state.status = self._status(state)
        return state

    def _status(self, state: State) -> Status:
        if state.status is Status.CREATING:
            return Status.CREATING
        if not state.alive():
            return Status.STOPPED
        if os.path.exists(f"{self.dir(state.id)}/{EXEC_FIFO}"):
            return Status.CREATED
        if state.cgroup:
            from hull.cgroups.manager import load
            if load(state.cgroup).frozen():
                return Status.PAUSED
        return Status.RUNNING

    def remove(self, container_id: str) -> None:
        """Delete a container's directory (it holds only files: state, FIFO, temp)."""
        d = self.dir(container_id)
        try:
            names = os.listdir(d)
        except FileNotFoundError:
            return
        for name in names:
            try:
                os.unlink(f"{d}/{name}")
            except FileNotFoundError:
                pass
        os.rmdir(d)

    def ids(self) -> list[str]:
        try:
            return sorted(name for name in os.listdir(self.root)
                          if os.path.exists(f"{self.root}/{name}/{STATE_FILE}"))
        except FileNotFoundError:
            return []
