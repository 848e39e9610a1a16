"""Exec endpoints: create (a record of what to run), start (run it: the connection
hijacked for its stdio, or detached), inspect, resize.

Create and start come on different connections, so on different workers: the record is
a file, <state>/api-exec/<id>.json, written whole (temp + rename) at each change. The
worker that starts an exec owns its process: it relays the stdio, reaps it and records
the exit code; a detached exec gets a small watcher process that does the reaping. A
terminal exec's worker also listens on <id>.sock for resizes (another connection's
POST /exec/{id}/resize), since only it holds the terminal's master.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import socket
import struct

from hull.api.errors import ApiError
from hull.errors import CannotInvoke, FailedPrecondition, NotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hull.api.context import Context
    from hull.api.http import Connection, Request


def _dir(ctx: Context) -> str:
    path = os.path.join(ctx.state, "api-exec")
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def _load(ctx: Context, exec_id: str) -> dict[str, Any]:
    if not exec_id.isalnum():
        raise NotFound(f"No such exec instance: {exec_id}")
    try:
        with open(os.path.join(_dir(ctx), exec_id + ".json")) as f:
            record: dict[str, Any] = json.load(f)
            return record
    except (FileNotFoundError, ValueError):
        raise NotFound(f"No such exec instance: {exec_id}") from None


def _save(ctx: Context, record: dict[str, Any]) -> None:
    path = os.path.join(_dir(ctx), record["ID"] + ".json")
    with open(path + ".tmp", "w") as f:
        json.dump(record, f)
    os.replace(path + ".tmp", path)


_EXEC_FIELDS = ("Cmd", "Env", "User", "WorkingDir", "Tty", "AttachStdin", "AttachStdout",
                "AttachStderr", "Privileged", "DetachKeys")


def create(ctx: Context, conn: Connection, req: Request) -> None:
    body = req.json({}) or {}
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    # dockerd decodes with Go's encoding/json, which matches field names case-insensitively:
    # docker-py sends the config file's detach keys as "detachKeys"
    canonical = {k.lower(): k for k in _EXEC_FIELDS}
    body = {canonical.get(k.lower(), k): v for k, v in body.items()}
    c = ctx.containers.store.get(req.params["id"])
    if not c.state.get("Running"):
        raise FailedPrecondition(f"Container {c.id} is not running")
    if c.state.get("Paused"):
        raise FailedPrecondition(f"Container {c.id} is paused, unpause the container before "
                                 "exec")
    cmd = body.get("Cmd")
    if isinstance(cmd, str):
        cmd = [cmd]
    if not cmd or not isinstance(cmd, list) or not all(isinstance(a, str) for a in cmd):
        raise ApiError(400, "No exec command specified")
    record = {"ID": secrets.token_hex(32), "ContainerID": c.id, "Cmd": cmd,
              "Env": list(body.get("Env") or []), "User": body.get("User") or "",
              "WorkingDir": body.get("WorkingDir") or "", "Tty": bool(body.get("Tty")),
              "AttachStdin": bool(body.get("AttachStdin")),
              "AttachStdout": bool(body.get("AttachStdout")),
              "AttachStderr": bool(body.get("AttachStderr")),
              "Privileged": bool(body.get("Privileged")),
              "DetachKeys": body.get("DetachKeys") or "",
              "Running": False, "ExitCode": None, "Pid": 0, "Started": False}
    _save(ctx, record)
    conn.json(201, {"Id": record["ID"]})


def inspect(ctx: Context, conn: Connection, req: Request) -> None:
    r = _load(ctx, req.params["id"])
    conn.json(200, {
        "ID": r["ID"], "Running": r["Running"], "ExitCode": r["ExitCode"],
        "ProcessConfig": {"tty": r["Tty"], "entrypoint": r["Cmd"][0],
                          "arguments": r["Cmd"][1:], "privileged": r["Privileged"],
                          "user": r["User"]},
        "OpenStdin": r["AttachStdin"], "OpenStderr": r["AttachStderr"],
        "OpenStdout": r["AttachStdout"], "CanRemove": False, "ContainerID": r["ContainerID"],
        "DetachKeys": r["DetachKeys"], "Pid": r["Pid"]})


def _process(ctx: Context, r: dict[str, Any]) -> tuple[Any, Any, Any]:
    from hull.engine import execute
    return execute.prepare(ctx.containers, r["ContainerID"], r["Cmd"], r["Env"],
                           r["User"] or None, r["WorkingDir"] or None, r["Tty"],
                           r["Privileged"])


def start(ctx: Context, conn: Connection, req: Request) -> None:
    from hull.api.errors import Hijacked
    from hull.api.streams import content_type
    r = _load(ctx, req.params["id"])
    body = req.json({}) or {}
    if r["Started"]:
        raise FailedPrecondition(f"Error: Exec command {r['ID']} has already run")
    # the process has a terminal if the exec was created with one; the start's Tty only
    # says how the output travels (dockerd: raw, or multiplexed frames when it is false)
    framed_tty = bool(r["Tty"]) and not body.get("Tty", True)
    tty = r["Tty"] = bool(r["Tty"]) or bool(body.get("Tty"))
    c, st, process = _process(ctx, r)
    r["Started"] = True
    ctx.containers.event(c, f"exec_start: {' '.join(r['Cmd'])}", execID=r["ID"])
    if body.get("Detach"):
        _detached(ctx, r, st, process)
        conn.respond(200)
        return
    size = body.get("ConsoleSize")
    sock, early = conn.hijack(req, content_type(req, tty and not framed_tty))
    if r["Tty"]:
        _run_terminal(ctx, r, st, process, sock, early, size, framed_tty)
    else:
        _run_pipes(ctx, r, st, process, sock, early)
    raise Hijacked()


def _started(ctx: Context, r: dict[str, Any], pid: int) -> None:
    r.update(Running=True, Pid=pid)
    _save(ctx, r)


def _ended(ctx: Context, r: dict[str, Any], pid: int) -> None:
    from hull.runtime.waiting import reap
    r.update(Running=False, ExitCode=reap(pid))
    _save(ctx, r)


def _detached(ctx: Context, r: dict[str, Any], st: Any, process: Any) -> None:
    """A watcher process starts it (stdio /dev/null), records its pid, reaps it and
    records its exit code; the connection goes on at once."""
    from hull.engine import execute
    if os.fork() != 0:
        return
    code = 0
    try:
        devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        pid = execute.spawn(ctx.containers, st, process, (devnull, devnull, devnull))
        _started(ctx, r, pid)
        _ended(ctx, r, pid)
    except CannotInvoke:   # as dockerd records it: 126
        r.update(Running=False, ExitCode=126)
        _save(ctx, r)
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _run_pipes(ctx: Context, r: dict[str, Any], st: Any, process: Any,
               sock: socket.socket, early: bytes) -> None:
    from hull.api.streams import mux
    from hull.engine import execute
    in_r, in_w = os.pipe() if r["AttachStdin"] else (os.open(os.devnull, os.O_RDONLY), -1)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        pid = execute.spawn(ctx.containers, st, process, (in_r, out_w, err_w))
    except CannotInvoke as e:
        for fd in (out_r, err_r) + ((in_w,) if in_w >= 0 else ()):
            os.close(fd)
        _not_started(ctx, r, e, sock, framed=True)
        return
    finally:
        for fd in (in_r, out_w, err_w):
            os.close(fd)
    _started(ctx, r, pid)
    if early and in_w >= 0:
        os.write(in_w, early)
    streams = {out_r: 1, err_r: 2}
    client_open = True
    try:
        while streams:
            watch = list(streams) + ([sock.fileno()] if client_open else [])
            ready, _, _ = select.select(watch, [], [])
            for fd in ready:
                if fd == sock.fileno():
                    data = _recv(sock)
                    if not data:
                        client_open = False
                        if in_w >= 0:
                            os.close(in_w)
                            in_w = -1
                    elif in_w >= 0:
                        try:
                            os.write(in_w, data)
                        except OSError:
                            os.close(in_w)
                            in_w = -1
                    continue
                data = os.read(fd, 65536)
                if not data:
                    del streams[fd]
                    os.close(fd)
                    continue
                want = r["AttachStdout"] if streams.get(fd) == 1 else r["AttachStderr"]
                if want:
                    try:
                        sock.sendall(mux(streams[fd], data))
                    except OSError:
                        client_open = False
    finally:
        for fd in list(streams) + ([in_w] if in_w >= 0 else []):
            os.close(fd)
        _ended(ctx, r, pid)


def _run_terminal(ctx: Context, r: dict[str, Any], st: Any, process: Any,
                  sock: socket.socket, early: bytes, size: Any, framed: bool) -> None:
    """The process on a terminal; its output to the client raw, or (framed) in stdout
    frames as dockerd sends a terminal's output to a start that asked for no Tty."""
    from hull.api.streams import mux
    from hull.engine import execute
    from hull.engine.attach import EscapeWatch, parse_detach_keys, set_size
    try:
        pid, master = execute.spawn_terminal(ctx.containers, st, process)
    except CannotInvoke as e:
        _not_started(ctx, r, e, sock, framed)
        return
    _started(ctx, r, pid)
    if isinstance(size, list) and len(size) == 2 and all(isinstance(n, int) for n in size):
        set_size(master, size[0], size[1])
    resizes = _resize_listener(ctx, r["ID"])
    escape = EscapeWatch(parse_detach_keys(r["DetachKeys"] or "ctrl-p,ctrl-q"))
    client_open = True
    try:
        if early:
            os.write(master, early)
        while True:
            watch = [master, resizes.fileno()] + ([sock.fileno()] if client_open else [])
            ready, _, _ = select.select(watch, [], [])
            if resizes.fileno() in ready:
                _apply_resize(resizes, master)
            if sock.fileno() in ready:
                data = _recv(sock)
                if not data:
                    client_open = False
                else:
                    data, detached = escape.feed(data)
                    if data:
                        os.write(master, data)
                    if detached:   # the client's connection ends now; the process runs on
                        _hang_up(sock)
                        return
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError:   # EIO: the terminal's last user is gone
                    data = b""
                if not data:
                    return
                try:
                    sock.sendall(mux(1, data) if framed else data)
                except OSError:
                    client_open = False
    finally:
        os.close(master)
        resizes.close()
        try:
            os.unlink(_resize_path(ctx, r["ID"]))
        except FileNotFoundError:
            pass
        _ended(ctx, r, pid)


def _not_started(ctx: Context, r: dict[str, Any], error: CannotInvoke, sock: socket.socket,
                 framed: bool) -> None:
    """A process that could not start (no such command): as dockerd, the error on the
    client's stdout and exit code 126 for exec inspect."""
    from hull.api.streams import mux
    r.update(Running=False, ExitCode=126)
    _save(ctx, r)
    message = f"{error}\r\n".encode()
    try:
        sock.sendall(mux(1, message) if framed else message)
    except OSError:
        pass


def _hang_up(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def _resize_path(ctx: Context, exec_id: str) -> str:
    return os.path.join(_dir(ctx), exec_id[:16] + ".sock")


def _short(path: str) -> tuple[str, int]:
    """path through an O_PATH fd of its directory: a socket's address holds 108 bytes,
    and a state directory can be deep (the caller closes the fd)."""
    from hull.engine.attach import socket_path
    return socket_path(os.path.dirname(path), os.path.basename(path))


def _resize_listener(ctx: Context, exec_id: str) -> socket.socket:
    path = _resize_path(ctx, exec_id)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    short, dirfd = _short(path)
    try:
        s.bind(short)
    finally:
        os.close(dirfd)
    return s


def _apply_resize(resizes: socket.socket, master: int) -> None:
    from hull.engine.attach import set_size
    data = resizes.recv(16)
    if len(data) == 4:
        rows, cols = struct.unpack(">HH", data)
        try:
            set_size(master, rows, cols)
        except OSError:
            pass


def resize(ctx: Context, conn: Connection, req: Request) -> None:
    r = _load(ctx, req.params["id"])
    height, width = req.integer("h", 0) or 0, req.integer("w", 0) or 0
    if not r["Tty"]:
        conn.respond(200)
        return
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dirfd = -1
    try:
        short, dirfd = _short(_resize_path(ctx, r["ID"]))
        s.sendto(struct.pack(">HH", height, width), short)
    except OSError:   # not started yet (the docker command retries its first resize)
        raise ApiError(409, f"exec {r['ID']} is not running") from None
    finally:
        s.close()
        if dirfd >= 0:
            os.close(dirfd)
    conn.respond(201)
