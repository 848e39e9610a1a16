"""Reaching the engine service of a root: connect to its socket, or start a service and
wait until it answers. Used by the thin client (every command) and by commands that ask
the service to supervise a container (start, attach, wait). Standard library only, and
only what the client's hot path already has."""

from __future__ import annotations

import _socket
import os

from hull.service import protocol

START_TIMEOUT = 20.0   # seconds for a new service to answer


def connect(state: str) -> _socket.socket | None:
    """A connection to the service, or None when none listens (no socket, stale socket).
    A peer that is not root is refused by the socket's mode: that exits here, 125."""
    try:
        dirfd = os.open(state, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    try:
        s.connect(f"/proc/self/fd/{dirfd}/{protocol.SOCKET}")
    except PermissionError:
        os.write(2, f"hull: only root may use the engine service of {state}\n".encode())
        os._exit(125)
    except OSError:
        s.close()
        return None
    finally:
        os.close(dirfd)
    return s


def start_and_connect(root: str, state: str, env: dict[str, str]) -> _socket.socket | None:
    """Start a service for this root (detached, in its own session, under its keeper)
    and wait until it answers. Two clients doing this at once start two keepers, of which
    one keeps the root (the other finds the lock taken and exits); both clients then reach
    the winner's service."""
    import time

    from hull.service.keeper import keeper_argv
    argv = keeper_argv(root, [])
    child = os.fork()
    if child == 0:
        try:
            os.setsid()
            if os.fork() == 0:
                devnull = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(devnull, fd)
                os.execve(argv[0], argv, {**env, "HULL_STATE": state})   # keeper.py
        finally:
            os._exit(0)
    os.waitpid(child, 0)
    deadline = time.monotonic() + START_TIMEOUT
    delay = 0.002
    while time.monotonic() < deadline:
        conn = connect(state)
        if conn is not None:
            return conn
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    return None


def service(root: str, state: str, env: dict[str, str] | None = None) -> _socket.socket:
    """A connection to the root's service, started if need be; OSError when none can run."""
    conn = connect(state) or start_and_connect(root, state, dict(os.environ) if env is None
                                               else env)
    if conn is None:
        raise OSError(f"the engine service of {root} does not answer")
    return conn
