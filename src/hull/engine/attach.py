"""Attaching a terminal (or plain stdio) to a container through the engine service.

The service supervises the container: it reads its output (a pipe per stream, or the pty
master with -t) into the log and to every attached connection. On such a connection
everything travels in frames — one kind byte, a 4-byte big-endian length, the payload:

    service → client    OUT b"\x01" stdout bytes, ERR b"\x02" stderr bytes (-t: all OUT),
                        JSON b"j" a control message ({"started": pid}, {"exit": code}, …)
    client → service    INPUT b"d" keyboard bytes, SIZE b"w" rows and cols (2 bytes each)

`hull run` (without -d), `start -a` and `attach` are such clients: with -t the terminal is
put in raw mode, keys and SIGWINCH pass through, and the detach keys (Ctrl-P Ctrl-Q)
leave the container running.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import struct
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from hull import fastjson

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

OUT, ERR, JSON, INPUT, SIZE = b"\x01", b"\x02", b"j", b"d", b"w"
_HEAD = struct.Struct(">cI")


def socket_path(directory: str, name: str) -> tuple[str, int]:
    """A short path to directory/name for bind/connect (sun_path holds only 108 bytes):
    through an O_PATH fd of the directory, which the caller closes when done."""
    fd = os.open(directory, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    return f"/proc/self/fd/{fd}/{name}", fd


def frame(kind: bytes, payload: bytes) -> bytes:
    return _HEAD.pack(kind, len(payload)) + payload


def frame_json(**message: Any) -> bytes:
    return frame(JSON, fastjson.dumps(message).encode())


def frame_size(rows: int, cols: int) -> bytes:
    return frame(SIZE, struct.pack(">HH", rows, cols))


class Frames:
    """Splits a byte stream back into (kind, payload) frames, one at a time."""

    def __init__(self) -> None:
        self.buf = b""

    def feed(self, data: bytes) -> None:
        self.buf += data

    def next(self) -> tuple[bytes, bytes] | None:
        """The next complete frame, or None until more bytes come."""
        if len(self.buf) < _HEAD.size:
            return None
        kind, n = _HEAD.unpack_from(self.buf)
        if len(self.buf) < _HEAD.size + n:
            return None
        payload = self.buf[_HEAD.size:_HEAD.size + n]
        self.buf = self.buf[_HEAD.size + n:]
        return kind, payload


class Session:
    """A connection to the engine service about one container: its first answer, and
    what follows (output, then {"exit": code}) still to be read through frames."""

    def __init__(self, conn: socket.socket, frames: Frames, first: dict[str, Any]) -> None:
        self.conn, self.frames, self.first = conn, frames, first

    def close(self) -> None:
        self.conn.close()

    def exit_code(self) -> int | None:
        """Wait for the container's end: its exit code (None: the service went away)."""
        try:
            message = read_message(self.conn, self.frames)
        except OSError:
            return None
        code = message.get("exit")
        return int(code) if code is not None else None


def read_message(conn: socket.socket, frames: Frames) -> dict[str, Any]:
    """The next control message on a connection (output frames before it are dropped;
    what follows it stays in frames); {} when the connection ends first."""
    while True:
        got = frames.next()
        if got is None:
            data = conn.recv(65536)
            if not data:
                return {}
            frames.feed(data)
            continue
        if got[0] == JSON:
            message: dict[str, Any] = fastjson.loads(got[1])
            return message


def set_size(master: int, rows: int, cols: int) -> None:
    import fcntl
    import termios
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def terminal_size() -> tuple[int, int]:
    try:
        size = os.get_terminal_size(sys.stdin.fileno())
        return size.lines, size.columns
    except OSError:
        return 24, 80


@contextmanager
def raw_terminal() -> Iterator[int]:
    """This process's terminal in raw mode for the duration; yields the read end of a pipe
    that SIGWINCH writes to, so a select loop wakes on window-size changes."""
    import termios
    import tty
    stdin = sys.stdin.fileno()
    saved = None
    if os.isatty(stdin):
        saved = termios.tcgetattr(stdin)
        tty.setraw(stdin)
    r, w = os.pipe()
    old = signal.signal(signal.SIGWINCH, lambda *_: os.write(w, b"w"))
    try:
        yield r
    finally:
        signal.signal(signal.SIGWINCH, old)
        os.close(r)
        os.close(w)
        if saved is not None:
            termios.tcsetattr(stdin, termios.TCSADRAIN, saved)


def proxy_master(master: int, forward_stdin: bool) -> None:
    """`exec -it`: this process holds the pty master itself; pass the terminal through
    until the process on the other side is gone."""
    stdin = sys.stdin.fileno()
    with raw_terminal() as r:
        set_size(master, *terminal_size())
        watch = [master, r] + ([stdin] if forward_stdin else [])
        while True:
            ready, _, _ = select.select(watch, [], [])
            if r in ready:
                os.read(r, 64)
                set_size(master, *terminal_size())
            if stdin in ready:
                data = os.read(stdin, 65536)
                if not data:
                    watch.remove(stdin)
                else:
                    os.write(master, data)
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    return   # EIO: the process closed its terminal
                if not data:
                    return
                os.write(sys.stdout.fileno(), data)


DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"


def parse_detach_keys(text: str) -> bytes:
    """Docker's --detach-keys: comma-separated `ctrl-<x>` or single characters."""
    from hull.errors import InvalidArgument
    out = bytearray()
    for key in text.split(","):
        if len(key) == 1:
            out.append(ord(key))
        elif key.lower().startswith("ctrl-") and len(key) == 6:
            c = key[5].lower()
            code = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}.get(c)
            if code is None and "a" <= c <= "z":
                code = ord(c) - ord("a") + 1
            if code is None:
                raise InvalidArgument(f"invalid detach keys {text!r}: unknown key {key!r}")
            out.append(code)
        else:
            raise InvalidArgument(f"invalid detach keys {text!r}: unknown key {key!r}")
    return bytes(out)


class EscapeWatch:
    """Finds the detach sequence in keyboard input. Bytes that start the sequence are held
    back until it is clear whether they complete it; if not, they go to the container."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.held = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        out = bytearray()
        for b in data:
            candidate = self.held + bytes([b])
            if self.keys and self.keys.startswith(candidate):
                self.held = candidate
                if candidate == self.keys:
                    self.held = b""
                    return bytes(out), True
            else:
                out += candidate
                self.held = b""
        return bytes(out), False


def proxy(conn: socket.socket, frames: Frames, forward_stdin: bool, tty: bool,
          detach_keys: str = DEFAULT_DETACH_KEYS) -> tuple[bool, int | None]:
    """Pass this process's terminal (tty) or stdio to the container until the service
    says it has ended: (False, its exit code); (True, None) when the user detached with
    the detach keys instead. None as the code: the service went away without one."""
    keys = parse_detach_keys(detach_keys) if detach_keys else b""
    try:
        return _proxy(conn, frames, forward_stdin, tty, EscapeWatch(keys))
    except OSError:
        return False, None


def _proxy(conn: socket.socket, frames: Frames, forward_stdin: bool, tty: bool,
           escape: EscapeWatch) -> tuple[bool, int | None]:
    stdin = sys.stdin.fileno()

    def send(message: bytes) -> None:
        try:
            conn.sendall(message)
        except OSError:
            pass   # the container may be gone already: still read what it printed
    with raw_terminal() if tty else _no_terminal() as r:
        if tty:
            send(frame_size(*terminal_size()))
        watch = [conn.fileno(), r] + ([stdin] if forward_stdin else [])
        while True:
            while (got := frames.next()) is not None:
                kind, payload = got
                if kind == JSON:
                    message = fastjson.loads(payload)
                    if "exit" in message:
                        return False, message["exit"]
                elif kind in (OUT, ERR):
                    _write_all(1 if kind == OUT else 2, payload)
            ready, _, _ = select.select(watch, [], [])
            if r in ready:
                os.read(r, 64)
                send(frame_size(*terminal_size()))
            if stdin in ready:
                data = os.read(stdin, 65536)
                if not data:
                    watch.remove(stdin)
                else:
                    data, detached = escape.feed(data) if os.isatty(stdin) else (data, False)
                    if data:
                        send(frame(INPUT, data))
                    if detached:
                        if tty:
                            os.write(sys.stdout.fileno(), b"\r\n")
                        return True, None
            if conn.fileno() in ready:
                data = conn.recv(65536)
                if not data:
                    return False, None
                frames.feed(data)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


@contextmanager
def _no_terminal() -> Iterator[int]:
    """A never-readable fd in place of the SIGWINCH pipe: no window to follow."""
    r, w = os.pipe()
    try:
        yield r
    finally:
        os.close(r)
        os.close(w)
