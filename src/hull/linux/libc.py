"""The libc handle and the raw syscall entry shared by every wrapper in hull.linux."""

from __future__ import annotations

import ctypes
import os
from functools import cache

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# x86_64 and aarch64 syscall numbers for the calls glibc 2.36 has no wrapper for.
_SYSCALLS: dict[str, dict[str, int]] = {
    "x86_64": {
        "pivot_root": 155, "setns": 308, "unshare": 272, "close_range": 436,
        "openat2": 437, "pidfd_open": 434, "pidfd_send_signal": 424, "sched_setattr": 314,
        "ioprio_set": 251, "open_tree": 428, "move_mount": 429, "mount_setattr": 442,
        "capget": 125, "capset": 126, "personality": 135, "setdomainname": 171,
        "keyctl": 250, "bpf": 321, "seccomp": 317, "pidfd_getfd": 438,
    },
    "aarch64": {
        "pivot_root": 41, "setns": 268, "unshare": 97, "close_range": 436,
        "openat2": 437, "pidfd_open": 434, "pidfd_send_signal": 424, "sched_setattr": 274,
        "ioprio_set": 30, "open_tree": 428, "move_mount": 429, "mount_setattr": 442,
        "capget": 90, "capset": 91, "personality": 92, "setdomainname": 162,
        "keyctl": 219, "bpf": 280, "seccomp": 277, "pidfd_getfd": 438,
    },
}


@cache
def libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


@cache
def _numbers() -> dict[str, int]:
    machine = os.uname().machine
    if machine not in _SYSCALLS:
        raise OSError(f"hull supports x86_64 and aarch64, not {machine}")
    return _SYSCALLS[machine]


def check(result: int, what: str = "") -> int:
    """Turn a -1 return into OSError carrying errno, as os functions do."""
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}" if what else os.strerror(err))
    return result


def syscall(name: str, *args: Any) -> int:
    """Call a syscall by name through libc's syscall(2); raises OSError on failure."""
    fn = libc().syscall
    fn.restype = ctypes.c_long
    return check(fn(ctypes.c_long(_numbers()[name]), *args), name)


def cstr(value: str | bytes | None) -> bytes | None:
    if value is None:
        return None
    return value.encode() if isinstance(value, str) else value
