"""Attaching a terminal to a container's pty through its monitor.

The monitor owns the pty master (the container's only stdout with -t) and serves
<container dir>/attach.sock. A client sends framed messages — b"d" + 4-byte length + bytes
for keyboard input, b"w" + rows + cols (2 bytes each) for the window size — and receives the
raw terminal output. `hull run -it` is such a client: it puts its own terminal in raw mode,
passes keys and SIGWINCH through, and restores the terminal when the container exits.
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

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def socket_path(directory: str, name: str) -> tuple[str, int]:
    """A short path to directory/name for bind/connect (sun_path holds only 108 bytes):
    through an O_PATH fd of the directory, which the caller closes when done."""
    fd = os.open(directory, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    return f"/proc/self/fd/{fd}/{name}", fd


def frame_input(data: bytes) -> bytes:
    return b"d" + struct.pack(">I", len(data)) + data


def frame_size(rows: int, cols: int) -> bytes:
    return b"w" + struct.pack(">HH", rows, cols)


class Decoder:
    """Splits the client's byte stream back into messages."""

    def __init__(self) -> None:
        self.buf = b""

    def feed(self, data: bytes) -> list[tuple[str, Any]]:
        self.buf += data
        out: list[tuple[str, Any]] = []
        while self.buf:
            kind = self.buf[:1]
            if kind == b"d" and len(self.buf) >= 5:
                n = struct.unpack(">I", self.buf[1:5])[0]
                if len(self.buf) < 5 + n:
                    break
                out.append(("data", self.buf[5:5 + n]))
                self.buf = self.buf[5 + n:]
            elif kind == b"w" and len(self.buf) >= 5:
                out.append(("size", struct.unpack(">HH", self.buf[1:5])))
                self.buf = self.buf[5:]
            elif kind in (b"d", b"w"):
                break
            else:
                self.buf = b""   # garbage: drop it
        return out


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


def frame_stream(stream: int, data: bytes) -> bytes:
    """Non-terminal containers: output tagged 1 (stdout) or 2 (stderr), as Docker's
    multiplexed attach stream does."""
    return bytes([stream]) + struct.pack(">I", len(data)) + data


def client(container_dir: str, forward_stdin: bool, tty: bool = True,
           detach_keys: str = DEFAULT_DETACH_KEYS) -> bool:
    """Proxy this process's terminal (tty) or stdio (no tty) to the container until its
    output ends; True when the user detached with the detach keys instead."""
    keys = parse_detach_keys(detach_keys) if detach_keys else b""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    path, dirfd = socket_path(container_dir, "attach.sock")
    try:
        conn.connect(path)
    finally:
        os.close(dirfd)
    try:
        return _proxy(conn, forward_stdin, tty, EscapeWatch(keys))
    except OSError:
        return False   # the monitor closed the session: the container is done
    finally:
        conn.close()


def _proxy(conn: socket.socket, forward_stdin: bool, tty: bool, escape: EscapeWatch) -> bool:
    stdin = sys.stdin.fileno()
    demux = _Demux() if not tty else None

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
                        send(frame_input(data))
                    if detached:
                        if tty:
                            os.write(sys.stdout.fileno(), b"\r\n")
                        return True
            if conn.fileno() in ready:
                data = conn.recv(65536)
                if not data:
                    return False
                if demux is None:
                    os.write(sys.stdout.fileno(), data)
                else:
                    for stream, chunk in demux.feed(data):
                        os.write(stream, chunk)


class _Demux:
    def __init__(self) -> None:
        self.buf = b""

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self.buf += data
        out = []
        while len(self.buf) >= 5:
            n = struct.unpack(">I", self.buf[1:5])[0]
            if len(self.buf) < 5 + n:
                break
            out.append((self.buf[0], self.buf[5:5 + n]))
            self.buf = self.buf[5 + n:]
        return out


@contextmanager
def _no_terminal() -> Iterator[int]:
    """A never-readable fd in place of the SIGWINCH pipe: no window to follow."""
    r, w = os.pipe()
    try:
        yield r
    finally:
        os.close(r)
        os.close(w)
