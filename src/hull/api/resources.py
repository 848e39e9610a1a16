"""Network and volume endpoints: list (filtered), create, inspect, remove, prune, and a
container connected to or disconnected from a network."""

from __future__ import annotations

from hull.api.errors import ApiError
from hull.api.system import filter_items

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hull.api.context import Context
    from hull.api.http import Connection, Request


def _body(req: Request) -> dict[str, Any]:
    body = req.json({}) or {}
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    return body


# ---- networks -----------------------------------------------------------------------------

def networks(ctx: Context, conn: Connection, req: Request) -> None:
    from hull.engine.networks import containers_of, selected
    service = ctx.containers
    docs = selected(service, filter_items(req))
    out = []
    for d in docs:
        entry = dict(d)
        if d["Name"] not in ("host", "none"):
            entry["Containers"] = containers_of(service, service.networks.get(d["Name"]))
        out.append(entry)
    conn.json(200, out)


def network_inspect(ctx: Context, conn: Connection, req: Request) -> None:
    from hull.engine.networks import inspect
    conn.json(200, inspect(ctx.containers, req.params["id"]))


def network_create(ctx: Context, conn: Connection, req: Request) -> None:
    from hull.engine import networks
    body = _body(req)
    name = body.get("Name")
    if not isinstance(name, str) or not name:
        raise ApiError(400, "network name must be given")
    ipam = body.get("IPAM") or {}
    configs = ipam.get("Config") or []
    v4: dict[str, Any] = next((c for c in configs if ":" not in str(c.get("Subnet", ""))), {})
    v6: dict[str, Any] = next((c for c in configs if ":" in str(c.get("Subnet", ""))), {})
    net = networks.create(
        ctx.containers, name, driver=body.get("Driver") or "bridge",
        subnet=v4.get("Subnet", ""), gateway=v4.get("Gateway", ""),
        ip_range=v4.get("IPRange", ""), internal=bool(body.get("Internal")),
        ipv6=bool(body.get("EnableIPv6")), subnet6=v6.get("Subnet", ""),
        gateway6=v6.get("Gateway", ""), labels=dict(body.get("Labels") or {}),
        options=dict(body.get("Options") or {}),
        aux_addresses={str(k): str(v) for k, v in
                       (v4.get("AuxiliaryAddresses") or {}).items()})
    conn.json(201, {"Id": net.id, "Warning": ""})


def network_delete(ctx: Context, conn: Connection, req: Request) -> None:
    from hull.engine.networks import remove
    remove(ctx.containers, req.params["id"])
    conn.respond(204)


def network_prune(ctx: Context, conn: Connection, req: Request) -> None:
    from hull.engine.networks import prune
    removed = prune(ctx.containers, filter_items(req))
    conn.json(200, {"NetworksDeleted": removed or None})


def network_connect(ctx: Context, conn: Connection, req: Request) -> None:
    from hull.engine.netconnect import connect
    body = _body(req)
    config = body.get("EndpointConfig") or {}
    ipam = config.get("IPAMConfig") or {}
    connect(ctx.containers, req.params["id"], str(body.get("Container") or ""),
            aliases=list(config.get("Aliases") or []), ip=ipam.get("IPv4Address") or "",
            ip6=ipam.get("IPv6Address") or "", mac=str(config.get("MacAddress") or ""))
    conn.respond(200)


def network_disconnect(ctx: Context, conn: Connection, req: Request) -> None:
    from hull.engine.netconnect import disconnect
    body = _body(req)
    disconnect(ctx.containers, req.params["id"], str(body.get("Container") or ""),
               force=bool(body.get("Force")))
    conn.respond(200)


# ---- volumes ------------------------------------------------------------------------------

def volumes(ctx: Context, conn: Connection, req: Request) -> None:
    from hull.engine.filters import Filters
    from hull.engine.volumes import VOLUME_LS_FILTERS, listed
    service = ctx.containers
    found = listed(service.volumes, service.volume_users,
                   Filters(filter_items(req), VOLUME_LS_FILTERS))
    conn.json(200, {"Volumes": found, "Warnings": None})


def volume_create(ctx: Context, conn: Connection, req: Request) -> None:
    body = _body(req)
    driver = body.get("Driver") or "local"
    if driver != "local":
        raise ApiError(404, f'plugin "{driver}" not found')
    if body.get("DriverOpts"):
        raise ApiError(400, "hull's local volumes take no driver options")
    name = str(body.get("Name") or "")
    # as dockerd: a volume created without a name is anonymous (volume prune takes it)
    meta, _ = ctx.containers.volumes.create(name, labels=dict(body.get("Labels") or {}),
                                            anonymous=not name)
    conn.json(201, ctx.containers.volumes.inspect(meta["Name"]))


def volume_inspect(ctx: Context, conn: Connection, req: Request) -> None:
    conn.json(200, ctx.containers.volumes.inspect(req.params["name"]))


def volume_delete(ctx: Context, conn: Connection, req: Request) -> None:
    from hull.errors import NotFound
    service = ctx.containers
    name = req.params["name"]
    try:
        service.volumes.remove(name, service.volume_users(name))
    except NotFound:
        if not req.flag("force"):
            raise
    conn.respond(204)


def volume_prune(ctx: Context, conn: Connection, req: Request) -> None:
    from hull.engine.filters import Filters
    from hull.engine.volumes import VOLUME_PRUNE_FILTERS, prune
    service = ctx.containers
    filters = Filters(filter_items(req), VOLUME_PRUNE_FILTERS)
    removed, space = prune(service.volumes, service.volume_users, False, filters)
    conn.json(200, {"VolumesDeleted": removed or None, "SpaceReclaimed": space})
