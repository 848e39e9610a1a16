"""Every endpoint, by method and path, and the version prefix: `/v1.44/containers/json`
and `/containers/json` are the same route; a version above API_VERSION or below
MIN_API_VERSION is refused as dockerd refuses it."""

from __future__ import annotations

import re

from hull.api import archive, build, containers, execs, images, resources, streams, system
from hull.api.errors import ApiError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from hull.api.context import Context
    from hull.api.http import Connection, Request

    Handler = Callable[[Context, Connection, Request], None]

_ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/_ping", system.ping), ("HEAD", "/_ping", system.ping),
    ("GET", "/version", system.version), ("GET", "/info", system.info),
    ("GET", "/system/df", system.disk_usage), ("GET", "/events", system.events),
    ("POST", "/auth", system.auth),
    # containers
    ("POST", "/containers/create", containers.create),
    ("GET", "/containers/json", containers.listing),
    ("POST", "/containers/prune", containers.prune),
    ("GET", "/containers/{id}/json", containers.inspect),
    ("POST", "/containers/{id}/start", containers.start),
    ("POST", "/containers/{id}/stop", containers.stop),
    ("POST", "/containers/{id}/restart", containers.restart),
    ("POST", "/containers/{id}/kill", containers.kill),
    ("POST", "/containers/{id}/pause", containers.pause),
    ("POST", "/containers/{id}/unpause", containers.unpause),
    ("POST", "/containers/{id}/rename", containers.rename),
    ("POST", "/containers/{id}/update", containers.update),
    ("POST", "/containers/{id}/wait", containers.wait),
    ("POST", "/containers/{id}/resize", containers.resize),
    ("DELETE", "/containers/{id}", containers.delete),
    ("GET", "/containers/{id}/top", containers.top),
    ("GET", "/containers/{id}/changes", containers.changes),
    ("GET", "/containers/{id}/export", containers.export),
    ("GET", "/containers/{id}/logs", streams.logs),
    ("POST", "/containers/{id}/attach", streams.attach),
    ("GET", "/containers/{id}/stats", streams.stats),
    ("GET", "/containers/{id}/archive", archive.get),
    ("HEAD", "/containers/{id}/archive", archive.head),
    ("PUT", "/containers/{id}/archive", archive.put),
    ("POST", "/containers/{id}/exec", execs.create),
    ("POST", "/commit", images.commit),
    # exec
    ("POST", "/exec/{id}/start", execs.start),
    ("POST", "/exec/{id}/resize", execs.resize),
    ("GET", "/exec/{id}/json", execs.inspect),
    # images
    ("GET", "/images/json", images.listing),
    ("POST", "/images/create", images.create),
    ("POST", "/images/load", images.load),
    ("GET", "/images/get", images.get_many),
    ("POST", "/images/prune", images.prune),
    ("GET", "/images/search", images.search),
    ("GET", "/images/{name*}/json", images.inspect),
    ("GET", "/images/{name*}/history", images.history),
    ("GET", "/images/{name*}/get", images.get_one),
    ("POST", "/images/{name*}/push", images.push),
    ("POST", "/images/{name*}/tag", images.tag),
    ("DELETE", "/images/{name*}", images.delete),
    ("GET", "/distribution/{name*}/json", images.distribution),
    ("POST", "/build", build.build), ("POST", "/build/prune", build.prune),
    # networks and volumes
    ("GET", "/networks", resources.networks), ("GET", "/networks/", resources.networks),
    ("POST", "/networks/create", resources.network_create),
    ("POST", "/networks/prune", resources.network_prune),
    ("GET", "/networks/{id}", resources.network_inspect),
    ("DELETE", "/networks/{id}", resources.network_delete),
    ("POST", "/networks/{id}/connect", resources.network_connect),
    ("POST", "/networks/{id}/disconnect", resources.network_disconnect),
    ("GET", "/volumes", resources.volumes),
    ("POST", "/volumes/create", resources.volume_create),
    ("POST", "/volumes/prune", resources.volume_prune),
    ("GET", "/volumes/{name}", resources.volume_inspect),
    ("DELETE", "/volumes/{name}", resources.volume_delete),
    # swarm mode: never in one (system.no_swarm)
    *((m, p, system.no_swarm) for p in ("/swarm", "/swarm/{op*}", "/nodes", "/nodes/{id*}",
                                         "/services", "/services/{id*}", "/tasks",
                                         "/tasks/{id*}", "/secrets", "/secrets/{id*}",
                                         "/configs", "/configs/{id*}")
      for m in ("GET", "POST", "DELETE")),
]

_VERSION = re.compile(r"^/v(\d+)\.(\d+)(/.*)$")


def _compile(path: str) -> re.Pattern[str]:
    pattern = re.escape(path)
    pattern = re.sub(r"\\\{(\w+)\\\*\\\}", r"(?P<\1>.+)", pattern)
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", pattern)
    return re.compile(f"^{pattern}$")


_TABLE = [(method, _compile(path), handler) for method, path, handler in _ROUTES]


def dispatch(ctx: Context, conn: Connection, req: Request) -> None:
    from hull.api.versions import API_VERSION, MIN_API_VERSION
    path = req.path
    m = _VERSION.match(path)
    if m:
        wanted = (int(m.group(1)), int(m.group(2)))
        if wanted > _tuple(API_VERSION):
            raise ApiError(400, f"client version {m.group(1)}.{m.group(2)} is too new. "
                           f"Maximum supported API version is {API_VERSION}")
        if wanted < _tuple(MIN_API_VERSION):
            raise ApiError(400, f"client version {m.group(1)}.{m.group(2)} is too old. "
                           f"Minimum supported API version is {MIN_API_VERSION}, please "
                           "upgrade your client to a newer version")
        req.version = f"{wanted[0]}.{wanted[1]}"
        path = m.group(3)
    if len(path) > 1:
        path = path.rstrip("/") if path != "/networks/" else path
    allowed = False
    for method, pattern, handler in _TABLE:
        found = pattern.match(path)
        if not found:
            continue
        if method != req.method:
            allowed = True
            continue
        req.params = found.groupdict()
        handler(ctx, conn, req)
        return
    if allowed:
        raise ApiError(405, f"method {req.method} not allowed for {path}")
    raise ApiError(404, "page not found")


def _tuple(version: str) -> tuple[int, int]:
    major, _, minor = version.partition(".")
    return int(major), int(minor)
