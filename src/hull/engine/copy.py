"""`cp`: files between a container and the host, or a tar stream, by Docker's rules.

Both sides are reached through directory fds and openat2, never through path strings:

    container side   running: /proc/<pid>/root — the container's own mount tree, so its
                     volumes, binds and tmpfs are seen as the container sees them;
                     stopped: its rootfs mounted for the copy, volumes and binds reached
                     through their host directories (the longest mount point wins)
    host side        "/" — the user's own paths, resolved as usual

Whatever is read is walked fd by fd (nothing followed but what -L asks for, and then only
inside the root); whatever is written goes through the layer Applier (openat2
RESOLVE_IN_ROOT on every parent, the final component never followed). So a symlink in the
container cannot turn a copy into a read or write of the host (CVE-2018-15664), and no
code, library or NSS module is ever loaded from the container's filesystem: hull never
enters the container to copy (CVE-2019-14271).

The bytes go through a tar stream on a pipe, as docker's do: one thread archives the
source, the caller extracts it. `cp SRC -` and `cp - DEST` are the two ends on their own.
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import stat
import tarfile

from hull.engine import userns
from hull.errors import FailedPrecondition, NotFound
from hull.image.layer import write_stream
from hull.linux import fs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import IO

    from hull.engine.containers import ContainerService
    from hull.engine.store import Container


class CopyError(FailedPrecondition):
    """A copy docker's rules refuse; docker cp exits 1 for these, as for a missing path."""


def split_arg(arg: str) -> tuple[str | None, str]:
    """CONTAINER:PATH or a local path (docker's rule: a path starting with / or . is
    local even if it has a colon)."""
    if arg.startswith(("/", ".")) or ":" not in arg:
        return None, arg
    container, _, path = arg.partition(":")
    return container, path


class Side:
    """One end of a copy: a root directory fd and how to name things in errors."""

    def __init__(self, root_fd: int, where: str,
                 redirects: list[tuple[str, str]] | None = None) -> None:
        self.root_fd = root_fd
        self.where = where          # "" for the host, " in container NAME" otherwise
        self.redirects = redirects or []   # (mount point, host dir) of a stopped container

    def locate(self, path: str) -> tuple[int, str]:
        """(root fd, path under it) for a container path; a stopped container's volume or
        bind mount is its host directory."""
        clean = posixpath.normpath("/" + path.lstrip("/"))
        for dest, source in self.redirects:
            if clean == dest or clean.startswith(dest.rstrip("/") + "/"):
                fd = os.open(source, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
                return fd, clean[len(dest):]
        return os.dup(self.root_fd), clean

    def missing(self, path: str) -> NotFound:
        if self.where:
            return NotFound(f"Could not find the file {path}{self.where}")
        return NotFound(f"lstat {path}: no such file or directory")


@contextlib.contextmanager
def container_side(service: ContainerService, c: Container) -> Iterator[Side]:
    where = f" in container {c.name}"
    pid = int(c.state.get("Pid") or 0) if c.state.get("Running") else 0
    if pid:
        fd = os.open(f"/proc/{pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        # the pid could have been reused between reading the state and the open: make sure
        # it is still the container's init
        if service.store.get(c.id).state.get("Pid") != pid:
            os.close(fd)
            raise FailedPrecondition(f"container {c.name} stopped during the copy")
        try:
            yield Side(fd, where)
        finally:
            os.close(fd)
        return
    from hull.engine import rootfs
    target = os.path.join(service.store.dir(c.id), "rootfs")
    rootfs.mount(service.images.snapshotter, c.id, target, userns.of(c.host_config),
                 service.remapped_copies())
    try:
        fd = os.open(target, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        redirects = sorted(((posixpath.normpath(m["Destination"]), m["Source"])
                            for m in c.state.get("MountPoints") or []
                            if m["Type"] in ("bind", "volume") and m.get("Source")),
                           key=lambda r: -len(r[0]))
        try:
            yield Side(fd, where, redirects)
        finally:
            os.close(fd)
    finally:
        rootfs.umount(target)


@contextlib.contextmanager
def host_side() -> Iterator[Side]:
    fd = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield Side(fd, "")
    finally:
        os.close(fd)


class Source:
    """What is being copied: its parent directory fd and its name there ("" when the path
    was followed to the object itself by -L)."""

    def __init__(self, side: Side, path: str, follow: bool,
                 ids: Callable[[int, int], tuple[int, int]] | None = None) -> None:
        self.path = path
        self.ids = ids   # translates owners read (a remapped container's → its own ids)
        self.contents_only = path.endswith("/.")   # SRC/. copies what is in SRC
        root, rel = side.locate(path)
        try:
            parent, name = posixpath.split(rel.rstrip("/") or "/")
            try:
                if follow or not name:
                    self.dir_fd = fs.open_in_root(root, rel)
                    self.name = ""
                else:
                    self.dir_fd = fs.open_in_root(root, parent, os.O_PATH | os.O_DIRECTORY)
                    self.name = name
                self.stat = self._stat()
            except (FileNotFoundError, NotADirectoryError):
                raise side.missing(path) from None
        finally:
            os.close(root)
        if path.endswith("/") and not stat.S_ISDIR(self.stat.st_mode) and \
                not (follow and stat.S_ISLNK(self.stat.st_mode)):
            raise CopyError(f"{path}: not a directory")

    def _stat(self) -> os.stat_result:
        if self.name:
            return os.stat(self.name, dir_fd=self.dir_fd, follow_symlinks=False)
        return os.fstat(self.dir_fd)

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.stat.st_mode)

    @property
    def basename(self) -> str:
        return posixpath.basename(self.path.rstrip("/").removesuffix("/.").rstrip("/")) or "/"

    @property
    def top_name(self) -> str:
        """The archive's top entry: SRC/. is "." — its contents land in the destination
        directory itself, not under SRC's name."""
        return "." if self.contents_only and self.is_dir else self.basename

    def entries(self, arcname: str) -> Iterator[tuple[tarfile.TarInfo, int]]:
        for info, fd in _Walker().entries(self.dir_fd, self.name, arcname):
            if self.ids is not None:
                info.uid, info.gid = self.ids(info.uid, info.gid)
            yield info, fd

    def archive(self, out: IO[bytes], arcname: str) -> None:
        with write_stream(out) as tar:
            for info, fd in self.entries(arcname):
                if fd < 0:
                    tar.addfile(info)
                    continue
                with os.fdopen(fd, "rb", closefd=False) as f:
                    tar.addfile(info, f)

    def close(self) -> None:
        os.close(self.dir_fd)


class _Walker:
    """A tree's entries, fd by fd: a directory's entries are opened relative to the
    directory's own fd with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, so swapping a component
    for a symlink mid-copy cannot lead the walk anywhere else. Yields (TarInfo, fd of a
    regular file's data or -1); the fd is closed once the consumer asks for the next."""

    def __init__(self) -> None:
        self.links: dict[tuple[int, int], str] = {}

    def entries(self, dir_fd: int, name: str, arcname: str
                ) -> Iterator[tuple[tarfile.TarInfo, int]]:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False) if name else os.fstat(dir_fd)
        info = tarfile.TarInfo(arcname)
        info.mode, info.uid, info.gid = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid
        info.mtime = int(st.st_mtime)
        key = (st.st_dev, st.st_ino)
        if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1 and key in self.links:
            info.type, info.linkname = tarfile.LNKTYPE, self.links[key]
            yield info, -1
        elif stat.S_ISREG(st.st_mode):
            self.links[key] = arcname
            info.size = st.st_size
            fd = self._open(dir_fd, name, os.O_RDONLY)
            try:
                if os.fstat(fd).st_ino != st.st_ino:
                    raise FailedPrecondition(f"{arcname} changed during the copy")
                yield info, fd
            finally:
                os.close(fd)
        elif stat.S_ISDIR(st.st_mode):
            info.type = tarfile.DIRTYPE
            yield info, -1
            fd = self._open(dir_fd, name, os.O_RDONLY | os.O_DIRECTORY)
            try:
                for entry in sorted(os.listdir(fd)):
                    yield from self._child(fd, entry, posixpath.join(arcname, entry))
            finally:
                os.close(fd)
        elif stat.S_ISLNK(st.st_mode):
            info.type, info.linkname = tarfile.SYMTYPE, os.readlink(name, dir_fd=dir_fd)
            yield info, -1
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) or stat.S_ISFIFO(st.st_mode):
            info.type = (tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
                         if stat.S_ISBLK(st.st_mode) else tarfile.FIFOTYPE)
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
            yield info, -1
        # sockets are left out, as tar does

    def _child(self, dir_fd: int, name: str, arcname: str
               ) -> Iterator[tuple[tarfile.TarInfo, int]]:
        """An entry below the top one: if a running container removes it (or swaps it for
        a symlink, which RESOLVE_NO_SYMLINKS refuses) mid-walk, it is left out, as tar
        leaves out a file removed before it was read."""
        try:
            yield from self.entries(dir_fd, name, arcname)
        except OSError as e:
            if e.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                raise

    @staticmethod
    def _open(dir_fd: int, name: str, flags: int) -> int:
        if not name:
            return os.open(fs.fd_path(dir_fd), flags | os.O_CLOEXEC)
        return fs.openat2(dir_fd, name, flags | os.O_NOFOLLOW,
                          resolve=fs.RESOLVE_BENEATH | fs.RESOLVE_NO_SYMLINKS)


def destination(side: Side, path: str, source_is_dir: bool | None,
                source_name: str) -> tuple[int, str]:
    """Docker's rules for where a copy lands: (directory fd to extract into, name of the
    top entry there). source_is_dir None means a tar from stdin, extracted into path."""
    root, rel = side.locate(path)
    try:
        try:
            fd = fs.open_in_root(root, rel)   # links followed, inside the root only
            is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
        except FileNotFoundError:
            fd, is_dir = -1, False
        if source_is_dir is None:
            if fd < 0 or not is_dir:
                if fd >= 0:
                    os.close(fd)
                raise side.missing(path) if fd < 0 else \
                    CopyError(f"destination {path!r} must be a directory")
            return fd, ""
        if fd >= 0 and is_dir:
            return fd, source_name     # copied into the directory, under its own name
        if fd >= 0:
            os.close(fd)
            if source_is_dir:
                raise CopyError(f"cannot copy a directory to a file: {path}")
            # a file over a file: replaced
        elif path.endswith("/"):
            raise CopyError(f"destination directory {path} must exist")
        parent, name = posixpath.split(rel.rstrip("/"))
        try:
            return fs.open_in_root(root, parent, os.O_PATH | os.O_DIRECTORY), name
        except (FileNotFoundError, NotADirectoryError):
            raise side.missing(posixpath.dirname(path.rstrip("/")) or "/") from None
    finally:
        os.close(root)


def tar_error(e: BaseException) -> str:
    """A tar stream that is not one, worded as Docker's daemon words it."""
    text = str(e)
    if not text or any(w in text for w in ("truncated", "empty", "EOF", "end of file")):
        text = "unexpected EOF"
    return f"Error processing tar file(exit status 1): {text}"


def extract(stream: IO[bytes], dir_fd: int, owner: tuple[int, int] | None,
            ids: Callable[[int, int], tuple[int, int]] | None) -> None:
    from hull.image.layer import Applier
    applier = Applier(fs.fd_path(dir_fd), whiteouts="none", owner=owner, ids=ids)
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as tar:
            applier.apply(tar)
    except (tarfile.TarError, EOFError) as e:   # stdin that is not a tar archive
        raise FailedPrecondition(tar_error(e)) from None
    finally:
        applier.close()


def copy(source: Source, dir_fd: int, name: str, owner: tuple[int, int] | None,
         ids: Callable[[int, int], tuple[int, int]] | None) -> None:
    """Host and container are both local: no tar at all, each entry goes from the walker
    to the Applier, file data from fd to fd inside the kernel (copy_file_range)."""
    from hull.image.layer import Applier
    applier = Applier(fs.fd_path(dir_fd), whiteouts="none", owner=owner, ids=ids)
    try:
        applier.apply_entries(source.entries(name or "."))
    finally:
        applier.close()


def run(service: ContainerService, src: str, dst: str, archive: bool, follow: bool,
        stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """`hull cp [-a] [-L] SRC DST`."""
    from hull.errors import ClientError  # the docker command's own checks, printed bare
    src_container, src_path = split_arg(src)
    dst_container, dst_path = split_arg(dst)
    if src_container and dst_container:
        raise ClientError("copying between containers is not supported")
    if not src_container and not dst_container:
        raise ClientError("must specify at least one container source")
    if src_path == "-" and dst_path == "-":
        raise ClientError('"-" can be used for only one of source and destination')
    if not (src_path if src_container else dst_path):
        raise ClientError("a container path must not be empty")
    # a remapped container's files are owned by host ids in its range: what comes out is
    # given the container's ids, what goes in the host ids (its root for a plain cp)
    read_ids = write_ids = None
    with contextlib.ExitStack() as stack:
        if src_container:
            c = service.store.get(src_container)
            src_side = stack.enter_context(container_side(service, c))
            dst_side = stack.enter_context(host_side())
            owner = None if archive else (os.geteuid(), os.getegid())
            idmap = userns.of(c.host_config)
            read_ids = idmap.to_container if idmap is not None else None
            src_path, dst_path = _absolute(src_path, container=True), \
                _absolute(dst_path, container=False)
        else:
            assert dst_container is not None
            c = service.store.get(dst_container)
            dst_side = stack.enter_context(container_side(service, c))
            src_side = stack.enter_context(host_side())
            idmap = userns.of(c.host_config)
            owner = None if archive else idmap.root if idmap is not None else (0, 0)
            write_ids = idmap.to_host if idmap is not None and archive else None
            src_path, dst_path = _absolute(src_path, container=False), \
                _absolute(dst_path, container=True)
        if src_path == "-":
            dir_fd, _ = destination(dst_side, dst_path, None, "")
            try:
                extract(stdin, dir_fd, owner, write_ids)
            finally:
                os.close(dir_fd)
            return
        source = Source(src_side, src_path, follow, read_ids)
        try:
            if dst_path == "-":
                source.archive(stdout, source.top_name)
                return
            dir_fd, name = destination(dst_side, dst_path, source.is_dir, source.top_name)
            try:
                copy(source, dir_fd, name, owner, write_ids)
            finally:
                os.close(dir_fd)
        finally:
            source.close()


def _absolute(path: str, container: bool) -> str:
    """Container paths are relative to its root (docker: to /), host paths to the cwd; the
    trailing / or /. that the rules look at is kept."""
    if path == "-":
        return path
    if container:
        return path if path.startswith("/") else "/" + path
    if path.startswith("/"):
        return path
    tail = "/." if path.endswith("/.") else "/" if path.endswith("/") else ""
    return os.path.abspath(path) + tail
