"""Container endpoints that answer once: create, list, inspect, the lifecycle (start, stop,
restart, kill, pause, unpause, rename, update, wait, delete), top, changes, export,
prune. Streams (logs, attach, stats) are in streams.py, archives in archive.py."""

from __future__ import annotations

import os
import time

from hull.api.errors import ApiError, NotModified
from hull.api.http import as_file
from hull.api.system import filter_items
from hull.errors import FailedPrecondition, NotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hull.api.context import Context
    from hull.api.http import Connection, Request


def create(ctx: Context, conn: Connection, req: Request) -> None:
    from hull.engine.create import create as create_container
    from hull.engine.createspec import run_options
    body = req.json({})
    platform = req.arg("platform")
    opts, warnings = run_options(body, req.arg("name"),
                                 os.environ.get("HULL_CGROUP_PARENT", "/hull"))
    try:
        ctx.containers.images.resolve(opts.image)
    except NotFound:   # clients pull on this exact message, then create again
        raise ApiError(404, f"No such image: {opts.image}") from None
    if platform:
        _check_platform(ctx, opts.image, platform)
    _check_endpoints(ctx, body)
    c = create_container(ctx.containers, opts)
    conn.json(201, {"Id": c.id, "Warnings": warnings})


def _check_endpoints(ctx: Context, body: Any) -> None:
    """Every network NetworkingConfig names must exist, as dockerd checks at create (a
    404 "network X not found" before anything is made)."""
    net = body.get("NetworkingConfig") if isinstance(body, dict) else None
    endpoints = net.get("EndpointsConfig") if isinstance(net, dict) else None
    for name in endpoints or {}:
        if str(name) not in ("bridge", "default", "host", "none"):   # always there
            ctx.containers.networks.get(str(name))


def _check_platform(ctx: Context, image: str, platform: str) -> None:
    store = ctx.containers.images
    config = store.config(store.resolve(image))
    have = f"{config.get('os', 'linux')}/{config.get('architecture', 'amd64')}"
    if not (have == platform or have.startswith(platform.rstrip("/") + "/")
            or platform == config.get("os")):
        raise ApiError(404, f"image with reference {image} was found but does not match the "
                       f"specified platform: wanted {platform}, actual: {have}")


def listing(ctx: Context, conn: Connection, req: Request) -> None:
    from hull.engine.filters import Filters
    from hull.engine.listing import PS_FILTERS, select, summary
    service = ctx.containers
    filters = Filters(filter_items(req), PS_FILTERS)
    limit = req.integer("limit", -1) or -1
    chosen = select(service, req.flag("all"), filters, limit)
    conn.json(200, [summary(service, c, size=req.flag("size")) for c in chosen])


def inspect(ctx: Context, conn: Connection, req: Request) -> None:
    conn.json(200, ctx.containers.inspect(req.params["id"], size=req.flag("size")))


def start(ctx: Context, conn: Connection, req: Request) -> None:
    service = ctx.containers
    req.json({})   # API < 1.24 sent a HostConfig here; it is ignored, as dockerd does
    with service.locked(req.params["id"]) as c:
        if c.state.get("Running"):
            raise NotModified()
        service.start_supervised(c.id).close()
    conn.respond(204)


def stop(ctx: Context, conn: Connection, req: Request) -> None:
    service = ctx.containers
    c = service.store.get(req.params["id"])
    if not c.state.get("Running"):
        raise NotModified()
    service.stop(c.id, req.integer("t"))
    conn.respond(204)


def restart(ctx: Context, conn: Connection, req: Request) -> None:
    ctx.containers.restart(req.params["id"], req.integer("t"))
    conn.respond(204)


def kill(ctx: Context, conn: Connection, req: Request) -> None:
    """As dockerd: SIGKILL answers once the container has ended (its exit recorded), so a
    client inspecting right after sees it exited; other signals answer at once."""
    import signal

    from hull.runtime.signals import parse_signal
    signum = parse_signal(req.arg("signal") or "SIGKILL")
    c = ctx.containers.store.get(req.params["id"])
    if not c.state.get("Running"):
        raise FailedPrecondition(f"Container {c.id} is not running")
    ctx.containers.kill(c.id, signum)
    if signum == signal.SIGKILL:
        ctx.containers._ended_within(c.id, 10)
    conn.respond(204)


def pause(ctx: Context, conn: Connection, req: Request) -> None:
    ctx.containers.pause(req.params["id"], True)
    conn.respond(204)


def unpause(ctx: Context, conn: Connection, req: Request) -> None:
    ctx.containers.pause(req.params["id"], False)
    conn.respond(204)


def rename(ctx: Context, conn: Connection, req: Request) -> None:
    new = req.arg("name")
    if not new:
        raise ApiError(400, "name cannot be empty")
    ctx.containers.rename(req.params["id"], new)
    conn.respond(204)


def update(ctx: Context, conn: Connection, req: Request) -> None:
    from hull.engine.update import UPDATABLE
    from hull.engine.update import update as update_container
    body = req.json({}) or {}
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    # clients send every field, zero meaning "unchanged": only what is set changes
    changes = {k: v for k, v in body.items() if k in UPDATABLE and v not in (None, 0, "",
                                                                            [], {})}
    policy = changes.get("RestartPolicy")
    if isinstance(policy, dict) and not policy.get("Name"):
        changes.pop("RestartPolicy")
    update_container(ctx.containers, req.params["id"], changes)
    conn.json(200, {"Warnings": []})


def wait(ctx: Context, conn: Connection, req: Request) -> None:
    """POST /containers/{id}/wait: headers at once (a client waits for the body), the
    body when the condition holds — not-running (default), next-exit, removed."""
    condition = req.arg("condition") or "not-running"
    if condition not in ("not-running", "next-exit", "removed"):
        raise ApiError(400, f"invalid condition: {condition!r}")
    service = ctx.containers
    c = service.store.get(req.params["id"])
    running = bool(c.state.get("Running"))
    session = None
    if running or condition != "not-running":
        session = service.supervised().exit_session(c.id, next_start=condition == "next-exit"
                                                    or (condition == "removed" and not
                                                        running and _will_start(c)))
    stream = conn.stream()
    code = c.state.get("ExitCode", 0)
    error = None   # Docker's Error: a failure to wait, not the container's
    if session is not None:
        try:
            message = session.first
            while "pending" in message or "waiting" in message:
                message = _read_or_hangup(conn, session)
            if message.get("exit") is not None:
                code = int(message["exit"])
            elif message.get("error"):   # it did not start: the start's caller hears why
                code = int(message.get("code") or 125)
            elif "exit" in message:
                code = _recorded_exit(service, c.id, code)
        finally:
            session.close()
    if condition == "removed":
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                service.store.get(c.id)
            except NotFound:
                break
            time.sleep(0.05)
    stream.json({"StatusCode": code, "Error": {"Message": error} if error else None})
    stream.end()


def _will_start(c: Any) -> bool:
    return bool(c.state.get("Status") == "created")


def _read_or_hangup(conn: Connection, session: Any) -> dict[str, Any]:
    """The session's next message; the client hanging up ends the wait."""
    import select

    from hull.api.http import ClientGone
    from hull.engine.attach import JSON
    from hull.fastjson import loads
    while True:
        got = session.frames.next()
        if got is not None:
            if got[0] == JSON:
                message: dict[str, Any] = loads(got[1])
                return message
            continue
        ready, _, _ = select.select([session.conn, conn.sock], [], [], 5.0)
        if session.conn in ready:
            data = session.conn.recv(65536)
            if not data:
                return {"exit": None}
            session.frames.feed(data)
        elif conn.sock in ready and conn.peer_closed():
            raise ClientGone()


def _recorded_exit(service: Any, cid: str, default: int) -> int:
    try:
        return int(service.store.get(cid).state.get("ExitCode", default))
    except NotFound:
        return default


def delete(ctx: Context, conn: Connection, req: Request) -> None:
    ctx.containers.remove(req.params["id"], force=req.flag("force"), volumes=req.flag("v"))
    conn.respond(204)


def top(ctx: Context, conn: Connection, req: Request) -> None:
    from hull.engine.observe import top as ps
    args = (req.arg("ps_args") or "").split()
    rows = ps(ctx.containers, req.params["id"], args)
    conn.json(200, {"Titles": rows[0], "Processes": rows[1:]})


def changes(ctx: Context, conn: Connection, req: Request) -> None:
    from hull.engine.filesystem import diff
    kinds = {"C": 0, "A": 1, "D": 2}
    entries = diff(ctx.containers, req.params["id"])
    conn.json(200, [{"Path": path, "Kind": kinds[kind]} for kind, path in entries] or None)


def export(ctx: Context, conn: Connection, req: Request) -> None:
    from hull.engine.filesystem import export as export_tar
    ctx.containers.store.get(req.params["id"])   # a 404 before the stream starts
    stream = conn.stream(content_type="application/x-tar")
    export_tar(ctx.containers, req.params["id"], as_file(StreamWriter(stream)))
    stream.end()


def prune(ctx: Context, conn: Connection, req: Request) -> None:
    from hull.engine.filters import Filters
    filters = Filters(filter_items(req), ("until", "label", "label!"))
    removed, space = ctx.containers.prune(filters)
    conn.json(200, {"ContainersDeleted": removed or None, "SpaceReclaimed": space})


def resize(ctx: Context, conn: Connection, req: Request) -> None:
    """A terminal's new size: sent to the service, which holds the container's pty."""
    from hull.engine.attach import frame_size
    height, width = req.integer("h", 0) or 0, req.integer("w", 0) or 0
    c = ctx.containers.store.get(req.params["id"])
    if not c.state.get("Running"):
        raise FailedPrecondition(f"Container {c.id} is not running")
    if c.config.get("Tty") and height and width:
        session = ctx.containers.supervised().attach(c.id, stdin=False, streams=[])
        try:
            session.conn.sendall(frame_size(height, width))
        finally:
            session.close()
    conn.respond(200)


class StreamWriter:
    """A response stream as a binary file to write to (tar writers)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, data: bytes) -> int:
        self.stream.send(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass
