"""Keeping a container's /proc view alive when the engine service dies.

A FUSE mount lives as long as some process holds its /dev/fuse fd; a seccomp notification
filter answers ENOSYS once nobody holds its listener fd. If those fds lived only in the
service, killing the service would leave the container with "Transport endpoint is not
connected" on /proc/meminfo and a failing `free` (lxcfs#73's failure). So a keeper — a
`sleep infinity` that inherited copies of the fds and does nothing else — holds them too.
The next service, which takes the container over (service/supervisor.py), copies them out of the
keeper with pidfd_getfd and serves the same connections again: the container's mounts
never break; its reads wait until hull adopts it (any hull command, or the reconcile
timer) and then complete.

A new notification fd (each `exec` brings one) means a new keeper holding all of them;
the old one is then killed. The keeper's pid, start time and fd numbers are in
<container dir>/procfs.keeper.
"""

from __future__ import annotations

import json
import os
import signal

SLEEP = ("/bin/sleep", "/usr/bin/sleep")


def record_path(directory: str) -> str:
    return directory + ".keeper"


def spawn(fds: list[int]) -> int:
    """A process holding copies of fds (at the same numbers) until it is killed.
    posix_spawn, not fork: nothing of the service runs between the fork and the exec (and
    a vfork-style spawn is cheap from a large process). dup2(fd, fd) in the spawn's
    file actions clears close-on-exec on just those fds (glibc >= 2.29)."""
    binary = next((b for b in SLEEP if os.access(b, os.X_OK)), SLEEP[0])
    actions: list[tuple[int, ...] | tuple[int, int, str, int, int]] = [
        (os.POSIX_SPAWN_OPEN, std, "/dev/null", os.O_RDWR, 0) for std in (0, 1, 2)]
    actions += [(os.POSIX_SPAWN_DUP2, fd, fd) for fd in fds]
    # and nothing else: any descriptor the service inherited without close-on-exec
    # (a close action on a descriptor that is not open fails the spawn, so only those)
    actions += [(os.POSIX_SPAWN_CLOSE, fd) for fd in inherited() if fd not in fds]
    return os.posix_spawn(binary, [binary, "infinity"], {}, file_actions=actions,
                          setsid=True)


def inherited() -> list[int]:
    """This process's descriptors above 2 that an exec would pass on."""
    import fcntl
    out = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if fd > 2 and not fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC:
                out.append(fd)
        except OSError:
            pass   # the listing's own descriptor, closed by now
    return out


def _start_time(pid: int) -> int:
    """Field 22 of /proc/PID/stat: tells a process from a later one with its pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return 0
    return int(data[data.rindex(b")") + 2:].split()[19])


def save(directory: str, pid: int, fuse_fd: int, notify_fds: list[int]) -> None:
    record = {"pid": pid, "start": _start_time(pid), "fuse": fuse_fd, "notify": notify_fds}
    path = record_path(directory)
    with open(path + ".tmp", "w") as f:
        json.dump(record, f)
    os.replace(path + ".tmp", path)


def _load(directory: str) -> tuple[int, int, list[int]] | None:
    """(pid, fuse fd, notification fds) of a keeper that is still alive."""
    try:
        with open(record_path(directory)) as f:
            record = json.load(f)
        pid, fuse = int(record["pid"]), int(record["fuse"])
        notify = [int(fd) for fd in record["notify"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not pid or _start_time(pid) != record.get("start"):
        return None   # gone, or its pid reused
    return pid, fuse, notify


def take(directory: str) -> tuple[int, list[int]] | None:
    """Copies of the keeper's fds for this process: (fuse fd, notification fds)."""
    from hull.linux.process import pidfd_getfd
    record = _load(directory)
    if record is None:
        return None
    pid, fuse_fd, notify_fds = record
    pidfd = os.pidfd_open(pid)
    try:
        return pidfd_getfd(pidfd, fuse_fd), [pidfd_getfd(pidfd, fd) for fd in notify_fds]
    finally:
        os.close(pidfd)


def recorded(directory: str) -> int:
    """The pid of the live keeper recorded for directory, or 0."""
    record = _load(directory)
    return record[0] if record else 0


def end(pid: int) -> None:
    if not pid:
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    try:
        os.waitpid(pid, 0)   # ours to reap when we spawned it
    except ChildProcessError:
        pass


def kill(directory: str) -> None:
    """End the keeper recorded for directory and forget it."""
    end(recorded(directory))
    try:
        os.unlink(record_path(directory))
    except FileNotFoundError:
        pass
