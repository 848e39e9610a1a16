"""An overlay upper directory read as an image layer: the changes a container (or a build
step) made over its lower layers, written as a layer tar. Used by `commit` and by `build`.

Overlay keeps a deletion as a 0:0 character device (a whiteout) and a directory that
replaced a lower one wholesale with trusted.overlay.opaque="y"; the layer format says the
same with `.wh.NAME` and `.wh..wh..opq` entries. Every walk goes directory by directory
through fds (os.fwalk), so a running container swapping a directory for a symlink mid-walk
cannot send hull out of the tree."""

from __future__ import annotations

import errno
import os

from hull.errors import FailedPrecondition

TYPE_CHECKING = False
if TYPE_CHECKING:
    import tarfile
    from collections.abc import Callable
    from typing import Any

    from hull.image.tarwriter import TarWriter

    IdShift = Callable[[int, int], tuple[int, int]]


def layer_from_upper(out: Any, upper: str, skip: tuple[str, ...] = (),
                     to_container: IdShift | None = None) -> None:
    """The upper dir as a layer tar written to out: whiteouts become .wh.NAME files,
    opaque directories get a .wh..wh..opq entry; hard links stay links; nothing is
    followed. skip: absolute paths left out (the init layer's files); to_container: a
    remapped container's host owners written as the container's."""
    import stat as st

    from hull.image.tarwriter import TarWriter
    tar = TarWriter(out)
    links: dict[tuple[int, int], str] = {}
    for top, dirs, files, dir_fd in os.fwalk(upper):
        dirs.sort()
        for name in sorted(dirs) + sorted(files):
            rel = os.path.relpath(os.path.join(top, name), upper)
            if "/" + rel in skip:
                continue
            try:
                info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                continue   # removed by the running container meanwhile
            if st.S_ISCHR(info.st_mode) and info.st_rdev == 0:
                tar.add_empty_file(os.path.join(os.path.dirname(rel), ".wh." + name))
                continue
            _add(tar, dir_fd, name, rel, info, links, to_container)
            if name in dirs:
                try:
                    opaque = os.getxattr(at(dir_fd, name), "trusted.overlay.opaque") == b"y"
                except OSError:
                    opaque = False
                if opaque:
                    tar.add_empty_file(os.path.join(rel, ".wh..wh..opq"))
    tar.close()


def _add(tar: TarWriter, dir_fd: int, name: str, rel: str, info: os.stat_result,
         links: dict[tuple[int, int], str], to_container: IdShift | None) -> None:
    """One entry as lstat saw it; a regular file read through an fd opened without
    following links (it could have been swapped for one since), a second name of a file
    already written as a hard link to the first."""
    import stat as st
    ids = to_container(info.st_uid, info.st_gid) if to_container is not None else None
    if st.S_ISREG(info.st_mode):
        key = (info.st_dev, info.st_ino)
        if info.st_nlink > 1:
            first = links.setdefault(key, rel)
            if first != rel:
                tar.add(rel, info, hardlink=first, ids=ids)
                return
        fd = _open_unfollowed(name, dir_fd)
        if fd < 0:
            return
        try:
            if os.fstat(fd).st_size != info.st_size:
                raise FailedPrecondition(f"{rel} changed while it was archived")
            tar.add(rel, info, data_fd=fd, ids=ids)
        finally:
            os.close(fd)
    elif st.S_ISLNK(info.st_mode):
        try:
            link = os.readlink(name, dir_fd=dir_fd)
        except OSError:   # removed or swapped since the lstat (a running container)
            return
        tar.add(rel, info, link=link, ids=ids)
    else:
        tar.add(rel, info, ids=ids)


def _open_unfollowed(name: str, dir_fd: int | None = None) -> int:
    """A regular file opened for reading, never through a link (it could have been
    swapped for one since the lstat); -1 when it is gone or is a link now."""
    try:
        return os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    except FileNotFoundError:
        return -1
    except OSError as e:
        if e.errno == errno.ELOOP:
            return -1   # what is there now is not this file
        raise


def at(dir_fd: int, name: str) -> str:
    """A path to `name` in the directory open as dir_fd. Walks over a container's layer use
    os.fwalk, which opens each directory by fd without following links; naming entries
    through that fd keeps a directory swapped for a symlink mid-walk (a running container
    can do that) from sending hull out of the tree."""
    return f"/proc/self/fd/{dir_fd}/{name}"


def add_entry(tar: tarfile.TarFile, path: str, arcname: str,
              to_container: IdShift | None = None) -> None:
    """One file as it is on disk (links as links, never followed); left out if it was
    removed since the directory was listed."""
    try:
        entry = tar.gettarinfo(path, arcname=arcname)
    except FileNotFoundError:
        return
    if to_container is not None:
        entry.uid, entry.gid = to_container(entry.uid, entry.gid)
        entry.uname = entry.gname = ""
    fd = _open_unfollowed(path) if entry.isreg() else -1
    if entry.isreg() and fd < 0:
        return
    if fd >= 0:
        with os.fdopen(fd, "rb") as f:
            if os.fstat(fd).st_size != entry.size:
                raise FailedPrecondition(f"{arcname} changed while it was archived")
            tar.addfile(entry, f)
    else:
        tar.addfile(entry)


def tarfile_info(name: str) -> tarfile.TarInfo:
    import tarfile as tf
    entry = tf.TarInfo(name)
    entry.mode = 0o600
    return entry
