"""A read-only FUSE filesystem of generated files, speaking the kernel's protocol on
/dev/fuse directly.

hull needs one flat directory of small files whose content is computed at each read; that
is ten request types of the protocol (include/uapi/linux/fuse.h), fewer lines than the
glue a FUSE library would need, and it lets the engine service answer every container's
requests from its one event loop (no libfuse, no thread, nothing to install). Files are opened with
FOPEN_DIRECT_IO, so every read reaches the server and a file's size in stat (0, as in
/proc) does not matter; FLUSH, xattrs and the rest answer ENOSYS once and the kernel stops
asking.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

# opcodes
LOOKUP, FORGET, GETATTR, OPEN, READ, STATFS, RELEASE = 1, 2, 3, 14, 15, 17, 18
INIT, OPENDIR, READDIR, RELEASEDIR, INTERRUPT, DESTROY, IOCTL = 26, 27, 28, 29, 36, 38, 39
BATCH_FORGET = 42
_NO_REPLY = {FORGET, BATCH_FORGET, INTERRUPT}

_IN_HEADER = struct.Struct("<IIQQIIII")     # len, opcode, unique, nodeid, uid, gid, pid, pad
_OUT_HEADER = struct.Struct("<IiQ")         # len, error, unique
_ATTR = struct.Struct("<QQQQQQIIIIIIIIII")  # fuse_attr (88 bytes)
_ENTRY_TIMES = struct.Struct("<QQQQII")     # nodeid, generation, entry/attr valid (s, ns)
_READ_IN = struct.Struct("<QQI")            # fh, offset, size
FOPEN_DIRECT_IO = 1
ROOT = 1
# A file's size is unknown until it is rendered. read() on a direct-I/O file ignores it,
# but sendfile/splice (busybox cat) go through the page cache and stop at i_size: so
# every lookup says SIZE_BOUND, and the first short READ brings i_size down to the real
# length (fuse_short_read). Lookups are not cached (entry timeout 0), so each open starts
# again; attributes are, for a second, so fstat and friends cost no round trip.
SIZE_BOUND = 1 << 20
_ATTR_SECONDS = 1
_BUFFER = 1 << 17       # >= the kernel's max_write + header; requests here are tiny


class Files:
    """The directory: file name → function producing its content now. Each open file gets
    the content rendered at its first read and keeps it until it is closed, so a reader
    sees one consistent snapshot (and the read at the end costs no second rendering)."""

    def __init__(self, files: dict[str, Callable[[], bytes]]) -> None:
        self.names = sorted(files)
        self.render = files
        self.inode = {name: ROOT + 1 + i for i, name in enumerate(self.names)}
        self.by_inode = {i: name for name, i in self.inode.items()}
        self.started = time.time()
        self.open: dict[int, bytes | None] = {}   # file handle → content once read
        self.next_fh = 1


def _attr(inode: int, started: float) -> bytes:
    mode = (stat.S_IFDIR | 0o555) if inode == ROOT else (stat.S_IFREG | 0o444)
    sec = int(started)
    size = 0 if inode == ROOT else SIZE_BOUND
    return _ATTR.pack(inode, size, 0, sec, sec, sec, 0, 0, 0, mode,
                      2 if inode == ROOT else 1, 0, 0, 0, 4096, 0)


def _dirent(inode: int, offset: int, name: bytes, kind: int) -> bytes:
    head = struct.pack("<QQII", inode, offset, len(name), kind)
    pad = (-(len(head) + len(name))) % 8
    return head + name + b"\0" * pad


def serve_one(fd: int, files: Files) -> bool:
    """Answer the request waiting on the /dev/fuse fd (the caller's loop saw it readable);
    False once the filesystem is gone (unmounted, or destroyed)."""
    try:
        request = os.read(fd, _BUFFER)
    except OSError as e:
        if e.errno in (errno.EINTR, errno.ENOENT, errno.EAGAIN):
            return True    # ENOENT: a request was interrupted before we read it
        if e.errno == errno.ENODEV:
            return False   # unmounted
        raise
    _, opcode, unique, nodeid, _, _, _, _ = _IN_HEADER.unpack_from(request)
    if opcode in _NO_REPLY:
        return True
    if opcode == DESTROY:
        _reply(fd, unique, 0, b"")
        return False
    try:
        error, body = _answer(opcode, nodeid, request[_IN_HEADER.size:], files)
    except Exception:   # a broken renderer must not take the filesystem down
        error, body = errno.EIO, b""
    _reply(fd, unique, error, body)
    return True


def _reply(fd: int, unique: int, error: int, body: bytes) -> None:
    try:
        os.write(fd, _OUT_HEADER.pack(_OUT_HEADER.size + len(body), -error, unique) + body)
    except OSError as e:
        if e.errno != errno.ENOENT:   # the request was interrupted meanwhile
            raise


def _answer(opcode: int, nodeid: int, data: bytes, files: Files) -> tuple[int, bytes]:
    if opcode == INIT:
        _, minor, readahead, _ = struct.unpack_from("<IIII", data)
        # 7.23+: fuse_init_out is 64 bytes (flags 0: no optional features wanted)
        return 0, struct.pack("<IIIIHHIIHHI7I", 7, min(minor, 31), readahead, 0, 16, 12,
                              4096, 1, 0, 0, 0, *([0] * 7))
    if opcode == LOOKUP:
        name = data.split(b"\0", 1)[0].decode()
        inode = files.inode.get(name) if nodeid == ROOT else None
        if inode is None:
            return errno.ENOENT, b""
        return 0, _ENTRY_TIMES.pack(inode, 0, 0, _ATTR_SECONDS, 0, 0) + \
            _attr(inode, files.started)
    if opcode == GETATTR:
        if nodeid != ROOT and nodeid not in files.by_inode:
            return errno.ENOENT, b""
        return 0, struct.pack("<QII", _ATTR_SECONDS, 0, 0) + _attr(nodeid, files.started)
    if opcode == OPEN:
        fh = files.next_fh
        files.next_fh += 1
        files.open[fh] = None
        return 0, struct.pack("<QII", fh, FOPEN_DIRECT_IO, 0)
    if opcode == READ:
        fh, offset, size = _READ_IN.unpack_from(data)
        if nodeid not in files.by_inode:
            return errno.ENOENT, b""
        content = files.open.get(fh)
        if content is None:
            content = files.render[files.by_inode[nodeid]]()
            if fh in files.open:
                files.open[fh] = content
        return 0, content[offset:offset + size]
    if opcode == RELEASE:
        files.open.pop(struct.unpack_from("<Q", data)[0], None)
        return 0, b""
    if opcode == RELEASEDIR:
        return 0, b""
    if opcode == IOCTL:
        return errno.ENOTTY, b""   # isatty() on every Python open: the answer it expects
    if opcode == OPENDIR:
        return 0, struct.pack("<QII", 0, 0, 0)
    if opcode == READDIR:
        _, offset, size = _READ_IN.unpack_from(data)
        entries: list[tuple[int, bytes, int]] = [(ROOT, b".", 4), (ROOT, b"..", 4)]
        entries += [(files.inode[n], n.encode(), 8) for n in files.names]
        out = b""
        for i, (inode, raw, kind) in enumerate(entries[offset:], start=offset + 1):
            entry = _dirent(inode, i, raw, kind)
            if len(out) + len(entry) > size:
                break
            out += entry
        return 0, out
    if opcode == STATFS:
        return 0, struct.pack("<QQQQQIIII6I", 0, 0, 0, 0, 0, 4096, 255, 4096, 0, *([0] * 6))
    return errno.ENOSYS, b""


def mount(target: str) -> int:
    """Mount an empty FUSE filesystem at target; returns the /dev/fuse fd to serve it on."""
    from hull.linux import mount as m
    fd = os.open("/dev/fuse", os.O_RDWR | os.O_CLOEXEC)
    try:
        m.mount("hull-procfs", target, "fuse.hull-procfs",
                m.MS_NOSUID | m.MS_NODEV | m.MS_NOEXEC | m.MS_RDONLY,
                f"fd={fd},rootmode=40555,user_id=0,group_id=0,allow_other,default_permissions")
    except BaseException:
        os.close(fd)
        raise
    return fd
