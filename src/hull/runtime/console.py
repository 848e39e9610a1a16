"""The container's terminal: a pty created inside the container (so its slave lives in the
container's devpts), whose master goes to the caller over --console-socket (SCM_RIGHTS)."""

from __future__ import annotations

import fcntl
import os
import socket
import struct
import termios

from hull.linux import mount as m


def setup_pty(console_sock: socket.socket, size: tuple[int, int] | None,
              console: bool = True) -> None:
    """Open a pty in the container's /dev/pts, hand the master to the caller, and make the
    slave this process's controlling terminal and stdio. Only the container's init binds
    it over /dev/console (console=True); an exec'd process must not touch the mounts."""
    master, slave = os.openpty()
    slave_name = os.ttyname(slave)
    if size:
        rows, cols = size
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    socket.send_fds(console_sock, [slave_name.encode()], [master])
    os.close(master)
    console_sock.close()
    # /dev/console is the terminal too, as on a real machine
    if console and (os.path.exists("/dev/console") or _touch("/dev/console")):
        m.mount(slave_name, "/dev/console", None, m.MS_BIND)
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if slave > 2:
        os.close(slave)


def _touch(path: str) -> bool:
    try:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
        return True
    except OSError:
        return False


def receive_master(listener: socket.socket) -> int:
    """Accept one connection on a console socket and return the pty master it carries."""
    conn, _ = listener.accept()
    with conn:
        _, fds, _, _ = socket.recv_fds(conn, 4096, 1)
    if not fds:
        raise OSError("console socket: no file descriptor received")
    return fds[0]
