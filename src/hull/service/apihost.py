"""The Docker Engine API, hosted by the service: `hull system service --socket URL` binds
the socket and hands the listening fd to the service (op "api"); the service accepts on
it and forks one worker per connection (hull.api.server), exactly as it forks one per
command line, so a slow request (pull, build, logs -f, attach) never stalls the loop.

    system service --socket ──call "api" + listening fd──► ApiHost.add
        │ holds the call open: closing it (Ctrl-C) stops the API here;
        │ with --time N the API stops after N idle seconds and the call hears {"idle"}
    client ──connect──► listener ──accept──► fork ─► worker: HTTP requests until it closes

The command keeps its own copy of the listening socket, so a service that is replaced (a
crash, an upgrade) gets it again from the command, and connections made meanwhile wait
in the socket's backlog.
"""

from __future__ import annotations

import json
import os
import socket
import time
from functools import partial

from hull.service.log import log

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from hull.service.loop import Loop, Timer


SPARES = 3   # workers forked ahead: `docker run` opens three connections at once


def _wait_for_connection(channel_fd: int) -> tuple[int, dict[str, str] | None]:
    """In a spare worker: the connection the service hands over, and its TLS settings
    (-1 when the service closes the channel instead)."""
    channel = socket.socket(fileno=channel_fd)
    try:
        message, fds, _flags, _addr = socket.recv_fds(channel, 4096, 1)
    except OSError:
        return -1, None
    finally:
        channel.close()
    if not fds:
        return -1, None
    tls: dict[str, str] | None = json.loads(message or b"{}").get("tls")
    return fds[0], tls


class ApiListener:
    def __init__(self, sock: socket.socket, holder: socket.socket, idle: float,
                 tls: dict[str, str] | None) -> None:
        self.sock, self.holder, self.idle, self.tls = sock, holder, idle, tls
        self.timer: Timer | None = None


class ApiHost:
    def __init__(self, loop: Loop, root: str, state: str,
                 on_activity: Callable[[], None]) -> None:
        self.loop, self.root, self.state = loop, root, state
        self.on_activity = on_activity
        self.listeners: list[ApiListener] = []
        self.workers: set[int] = set()   # serving a connection
        self.spares: list[tuple[int, socket.socket]] = []   # forked, waiting for one
        self.refill_due = False
        self.last_activity = time.monotonic()

    def busy(self) -> bool:
        return bool(self.listeners or self.workers)

    def add(self, holder: socket.socket, fds: list[int], message: dict[str, Any]) -> None:
        from hull.engine.attach import frame_json
        if len(fds) != 1:
            for fd in fds:
                os.close(fd)
            holder.sendall(frame_json(error="the API call carries one listening socket"))
            holder.close()
            return
        sock = socket.socket(fileno=fds[0])
        sock.setblocking(False)
        listener = ApiListener(sock, holder, float(message.get("idle") or 0),
                               message.get("tls") or None)
        self.listeners.append(listener)
        self.loop.add_reader(sock, lambda: self._accept(listener))
        self.loop.add_reader(holder, lambda: self._holder_says(listener))
        holder.sendall(frame_json(serving=True, pid=os.getpid()))
        holder.setblocking(False)
        self._arm(listener)
        self._refill()
        log(f"api: serving on {message.get('url', '?')}")

    def _arm(self, listener: ApiListener) -> None:
        if listener.timer is not None:
            listener.timer.cancel()
            listener.timer = None
        if listener.idle > 0 and not self.workers:
            listener.timer = self.loop.call_later(listener.idle, lambda: self._idle(listener))

    def _idle(self, listener: ApiListener) -> None:
        listener.timer = None
        if self.workers or listener not in self.listeners:
            return
        from hull.engine.attach import frame_json
        try:
            listener.holder.setblocking(True)
            listener.holder.sendall(frame_json(idle=True))
        except OSError:
            pass
        self._remove(listener)

    def _holder_says(self, listener: ApiListener) -> None:
        try:
            data = listener.holder.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:   # the command ended: no API here any more
            self._remove(listener)

    def _remove(self, listener: ApiListener) -> None:
        if listener not in self.listeners:
            return
        self.listeners.remove(listener)
        if listener.timer is not None:
            listener.timer.cancel()
        for s in (listener.sock, listener.holder):
            self.loop.forget(s)
            s.close()
        if not self.listeners:
            self._drop_spares()
        log("api: stopped serving")

    def _accept(self, listener: ApiListener) -> None:
        try:
            conn, _ = listener.sock.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            log(f"api: accept: {e}")
            return
        self.on_activity()
        try:
            pid = self._hand_to_spare(conn, listener.tls)
            if pid == 0:
                pid = self._fork(conn.fileno(), listener.tls)
                self.loop.watch_child(pid, partial(self._child_ended, pid))
        finally:
            conn.close()
        self.workers.add(pid)
        for each in self.listeners:
            if each.timer is not None:
                each.timer.cancel()
                each.timer = None
        if not self.refill_due:   # after this turn of the loop: the client waits for none
            self.refill_due = True
            self.loop.call_later(0, self._refill)

    def _hand_to_spare(self, conn: socket.socket, tls: dict[str, str] | None) -> int:
        """The connection to a worker forked ahead of time (its fork is off the client's
        path: a fork of the whole service costs milliseconds); 0 when none is spare."""
        while self.spares:
            pid, channel = self.spares.pop(0)
            try:
                socket.send_fds(channel, [json.dumps({"tls": tls}).encode()],
                                [conn.fileno()])
                return pid
            except OSError:
                continue   # that one is gone: the next
            finally:
                channel.close()
        return 0

    def _refill(self) -> None:
        self.refill_due = False
        while self.listeners and len(self.spares) < SPARES:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                pid = self._fork(theirs.fileno(), None, spare=True)
            finally:
                theirs.close()
            self.spares.append((pid, ours))
            self.loop.watch_child(pid, partial(self._child_ended, pid))

    def _drop_spares(self) -> None:
        for _pid, channel in self.spares:
            channel.close()   # it reads end of file and leaves
        self.spares.clear()

    def _fork(self, fd: int, tls: dict[str, str] | None, spare: bool = False) -> int:
        """A worker for the connection fd, or (spare) one that waits on the channel fd
        for the connection it is to serve."""
        from hull.service.jobs import close_all_but, one_thread
        one_thread()
        pid = os.fork()
        if pid != 0:
            return pid
        code = 0
        try:
            close_all_but({0, 1, 2, fd})
            from hull.api.context import Context
            from hull.api.server import fresh_process, serve_connection, warm_up
            from hull.service.supervision import ServiceSupervision
            fresh_process()
            ctx = Context(self.root, self.state, ServiceSupervision(self.root, self.state))
            if spare:
                warm_up(ctx)
                fd, tls = _wait_for_connection(fd)
                if fd < 0:
                    os._exit(0)
            conn = socket.socket(fileno=fd)
            conn.setblocking(True)
            if tls:   # a client without a certificate the CA signed ends here
                from hull.api.listen import tls_context
                conn.settimeout(30.0)
                conn = tls_context(tls).wrap_socket(conn, server_side=True)
                conn.settimeout(None)
            serve_connection(conn, ctx, log)
        except BaseException:
            import traceback
            log(f"api: worker failed:\n{traceback.format_exc()}")
            code = 1
        finally:
            os._exit(code)

    def _child_ended(self, pid: int, _status: int) -> None:
        self._ended(pid)

    def _ended(self, pid: int) -> None:
        self.workers.discard(pid)
        for entry in [e for e in self.spares if e[0] == pid]:
            self.spares.remove(entry)
            entry[1].close()
        self.on_activity()
        for listener in self.listeners:
            self._arm(listener)

    def close(self) -> None:
        for listener in list(self.listeners):
            self._remove(listener)
