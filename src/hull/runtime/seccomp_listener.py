"""Hand a container's seccomp notify fd to the agent at linux.seccomp.listenerPath.

The message is the runtime-spec's "container process state": JSON naming the fds that
ride along (SCM_RIGHTS), the process's PID in the runtime's namespace, the listener
metadata and the container state. The agent then answers the container's notifications.
"""

from __future__ import annotations

import _socket
import os
import struct
from typing import Any

from hull.errors import HullError
from hull.runtime.spec import Linux
from hull.runtime.state import OCI_VERSION


def send_notify_fd(linux: Linux, state: dict[str, Any], pid: int, fd: int) -> None:
    try:
        payload = {"ociVersion": OCI_VERSION, "fds": ["seccompFd"], "pid": pid,
                   "metadata": linux.seccomp_listener_metadata, "state": state}
        from hull import fastjson
        # _socket, not socket: the high-level module costs ~5 ms to import on every start
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock.connect(linux.seccomp_listener)
            sock.sendmsg([fastjson.dumps(payload).encode()],
                         [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, struct.pack("i", fd))])
        except OSError as e:
            raise HullError(f"linux.seccomp.listenerPath {linux.seccomp_listener}: "
                            f"{e.strerror}") from None
        finally:
            sock.close()
    finally:
        os.close(fd)
