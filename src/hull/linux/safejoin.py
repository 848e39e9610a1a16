"""openat2's RESOLVE_IN_ROOT / RESOLVE_BENEATH done by hand, for kernels without openat2
(before 5.6) or where a seccomp filter around hull refuses it with ENOSYS.

The path is walked one component at a time from the root's fd: each directory is opened
with O_NOFOLLOW relative to the one before and checked to be the object that was looked
at; a symlink's target is read and walked the same way (an absolute target restarts at
the root, not at the host's "/"); ".." pops the walk's own stack of directory fds, so it
stops at the root and cannot climb out through a directory moved meanwhile. Magic links
(/proc/self/fd/N) are just symlinks here: their text is resolved inside the root, never
the object the kernel would jump to. This is what runc's securejoin and libpathrs do.
"""

from __future__ import annotations

import errno
import os
import stat

MAX_LINKS = 40   # the kernel's limit on symlinks followed in one lookup


def _fail(code: int, path: str) -> OSError:
    return OSError(code, os.strerror(code), path)


def open_beneath(root_fd: int, path: str, flags: int, mode: int, in_root: bool,
                 no_symlinks: bool) -> int:
    """An fd of path below root_fd, as openat2 with RESOLVE_IN_ROOT (in_root) or
    RESOLVE_BENEATH would give it; RESOLVE_NO_SYMLINKS when no_symlinks."""
    if not path:
        raise _fail(errno.ENOENT, path)
    if path.startswith("/") and not in_root:
        raise _fail(errno.EXDEV, path)
    todo = [p for p in path.split("/") if p not in ("", ".")]
    todo.reverse()   # a stack: the next component last
    dirs: list[int] = []
    links = 0
    try:
        while todo:
            name = todo.pop()
            here = dirs[-1] if dirs else root_fd
            if name == "..":
                if dirs:
                    os.close(dirs.pop())
                elif not in_root:
                    raise _fail(errno.EXDEV, path)
                continue
            last = not todo
            try:
                st = os.stat(name, dir_fd=here, follow_symlinks=False)
            except FileNotFoundError:
                if last and flags & os.O_CREAT:
                    return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode,
                                   dir_fd=here)
                raise
            if stat.S_ISLNK(st.st_mode):
                if last and flags & os.O_NOFOLLOW:   # the link itself (or ELOOP)
                    return _open_checked(name, here, flags, mode, st, path)
                if no_symlinks:
                    raise _fail(errno.ELOOP, path)
                links += 1
                if links > MAX_LINKS:
                    raise _fail(errno.ELOOP, path)
                target = os.readlink(name, dir_fd=here)
                if target.startswith("/"):
                    if not in_root:
                        raise _fail(errno.EXDEV, path)
                    while dirs:
                        os.close(dirs.pop())
                todo += reversed([p for p in target.split("/") if p not in ("", ".")])
                continue
            if last:
                return _open_checked(name, here, flags, mode, st, path)
            if not stat.S_ISDIR(st.st_mode):
                raise _fail(errno.ENOTDIR, path)
            dirs.append(_open_checked(name, here, os.O_PATH | os.O_DIRECTORY, 0, st, path))
        return os.open(".", flags | os.O_CLOEXEC, mode, dir_fd=dirs[-1] if dirs else root_fd)
    finally:
        for fd in dirs:
            os.close(fd)


def _open_checked(name: str, dir_fd: int, flags: int, mode: int, seen: os.stat_result,
                  path: str) -> int:
    """Open what was just looked at, never a symlink put in its place since."""
    fd = os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dir_fd)
    now = os.fstat(fd)
    if (now.st_dev, now.st_ino) != (seen.st_dev, seen.st_ino):
        os.close(fd)
        raise _fail(errno.EAGAIN, path)   # swapped while we walked: let the caller retry
    return fd
