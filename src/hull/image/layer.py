"""Apply a layer tarball to a directory, safe by construction.

tarfile only parses headers here; every file is created by this module relative to a
directory fd obtained with openat2(RESOLVE_IN_ROOT), so no entry — through `..`, absolute
names, symlinked parents, hardlinks, whiteouts or a symlink later replaced by a directory —
can touch anything outside the layer's root. The final path component is never followed:
whatever is there is removed and replaced. Whiteouts become overlay whiteouts (a 0:0
character device; the trusted.overlay.opaque xattr for `.wh..wh..opq`) or, for the copying
snapshotter, real deletions.
"""

from __future__ import annotations

import errno
import hashlib
import os
import posixpath
import stat
import tarfile

from hull.errors import InvalidArgument
from hull.linux import fs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

WH_PREFIX = ".wh."
WH_OPAQUE = ".wh..wh..opq"
_CHUNK = 1 << 20
# tarfile's stream writer appends each chunk to its buffer and slices bufsize off it: with
# its defaults (10 KiB buffer, 16 KiB chunks) that is fine, with a big buffer and small
# chunks it copies the buffer over and over. Equal and large, it copies each byte ~twice.

# Reading, tarfile keeps what it read past an entry's header and copies that rest on each
# header: 64 KiB makes big files cheap to read and costs a tiny file at most that copy.
_READ_BUFFER = 1 << 16


def write_stream(out: Any) -> tarfile.TarFile:
    """A PAX tar written to out as a stream, with buffer and copy chunks of equal size."""
    tar = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT,  # noqa: SIM115
                       bufsize=_CHUNK)
    tar.copybufsize = _CHUNK  # type: ignore[attr-defined]  # (typeshed lacks it)
    return tar


class Breakout(InvalidArgument):
    """A layer entry that would land outside its root."""


class _HashingReader:
    """Reads the decompressed stream while hashing it: the layer's diffID."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.hash = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data: bytes = self.raw.read(n)
        self.hash.update(data)
        self.size += len(data)
        return data


def decompressed(stream: Any) -> Any:
    """Wrap a gzip, zstd or plain tar stream so reading it gives the tar bytes."""
    if not hasattr(stream, "peek"):
        import io
        stream = io.BufferedReader(stream)
    head = stream.peek(4)[:4]
    if head[:2] == b"\x1f\x8b":
        import gzip
        return gzip.GzipFile(fileobj=stream, mode="rb")
    if head == b"\x28\xb5\x2f\xfd":
        try:
            import zstandard
        except ImportError:
            raise InvalidArgument("layer is zstd-compressed and the zstandard module is "
                                  "missing (scripts/install installs it)") from None
        return zstandard.ZstdDecompressor().stream_reader(stream)
    return stream


def _clean(name: str, what: str = "entry") -> str:
    """The entry's path inside the root, without leading / or ./; `..` escaping is refused."""
    path = posixpath.normpath("/" + name.lstrip("/")) if name not in ("", ".", "./") else "/"
    original = posixpath.normpath(name.lstrip("/")) if name.lstrip("/") else "."
    if original == ".." or original.startswith("../"):
        raise Breakout(f"layer {what} {name!r} points outside the layer")
    return path.lstrip("/")


def _current_umask() -> int:
    """The umask without setting it (os.umask would race with other unpacking threads)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


class Applier:
    """whiteouts: "overlay" (0:0 devices, opaque xattrs), "delete" (the copying
    snapshotter) or "none" (`cp`: .wh. names are ordinary files). owner, when given,
    replaces every entry's uid/gid (`cp` without -a); ids translates each entry's uid/gid
    instead (to or from a remapped container's host ids)."""

    def __init__(self, root: str, whiteouts: str, owner: tuple[int, int] | None = None,
                 ids: Callable[[int, int], tuple[int, int]] | None = None) -> None:
        self.root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        self.whiteouts = whiteouts
        self.owner = owner
        self.ids = ids
        self.created: set[str] = set()
        self.dir_times: list[tuple[str, float]] = []
        self.umask = _current_umask()
        self.as_root = os.geteuid() == 0
        # tar entries come grouped by directory: keep the last parent open while entries
        # share it. Entries under one parent only add or remove that parent's children,
        # which cannot change what the parent's own path resolves to; a different parent
        # (or a whiteout) resolves afresh through openat2.
        self._parent_path: str | None = None
        self._parent_fd = -1

    def close(self) -> None:
        self._forget_parent()
        os.close(self.root_fd)

    def _dir(self, parent: str) -> int:
        if parent != self._parent_path:
            self._forget_parent()
            self._parent_fd = fs.mkdir_all_in_root(self.root_fd, parent)
            self._parent_path = parent
        return self._parent_fd

    def _forget_parent(self) -> None:
        if self._parent_path is not None:
            os.close(self._parent_fd)
            self._parent_path = None

    def _remove_existing(self, pfd: int, name: str, keep_dir: bool) -> bool:
        """Clear the final component (never following it); True if a directory stays."""
        try:
            st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(st.st_mode):
            if keep_dir:
                return True
            self._rmtree_at(pfd, name)
        else:
            os.unlink(name, dir_fd=pfd)
        return False

    def _rmtree_at(self, pfd: int, name: str) -> None:
        fd = fs.openat2(pfd, name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW,
                        resolve=fs.RESOLVE_BENEATH | fs.RESOLVE_NO_SYMLINKS)
        try:
            for entry in os.listdir(fd):
                st = os.stat(entry, dir_fd=fd, follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    self._rmtree_at(fd, entry)
                else:
                    os.unlink(entry, dir_fd=fd)
        finally:
            os.close(fd)
        os.rmdir(name, dir_fd=pfd)

    def apply(self, tar: tarfile.TarFile) -> None:
        self.apply_entries((member, tar) for member in tar)

    def apply_entries(self, entries: Iterable[tuple[tarfile.TarInfo, Any]]) -> None:
        """Entries with where their data is: the tar they came from, or an open fd."""
        for member, data in entries:
            path = _clean(member.name)
            if not path:
                continue
            base = posixpath.basename(path)
            if self.owner is not None:
                member.uid, member.gid = self.owner
            elif self.ids is not None:
                member.uid, member.gid = self.ids(member.uid, member.gid)
            if base.startswith(WH_PREFIX) and self.whiteouts != "none":
                self._forget_parent()
                self._whiteout(path, base)
                continue
            parent, _, name = path.rpartition("/")
            self._create(data, member, self._dir(parent), name, path)
            self.created.add(path)
        self._forget_parent()
        self._finish_dirs()

    def _whiteout(self, path: str, base: str) -> None:
        parent = posixpath.dirname(path)
        pfd = fs.mkdir_all_in_root(self.root_fd, parent)
        try:
            if base == WH_OPAQUE:
                if self.whiteouts == "overlay":
                    os.setxattr(f"/proc/self/fd/{pfd}", "trusted.overlay.opaque", b"y")
                else:   # hide what the lower layers put here, keep this layer's own entries
                    for entry in os.listdir(fs.fd_path(pfd)):
                        if posixpath.join(parent, entry) not in self.created:
                            self._remove_existing(pfd, entry, keep_dir=False)
                return
            name = base[len(WH_PREFIX):]
            if not name or name in (".", "..") or "/" in name:
                raise Breakout(f"layer whiteout {path!r} is malformed")
            self._remove_existing(pfd, name, keep_dir=False)
            if self.whiteouts == "overlay":
                os.mknod(name, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=pfd)
        finally:
            os.close(pfd)

    def _create(self, tar: Any, m: tarfile.TarInfo, pfd: int, name: str,
                path: str) -> None:
        if m.isdir():
            if not self._remove_existing(pfd, name, keep_dir=True):
                os.mkdir(name, 0o700, dir_fd=pfd)
            self.dir_times.append((path, m.mtime))
            self._metadata(m, pfd, name)
            return
        try:
            st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            st = None
        if st is not None:   # replaced: the path may mean something else from now on
            self._remove_existing(pfd, name, keep_dir=False)
        if m.isreg():
            self._regular(tar, m, pfd, name)
            return
        if m.issym():
            os.symlink(m.linkname, name, dir_fd=pfd)
        elif m.islnk():
            self._hardlink(m, pfd, name)
            return   # a hard link shares the target's inode: metadata is the target's
        elif m.ischr() or m.isblk() or m.isfifo():
            kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK if m.isblk() else stat.S_IFIFO
            os.mknod(name, kind | 0o600, os.makedev(m.devmajor, m.devminor), dir_fd=pfd)
        else:
            raise InvalidArgument(f"layer entry {m.name!r}: unsupported type {m.type!r}")
        self._metadata(m, pfd, name)

    def _regular(self, tar: Any, m: tarfile.TarInfo, pfd: int, name: str) -> None:
        """A regular file with as few syscalls as it takes: created with its mode, owner and
        times set through the open fd."""
        mode = m.mode & 0o7777
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     mode & 0o777, dir_fd=pfd)
        try:
            if isinstance(tar, int):
                _copy_fd(tar, fd, m.size)
            else:
                src = tar.extractfile(m)
                assert src is not None
                while chunk := src.read(_CHUNK):
                    os.write(fd, chunk)
            if m.pax_headers and any(k.startswith("SCHILY.xattr.") for k in m.pax_headers):
                self._xattrs(m, _proc(pfd, name))
            chowned = False
            if not (self.as_root and m.uid == 0 and m.gid == 0):
                os.fchown(fd, m.uid, m.gid)
                chowned = True
            # chown clears setuid/setgid, and umask may have taken bits off
            if mode & 0o7000 or (chowned and mode & 0o6000) or mode & self.umask:
                os.fchmod(fd, mode)
            os.utime(fd, ns=(int(m.mtime * 1e9),) * 2)
        finally:
            os.close(fd)

    def _hardlink(self, m: tarfile.TarInfo, pfd: int, name: str) -> None:
        target = _clean(m.linkname, "hard link target")
        tparent, _, tname = target.rpartition("/")
        try:
            tfd = fs.open_in_root(self.root_fd, tparent or ".", os.O_PATH | os.O_DIRECTORY)
        except FileNotFoundError:
            raise InvalidArgument(f"layer hard link {m.name!r}: target {m.linkname!r} does "
                                  "not exist") from None
        try:
            os.link(tname, name, src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            raise InvalidArgument(f"layer hard link {m.name!r}: target {m.linkname!r} does "
                                  "not exist") from None
        finally:
            os.close(tfd)

    def _xattrs(self, m: tarfile.TarInfo, path: str) -> None:
        for key, value in (m.pax_headers or {}).items():
            if key.startswith("SCHILY.xattr."):
                attr = key[len("SCHILY.xattr."):]
                if attr.startswith("trusted.overlay."):
                    continue   # only hull decides what overlay sees as opaque or whiteout
                raw = value.encode("utf-8", "surrogateescape")
                try:
                    os.setxattr(path, attr, raw, follow_symlinks=False)
                except OSError as e:
                    if e.errno not in (errno.ENOTSUP, errno.EPERM):
                        raise

    def _metadata(self, m: tarfile.TarInfo, pfd: int, name: str) -> None:
        if m.pax_headers:
            self._xattrs(m, _proc(pfd, name))
        os.chown(name, m.uid, m.gid, dir_fd=pfd, follow_symlinks=False)
        if not m.issym():
            os.chmod(name, m.mode & 0o7777, dir_fd=pfd, follow_symlinks=True)
            if not m.isdir():
                os.utime(name, ns=(int(m.mtime * 1e9),) * 2, dir_fd=pfd,
                         follow_symlinks=False)
        else:
            os.utime(name, ns=(int(m.mtime * 1e9),) * 2, dir_fd=pfd, follow_symlinks=False)

    def _finish_dirs(self) -> None:
        for path, mtime in reversed(self.dir_times):
            try:
                fd = fs.open_in_root(self.root_fd, path, os.O_PATH | os.O_DIRECTORY)
            except FileNotFoundError:
                continue
            try:
                os.utime(fs.fd_path(fd), ns=(int(mtime * 1e9),) * 2)
            finally:
                os.close(fd)


def _copy_fd(src: int, dst: int, size: int) -> None:
    """size bytes from src's start, inside the kernel where it can (copy_file_range,
    which may share blocks; sendfile across filesystems that refuse it)."""
    done = 0
    use_range = True
    while done < size:
        try:
            if use_range:
                n = os.copy_file_range(src, dst, size - done, done)
            else:
                n = os.sendfile(dst, src, done, size - done)
        except OSError as e:
            if use_range and e.errno in (errno.EXDEV, errno.EINVAL, errno.ENOSYS,
                                         errno.EOPNOTSUPP):
                use_range = False
                continue
            raise
        if n == 0:
            raise InvalidArgument(f"source file shrank while copied ({done} of {size})")
        done += n


def _proc(pfd: int, name: str) -> str:
    return f"/proc/self/fd/{pfd}/{name}"


def apply_layer(stream: Any, root: str, whiteouts: str = "overlay") -> tuple[str, int]:
    """Unpack a (compressed) layer into root; returns (diffID, uncompressed size)."""
    reader = _HashingReader(decompressed(stream))
    applier = Applier(root, whiteouts)
    try:
        tar_in: Any = reader   # tarfile reads only .read(); its stub wants a full file
        with tarfile.open(fileobj=tar_in, mode="r|", errorlevel=2, bufsize=_READ_BUFFER) as tar:
            applier.apply(tar)
        while reader.read(_CHUNK):   # trailing padding counts towards the diffID
            pass
    except tarfile.TarError as e:
        raise InvalidArgument(f"layer is not a valid tar archive: {e}") from None
    finally:
        applier.close()
    return "sha256:" + reader.hash.hexdigest(), reader.size


