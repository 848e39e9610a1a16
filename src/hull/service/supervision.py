"""The engine service's supervision, as a command asks for it: start a container under
the service (attached or not), attach to one, wait for one to end. Each call is one
connection to the service's socket (started if none runs); what comes back is framed as
engine/attach.py describes. This is what the lifecycle (engine/containers.py) and the
run/start/attach commands are given as their `Supervision`."""

from __future__ import annotations

import socket

from hull.engine.attach import Frames, Session, read_message
from hull.service import protocol
from hull.service.connect import service


class ServiceSupervision:
    def __init__(self, root: str, state: str) -> None:
        self.root, self.state = root, state

    def _call(self, fds: list[int], **fields: object) -> Session:
        raw = service(self.root, self.state)
        conn = socket.socket(fileno=raw.detach())
        conn.sendmsg([protocol.encode_call(fields)],
                      [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                        b"".join(fd.to_bytes(4, "little", signed=True) for fd in fds))]
                      if fds else [])
        frames = Frames()
        return Session(conn, frames, read_message(conn, frames))

    def start(self, cid: str, attach: bool = False, stdin_fd: int | None = None,
              streams: list[str] | None = None, stdin: bool = False) -> Session:
        """Start cid under the service; the session's first message is {"started": pid}
        or {"error": …, "code": …}. stdin_fd becomes the container's stdin (run -i);
        stdin: input comes over the session instead (-t, start -i)."""
        return self._call([stdin_fd] if stdin_fd is not None else [], op="start", cid=cid,
                          attach=attach, streams=streams or ["stdout", "stderr"],
                          stdin=stdin)

    def attach(self, cid: str, stdin: bool, streams: list[str] | None = None,
               next_start: bool = False) -> Session:
        """next_start: a container not running yet is attached when it next starts (the
        first message is then {"pending"}, and {"attached"} follows)."""
        return self._call([], op="attach", cid=cid, stdin=stdin, next=next_start,
                          streams=streams or ["stdout", "stderr"])

    def exit_session(self, cid: str, next_start: bool = False) -> Session:
        """A session that hears {"exit": code} when cid ends: its current run, or with
        next_start, the run after its next start ({"pending"} first, until it starts).
        First message {"exit": None}: it does not run here (and next_start was not asked)."""
        return self._call([], op="wait", cid=cid, next=next_start)

    def wait(self, cid: str, timeout: float | None = None) -> bool:
        """Until cid has ended and its exit is recorded (True), or timeout (False). True at
        once when the service does not supervise it."""
        session = self._call([], op="wait", cid=cid)
        if "exit" in session.first:   # not running here
            session.close()
            return True
        if timeout is not None and timeout <= 0:   # settimeout(0) would not wait at all
            session.close()
            return False
        session.conn.settimeout(timeout)
        try:
            return bool(read_message(session.conn, session.frames))
        except (TimeoutError, BlockingIOError):
            return False
        finally:
            session.close()
