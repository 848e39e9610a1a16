"""`network create|ls|inspect|rm|prune|connect|disconnect|reload`: user-defined bridge
networks as Docker has them (checked as Docker checks them, its messages kept)."""

from __future__ import annotations

import ipaddress

from hull.errors import FailedPrecondition, InvalidArgument, NotFound
from hull.network import ipam
from hull.network.store import BRIDGE_OPTION, DEFAULT, Network, network_doc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hull.engine.containers import ContainerService

PREDEFINED = {"bridge": "bridge", "host": "host", "none": "null"}


def create(service: ContainerService, name: str, *, driver: str = "bridge", subnet: str = "",
           gateway: str = "", ip_range: str = "", internal: bool = False, ipv6: bool = False,
           subnet6: str = "", gateway6: str = "", labels: dict[str, str] | None = None,
           options: dict[str, str] | None = None,
           aux_addresses: dict[str, str] | None = None) -> Network:
    """aux_addresses: IPAM's reserved addresses by name (Docker's --aux-address), inside
    the subnet, never handed to a container."""
    from hull.network import links
    if driver != "bridge":
        raise InvalidArgument(f"plugin \"{driver}\" not found" if driver not in
                              ("host", "null") else
                              f"only one instance of \"{driver}\" network is allowed")
    if name in PREDEFINED:
        raise FailedPrecondition(f"{name} is a pre-defined network and cannot be created")
    store = service.networks.store
    try:
        store.get(name)
        raise FailedPrecondition(f"network with name {name} already exists")
    except NotFound:
        pass

    def new_doc() -> dict[str, Any]:
        """The network's document: a subnet no other network or host route has."""
        nonlocal subnet6, ipv6
        taken = [n.subnet for n in store.all()] + \
            [s for n in store.all() if (s := n.subnet6) is not None]
        if subnet:
            net = ipam.parse_subnet(subnet)
            if net.version != 4:
                subnet6, net = subnet, ipam.pick_subnet(taken + links.host_routes())
                ipv6 = True
            else:
                clash = next((t for t in taken if t.version == 4 and t.overlaps(net)), None)
                if clash is not None:
                    raise FailedPrecondition("invalid pool request: Pool overlaps with other "
                                             "one on this address space")
        else:
            net = ipam.pick_subnet(taken + links.host_routes())
        assert isinstance(net, ipaddress.IPv4Network)
        gw = _gateway(net, gateway)
        if ip_range:
            try:
                r = ipaddress.ip_network(ip_range)
            except ValueError:
                raise InvalidArgument(f"invalid CIDR address: {ip_range}") from None
            if not (r.version == 4 and r.subnet_of(net)):
                raise InvalidArgument(f"invalid ip-range {ip_range}: it must be inside the "
                                      f"subnet {net}")
        for host, address in (aux_addresses or {}).items():
            try:
                inside = ipaddress.ip_address(address) in net
            except ValueError:
                raise InvalidArgument(f"invalid aux-address {host}={address}") from None
            if not inside:
                raise InvalidArgument(f"no matching subnet for aux-address {address}")
        net6: ipaddress.IPv6Network | None = None
        gw6 = ""
        nid = store.new_id()
        if ipv6 or subnet6:
            parsed = ipam.parse_subnet(subnet6) if subnet6 else ipam.pick_subnet6(taken, nid)
            if not isinstance(parsed, ipaddress.IPv6Network):
                raise InvalidArgument(f"invalid IPv6 subnet {subnet6}")
            net6 = parsed
            gw6 = _gateway(net6, gateway6)
        opts = dict(options or {})
        mtu = int(opts.pop("mtu", 0) or opts.pop("com.docker.network.driver.mtu", 0) or 0) \
            or links.host_mtu()
        bridge = opts.pop(BRIDGE_OPTION, "") or f"hull-{nid[:10]}"
        if links.bridge_exists(bridge) or any(n.bridge == bridge for n in store.all()):
            raise FailedPrecondition(f"bridge name {bridge} is already in use: hull never "
                                     "adopts (or later deletes) an interface it did not make")
        from hull.engine.humanize import now
        doc = network_doc(nid, name, net, gw, bridge=bridge, mtu=mtu, ip_range=ip_range,
                          internal=internal, labels=labels, options=opts, subnet6=net6,
                          gateway6=gw6, created=now(), aux_addresses=aux_addresses)
        return doc
    store.db.execute("BEGIN IMMEDIATE")   # two creates at once never pick one subnet
    try:
        made = store.insert(new_doc())
        store.db.execute("COMMIT")
    except BaseException:
        store.db.execute("ROLLBACK")
        raise
    try:
        from hull.engine.networking import warn_if_forward_dropped
        warn_if_forward_dropped(made)
        service.networks.up(made.name)
    except BaseException:
        store.delete(made.id)
        raise
    return made


def _gateway(net: ipaddress.IPv4Network | ipaddress.IPv6Network, gateway: str) -> str:
    if not gateway:
        return ipam.first_host(net)
    try:
        gw = ipaddress.ip_address(gateway)
    except ValueError:
        raise InvalidArgument(f"invalid gateway address {gateway}") from None
    if gw not in net:
        raise InvalidArgument(f"no matching subnet for gateway {gateway}")
    return str(gw)


def containers_of(service: ContainerService, net: Network) -> dict[str, Any]:
    """`network inspect`'s Containers: the endpoints of running containers."""
    out = {}
    for ep in service.networks.store.endpoints(net.id):
        out[ep.container] = {"Name": ep.name, "EndpointID": ep.id, "MacAddress": ep.mac,
                             "IPv4Address": f"{ep.ip}/{net.subnet.prefixlen}",
                             "IPv6Address": f"{ep.ip6}/{net.subnet6.prefixlen}"
                             if ep.ip6 and net.subnet6 else ""}
    return out


def inspect(service: ContainerService, name: str) -> dict[str, Any]:
    if name in ("host", "none"):
        return _predefined(name)
    net = service.networks.get(name)
    return {**net.doc, "Containers": containers_of(service, net)}


def _predefined(name: str) -> dict[str, Any]:
    import hashlib
    nid = hashlib.sha256(f"hull-network-{name}".encode()).hexdigest()
    return {"Name": name, "Id": nid, "Created": "0001-01-01T00:00:00Z", "Scope": "local",
            "Driver": PREDEFINED[name], "EnableIPv4": True, "EnableIPv6": False,
            "IPAM": {"Driver": "default", "Options": None, "Config": None},
            "Internal": False, "Attachable": False, "Ingress": False,
            "ConfigFrom": {"Network": ""}, "ConfigOnly": False, "Containers": {},
            "Options": {}, "Labels": {}}


def listed(service: ContainerService) -> list[dict[str, Any]]:
    docs = [n.doc for n in service.networks.store.all()]
    if not any(d["Name"] == DEFAULT for d in docs):
        docs.append(service.networks.get(DEFAULT).doc)
    docs += [_predefined("host"), _predefined("none")]
    return sorted(docs, key=lambda d: d["Name"])


def selected(service: ContainerService, filters: list[str]) -> list[dict[str, Any]]:
    """`network ls --filter` and GET /networks?filters=: name= (a substring), id= (a
    prefix), driver=, label=K[=V], type=custom|builtin."""
    docs = listed(service)
    for f in filters:
        key, _, value = f.partition("=")
        if key == "name":
            docs = [d for d in docs if value in d["Name"]]
        elif key == "id":
            docs = [d for d in docs if d["Id"].startswith(value)]
        elif key == "driver":
            docs = [d for d in docs if d["Driver"] == value]
        elif key == "label":
            k, _, v = value.partition("=")
            docs = [d for d in docs if k in (d.get("Labels") or {}) and
                    (not v or d["Labels"][k] == v)]
        elif key == "type":
            custom = value == "custom"
            docs = [d for d in docs if (d["Name"] not in PREDEFINED) == custom]
        else:
            raise InvalidArgument(f"invalid filter '{key}'")
    return docs


def users(service: ContainerService, net: Network) -> list[str]:
    """Containers configured to join net (running or not): Docker refuses to remove a
    network while a container is attached to it."""
    return [c.name for c in service.store.all()
            if net.name in ((c.state.get("NetworkSettings") or {}).get("Networks") or {})]


def remove(service: ContainerService, name: str) -> Network:
    if name in PREDEFINED:
        raise FailedPrecondition(f"{name} is a pre-defined network and cannot be removed")
    net = service.networks.store.get(name)
    if service.networks.store.endpoints(net.id) or users(service, net):
        raise FailedPrecondition(f"error while removing network: network {net.name} id "
                                 f"{net.id} has active endpoints")
    _down(service, net)
    service.networks.store.delete(net.id)
    return net


def prune(service: ContainerService, filters: list[str] | None = None) -> list[str]:
    """Networks no container uses; filters: label=K[=V] / label!=K[=V] (Docker's)."""
    wanted: list[tuple[bool, str, str | None]] = []
    for f in filters or []:
        key, _, value = f.partition("=")
        if key not in ("label", "label!"):
            raise InvalidArgument(f"invalid filter '{key}'")
        k, eq, v = value.partition("=")
        wanted.append((key == "label", k, v if eq else None))

    def chosen(labels: dict[str, str]) -> bool:
        return all((k in labels and (v is None or labels[k] == v)) == positive
                   for positive, k, v in wanted)
    gone = []
    for net in service.networks.store.all():
        if net.name == DEFAULT or users(service, net) or \
                service.networks.store.endpoints(net.id) or \
                not chosen(net.doc.get("Labels") or {}):
            continue
        _down(service, net)
        service.networks.store.delete(net.id)
        gone.append(net.name)
    return gone


def _down(service: ContainerService, net: Network) -> None:
    from hull.network import links
    from hull.network.firewall import Bridge
    v6 = net.subnet6
    service.networks.firewall.remove_bridge(
        Bridge(net.bridge, (str(net.subnet),) + ((str(v6),) if v6 else ()), net.internal))
    links.delete_bridge(net.bridge)


def reload(service: ContainerService) -> None:
    """`network reload`: hull's firewall table rebuilt, atomically."""
    service.networks.reload()


def teardown(service: ContainerService) -> None:
    """No endpoint left: the bridges and the firewall table go (the engine service does
    this as it leaves, so an idle host carries nothing of hull's)."""
    store = service.networks.store
    if store.endpoints():
        return
    from hull.network import links
    for net in store.all():
        links.delete_bridge(net.bridge)
    if service.networks.firewall.exists():
        service.networks.firewall.delete()


def teardown_by_name(root: str) -> None:
    """The root's default bridge and firewall table, found by their names alone (its
    metadata is gone: nothing else can be known)."""
    from hull.engine.networking import naming
    from hull.network import links
    from hull.network.firewall import Firewall
    table, bridge = naming(root)
    links.delete_bridge(bridge)
    firewall = Firewall(table)
    if firewall.exists():
        firewall.delete()
