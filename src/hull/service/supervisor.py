"""Every running container of the root, supervised from the service's loop (conmon's and
containerd-shim's job, for all containers in one process):

    start request ──► start job (tasks.start): /proc view?, rootfs, runtime create+start
                        │ "view" ◄──► the loop mounts and serves the view first
                        │ "started" pid + the read ends of stdout/stderr (or the pty master)
                        ▼
    Watched: output ──► json log + every attached client      input ◄── attached clients
             pid ended (SIGCHLD: the service is the containers' subreaper)
             + output at end of file ──► finish job (tasks.finish): exit code, OOMKilled,
                        cleanup, --rm; "exit" to every waiter; the restart policy's timer
             health timer ──► probe job (tasks.probe) every Interval

Output is read in one way for pipes and terminals (Output): bytes in, the log and the
clients out. An attached client that does not keep up holds the container's output back
(as a blocked terminal does) rather than being dropped; the log never waits for it.
"""

from __future__ import annotations

import os
from functools import partial

from hull.engine.attach import ERR, INPUT, OUT, SIZE, frame, frame_json, set_size
from hull.engine.humanize import now
from hull.service import jobs, tasks
from hull.service.log import log
from hull.service.watched import CLIENT_BUFFER, Client, Output, Watched

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from collections.abc import Callable
    from typing import Any

    from hull.procfs.server import ViewServer
    from hull.service.keeper import KeeperLink
    from hull.service.loop import Loop, Timer

VIEW = "view:"            # the keeper's key of a container's /proc view fds
EXIT_GRACE = 2.0          # seconds output may stay open after the container's PID 1 ended


class Supervisor:
    def __init__(self, loop: Loop, views: ViewServer, root: str, state: str) -> None:
        self.loop, self.views = loop, views
        views.holder = self._hold_view
        self.root, self.state = root, state
        self.watched: dict[str, Watched] = {}
        self.starting: dict[str, jobs.Job] = {}
        self.restarts: dict[str, Timer] = {}
        self.backoff: dict[str, float] = {}
        self.jobs = 0
        self.keeper: KeeperLink | None = None   # set by the service (server.claim)
        self.orphans: dict[int, tuple[Watched, int]] = {}   # pid -> (container, start time)
        self.reaped: dict[int, tuple[int, int]] = {}   # the keeper's: pid -> (status, start)
        # attaches and waits for a container's next start: cid -> (op, conn, streams, stdin)
        self.pending: dict[str, list[tuple[str, socket.socket, set[str], bool]]] = {}
        self.unrecorded: dict[str, int] = {}   # cid -> status a dead service had reaped
        # calls that came while recover() surveys (commands already run meanwhile)
        self.recovering: list[tuple[socket.socket, dict[str, Any], list[int]]] | None = None
        # the DNS server's: a started container's HostConfig (its network may be new)
        self.on_started: Callable[[dict[str, Any]], None] | None = None

    def busy(self) -> bool:
        """Something to supervise: the service must not leave."""
        return bool(self.watched or self.starting or self.restarts or self.jobs or
                    self.recovering is not None)

    def _hold_view(self, cid: str, fds: list[int]) -> None:
        """The keeper holds a /proc view's FUSE and notification fds ([]: no longer)."""
        if self.keeper is not None:
            if fds:
                self.keeper.tell("hold", fds, cid=VIEW + cid)
            else:
                self.keeper.tell("drop", cid=VIEW + cid)

    def supervises(self) -> bool:
        """Containers running (or about to) under this service."""
        return bool(self.watched or self.starting or self.restarts)

    def in_flight(self) -> bool:
        """Jobs under way (a start, a finish, a probe): a handover waits for them."""
        return bool(self.starting or self.jobs)

    # ---- requests from clients ------------------------------------------------------------

    def request(self, conn: socket.socket, message: dict[str, Any], fds: list[int]) -> None:
        if self.recovering is not None:   # answered once the containers are known
            self.recovering.append((conn, message, fds))
            return
        op, cid = message.get("op"), str(message.get("cid", ""))
        if op == "start":
            self.start(cid, conn, bool(message.get("attach")), fds[0] if fds else None,
                       set(message.get("streams") or ["stdout", "stderr"]),
                       stdin=bool(message.get("stdin")))
            return
        for fd in fds:
            os.close(fd)
        w = self.watched.get(cid)
        if w is None and message.get("next") and op in ("wait", "attach"):
            self._pend(cid, conn, str(op), set(message.get("streams") or ["stdout", "stderr"]),
                       bool(message.get("stdin")))
            return
        if op == "wait":
            if w is None:
                _reply(conn, exit=None)   # not running here: the record says the rest
                conn.close()
            else:
                _reply(conn, waiting=True)
                client = Client(conn, set(), False)
                w.waiters.append(client)
                self.loop.add_reader(conn, lambda: self._client_input(w, client))
        elif op == "attach":
            if w is None:
                _reply(conn, error="You cannot attach to a stopped container, start it "
                       "first", code=1)
                conn.close()
                return
            _reply(conn, attached=True)
            self._attach(w, conn, set(message.get("streams") or ["stdout", "stderr"]),
                         bool(message.get("stdin")))
        else:
            _reply(conn, error=f"unknown request {op!r}", code=125)
            conn.close()

    def _pend(self, cid: str, conn: socket.socket, op: str, streams: set[str], stdin: bool
              ) -> None:
        """An attach or wait for the container's next start (the Docker API attaches and
        waits before it starts a container): {"pending"} now, {"attached"} or the exit
        once it has started; forgotten if the caller hangs up first."""
        _reply(conn, pending=True)
        entry = (op, conn, streams, stdin)
        self.pending.setdefault(cid, []).append(entry)

        def hung_up() -> None:
            try:
                if conn.recv(4096):
                    return   # nothing is expected before the start: ignored
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                pass
            self.loop.forget(conn)
            conn.close()
            waiting = self.pending.get(cid, [])
            if entry in waiting:
                waiting.remove(entry)
            if not waiting:
                self.pending.pop(cid, None)
        conn.setblocking(False)
        self.loop.add_reader(conn, hung_up)

    def _take_pending(self, w: Watched) -> None:
        """The attaches and waits that came before this start: served from now on."""
        for op, conn, streams, stdin in self.pending.pop(w.cid, []):
            self.loop.forget(conn)
            if op == "attach":
                _reply(conn, attached=True)
                self._attach(w, conn, streams, stdin)
            else:
                client = Client(conn, set(), False)
                w.waiters.append(client)
                self.loop.add_reader(conn, partial(self._client_input, w, client))

    def _fail_pending(self, cid: str, message: str, code: int) -> None:
        for _op, conn, _streams, _stdin in self.pending.pop(cid, []):
            self.loop.forget(conn)
            _reply(conn, exit=None, error=message, code=code)
            conn.close()

    def _attach(self, w: Watched, conn: socket.socket, streams: set[str], stdin: bool
                ) -> None:
        wanted = {OUT} if w.tty else {s for n, s in (("stdout", OUT), ("stderr", ERR))
                                      if n in streams}
        client = Client(conn, wanted, stdin)
        w.clients.append(client)
        w.waiters.append(client)
        self.loop.add_reader(conn, lambda: self._client_input(w, client))

    def _client_input(self, w: Watched, client: Client) -> None:
        try:
            data = client.conn.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:   # detached (or killed): the container goes on
            self._drop(w, client)
            return
        client.frames.feed(data)
        while (got := client.frames.next()) is not None:
            kind, payload = got
            if kind == INPUT and client.stdin and w.input_fd >= 0:
                if not payload and not w.tty:   # the client's input ended (API attach)
                    w.stdin_eof = True
                w.pending_input += payload
                self._write_input(w)
            elif kind == SIZE and w.tty and w.input_fd >= 0 and len(payload) == 4:
                try:
                    set_size(w.input_fd, int.from_bytes(payload[:2], "big"),
                             int.from_bytes(payload[2:], "big"))
                except OSError:
                    pass

    def _write_input(self, w: Watched) -> None:
        try:
            sent = os.write(w.input_fd, w.pending_input)
        except BlockingIOError:
            sent = 0
        except OSError:   # the container closed its stdin
            sent = len(w.pending_input)
        del w.pending_input[:sent]
        if w.pending_input:
            self.loop.add_writer(w.input_fd, lambda: self._write_input(w))
        else:
            self.loop.remove_writer(w.input_fd)
            if w.stdin_eof:   # everything written: the container reads its end of file
                if self.keeper is not None and len(w.outputs) == 2:   # its copy too
                    self.keeper.tell("hold", [o.fd for o in w.outputs], cid=w.cid, tty=False)
                self.loop.forget(w.input_fd)
                os.close(w.input_fd)
                w.input_fd = -1

    def _drop(self, w: Watched, client: Client) -> None:
        self.loop.forget(client.conn)
        for group in (w.clients, w.waiters):
            if client in group:
                group.remove(client)
        client.conn.close()
        self._release_if_caught_up(w)

    # ---- start ----------------------------------------------------------------------------

    def start(self, cid: str, requester: socket.socket | None, attach: bool,
              stdin_fd: int | None, streams: set[str], stdin: bool = False,
              restart: bool = False) -> None:
        """A start job for cid; requester (if any) hears {"started"} or {"error"}, then,
        attached, the output and the exit."""
        if cid in self.starting or cid in self.watched:
            if requester is not None:
                _reply(requester, error=f"container {cid} is already starting or running",
                       code=125)
                requester.close()
            return
        outcome: dict[str, Any] = {}

        def on_message(job: jobs.Job, msg: dict[str, Any]) -> None:
            kind = msg.get("type")
            if kind == "view":
                try:
                    self.views.open(cid, msg["directory"], tasks.cgroup_paths(self.state, cid),
                                    msg.get("sysinfo", ""))
                    job.send("view-ready")
                except OSError as e:
                    job.send("view-failed", error=str(e))
            elif kind == "started":
                outcome["started"] = True
                self._started(cid, msg, requester, attach, streams, stdin)
            elif kind in ("failed", "error", "skipped"):
                outcome["failed"] = True
                self.views.close(cid)
                if kind != "skipped":
                    self._fail_pending(cid, str(msg.get("error") or msg.get("message")),
                                       int(msg.get("code", 125)))
                if requester is not None and kind != "skipped":
                    _reply(requester, error=msg.get("error") or msg.get("message"),
                           code=int(msg.get("code", 125)))
                    requester.close()

        def on_exit(job: jobs.Job, status: int) -> None:
            self.starting.pop(cid, None)
            if not outcome and requester is not None:
                _reply(requester, error="the start job ended without an answer", code=125)
                requester.close()

        self.starting[cid] = jobs.spawn(
            self.loop, lambda ch: tasks.start(ch, self.root, self.state, cid, stdin_fd, restart),
            [stdin_fd] if stdin_fd is not None else [], on_message, on_exit)
        if stdin_fd is not None:
            os.close(stdin_fd)   # the job has its copy

    def _started(self, cid: str, msg: dict[str, Any], requester: socket.socket | None,
                 attach: bool, streams: set[str], stdin: bool) -> None:
        from hull.engine import logfile
        fds: list[int] = msg.get("fds", [])
        tty = bool(msg.get("tty"))
        outputs = [Output(fds[0], OUT)] if tty else [Output(fds[0], OUT),
                                                     Output(fds[1], ERR)]
        rest = fds[len(outputs):]
        input_fd = fds[0] if tty else (rest[0] if rest else -1)
        if tty:
            input_fd = os.dup(fds[0])   # its own fd: closed apart from the output's
        if input_fd >= 0:
            os.set_blocking(input_fd, False)
        driver, max_size, max_file = logfile.options(msg.get("host_config") or {})
        writer = logfile.LogWriter(msg["log"], max_size, max_file, enabled=driver != "none")
        w = Watched(cid, int(msg["pid"]), tty, outputs, input_fd, writer)
        self.watched[cid] = w
        for out in outputs:
            self.loop.add_reader(out.fd, partial(self._output, w, out))
        self.loop.watch_child(w.pid, lambda status: self._exited(w, status))
        if self.keeper is not None:   # copies that outlive this service (keeper.py)
            self.keeper.tell("hold", fds[:1] if tty else fds, cid=cid, tty=tty)
        self.views.keep(cid)
        if self.on_started is not None:   # before the reply: its name resolves at once
            try:
                self.on_started(msg.get("host_config") or {})
            except Exception as e:   # DNS trouble must not cost the client its answer
                log(f"dns: {type(e).__name__}: {e}")
        self._take_pending(w)
        if requester is not None:
            _reply(requester, started=w.pid)
            if attach:
                self._attach(w, requester, streams, stdin)
            else:
                requester.close()
        interval = msg.get("health_interval")
        if interval:
            w.health = self.loop.call_later(float(interval), lambda: self._probe(w, interval))

    # ---- output ---------------------------------------------------------------------------

    def _output(self, w: Watched, out: Output) -> None:
        try:
            data = out.read()
        except OSError as e:
            log(f"{w.cid[:12]}: reading {out.name}: {e}")
            data = b""
        if data is None:
            return
        if not data:
            self._close_output(w, out)
            return
        w.log.write(out.name, data, now())
        framed = frame(out.stream, data)
        for client in w.clients:
            if out.stream in client.streams:
                client.queue(framed)
                if client.out:
                    self.loop.add_writer(client.conn, partial(self._flush, w, client))
                    if len(client.out) > CLIENT_BUFFER:
                        self._hold(w, True)

    def _flush(self, w: Watched, client: Client) -> None:
        client.flush()
        if not client.out:
            self.loop.remove_writer(client.conn)
            if client.closing:
                self.loop.forget(client.conn)
                client.conn.close()
                return
        self._release_if_caught_up(w)

    def _release_if_caught_up(self, w: Watched) -> None:
        if w.held and all(len(c.out) <= CLIENT_BUFFER // 2 for c in w.clients):
            self._hold(w, False)

    def _hold(self, w: Watched, held: bool) -> None:
        if w.held == held:
            return
        w.held = held
        for out in w.outputs:
            if held:
                self.loop.remove_reader(out.fd)
            else:
                self.loop.add_reader(out.fd, partial(self._output, w, out))

    def _close_output(self, w: Watched, out: Output) -> None:
        self.loop.forget(out.fd)
        os.close(out.fd)
        w.outputs.remove(out)
        self._maybe_finish(w)

    # ---- the end --------------------------------------------------------------------------

    def _exited(self, w: Watched, status: int) -> None:
        if self.keeper is not None and not w.unknown_exit:   # kept until recorded: a
            self.keeper.tell("exited", cid=w.cid, status=status)   # kill loses nothing
        code = os.waitstatus_to_exitcode(status)
        w.status = 128 - code if code < 0 else code
        if w.health is not None:
            w.health.cancel()
        self._maybe_finish(w)

    def _maybe_finish(self, w: Watched) -> None:
        if w.status is None or w.finishing:
            return
        if w.outputs:   # a process outside the container's pid namespace may hold them
            if w.grace is None:
                w.grace = self.loop.call_later(EXIT_GRACE, lambda: self._end_output(w))
            return
        self._finish(w)

    def _end_output(self, w: Watched) -> None:
        for out in list(w.outputs):
            self._output(w, out)   # what is there still goes to the log
            if out in w.outputs:
                self.loop.forget(out.fd)
                os.close(out.fd)
                w.outputs.remove(out)
        self._finish(w)

    def _finish(self, w: Watched) -> None:
        w.finishing = True
        if w.grace is not None:
            w.grace.cancel()
        w.log.close()
        if w.input_fd >= 0:
            self.loop.forget(w.input_fd)
            os.close(w.input_fd)
            w.input_fd = -1
        self.views.close(w.cid)
        if self.keeper is not None:
            self.keeper.tell("drop", cid=w.cid)
        code = int(w.status or 0)
        delay = self.backoff.get(w.cid, 0.0)
        outcome: dict[str, Any] = {}
        self.jobs += 1

        def on_message(job: jobs.Job, msg: dict[str, Any]) -> None:
            outcome.update(msg)

        def on_exit(job: jobs.Job, status: int) -> None:
            self.jobs -= 1
            if outcome.get("type") == "error":
                log(f"{w.cid[:12]}: finishing failed: {outcome.get('message')}")
            elif self.keeper is not None:
                self.keeper.tell("recorded", cid=w.cid)
            del self.watched[w.cid]
            for client in w.waiters:   # the exit after all output still queued
                self.loop.remove_reader(client.conn)
                client.queue(frame_json(exit=code))
                client.closing = True
                self._flush(w, client)
                if client.out:
                    self.loop.add_writer(client.conn, partial(self._flush, w, client))
            restart = outcome.get("restart")
            if restart is not None:
                self.backoff[w.cid] = float(restart)
                self.restarts[w.cid] = self.loop.call_later(
                    float(restart), lambda: self._restart(w.cid))
            else:
                self.backoff.pop(w.cid, None)

        jobs.spawn(self.loop, lambda ch: tasks.finish(ch, self.root, self.state, w.cid, code,
                                                      w.unknown_exit, delay),
                   [], on_message, on_exit)

    def _restart(self, cid: str) -> None:
        self.restarts.pop(cid, None)
        self.start(cid, None, False, None, set(), restart=True)

    # ---- a new service -------------------------------------------------------------------

    def recover(self) -> None:
        """Take over what a previous service left: the keeper's fds and exits, the records
        (tasks.survey). The service takes commands meanwhile; supervision calls (start,
        attach, wait) wait until it knows its containers."""
        self.recovering = []
        held: dict[str, tuple[bool, list[int]]] = {}
        if self.keeper is not None:
            held, self.reaped, self.unrecorded = self.keeper.recover()
            self.keeper.sock.setblocking(False)
            self.loop.add_reader(self.keeper.sock, self._keeper_message)
            for message in list(self.keeper.pending):
                self._orphan_ended(message)

        def on_message(job: jobs.Job, msg: dict[str, Any]) -> None:
            for found in msg.get("containers") or []:
                try:
                    self._recovered(found, held.pop(found["cid"], (False, [])),
                                    held.pop(VIEW + found["cid"], (False, []))[1])
                except OSError as e:
                    log(f"{found['cid'][:12]}: cannot take over: {e}")

        def on_exit(job: jobs.Job, status: int) -> None:
            self.jobs -= 1
            for cid, (_, fds) in held.items():   # no longer running by its record
                for fd in fds:
                    os.close(fd)
                if self.keeper is not None:
                    self.keeper.tell("drop", cid=cid)
            self.reaped.clear()
            for cid in self.unrecorded:   # recorded after all (the record says exited)
                if self.keeper is not None:
                    self.keeper.tell("recorded", cid=cid)
            self.unrecorded.clear()
            calls, self.recovering = self.recovering or [], None
            for conn, message, fds in calls:
                self.request(conn, message, fds)
        self.jobs += 1
        jobs.spawn(self.loop, lambda ch: tasks.survey(ch, self.root, self.state), [],
                   on_message, on_exit)

    def _recovered(self, found: dict[str, Any], held: tuple[bool, list[int]],
                   view_fds: list[int]) -> None:
        from hull.engine import logfile
        cid = found["cid"]
        tty, fds = held
        if found.get("restart"):
            for fd in [*fds, *view_fds]:
                os.close(fd)
            self._restart(cid)
            return
        outputs, input_fd = [], -1
        if fds:   # the keeper kept the pipes (or the master): nothing printed is lost
            outputs = [Output(fds[0], OUT)] if tty else [Output(fds[0], OUT),
                                                         Output(fds[1], ERR)]
            input_fd = os.dup(fds[0]) if tty else (fds[2] if len(fds) > 2 else -1)
            if input_fd >= 0:
                os.set_blocking(input_fd, False)
        driver, max_size, max_file = logfile.options(found.get("host_config") or {})
        writer = logfile.LogWriter(found.get("log", ""), max_size, max_file,
                                   enabled=bool(outputs) and driver != "none")
        pid, started = int(found["pid"]), int(found.get("pid_start") or 0)
        w = Watched(cid, pid, tty, outputs, input_fd, writer)
        w.unknown_exit = self.keeper is None   # no keeper: its parent died with the code
        self.watched[cid] = w
        for out in outputs:
            self.loop.add_reader(out.fd, partial(self._output, w, out))
        known = self.reaped.pop(pid, None)
        ended = None
        if known is not None and known[1] == started:   # it ended while no service ran
            ended = known[0]
        elif cid in self.unrecorded:   # the service that reaped it died before recording
            ended = self.unrecorded.pop(cid)
        elif not found.get("alive"):
            w.unknown_exit = True
            ended = 255 << 8
        if ended is not None:
            for fd in view_fds:
                os.close(fd)
            self._hold_view(cid, [])
            self._exited(w, ended)
            return
        if found.get("view"):
            from hull.procfs import keeper
            taken = (view_fds[0], view_fds[1:]) if view_fds else keeper.take(found["view"])
            if taken is not None:
                self.views.open(cid, found["view"], tasks.cgroup_paths(self.state, cid),
                                found.get("sysinfo", ""), taken=taken)
        from hull.service.keeper import stat_field
        if self.keeper is not None and stat_field(pid, 4) == os.getppid():   # its parent
            self.orphans[pid] = (w, started)   # its PID 1 is the keeper's child now
        else:   # no keeper, or not ours (the keeper was killed too): seen, not its code
            self._watch_by_pidfd(w)
        interval = float(found.get("health_interval") or 0)
        if interval:
            w.health = self.loop.call_later(interval, lambda: self._probe(w, interval))

    def _watch_by_pidfd(self, w: Watched) -> None:
        """The container ends as nobody's child of ours: its end is seen, not its code."""
        try:
            pidfd = os.pidfd_open(w.pid)
        except ProcessLookupError:
            w.unknown_exit = True
            self._exited(w, 255 << 8)
            return

        def ended() -> None:
            self.loop.forget(pidfd)
            os.close(pidfd)
            w.unknown_exit = True
            self._exited(w, 255 << 8)
        self.loop.add_reader(pidfd, ended)

    def _keeper_message(self) -> None:
        assert self.keeper is not None
        message = self.keeper.next_exit()
        if message is None:   # the keeper died: what it watched, watch here
            log("the keeper has gone: exit codes of taken-over containers will be unknown")
            self.loop.forget(self.keeper.sock)
            self.keeper.sock.close()
            self.keeper = None
            for w, _ in self.orphans.values():
                self._watch_by_pidfd(w)
            self.orphans.clear()
        elif message:
            self._orphan_ended(message)

    def _orphan_ended(self, message: dict[str, Any]) -> None:
        pid = int(message["exit"])
        entry = self.orphans.get(pid)
        status, started = int(message["status"]), int(message.get("start") or 0)
        if entry is None:   # not taken over yet: recover() is still surveying
            self.reaped[pid] = (status, started)
        elif entry[1] == started:
            del self.orphans[pid]
            self._exited(entry[0], status)

    # ---- health ---------------------------------------------------------------------------

    def _probe(self, w: Watched, interval: float) -> None:
        if w.status is not None or self.watched.get(w.cid) is not w:
            return
        self.jobs += 1

        def on_exit(job: jobs.Job, status: int) -> None:
            self.jobs -= 1
            if w.status is None and self.watched.get(w.cid) is w:
                w.health = self.loop.call_later(interval, lambda: self._probe(w, interval))

        jobs.spawn(self.loop, lambda ch: tasks.probe(ch, self.root, self.state, w.cid, w.pid),
                   [], lambda job, msg: None, on_exit)


def _reply(conn: socket.socket, **message: Any) -> None:
    try:
        conn.setblocking(True)
        conn.settimeout(2.0)
        conn.sendall(frame_json(**message))
    except OSError:
        pass
