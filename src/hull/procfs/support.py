"""What this host offers the /proc view, checked cheaply (the CLI asks at every create)."""

from __future__ import annotations

import os

MODES = ("container", "host")


def fuse_missing() -> str:
    """Why containers cannot have their own /proc files here ("" when they can).
    HULL_FUSE_DEVICE names another device node (tests use a missing one)."""
    if not os.path.exists(os.environ.get("HULL_FUSE_DEVICE", "/dev/fuse")):
        return "no /dev/fuse"
    try:
        with open("/proc/filesystems") as f:
            if "\tfuse\n" not in f.read():
                return "the kernel has no FUSE"
    except OSError:
        return "cannot read /proc/filesystems"
    return ""


def user_notification() -> bool:
    """Whether seccomp can send a syscall to a listener (SECCOMP_RET_USER_NOTIF, 5.0+),
    as the kernel lists it in actions_avail. HULL_SECCOMP_NOTIFY=0 says no (tests)."""
    if os.environ.get("HULL_SECCOMP_NOTIFY") == "0":
        return False
    try:
        with open("/proc/sys/kernel/seccomp/actions_avail") as f:
            return "user_notif" in f.read().split()
    except OSError:
        return False
