"""sysinfo(2) answered with the container's numbers, through seccomp user notification.

`free`, `uptime` and anything that calls sysinfo(2) ask the kernel, not /proc, so no
filesystem (lxcfs included) can fix them. The container's seccomp filter sends sysinfo to
the engine service (SCMP_ACT_NOTIFY); the runtime hands it the notification fd of the
container's process and of each `exec` (the OCI listenerPath protocol). For each call the
service writes a struct sysinfo computed from the container's cgroup into the caller's
memory (/proc/PID/mem) and answers "done, 0". Anything it cannot do (a 32-bit caller, a vanished
process) is answered "continue": the kernel runs the real sysinfo, the host's view.
"""

from __future__ import annotations

import _socket
import errno
import fcntl
import os
import select
import struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

# struct seccomp_notif: id, pid, flags, then seccomp_data: nr, arch, ip, args[6]
_NOTIF = struct.Struct("<QIIiIQ6Q")
_RESP = struct.Struct("<QqiI")   # id, val, error, flags
_RECV = 0xC0000000 | (_NOTIF.size << 16) | (ord("!") << 8) | 0
_SEND = 0xC0000000 | (_RESP.size << 16) | (ord("!") << 8) | 1
_ID_VALID = 0x40000000 | (8 << 16) | (ord("!") << 8) | 2
_CONTINUE = 1
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
# struct sysinfo on 64-bit: uptime, loads[3], ram/swap (6), procs, pad, high (2), mem_unit
SYSINFO = struct.Struct("<q3Q6QHH4xQQI4x")
SI_LOAD_SHIFT = 16


ARCH = _AUDIT_ARCH.get(os.uname().machine, 0)


def listen(path: str) -> _socket.socket:
    """The socket the runtime sends notification fds to (the OCI listenerPath)."""
    listener = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_NONBLOCK)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    listener.bind(path)
    listener.listen(8)
    return listener


def accept_fds(listener: _socket.socket) -> list[int]:
    """The notification fds one runtime connection brings (the container's process, or an
    exec'd one); [] when there is nothing (yet) to accept."""
    try:
        # _socket's accept (what socket.accept wraps): the fd of the new connection
        fd, _ = listener._accept()  # type: ignore[attr-defined]
    except (BlockingIOError, InterruptedError):
        return []
    conn = _socket.socket(fileno=fd)
    conn.settimeout(2.0)
    fds: list[int] = []
    try:
        _, ancillary, _, _ = conn.recvmsg(1 << 16, _socket.CMSG_SPACE(4 * 4),
                                          _socket.MSG_CMSG_CLOEXEC)
        for level, kind, data in ancillary:
            if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
                fds += [int(x) for x in struct.unpack(f"{len(data) // 4}i",
                                                      data[:len(data) // 4 * 4])]
    except OSError:
        return []
    finally:
        conn.close()
    return fds


def finished(fd: int) -> bool:
    """True when every process under this notification fd's filter is gone (POLLHUP):
    then it must be closed, not read (a read would wait forever)."""
    poll = select.poll()
    poll.register(fd, select.POLLIN)
    events = dict(poll.poll(0)).get(fd, 0)
    return bool(events & (select.POLLHUP | select.POLLERR | select.POLLNVAL))


def answer(fd: int, sysinfo_of: Callable[[], bytes]) -> None:
    """Answer the sysinfo(2) call waiting on fd with sysinfo_of()'s struct."""
    buf = bytearray(_NOTIF.size)
    try:
        fcntl.ioctl(fd, _RECV, buf, True)
    except OSError:
        return   # ENOENT: the caller gave up (a signal) before we read it
    nid, pid, _, _, arch, _, addr, *_ = _NOTIF.unpack(buf)
    val, err, flags = 0, 0, 0
    try:
        if arch != ARCH:
            raise OSError(errno.ENOSYS, "another architecture's layout")
        data = sysinfo_of()
        mem = os.open(f"/proc/{pid}/mem", os.O_WRONLY | os.O_CLOEXEC)
        try:
            # the pid could have been reused since the call: still this notification?
            fcntl.ioctl(fd, _ID_VALID, struct.pack("<Q", nid))
            os.pwrite(mem, data, addr)
        finally:
            os.close(mem)
    except OSError:
        flags = _CONTINUE   # let the kernel answer: the host's view, never a failure
    try:
        fcntl.ioctl(fd, _SEND, _RESP.pack(nid, val, err, flags))
    except OSError:
        pass   # the caller was interrupted or is gone


def pack(uptime: float, loads: list[float], total: int, free: int, shared: int,
         buffers: int, swap_total: int, swap_free: int, procs: int) -> bytes:
    return SYSINFO.pack(int(uptime), *(int(x * (1 << SI_LOAD_SHIFT)) for x in loads),
                        total, free, shared, buffers, swap_total, swap_free,
                        min(procs, 0xFFFF), 0, 0, 0, 1)
