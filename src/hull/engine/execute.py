"""`exec`: one more process in a running container, as its user and with its environment,
capabilities and seccomp filter; output straight to the caller (not to the container's
log), stdin only with -i, a terminal proxied with -t; a process that cannot be started is
Docker's exit 126."""

from __future__ import annotations

import os
import shutil

from hull.engine import ocispec
from hull.errors import FailedPrecondition, HullError, InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hull.engine.containers import ContainerService
    from hull.engine.core import Engine
    from hull.engine.store import Container


def _start_exec(st: Any, process: Any, store: Any, console_socket: str | None = None,
                stdio: tuple[int, int, int] | None = None) -> int:
    """The exec'd process started; any failure to start it (no such command, a missing
    working directory) is Docker's: exit 126, "OCI runtime exec failed"."""
    from hull.errors import CannotInvoke
    from hull.runtime.execute import start_process
    try:
        return start_process(st, process, store, console_socket=console_socket, stdio=stdio)
    except (HullError, OSError) as e:
        why = f"{e.strerror}: {e.filename}" if isinstance(e, OSError) and e.strerror else e
        raise CannotInvoke("OCI runtime exec failed: exec failed: unable to start container "
                           f"process: {why}: unknown") from None


def _process(service: Engine, c: Container, st: Any, cmd: list[str], env: list[str],
             user: str | None, workdir: str | None, tty: bool, privileged: bool) -> Any:
    """The OCI process an exec runs: the container's user, environment, capabilities and
    working directory unless the flags say otherwise."""
    from hull.runtime.spec import parse_process
    base = st.config.get("process") or {}
    uid, gid = base.get("user", {}).get("uid", 0), base.get("user", {}).get("gid", 0)
    groups: list[int] = []
    if user:
        from hull.engine.bundle import resolve_user
        uid, gid, groups = resolve_user(os.path.join(service.store.dir(c.id), "rootfs"), user,
                                        c.host_config.get("GroupAdd") or [])
    caps = base.get("capabilities")
    if privileged:   # every capability hull itself holds, as docker exec --privileged
        caps = {k: ocispec.capabilities({"Privileged": True})
                for k in ("bounding", "effective", "permitted")}
    return parse_process({
        "args": cmd, "env": ocispec.process_env(c.config, tty, env),
        "cwd": workdir or base.get("cwd", "/"),
        "user": {"uid": uid, "gid": gid, "additionalGids": groups},
        "capabilities": caps,
        "noNewPrivileges": bool(base.get("noNewPrivileges")), "terminal": tty})


def start_quietly(service: Engine, c: Container, cmd: list[str], stdout: int) -> int:
    """cmd started in the container as exec starts it, stdin /dev/null, stdout and stderr
    into the fd stdout; its pid, a child of this process (a health check)."""
    rt = service.runtime()
    st = rt.state(c.id)
    process = _process(service, c, st, cmd, [], None, None, False, False)
    devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return _start_exec(st, process, rt.store, stdio=(devnull, stdout, stdout))
    finally:
        os.close(devnull)


def prepare(service: Engine, name: str, cmd: list[str], env: list[str], user: str | None,
            workdir: str | None, tty: bool = False, privileged: bool = False
            ) -> tuple[Container, Any, Any]:
    """(container, its runtime state, the OCI process) for an exec, after Docker's checks:
    the container runs and is not paused, a command is given."""
    c = service.store.get(name)
    if not c.state.get("Running"):
        raise FailedPrecondition(f"Container {c.id} is not running")
    if c.state.get("Paused"):
        raise FailedPrecondition(f"Container {c.id} is paused, unpause the container "
                                 "before exec")
    if not cmd:
        raise InvalidArgument("exec: no command given")
    st = service.runtime().state(c.id)
    return c, st, _process(service, c, st, cmd, env, user, workdir, tty, privileged)


def spawn(service: Engine, st: Any, process: Any, stdio: tuple[int, int, int]) -> int:
    """The exec'd process started on these fds; its pid (a child of the caller)."""
    return _start_exec(st, process, service.runtime().store, stdio=stdio)


def spawn_terminal(service: Engine, st: Any, process: Any) -> tuple[int, int]:
    """The exec'd process started on a new terminal: its pid and the terminal's master."""
    import socket
    import tempfile

    from hull.engine.attach import socket_path
    from hull.runtime.console import receive_master
    tmp = tempfile.mkdtemp(prefix="hull-exec-")
    path, dirfd = socket_path(tmp, "console.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(path)
        listener.listen(1)
        pid = _start_exec(st, process, service.runtime().store, console_socket=path)
        return pid, receive_master(listener)
    finally:
        listener.close()
        os.close(dirfd)
        shutil.rmtree(tmp, ignore_errors=True)


def run(service: ContainerService, name: str, cmd: list[str], env: list[str], user: str | None,
         workdir: str | None, detach: bool, tty: bool = False,
         interactive: bool = False, privileged: bool = False) -> int:
    """Run one more process in a running container (its output goes to the caller, not
    to the container's log, as with docker exec)."""
    c, st, process = prepare(service, name, cmd, env, user, workdir, tty, privileged)
    from hull.runtime.waiting import reap, wait_forwarding
    service.event(c, f"exec_start: {' '.join(cmd)}")
    if not tty:   # without -i, stdin is /dev/null, not the caller's (Docker's)
        stdin = 0 if interactive else os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        try:
            pid = spawn(service, st, process, (stdin, 1, 2))
        finally:
            if stdin:
                os.close(stdin)
        return 0 if detach else wait_forwarding(pid)
    from hull.engine.attach import proxy_master
    pid, master = spawn_terminal(service, st, process)
    try:
        proxy_master(master, forward_stdin=interactive)
    finally:
        os.close(master)
    return 0 if detach else reap(pid)
