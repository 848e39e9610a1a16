"""Per-process knobs: prctl, personality, I/O priority, scheduler, fds, keyrings, domainname."""

from __future__ import annotations

import ctypes
import os

from hull.linux.libc import check, cstr, libc, syscall

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_SET_NAME = 15
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

CLOSE_RANGE_CLOEXEC = 4

KEYCTL_JOIN_SESSION_KEYRING = 1

# OCI scheduler policy names -> SCHED_* numbers; flags -> SCHED_FLAG_* bits.
SCHED_POLICIES = {"SCHED_OTHER": 0, "SCHED_FIFO": 1, "SCHED_RR": 2, "SCHED_BATCH": 3,
                  "SCHED_ISO": 4, "SCHED_IDLE": 5, "SCHED_DEADLINE": 6}
SCHED_FLAGS = {"SCHED_FLAG_RESET_ON_FORK": 0x01, "SCHED_FLAG_RECLAIM": 0x02,
               "SCHED_FLAG_DL_OVERRUN": 0x04, "SCHED_FLAG_KEEP_POLICY": 0x08,
               "SCHED_FLAG_KEEP_PARAMS": 0x10, "SCHED_FLAG_UTIL_CLAMP_MIN": 0x20,
               "SCHED_FLAG_UTIL_CLAMP_MAX": 0x40}
IOPRIO_CLASSES = {"IOPRIO_CLASS_RT": 1, "IOPRIO_CLASS_BE": 2, "IOPRIO_CLASS_IDLE": 3}


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    fn = libc().prctl
    fn.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    return check(fn(option, arg2, arg3, arg4, arg5), "prctl")


def set_name(name: str) -> None:
    fn = libc().prctl
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_ulong,
                   ctypes.c_ulong]
    check(fn(PR_SET_NAME, name.encode()[:15], 0, 0, 0), "prctl(PR_SET_NAME)")


def personality(domain: int) -> None:
    syscall("personality", ctypes.c_ulong(domain))


def setdomainname(name: str) -> None:
    raw = name.encode()
    syscall("setdomainname", raw, ctypes.c_size_t(len(raw)))


def ioprio_set_self(klass: int, priority: int) -> None:
    ioprio_who_process = 1
    syscall("ioprio_set", ctypes.c_int(ioprio_who_process), ctypes.c_int(0),
            ctypes.c_int((klass << 13) | priority))


class SchedAttr(ctypes.Structure):
    _fields_ = [
        ("size", ctypes.c_uint32), ("sched_policy", ctypes.c_uint32),
        ("sched_flags", ctypes.c_uint64), ("sched_nice", ctypes.c_int32),
        ("sched_priority", ctypes.c_uint32), ("sched_runtime", ctypes.c_uint64),
        ("sched_deadline", ctypes.c_uint64), ("sched_period", ctypes.c_uint64),
        ("sched_util_min", ctypes.c_uint32), ("sched_util_max", ctypes.c_uint32),
    ]


def sched_setattr_self(attr: SchedAttr) -> None:
    attr.size = ctypes.sizeof(SchedAttr)
    syscall("sched_setattr", ctypes.c_int(0), ctypes.byref(attr), ctypes.c_uint(0))


def close_range_cloexec(first: int) -> None:
    """Mark every fd >= first close-on-exec, so nothing of the host leaks into a container."""
    syscall("close_range", ctypes.c_uint(first), ctypes.c_uint(0xFFFFFFFF),
            ctypes.c_uint(CLOSE_RANGE_CLOEXEC))


def join_new_session_keyring(name: str | None = None) -> None:
    syscall("keyctl", ctypes.c_int(KEYCTL_JOIN_SESSION_KEYRING), cstr(name))


def pidfd_open(pid: int) -> int:
    return syscall("pidfd_open", ctypes.c_int(pid), ctypes.c_uint(0))


def pidfd_getfd(pidfd: int, target_fd: int) -> int:
    """A copy of another process's fd (close-on-exec), as SCM_RIGHTS would give it."""
    return syscall("pidfd_getfd", ctypes.c_int(pidfd), ctypes.c_int(target_fd),
                   ctypes.c_uint(0))


def pidfd_send_signal(pidfd: int, sig: int) -> None:
    syscall("pidfd_send_signal", ctypes.c_int(pidfd), ctypes.c_int(sig), None, ctypes.c_uint(0))


def use_stdio(fds: tuple[int, int, int] | None) -> None:
    """In a freshly forked child: make fds this process's stdin, stdout and stderr (None:
    keep the inherited ones). Each is first copied above 2, so an fd that is itself 0, 1
    or 2 is not overwritten before its turn."""
    if fds is None:
        return
    import fcntl
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3) for fd in fds]
    for target, fd in enumerate(high):
        os.dup2(fd, target)   # inheritable, as a process's stdio must be
    for fd in high:
        os.close(fd)
