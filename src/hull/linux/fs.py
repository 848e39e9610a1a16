"""Path resolution that cannot leave a root: openat2(RESOLVE_IN_ROOT) and helpers on top.

Every host-side operation on a path inside a container's rootfs goes through here, so a
symlink in an image can never point a mount, mknod or write at the host.
"""

from __future__ import annotations

import ctypes
import errno
import os

from hull.linux.libc import cstr, syscall

# imported now, not on first use: the runtime may need it after pivot_root, when no
# module can be loaded any more
from hull.linux.safejoin import open_beneath

RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64),
                ("resolve", ctypes.c_uint64)]


_have_openat2 = "HULL_NO_OPENAT2" not in os.environ   # set: test the fallback


def openat2(dirfd: int, path: str, flags: int, mode: int = 0,
            resolve: int = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) -> int:
    """openat2(2); on a kernel without it (ENOSYS) the same resolution done by hand
    (safejoin.py). Only the resolve flags hull uses are supported there."""
    global _have_openat2
    if _have_openat2:
        how = _OpenHow(flags | os.O_CLOEXEC, mode, resolve)
        try:
            return syscall("openat2", ctypes.c_int(dirfd), cstr(path), ctypes.byref(how),
                           ctypes.c_size_t(ctypes.sizeof(how)))
        except OSError as e:
            if e.errno != errno.ENOSYS:
                raise
            _have_openat2 = False
    return open_beneath(dirfd, path, flags, mode, bool(resolve & RESOLVE_IN_ROOT),
                        bool(resolve & RESOLVE_NO_SYMLINKS))


def open_in_root(root_fd: int, path: str, flags: int = os.O_PATH, mode: int = 0) -> int:
    return openat2(root_fd, path.lstrip("/") or ".", flags, mode)


def fd_path(fd: int) -> str:
    """A path naming exactly the object fd refers to, usable as a mount target or source."""
    return f"/proc/self/fd/{fd}"


def mkdir_all_in_root(root_fd: int, path: str, mode: int = 0o755) -> int:
    """Create path (and its parents) inside the root; returns an O_PATH fd of the directory.

    Each prefix is resolved from the root, so a symlinked component is followed as the
    container would see it: an absolute link target means the rootfs, never the host. A
    dangling link is followed too, and its target created inside the root (as runc's
    securejoin.MkdirAll does).
    """
    parts = [p for p in path.split("/") if p and p != "."]
    links = 0
    i = 0
    while i < len(parts):
        prefix = "/".join(parts[: i + 1])
        try:
            os.close(open_in_root(root_fd, prefix, os.O_PATH | os.O_DIRECTORY))
            i += 1
            continue
        except FileNotFoundError:
            pass
        parent = open_in_root(root_fd, "/".join(parts[:i]), os.O_PATH | os.O_DIRECTORY)
        try:
            os.mkdir(parts[i], mode, dir_fd=parent)
            i += 1
        except FileExistsError:
            target = os.readlink(parts[i], dir_fd=parent)   # a dangling symlink
            links += 1
            if links > 40:
                raise OSError(40, f"too many levels of symbolic links in {path}") from None
            base = [] if target.startswith("/") else parts[:i]
            parts = base + [p for p in target.split("/") if p and p != "."] + parts[i + 1:]
            parts = _normalize(parts)
            i = 0
        finally:
            os.close(parent)
    return open_in_root(root_fd, "/".join(parts), os.O_PATH | os.O_DIRECTORY)


def _normalize(parts: list[str]) -> list[str]:
    out: list[str] = []
    for p in parts:
        if p == "..":
            if out:
                out.pop()   # ".." never climbs above the root
        else:
            out.append(p)
    return out


def ensure_in_root(root_fd: int, path: str, directory: bool) -> int:
    """O_PATH fd of path inside the root, created as a directory or empty file if missing."""
    try:
        return open_in_root(root_fd, path)
    except FileNotFoundError:
        pass
    if directory:
        return mkdir_all_in_root(root_fd, path)
    parent = path.strip("/").rpartition("/")[0]
    os.close(mkdir_all_in_root(root_fd, parent))
    fd = open_in_root(root_fd, path, os.O_CREAT | os.O_WRONLY, 0o644)
    os.close(fd)
    return open_in_root(root_fd, path)


CGROUP_SUPER_MAGIC = 0x27E0EB
CGROUP2_SUPER_MAGIC = 0x63677270
TMPFS_MAGIC = 0x01021994
PROC_SUPER_MAGIC = 0x9FA0


def fs_magic(path: str) -> int:
    """statfs(2)'s f_type: which filesystem a path lives on."""
    from hull.linux.libc import check, libc
    buf = ctypes.create_string_buffer(256)
    fn = libc().statfs
    fn.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    check(fn(path.encode(), buf), f"statfs {path}")
    return int.from_bytes(buf.raw[:8], "little", signed=True) & 0xFFFFFFFF
