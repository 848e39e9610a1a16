"""What the supervisor keeps of one running container (Watched): its output streams
(Output: a pipe or the pty master, read one way), and the connections attached to it or
waiting for its end (Client: frames out, never blocking the loop; frames in)."""

from __future__ import annotations

import errno
import os

from hull.engine.attach import OUT, Frames

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket

    from hull.engine.logfile import LogWriter
    from hull.service.loop import Timer

CLIENT_BUFFER = 1 << 20   # bytes queued for one client before the container waits


class Output:
    """One output stream: a pipe's read end, or the pty master (whose end is EIO)."""

    def __init__(self, fd: int, stream: bytes) -> None:
        self.fd, self.stream = fd, stream
        self.name = "stdout" if stream == OUT else "stderr"
        os.set_blocking(fd, False)

    def read(self) -> bytes | None:
        """Bytes, b"" at the end, None when there is nothing right now."""
        try:
            return os.read(self.fd, 65536)
        except BlockingIOError:
            return None
        except OSError as e:
            if e.errno == errno.EIO:   # every slave end of the terminal closed
                return b""
            raise


class Client:
    """An attached connection: output frames out (buffered, never blocking the loop),
    input frames in."""

    def __init__(self, conn: socket.socket, streams: set[bytes], stdin: bool) -> None:
        self.conn, self.streams, self.stdin = conn, streams, stdin
        self.out = bytearray()
        self.frames = Frames()
        self.closing = False   # close once everything queued is sent
        conn.setblocking(False)

    def queue(self, data: bytes) -> None:
        if not self.out:
            try:
                sent = self.conn.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                return   # gone: its end of file is noticed on the read side
            data = data[sent:]
        self.out += data

    def flush(self) -> None:
        try:
            sent = self.conn.send(self.out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            sent = len(self.out)
        del self.out[:sent]


class Watched:
    """One running container under supervision."""

    def __init__(self, cid: str, pid: int, tty: bool, outputs: list[Output], input_fd: int,
                 log_writer: LogWriter) -> None:
        self.cid, self.pid, self.tty = cid, pid, tty
        self.outputs = outputs
        self.input_fd = input_fd          # stdin pipe's write end or the master; -1: none
        self.pending_input = bytearray()
        self.stdin_eof = False            # close input_fd once pending_input is written
        self.log = log_writer
        self.clients: list[Client] = []
        self.waiters: list[Client] = []   # told {"exit": code} once it has finished
        self.status: int | None = None    # exit code once PID 1 has ended
        self.unknown_exit = False
        self.held = False                 # output paused: a client is behind
        self.grace: Timer | None = None
        self.health: Timer | None = None
        self.probing = False
        self.finishing = False
