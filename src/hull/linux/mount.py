"""mount(2), umount2(2), pivot_root(2) and the new mount API (open_tree, mount_setattr)."""

from __future__ import annotations

import ctypes

from hull.linux.libc import check, cstr, libc, syscall

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOSYMFOLLOW = 0x100
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_SILENT = 0x8000
MS_UNBINDABLE = 0x20000
MS_PRIVATE = 0x40000
MS_SLAVE = 0x80000
MS_SHARED = 0x100000
MS_RELATIME = 0x200000
MS_STRICTATIME = 0x1000000
MS_LAZYTIME = 0x2000000

PROPAGATION = MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE

MNT_FORCE = 1
MNT_DETACH = 2

OPEN_TREE_CLONE = 1
OPEN_TREE_CLOEXEC = 0o2000000
AT_RECURSIVE = 0x8000
AT_EMPTY_PATH = 0x1000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_IDMAP = 0x100000


class MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0,
          data: str | None = None) -> None:
    fn = libc().mount
    fn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                   ctypes.c_char_p]
    check(fn(cstr(source), cstr(target), cstr(fstype), flags, cstr(data)),
          f"mount {source or fstype} on {target}")


def umount(target: str, flags: int = 0) -> None:
    fn = libc().umount2
    fn.argtypes = [ctypes.c_char_p, ctypes.c_int]
    check(fn(cstr(target), flags), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    syscall("pivot_root", cstr(new_root), cstr(put_old))


def open_tree(dirfd: int, path: str, flags: int) -> int:
    return syscall("open_tree", ctypes.c_int(dirfd), cstr(path), ctypes.c_uint(flags))


MOVE_MOUNT_T_EMPTY_PATH = 0x40


def move_mount(from_fd: int, to_fd: int) -> None:
    """Attach the detached mount from_fd onto the object to_fd refers to (both fds, so no
    path is resolved: the target cannot be swapped for a symlink in between)."""
    syscall("move_mount", ctypes.c_int(from_fd), b"", ctypes.c_int(to_fd), b"",
            ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH))


def mount_setattr(fd: int, attr: MountAttr, recursive: bool) -> None:
    flags = AT_EMPTY_PATH | (AT_RECURSIVE if recursive else 0)
    syscall("mount_setattr", ctypes.c_int(fd), b"", ctypes.c_uint(flags),
            ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)))
