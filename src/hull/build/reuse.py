"""A COPY of a context directory that changed in a few files, made from the layer the same
COPY made last time: its files are hard-linked into the new layer and only what changed is
written. Writing 10,000 small files is the cost of such a rebuild — and the part that
slows down most when the disk is busy (measured right after docker's builds: `cp -a` of
10,000 files 4.5–8.7 s, `cp -al` 0.1–0.2 s) — while a link is a directory entry.

Both layers are immutable once committed (a container or a later step writes through
overlay's copy-up, never into a lower file), and a changed file is unlinked before it is
written, so sharing an inode never lets one layer change the other. The new layer's
tar is read from its own directory, as any layer's: it comes out as a fresh copy's would
(a relinked file keeps the time the previous copy gave it: its content and mode are those
the checksum says are unchanged).

Used only where the mapping is plain — one directory source, no --parents, --exclude,
--chown or --chmod, the same instruction on the same parent state — and anything
unexpected in the previous layer (a whiteout, an opaque directory, a changed directory)
makes it give up, and the step copies everything as usual."""

from __future__ import annotations

import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


class CannotReuse(Exception):
    """The previous layer is not one this can build on: copy everything instead."""


def relink(previous: str, upper: str) -> None:
    """Make upper (empty) a tree of hard links to previous's files, with its directories
    and symlinks recreated alike."""
    times: list[tuple[str, int, int]] = []
    for top, dirs, files, dir_fd in os.fwalk(previous):
        rel_top = os.path.relpath(top, previous)
        target_top = upper if rel_top == "." else os.path.join(upper, rel_top)
        for name in dirs + files:
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            target = os.path.join(target_top, name)
            if stat.S_ISDIR(info.st_mode):
                if _opaque(dir_fd, name):
                    raise CannotReuse("an opaque directory")
                os.mkdir(target, 0o700)
                os.chown(target, info.st_uid, info.st_gid)
                os.chmod(target, stat.S_IMODE(info.st_mode))
                times.append((target, info.st_atime_ns, info.st_mtime_ns))
            elif stat.S_ISREG(info.st_mode):
                os.link(name, target, src_dir_fd=dir_fd, follow_symlinks=False)
            elif stat.S_ISLNK(info.st_mode):
                os.symlink(os.readlink(name, dir_fd=dir_fd), target)
                os.chown(target, info.st_uid, info.st_gid, follow_symlinks=False)
                os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns),
                         follow_symlinks=False)
            else:
                raise CannotReuse("a whiteout or a special file")
    for path, atime, mtime in reversed(times):   # deepest first: children are done
        os.utime(path, ns=(atime, mtime))


def _opaque(dir_fd: int, name: str) -> bool:
    try:
        return os.getxattr(f"/proc/self/fd/{dir_fd}/{name}", "trusted.overlay.opaque",
                           follow_symlinks=False) == b"y"
    except OSError:
        return False


def changes(old: dict[str, str], new: dict[str, str], is_file: Callable[[str], bool]
            ) -> tuple[list[str], list[str]]:
    """(written: new or changed files, removed) between two manifests of the source; a
    directory or link that appeared or changed is more than this does (a directory that
    went shows as such when its entry is unlinked)."""
    written = sorted(p for p, digest in new.items() if old.get(p) != digest)
    removed = sorted(p for p in old if p not in new)
    if not all(is_file(p) for p in written):
        raise CannotReuse("a directory or a link changed")
    return written, removed


def apply_changes(upper: str, dest: str, source_root: str, source: str, written: list[str],
                  removed: list[str], copy_file: Callable[[str, str], None]) -> None:
    """Unlink what went or changed under dest (relative to the layer's root), then
    copy_file(source path, dest path) for each new or changed file; the directories that
    changed take their source directory's times again, as a whole copy gives them."""
    def target(path: str) -> str:
        rel = path[len(source) + 1:] if source else path
        return os.path.join(dest, rel).lstrip("/")
    for path in removed + written:
        try:
            os.unlink(os.path.join(upper, target(path)))
        except FileNotFoundError:
            pass
        except IsADirectoryError:
            raise CannotReuse(f"{path} is a directory in the previous layer") from None
    for path in written:
        copy_file(path, "/" + target(path))
    for parent in sorted({os.path.dirname(p) for p in written + removed}, reverse=True):
        info = os.stat(os.path.join(source_root, parent), follow_symlinks=False)
        os.utime(os.path.join(upper, target(parent) if parent != source else
                              dest.lstrip("/")), ns=(info.st_atime_ns, info.st_mtime_ns))
