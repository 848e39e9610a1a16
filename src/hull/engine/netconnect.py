"""`network connect` and `network disconnect`: a container joins or leaves a network,
running or not. A running container gets (or loses) an interface at once — a veth made
with its peer in the container's namespace — and its DNS names follow, since the
resolver reads the endpoints the moment a query arrives."""

from __future__ import annotations

from hull.engine import networking
from hull.errors import FailedPrecondition
from hull.network import links

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hull.engine.containers import ContainerService


def connect(service: ContainerService, network: str, container: str, *,
            aliases: list[str], ip: str = "", ip6: str = "", mac: str = "") -> None:
    """mac: the endpoint's MAC address (else one derived from its IP); asked for a
    container that is not running, it is recorded and used at its start."""
    net = service.networks.get(network)
    with service.locked(container) as c:
        mode = str(c.host_config.get("NetworkMode") or "none")
        if mode == "none":
            raise FailedPrecondition("container cannot be connected to multiple networks "
                                     "with one of the networks in private (none) mode")
        if not networking.own_network(mode):
            raise FailedPrecondition("container sharing network namespace with another "
                                     "container or host cannot be connected to any other "
                                     "network")
        ns = dict(c.state.get("NetworkSettings") or {})
        nets = dict(ns.get("Networks") or {})
        if net.name in nets:
            raise FailedPrecondition(f"endpoint with name {c.name} already exists in "
                                     f"network {net.name}")
        conf = networking.endpoint_config(net, aliases, ip, ip6, mac)
        pid = int(c.state.get("Pid") or 0)
        if c.state.get("Running") and pid:
            net = service.networks.up(net.name)
            ep = service.networks.store.attach(net, c.id, c.name, aliases, ip, ip6, mac)
            v6 = net.subnet6
            interface = links.Interface(
                links.host_end_name(c.id, net.id), _free_name(pid), net.bridge, ep.mac,
                ep.ip, net.subnet.prefixlen, net.gateway, ep.ip6, v6.prefixlen if v6 else 0,
                net.gateway6, default_route=not nets, mtu=net.mtu or links.DEFAULT_MTU)
            try:
                links.attach(pid, [interface])
            except BaseException:
                service.networks.store.detach(c.id, net.id)
                raise
            plan = networking.Plan(c.id, [(net, ep)])
            conf = networking.settings(plan, pid, {net.name: conf})["Networks"][net.name]
        nets[net.name] = conf
        ns["Networks"] = nets
        service.store.update_state(c.id, NetworkSettings=ns)


def disconnect(service: ContainerService, network: str, container: str,
               force: bool = False) -> None:
    net = service.networks.get(network)
    with service.locked(container) as c:
        ns = dict(c.state.get("NetworkSettings") or {})
        nets = dict(ns.get("Networks") or {})
        if net.name not in nets:   # force or not, as dockerd says it
            raise FailedPrecondition(f"container {c.id} is not connected to network "
                                     f"{net.name}")
        del nets[net.name]
        store = service.networks.store
        gone = store.detach(c.id, net.id)
        ports = [p for p in store.published(c.id) if p.container_ip in {e.ip for e in gone}]
        if ports:   # they pointed at the address it gives back: they go with it
            service.networks.firewall.unpublish(ports)
            store.db.execute("DELETE FROM published WHERE container = ? AND container_ip = ?",
                             (c.id, ports[0].container_ip))
        if c.state.get("Running"):
            links.detach(links.host_end_name(c.id, net.id))
            if ports:
                ns["Ports"] = {}
        ns["Networks"] = nets
        service.store.update_state(c.id, NetworkSettings=ns)


def _free_name(pid: int) -> str:
    """The first ethN the container's namespace does not have yet."""
    from hull.linux.netlink import Netlink, run_in_netns

    def names() -> set[str]:
        with Netlink() as nl:
            return {link.name for link in nl.links()}
    taken = run_in_netns(pid, names)
    return next(f"eth{i}" for i in range(len(taken) + 1) if f"eth{i}" not in taken)
