"""What COPY and ADD do to the step's filesystem, by BuildKit's rules (fsutil's copier).

Where things land (the caller joined dest with WORKDIR and says whether it named a
directory: a trailing "/", "/.", "." or ""):

    the directory part of dest is created first, and dest itself when it names one;
    a directory source copies its CONTENTS into dest (created if missing; an existing
    non-directory there is an error), never the directory itself;
    any other source lands at dest/BASENAME when dest is (now) a directory, else at dest,
    replacing a file there (a directory there is an error);
    --parents copies the source's path below its pivot — the part before "/./" in the
    source, or the source root — into dest: `a/b/f` lands at dest/a/b/f.

What the copies look like:

    contents, permission bits, mtimes and symlinks (as links) are kept; hard links between
    copied files are kept; devices and fifos are recreated, a socket becomes an empty file;
    ownership is --chown's for everything copied and for the directories created on the
    way, else the source's for a stage (COPY --from) and 0:0 for the build context (the
    client sends it with ids reset); created directories without --chown are root's;
    --chmod replaces the mode of everything but symlinks, and is the created directories'
    mode when octal (0755 otherwise);
    an existing destination directory keeps its owner and mode, its mtime becomes the
    source directory's (fsutil restores it after filling it); a directory met deeper in the
    tree takes the source's metadata, as fsutil overwrites it;
    --exclude patterns (moby/patternmatcher: `*`, `?`, `[...]`, `**`, `!` exceptions; a
    matched directory excludes its subtree) are matched against paths relative to each
    source, so the named source itself is never excluded.

Reading: the named source is resolved inside its root following symlinks, as BuildKit
does (FollowSymlinks for COPY sources: `COPY link /` copies what the link points at, an
absolute or `..` target meaning the source root, never the host); everything below it is
walked fd by fd without following anything, so a symlink in the tree is copied as a link.

Writing: the destination is resolved the way the container will see it (absolute symlink
targets mean the rootfs, `..` stops at its root), and every write goes through openat2
RESOLVE_IN_ROOT (the layer Applier): nothing the image or a RUN step put in the rootfs can
turn a COPY into a write on the host.

ADD's archive and URL handling is in fetching.py, the parsing of --chown, --chmod and
--exclude in copyflags.py (resolve_owner and parse_chmod are re-exported here).
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
import tarfile

from hull.build import fetching
from hull.build.copyflags import Excludes, SymbolicMode, clean, new_mode, parse_chmod, resolve_owner
from hull.build.errors import BuildError
from hull.errors import InvalidArgument
from hull.image.layer import Applier
from hull.linux import fs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from typing import Any

    from hull.build.copyflags import MatchState

    Entry = tuple[tarfile.TarInfo, int]

_MAX_LINKS = 40

__all__ = ["SymbolicMode", "copy_into", "parse_chmod", "resolve_owner"]


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p not in ("", ".")]


def _join(base: str, name: str) -> str:
    return f"{base}/{name}" if base else name


# --- the destination ------------------------------------------------------------------

def _resolve(root_fd: int, path: str) -> str:
    """path inside the root with its symlinks followed as the container would follow
    them (absolute targets from the root, `..` stopping there), a missing tail kept as
    written: continuity's RootPath, which BuildKit uses on every destination."""
    todo = _parts(path)[::-1]
    done: list[str] = []
    links = 0
    while todo:
        name = todo.pop()
        if name == "..":
            if done:
                done.pop()
            continue
        target = None
        try:
            pfd = fs.open_in_root(root_fd, "/".join(done), os.O_PATH | os.O_DIRECTORY)
        except (FileNotFoundError, NotADirectoryError):
            pfd = -1
        if pfd >= 0:
            try:
                if stat.S_ISLNK(os.stat(name, dir_fd=pfd, follow_symlinks=False).st_mode):
                    target = os.readlink(name, dir_fd=pfd)
            except FileNotFoundError:
                pass
            finally:
                os.close(pfd)
        if target is None:
            done.append(name)
            continue
        links += 1
        if links > _MAX_LINKS:
            raise BuildError(f"{path}: too many levels of symbolic links")
        if target.startswith("/"):
            done = []
        todo.extend(_parts(target)[::-1])
    return "/".join(done)


def _lstat(root_fd: int, rel: str) -> os.stat_result | None:
    parent, _, name = rel.rpartition("/")
    if not name:
        return os.fstat(root_fd)
    try:
        pfd = fs.open_in_root(root_fd, parent, os.O_PATH | os.O_DIRECTORY)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        return os.stat(name, dir_fd=pfd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    finally:
        os.close(pfd)


def _mkdir_all(root_fd: int, rel: str, mode: int, owner: tuple[int, int] | None) -> None:
    """fsutil's MkdirAll inside the root: each missing directory gets exactly mode's
    permission bits, whatever the umask, and --chown's owner (root's without one);
    existing ones are left alone."""
    parts = _parts(rel)
    for i in range(len(parts)):
        prefix = "/".join(parts[: i + 1])
        try:
            os.close(fs.open_in_root(root_fd, prefix, os.O_PATH | os.O_DIRECTORY))
            continue
        except FileNotFoundError:
            pass
        except NotADirectoryError:
            raise BuildError(f"mkdir /{prefix}: not a directory") from None
        pfd = fs.open_in_root(root_fd, "/".join(parts[:i]), os.O_PATH | os.O_DIRECTORY)
        try:
            os.mkdir(parts[i], 0o700, dir_fd=pfd)
            dfd = os.open(parts[i], os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                          dir_fd=pfd)
        except FileExistsError:
            raise BuildError(f"mkdir /{prefix}: file exists") from None
        finally:
            os.close(pfd)
        try:
            if owner is not None:
                os.fchown(dfd, *owner)
            os.fchmod(dfd, mode & 0o777)
        finally:
            os.close(dfd)


class _CopyApplier(Applier):
    """The layer Applier with fsutil's refusals: a copied directory does not replace a
    non-directory, nor a copied file a directory (an archive would just replace them).
    It hooks the Applier's per-entry _create, where the parent is already an fd."""

    def _create(self, tar: Any, m: tarfile.TarInfo, pfd: int, name: str, path: str) -> None:
        try:
            st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            st = None
        if st is not None and m.isdir() != stat.S_ISDIR(st.st_mode):
            if m.isdir():
                raise BuildError(f"cannot copy to non-directory: /{path}")
            raise BuildError(f"cannot replace to directory /{path} with file")
        super()._create(tar, m, pfd, name, path)


# --- the sources ----------------------------------------------------------------------

class _Walker:
    """A source tree as (TarInfo, fd of a regular file's data or -1), entries named by
    where they land inside the rootfs. Every entry below the named source is opened
    relative to its directory's fd with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS; a regular
    file's fd is closed once the consumer asks for the next entry. Directories excluded
    while `!` exceptions exist are held back and only written if something below them is
    copied (fsutil's delayed parents)."""

    def __init__(self, mode: int | SymbolicMode | None, excludes: Excludes | None,
                 ignored: Callable[[str], bool] | None = None) -> None:
        self.mode = mode
        self.excludes = excludes
        self.ignored = ignored   # the context's .dockerignore, on paths from its root
        self.base = ""           # the current source's path from the context root
        self.links: dict[tuple[int, int], str] = {}
        self.pending: list[tarfile.TarInfo] = []

    def _info(self, st: os.stat_result, arc: str) -> tarfile.TarInfo:
        info = tarfile.TarInfo(arc)
        info.mode = new_mode(self.mode, st.st_mode)
        info.uid, info.gid = st.st_uid, st.st_gid
        info.mtime = st.st_mtime_ns / 1e9
        return info

    def leaf(self, st: os.stat_result, arc: str, open_data: Callable[[], int],
             read_link: Callable[[], str]) -> Iterator[Entry]:
        """A non-directory: its data, link target or device numbers."""
        info = self._info(st, arc)
        kind = st.st_mode
        if stat.S_ISREG(kind):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1:
                first = self.links.setdefault(key, arc)
                if first != arc:
                    info.type, info.linkname = tarfile.LNKTYPE, first
                    yield info, -1
                    return
            info.size = st.st_size
            fd = open_data()
            try:
                now = os.fstat(fd)
                if (now.st_dev, now.st_ino) != key:
                    raise BuildError(f"/{arc}: source changed during the copy")
                yield info, fd
            finally:
                os.close(fd)
        elif stat.S_ISLNK(kind):
            info.type, info.linkname = tarfile.SYMTYPE, read_link()
            yield info, -1
        elif stat.S_ISCHR(kind) or stat.S_ISBLK(kind) or stat.S_ISFIFO(kind):
            info.type = (tarfile.CHRTYPE if stat.S_ISCHR(kind) else tarfile.BLKTYPE
                         if stat.S_ISBLK(kind) else tarfile.FIFOTYPE)
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
            yield info, -1
        else:   # a socket: fsutil's mknod without the type bits makes an empty file
            yield info, -1

    def children(self, dir_fd: int, arc: str, rel: str, state: MatchState
                 ) -> Iterator[Entry]:
        for name in sorted(os.listdir(dir_fd)):
            yield from self.entry(dir_fd, name, _join(arc, name), _join(rel, name), state, None)

    def entry(self, dir_fd: int, name: str, arc: str, rel: str, parent: MatchState,
              only: Sequence[str] | None) -> Iterator[Entry]:
        """name in dir_fd and, for a directory, what is below it — or, with only, just
        the path only names below it (--parents)."""
        if self.ignored is not None and self.ignored(_join(self.base, rel)):
            return   # never read (a directory holding a `!` exception is not ignored)
        excluded, state = (self.excludes.match(rel, parent) if self.excludes
                           else (False, None))
        if excluded and not (self.excludes and self.excludes.negations):
            return
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            if only is None:
                raise
            raise BuildError(f'"/{rel}": not found') from None
        if stat.S_ISDIR(st.st_mode):
            info = self._info(st, arc)
            info.type = tarfile.DIRTYPE
            if excluded:
                self.pending.append(info)
            else:
                yield from self._flush()
                yield info, -1
            fd = _open_below(dir_fd, name, os.O_RDONLY | os.O_DIRECTORY)
            try:
                if only:
                    yield from self.entry(fd, only[0], _join(arc, only[0]),
                                          _join(rel, only[0]), state, only[1:])
                else:
                    yield from self.children(fd, arc, rel, state)
            finally:
                os.close(fd)
            if self.pending and self.pending[-1] is info:
                self.pending.pop()
            return
        if only:
            raise BuildError(f'"/{rel}/{only[0]}": not found')
        if excluded:
            return
        yield from self._flush()
        yield from self.leaf(st, arc, lambda: _open_below(dir_fd, name, os.O_RDONLY),
                             lambda: os.readlink(name, dir_fd=dir_fd))

    def _flush(self) -> Iterator[Entry]:
        for info in self.pending:
            yield info, -1
        self.pending.clear()


def _open_below(dir_fd: int, name: str, flags: int) -> int:
    return fs.openat2(dir_fd, name, flags | os.O_NOFOLLOW,
                      resolve=fs.RESOLVE_BENEATH | fs.RESOLVE_NO_SYMLINKS)


def _reopen(path_fd: int, flags: int) -> int:
    """A readable fd of the object an O_PATH fd refers to (not a lookup by name again)."""
    return os.open(fs.fd_path(path_fd), flags | os.O_CLOEXEC)


def _pivot(source: str) -> tuple[str, list[str]]:
    """--parents: (the directory the kept path starts from, the kept path's components).
    "a/./b/c" keeps b/c below a; without "/./" the whole path is kept."""
    pivot, sep, rest = source.partition("/./")
    if not sep:
        pivot, rest = "", source
    kept = [p for p in clean("/" + rest).split("/") if p]
    return pivot, kept


# --- COPY / ADD -------------------------------------------------------------------------

def copy_into(rootfs: str, source_root: str, sources: Sequence[str], dest: str, *,
              dest_is_dir: bool, owner: tuple[int, int] | None,
              mode: int | SymbolicMode | None, keep_owner: bool, parents: bool = False,
              excludes: Sequence[str] = (), unpack: bool = False,
              ignored: Callable[[str], bool] | None = None) -> None:
    """Copy sources (paths relative to source_root, "" for the root itself; with parents,
    "PIVOT/./PATH" marks where the kept path starts) to dest (a path inside the container,
    already joined with WORKDIR) in the rootfs mounted at rootfs.

    dest_is_dir: the instruction's dest named a directory (ended with "/" or "/.", or
    was "." or ""), so it is created as one; whether dest already is a directory is
    looked up here, per source. owner: --chown's ids (resolve_owner); keep_owner: keep the
    source's owners (a stage) rather than 0:0 (the build context) when owner is None.
    unpack: ADD — a source that is a tar archive is extracted into dest instead."""
    entry_owner = owner if owner is not None else None if keep_owner else _own_ids()
    dir_mode = mode if isinstance(mode, int) else 0o755
    matcher = Excludes(excludes) if excludes else None
    walker = _Walker(mode, matcher, ignored)
    root_fd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    src_fd = os.open(source_root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for source in sources:
            walker.base = clean("/" + source.replace("/./", "/")).strip("/")
            _copy_one(root_fd, src_fd, source, dest, dest_is_dir, parents, unpack, walker,
                      entry_owner, dir_mode, owner)
    except OSError as e:
        raise BuildError(_os_message(e, rootfs, source_root)) from None
    except InvalidArgument as e:   # the Applier's refusals: a source that shrank, ...
        raise BuildError(f"failed to copy files: {e}") from None
    finally:
        os.close(src_fd)
        os.close(root_fd)


def _copy_one(root_fd: int, src_fd: int, source: str, dest: str, dest_is_dir: bool,
              parents: bool, unpack: bool, walker: _Walker,
              entry_owner: tuple[int, int] | None, dir_mode: int,
              owner: tuple[int, int] | None) -> None:
    """One source, by the rules in the module docstring. The destination is resolved
    again for each source: an earlier one may have created it."""
    if parents:
        pivot, kept = _pivot(source)
        top = _open_source(src_fd, pivot)
    else:
        kept, top = [], _open_source(src_fd, source)
    try:
        st = os.fstat(top)
        target = _resolve(root_fd, dest)
        if unpack and not parents and stat.S_ISREG(st.st_mode):
            data = _reopen(top, os.O_RDONLY)
            try:
                if fetching.is_archive(data):
                    _unpack(root_fd, target, data, owner, source)
                    return
            finally:
                os.close(data)
        _mkdir_all(root_fd, target if dest_is_dir else target.rpartition("/")[0], dir_mode,
                   owner)
        applier = _CopyApplier(fs.fd_path(root_fd), whiteouts="none", owner=entry_owner)
        try:
            if stat.S_ISDIR(st.st_mode):
                _copy_dir(root_fd, target, top, st, kept, walker, applier, dir_mode, owner)
            elif parents:
                raise BuildError(f'"/{source}": --parents needs a directory before "/./"')
            else:
                _copy_leaf(root_fd, target, top, st, source, walker, applier, dir_mode,
                           owner)
        finally:
            applier.close()
    finally:
        os.close(top)


def _own_ids() -> tuple[int, int]:
    """The build context's owner: 0:0 for hull running as root (always, in a build);
    the caller's own ids otherwise, which stand for root in a rootless build."""
    return os.geteuid(), os.getegid()


def _open_source(src_fd: int, path: str) -> int:
    """O_PATH fd of a named source, symlinks followed inside the source root. A named
    symlink whose target is not in the root (absolute host path, dangling) is the link
    itself: copied as a link, never followed out of the context."""
    try:
        return fs.open_in_root(src_fd, path)
    except (FileNotFoundError, NotADirectoryError):
        link = _link_itself(src_fd, path)
        if link >= 0:
            return link
        raise BuildError(f'failed to compute cache key: "/{path.strip("/")}": not found'
                         ) from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise BuildError(f'"/{path}": too many levels of symbolic links') from None
        raise


def _link_itself(src_fd: int, path: str) -> int:
    """O_PATH|O_NOFOLLOW fd of path when it is a symlink (its parent resolved inside the
    root), else -1."""
    parent, _, name = clean("/" + path).rpartition("/")
    if not name:
        return -1
    try:
        pfd = fs.open_in_root(src_fd, parent or "/", os.O_PATH | os.O_DIRECTORY)
    except OSError:
        return -1
    try:
        fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
    except OSError:
        return -1
    finally:
        os.close(pfd)
    if not stat.S_ISLNK(os.fstat(fd).st_mode):
        os.close(fd)
        return -1
    return fd


def _copy_dir(root_fd: int, target: str, top: int, st: os.stat_result, kept: list[str],
              walker: _Walker, applier: Applier, dir_mode: int,
              owner: tuple[int, int] | None) -> None:
    """A directory's contents (or, with --parents, the kept path below it) into target,
    which is created if missing and takes the source directory's times at the end."""
    found = _lstat(root_fd, target)
    if found is None:
        _mkdir_all(root_fd, target, dir_mode, owner)
    elif not stat.S_ISDIR(found.st_mode):
        raise BuildError(f"cannot copy to non-directory: /{target}")
    data = _reopen(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if kept:
            entries = walker.entry(data, kept[0], _join(target, kept[0]), kept[0], None,
                                   kept[1:])
        else:
            entries = walker.children(data, target, "", None)
        applier.apply_entries(entries)
    finally:
        os.close(data)
    dfd = fs.open_in_root(root_fd, target, os.O_PATH | os.O_DIRECTORY)
    try:
        os.utime(fs.fd_path(dfd), ns=(st.st_atime_ns, st.st_mtime_ns))
    finally:
        os.close(dfd)


def _copy_leaf(root_fd: int, target: str, top: int, st: os.stat_result, source: str,
               walker: _Walker, applier: Applier, dir_mode: int,
               owner: tuple[int, int] | None) -> None:
    """A file (or link, device, fifo) to target, or into it when it is a directory."""
    found = _lstat(root_fd, target)
    if found is not None and stat.S_ISDIR(found.st_mode):
        target = _join(target, posixpath.basename(clean("/" + source)))
    else:
        _mkdir_all(root_fd, target.rpartition("/")[0], dir_mode, owner)
    if not target:
        raise BuildError("cannot copy a file to /")
    applier.apply_entries(walker.leaf(st, target, lambda: _reopen(top, os.O_RDONLY),
                                      lambda: os.readlink("", dir_fd=top)))


def _unpack(root_fd: int, target: str, data: int, owner: tuple[int, int] | None,
            source: str) -> None:
    """ADD of a local archive: target is made a directory (0755, --chown's owner) and the
    archive extracted inside it, rooted there."""
    _mkdir_all(root_fd, target, 0o755, owner)
    dest_fd = fs.open_in_root(root_fd, target, os.O_PATH | os.O_DIRECTORY)
    try:
        fetching.extract(data, dest_fd, owner, source)
    finally:
        os.close(dest_fd)


def _os_message(e: OSError, *roots: str) -> str:
    """An OSError as BuildKit shows one: host paths of the roots taken off."""
    text = f"{e.strerror or e}"
    if e.filename:
        name = os.fsdecode(e.filename)
        for root in roots:
            if name.startswith(root.rstrip("/") + "/"):
                name = name[len(root.rstrip("/")):]
        text = f"{name}: {text}"
    return f"failed to copy files: {text}"
