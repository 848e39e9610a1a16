"""Container endpoints that stream: logs (from the json log, followed), attach (the
connection hijacked and joined to the service's supervision of the container), stats.

Output to a client is raw for a container with a terminal, else multiplexed: each piece
behind Docker's 8-byte header — the stream (1 stdout, 2 stderr), three zero bytes, the
length (big-endian uint32) — which docker-py and the docker CLI take apart (stdcopy).
"""

from __future__ import annotations

import json
import select
import socket
import struct
import time

from hull.api.errors import ApiError
from hull.engine import humanize
from hull.engine.attach import ERR, INPUT, JSON, OUT, EscapeWatch, frame, parse_detach_keys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hull.api.context import Context
    from hull.api.http import Connection, Request

_HEADER = struct.Struct(">BxxxI")
MULTIPLEXED = "application/vnd.docker.multiplexed-stream"
RAW = "application/vnd.docker.raw-stream"
FOLLOW_POLL = 0.05   # seconds between looks at a followed log


def mux(stream: int, data: bytes) -> bytes:
    """One piece of output behind Docker's stream header (stdcopy)."""
    return _HEADER.pack(stream, len(data)) + data


def content_type(req: Request, tty: bool) -> str:
    if tty:
        return RAW
    return MULTIPLEXED if _version_at_least(req.version, (1, 42)) else RAW


def _version_at_least(version: str, wanted: tuple[int, int]) -> bool:
    if not version:
        return True
    major, _, minor = version.partition(".")
    return (int(major), int(minor or 0)) >= wanted


# ---- logs ---------------------------------------------------------------------------------

def logs(ctx: Context, conn: Connection, req: Request) -> None:
    service = ctx.containers
    c = service.store.get(req.params["id"])
    want_out, want_err = req.flag("stdout"), req.flag("stderr")
    if not (want_out or want_err):
        raise ApiError(400, "Bad parameters: you must choose at least one stream")
    driver = ((c.host_config.get("LogConfig") or {}).get("Type")) or "json-file"
    if driver == "none":
        raise ApiError(501, 'configured logging driver does not support reading')
    tty = bool(c.config.get("Tty"))
    since = _time_arg(req, "since")
    until = _time_arg(req, "until")
    tail = req.arg("tail") or "all"
    stamps = req.flag("timestamps")
    entries = service.logs(c.id)
    if tail != "all":
        try:
            n = int(tail)
        except ValueError:
            n = -1
        if n >= 0:
            entries = entries[-n:] if n else []
    stream = conn.stream(content_type=content_type(req, tty))

    def send(entry: dict[str, Any]) -> bool:
        """False once an entry is past `until`."""
        at = humanize.parse_time(entry["time"])
        if until is not None and at >= until:
            return False
        if since is not None and at < since:
            return True
        kind = entry.get("stream")
        if (kind == "stdout" and not want_out) or (kind == "stderr" and not want_err):
            return True
        data = ((entry["time"] + " ") if stamps else "") + entry.get("log", "")
        raw = data.encode()
        stream.send(raw if tty else mux(1 if kind == "stdout" else 2, raw))
        return True

    for entry in entries:
        if not send(entry):
            stream.end()
            return
    if req.flag("follow") and c.state.get("Running"):
        _follow(ctx, conn, c.id, send)
    stream.end()


def _follow(ctx: Context, conn: Connection, cid: str, send: Any) -> None:
    from hull.engine.logfile import Follower
    from hull.errors import NotFound
    service = ctx.containers
    follower = Follower(service._readable_log(cid))
    follower.poll()   # what the log held was sent already
    try:
        while True:
            got = follower.poll()
            for entry in got:
                if not send(entry):
                    return
            if got:
                conn.quiet = 0.0
                continue
            try:
                running = service.store.get(cid).state.get("Running")
            except NotFound:
                running = False
            if not running:
                for entry in follower.poll():
                    send(entry)
                return
            if not conn.quiet_for(FOLLOW_POLL):
                return
            time.sleep(FOLLOW_POLL)
    finally:
        follower.close()


def _time_arg(req: Request, name: str) -> float | None:
    value = req.arg(name)
    if not value or value == "0":
        return None
    from hull.engine.filters import timestamp
    return timestamp(value)


# ---- attach -------------------------------------------------------------------------------

def attach(ctx: Context, conn: Connection, req: Request) -> None:
    """POST /containers/{id}/attach: the connection hijacked; a container not started yet
    is attached at its start (docker run attaches first, then starts)."""
    from hull.api.errors import Hijacked
    service = ctx.containers
    c = service.store.get(req.params["id"])
    tty = bool(c.config.get("Tty"))
    stdin = req.flag("stdin") and bool(c.config.get("OpenStdin"))
    streams = [s for s in ("stdout", "stderr") if req.flag(s)]
    keys = parse_detach_keys(req.arg("detachKeys") or "ctrl-p,ctrl-q") if tty else b""
    if req.flag("logs"):
        entries = [e for e in service.logs(c.id)
                   if e.get("stream") in streams]
    else:
        entries = []
    stream_on = req.flag("stream") or not req.flag("logs")
    running = bool(c.state.get("Running"))
    session = None
    if stream_on:
        session = service.supervised().attach(c.id, stdin=stdin, streams=streams or
                                              ["stdout", "stderr"],
                                              next_start=not running)
        if "attached" not in session.first and "pending" not in session.first:
            session.close()
            raise ApiError(409, str(session.first.get("error") or "cannot attach"))
    sock, early = conn.hijack(req, content_type(req, tty))
    try:
        for e in entries:
            raw = e.get("log", "").encode()
            sock.sendall(raw if tty else mux(1 if e["stream"] == "stdout" else 2, raw))
        if session is not None:
            relay(sock, early, session, tty, stdin, EscapeWatch(keys) if keys else None)
    except OSError:
        pass   # the client went away: the container runs on
    finally:
        if session is not None:
            session.close()
    raise Hijacked()


def relay(sock: socket.socket, early: bytes, session: Any, tty: bool, stdin: bool,
          escape: EscapeWatch | None) -> None:
    """Output frames from the service to the client (muxed unless tty) until the
    container's exit; the client's bytes to the container's stdin. The client closing
    its writing half (stdin done) closes the container's stdin and output goes on; the
    client gone altogether, or the detach keys, end the attach (the container runs on)."""
    frames = session.frames
    reading_client = True
    # input held until the container has started (the service takes none before)
    held: list[bytes] | None = None if "attached" in session.first else []

    def to_container(data: bytes) -> None:
        if held is not None:
            held.append(data)
        else:
            session.conn.sendall(frame(INPUT, data))

    def from_client(data: bytes) -> bool:
        """False: detach."""
        if escape is not None:
            data, detached = escape.feed(data)
        else:
            detached = False
        if data and stdin:
            to_container(data)
        return not detached

    if early and not from_client(early):
        return
    while True:
        while (got := frames.next()) is not None:
            kind, payload = got
            if kind == JSON:
                message = json.loads(payload)
                if "exit" in message:
                    return
                if "attached" in message and held is not None:
                    for data in held:
                        session.conn.sendall(frame(INPUT, data))
                    held = None
            elif kind in (OUT, ERR):
                sock.sendall(payload if tty else mux(1 if kind == OUT else 2, payload))
        watch = [session.conn] + ([sock] if reading_client else [])
        ready, _, _ = select.select(watch, [], [])
        if sock in ready:
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not data:   # half-closed: no more input, but output still wanted
                reading_client = False
                if stdin:
                    to_container(b"")   # the container's stdin ends
                if not stdin and _gone(sock):
                    return
            elif not from_client(data):
                return
        if session.conn in ready:
            data = session.conn.recv(65536)
            if not data:
                return
            frames.feed(data)


def _gone(sock: socket.socket) -> bool:
    """After EOF from the client: is it gone altogether (its reading half closed too)?"""
    try:
        sock.sendall(b"")
    except OSError:
        return True
    return False


# ---- stats --------------------------------------------------------------------------------

def stats(ctx: Context, conn: Connection, req: Request) -> None:
    """GET /containers/{id}/stats: Docker's stats JSON, once (stream=false, with the
    previous reading one-shot apart) or every second."""
    from hull.engine.observe import host_memory, sample
    service = ctx.containers
    c = service.store.get(req.params["id"])
    streaming = req.flag("stream", True)
    one_shot = req.flag("one-shot")
    host_mem = host_memory()
    previous = sample(service, c, host_mem)
    prev_read = humanize.now()
    if not streaming and not one_shot:
        time.sleep(1.0)   # as dockerd: precpu_stats a second before cpu_stats
    stream = conn.stream()
    while True:
        c = service.store.get(c.id)
        now = sample(service, c, host_mem)
        stream.json(_stats_json(c, now, previous, prev_read, host_mem))
        if not streaming:
            break
        previous, prev_read = now, humanize.now()
        time.sleep(1.0)
        if conn.peer_closed():
            return
    stream.end()


def _stats_json(c: Any, now: Any, before: Any, prev_read: str, host_mem: int
                ) -> dict[str, Any]:
    import os
    cpus = os.cpu_count() or 1
    system_now = _system_cpu_ns()
    return {
        "read": humanize.now(), "preread": prev_read, "name": "/" + c.name, "id": c.id,
        "pids_stats": {"current": now.pids},
        "num_procs": 0,
        "cpu_stats": {"cpu_usage": {"total_usage": now.cpu_ns, "usage_in_kernelmode": 0,
                                    "usage_in_usermode": 0},
                      "system_cpu_usage": system_now, "online_cpus": cpus,
                      "throttling_data": {"periods": 0, "throttled_periods": 0,
                                          "throttled_time": 0}},
        "precpu_stats": {"cpu_usage": {"total_usage": before.cpu_ns, "usage_in_kernelmode": 0,
                                       "usage_in_usermode": 0},
                         "system_cpu_usage": system_now - int(
                             max(now.at - before.at, 0) * 1e9 * cpus),
                         "online_cpus": cpus,
                         "throttling_data": {"periods": 0, "throttled_periods": 0,
                                             "throttled_time": 0}},
        "memory_stats": {"usage": now.mem_used, "limit": now.mem_limit or host_mem,
                         "stats": {}} if now.running else {},
        "blkio_stats": {"io_service_bytes_recursive": [
            {"major": 0, "minor": 0, "op": "read", "value": now.blk_read},
            {"major": 0, "minor": 0, "op": "write", "value": now.blk_write}]
            if now.running else None},
        "networks": {"eth0": {"rx_bytes": now.net_rx, "tx_bytes": now.net_tx,
                              "rx_packets": 0, "tx_packets": 0, "rx_errors": 0,
                              "tx_errors": 0, "rx_dropped": 0, "tx_dropped": 0}}
        if now.running else {},
        "storage_stats": {},
    }


def _system_cpu_ns() -> int:
    """Host CPU time in nanoseconds, from /proc/stat (as dockerd's system_cpu_usage)."""
    import os
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:8]
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(x) for x in fields) * 1_000_000_000 // ticks
