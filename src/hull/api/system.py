"""System endpoints: /_ping, /version, /info, /system/df, /events (streamed), /auth."""

from __future__ import annotations

import time

from hull.api.errors import ApiError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hull.api.context import Context
    from hull.api.http import Connection, Request

EVENT_POLL = 0.1   # seconds between looks at the event log while following it


def ping(ctx: Context, conn: Connection, req: Request) -> None:
    """Docker's ping: "OK", with the version headers a client negotiates from."""
    headers = [("Builder-Version", "1"), ("Cache-Control", "no-cache, no-store, "
                                          "must-revalidate"), ("Pragma", "no-cache")]
    if req.method == "HEAD":
        conn.respond(200, b"", "text/plain; charset=utf-8",
                     [*headers, ("Content-Length", "0")])
        return
    conn.respond(200, b"OK", "text/plain; charset=utf-8", headers)


def version(ctx: Context, conn: Connection, req: Request) -> None:
    from hull.api.versions import API_VERSION, MIN_API_VERSION
    from hull.engine.about import version_info
    server = version_info()["Server"]
    versions = {"ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION}
    server["Components"][0]["Details"].update(versions)
    conn.json(200, {**server, **versions, "GitCommit": "", "GoVersion": "", "BuildTime": ""})


def info(ctx: Context, conn: Connection, req: Request) -> None:
    from hull.engine.about import engine_info
    conn.json(200, engine_info(ctx.root))


def disk_usage(ctx: Context, conn: Connection, req: Request) -> None:
    from hull.engine.diskusage import disk_usage as usage
    conn.json(200, usage(ctx.containers))


def auth(ctx: Context, conn: Connection, req: Request) -> None:
    """POST /auth: the credentials checked against the registry and kept for this root's
    pulls and pushes (as `hull login`)."""
    body = req.json({}) or {}
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    from hull.engine.login import login
    server = str(body.get("serveraddress") or "docker.io")
    for prefix in ("https://", "http://"):
        server = server.removeprefix(prefix)
    server = server.split("/", 1)[0] if server != "index.docker.io" else "docker.io"
    if server in ("index.docker.io", "registry-1.docker.io"):
        server = "docker.io"
    login(server, str(body.get("username") or ""), str(body.get("password") or ""))
    conn.json(200, {"Status": "Login Succeeded", "IdentityToken": ""})


def events(ctx: Context, conn: Connection, req: Request) -> None:
    """GET /events: the recorded events since `since`, then (without `until`) new ones as
    they come, one JSON object per line, filtered as `docker events --filter`."""
    from hull.engine import events as ev
    from hull.engine.filters import timestamp
    filters = _filter_map(req)
    ev.matches({}, {k: v for k, v in filters.items()})   # an unknown key refused now
    since = timestamp(req.arg("since") or "") if req.arg("since") else None
    until = timestamp(req.arg("until") or "") if req.arg("until") else None
    stream = conn.stream()
    if since is not None:
        for event in ev.history(ctx.root):
            stamp = int(event.get("timeNano") or 0) / 1e9
            if stamp >= since and (until is None or stamp <= until) and \
                    ev.matches(event, filters):
                stream.json(event)
    if until is not None and until <= time.time():
        stream.end()
        return
    import os

    from hull.engine.logfile import Follower
    os.makedirs(ctx.root, exist_ok=True)
    if not os.path.exists(ev.path(ctx.root)):
        os.close(os.open(ev.path(ctx.root), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
    follower = Follower(ev.path(ctx.root))
    follower.poll()   # what is recorded already was sent above (since=) or is not wanted
    try:
        while until is None or time.time() <= until:
            got = follower.poll()
            for event in got:
                if until is not None and int(event.get("timeNano") or 0) / 1e9 > until:
                    break
                if ev.matches(event, filters):
                    stream.json(event)
            if not got:
                if not conn.quiet_for(EVENT_POLL):
                    return
                time.sleep(EVENT_POLL)
    finally:
        follower.close()
    stream.end()


def _filter_map(req: Request) -> dict[str, list[str]]:
    """Docker's `filters` query value: {"key": ["v", …]} or the older {"key": {"v": true}}."""
    raw = req.json_arg("filters") or {}
    if not isinstance(raw, dict):
        raise ApiError(400, "invalid filters: expected a JSON object")
    out: dict[str, list[str]] = {}
    for key, values in raw.items():
        if isinstance(values, dict):
            out[key] = [k for k, on in values.items() if on]
        elif isinstance(values, list):
            out[key] = [str(v) for v in values]
        else:
            raise ApiError(400, f"invalid filter {key!r}")
    return out


def filter_items(req: Request) -> list[str]:
    """The filters as the CLI's --filter items ("key=value"), for the engine's Filters."""
    return [f"{k}={v}" for k, values in _filter_map(req).items() for v in values]


NOT_A_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or "docker swarm '
                 'join" to connect this node to swarm and try again.')


def no_swarm(ctx: Context, conn: Connection, req: Request) -> None:
    """Swarm mode's endpoints (swarm, nodes, services, tasks, secrets, configs): hull is
    never part of a swarm, and answers as a dockerd that is not: 503 with dockerd's words,
    which clients know (docker-py's `leave_swarm(force=True)` takes the 503 as "nothing to
    leave"). Joining or making one is not implemented (501)."""
    path = req.path.split("/swarm", 1)[-1] if "/swarm" in req.path else ""
    if req.method == "POST" and path in ("/init", "/join"):
        raise ApiError(501, "hull does not implement swarm mode")
    if req.method == "POST" and path == "/leave":
        raise ApiError(503, "This node is not part of a swarm")
    raise ApiError(503, NOT_A_MANAGER)
