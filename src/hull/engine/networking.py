"""A container's network, from `run --network` to its exit: what the engine decides and in
which order the kernel is told.

    create   HostConfig.NetworkMode and NetworkSettings.Networks (names, --ip, aliases)
             checked: the networks must exist
    start    prepare (before the runtime's create): each network up (bridge, firewall
             elements), an address per network (IPAM, one transaction), host ports claimed,
             /etc/hosts, /etc/hostname, /etc/resolv.conf written beside the container and
             bound over the init layer's
             plumb (after the runtime's create, before start): veths with their peers made
             in the container's namespace, addresses, default route, ports published
    exit     release: ports unpublished, addresses freed (the veths went with the
             namespace); NetworkSettings keeps the networks, without addresses — as
             Docker shows a stopped container
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
from dataclasses import dataclass, field

from hull.errors import HullError, InvalidArgument, NotFound
from hull.network import links
from hull.network.ports import Binding, from_host_config
from hull.network.store import DEFAULT, Endpoint, Network, NetworkStore

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hull.engine.core import Engine
    from hull.engine.store import Container
    from hull.network.firewall import Firewall, Port


def own_network(mode: str) -> bool:
    return mode not in ("none", "host") and not mode.startswith("container:")


def network_of(mode: str) -> str:
    """The network a NetworkMode names ("default" is Docker's word for "bridge")."""
    return DEFAULT if mode in ("", "default") else mode


def naming(root: str) -> tuple[str, str]:
    """(nftables table, default bridge) of an engine root: the default root's are Docker's
    names with hull's prefix; another root (a test's, a second engine) gets its own, so
    two engines on one host never share or remove each other's."""
    if os.path.realpath(root) == "/var/lib/hull":
        return "hull", "hull0"
    tag = hashlib.sha256(os.path.realpath(root).encode()).hexdigest()[:6]
    return f"hull_{tag}", f"hull0-{tag}"


@dataclass
class Plan:
    """What a start set up, so that a failure (or the exit) undoes exactly that."""
    container: str
    endpoints: list[tuple[Network, Endpoint]] = field(default_factory=list)
    interfaces: list[links.Interface] = field(default_factory=list)
    ports: list[Port] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    asked: dict[str, Any] = field(default_factory=dict)   # Networks as recorded at create


def settings_at_create(engine: Engine, mode: str, aliases: list[str], ip: str, ip6: str,
                       mac: str) -> dict[str, Any]:
    """NetworkSettings of a new container: the networks it will join, as Docker records
    them at create (addresses come at start)."""
    if not own_network(mode):
        return {"Networks": {mode if mode in ("none", "host") else "container": {}}}
    name = network_of(mode)
    net = engine.networks.get(name)
    if (ip or ip6 or aliases) and name == DEFAULT:
        raise InvalidArgument("user specified IP address is supported on user defined "
                              "networks only" if ip or ip6 else
                              "network-scoped alias is supported only for containers in "
                              "user defined networks")
    warn_if_forward_dropped(net)
    return {"Networks": {net.name: endpoint_config(net, aliases, ip, ip6, mac)}}


def warn_if_forward_dropped(net: Network) -> None:
    """Before a network's bridge first exists (network create, the first container on
    the default bridge): if another table's forward hook drops by policy, hull's accept
    cannot override it — say so once, on the command's stderr, naming the rule to add."""
    if links.bridge_exists(net.bridge):
        return
    from hull.network.firewall import forward_policy_drops
    warning = forward_policy_drops(net.bridge)
    if warning:
        import sys
        print(f"WARNING: {warning}", file=sys.stderr)


def endpoint_config(net: Network, aliases: list[str], ip: str, ip6: str, mac: str
                    ) -> dict[str, Any]:
    if ip:
        from hull.network import ipam
        ipam.check_address(net.subnet, ip, net.gateway, set())
    return {"IPAMConfig": {"IPv4Address": ip, "IPv6Address": ip6} if ip or ip6 else None,
            "Links": None, "Aliases": aliases or None, "MacAddress": mac,
            "NetworkID": net.id, "EndpointID": "", "Gateway": "", "IPAddress": "",
            "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0, "DNSNames": None, "DriverOpts": None}


def prepare(engine: Engine, c: Container) -> Plan:
    """Everything before the container's namespace exists; undone on failure."""
    plan = Plan(c.id)
    mode = str(c.host_config.get("NetworkMode") or "none")
    if mode.startswith("container:"):   # its namespace, so its /etc/hosts and resolv.conf
        other = engine.store.dir(engine.store.get(mode.split(":", 1)[1]).id)
        plan.mounts = [{"destination": f"/etc/{name}", "type": "bind",
                        "source": os.path.join(other, name),
                        "options": ["rbind", "rprivate", "rw"]}
                       for name in ("hosts", "resolv.conf")
                       if os.path.exists(os.path.join(other, name))]
    if not own_network(mode):
        return plan
    try:
        wanted = (c.state.get("NetworkSettings") or {}).get("Networks") or \
            {network_of(mode): {}}
        plan.asked = wanted
        for index, (name, conf) in enumerate(wanted.items()):
            net = engine.networks.up(name, conf.get("NetworkID", ""))
            ipam_conf = conf.get("IPAMConfig") or {}
            ep = engine.networks.store.attach(
                net, c.id, c.name, list(conf.get("Aliases") or []),
                ipam_conf.get("IPv4Address") or "", ipam_conf.get("IPv6Address") or "",
                str(c.config.get("MacAddress") or "") if index == 0 else
                str(conf.get("MacAddress") or ""))   # one asked at connect
            plan.endpoints.append((net, ep))
            v6 = net.subnet6
            plan.interfaces.append(links.Interface(
                links.host_end_name(c.id, net.id), f"eth{index}", net.bridge, ep.mac, ep.ip,
                net.subnet.prefixlen, net.gateway, ep.ip6, v6.prefixlen if v6 else 0,
                net.gateway6, default_route=index == 0, mtu=net.mtu or links.DEFAULT_MTU,
                link_local=tuple(str(a) for a in ipam_conf.get("LinkLocalIPs") or [])))
        first = plan.endpoints[0][1]
        plan.ports = engine.networks.store.claim_ports(c.id, _bindings(c), first.ip)
        if first.ip6 and plan.ports:   # dual stack: the same ports on IPv6 too
            plan.ports += engine.networks.store.mirror_ports(c.id, plan.ports, first.ip6)
        plan.mounts = _etc_files(engine, c, plan)
    except BaseException:
        release(engine, c.id)
        raise
    return plan


def plumb(engine: Engine, plan: Plan, pid: int) -> dict[str, Any]:
    """The container's interfaces and published ports, once its namespace exists; returns
    its NetworkSettings."""
    if not plan.endpoints:
        from hull.network import loopback
        loopback.bring_up(pid)
        return {}
    links.attach(pid, plan.interfaces)
    engine.networks.firewall.publish(plan.ports)
    return settings(plan, pid, plan.asked)


def release(engine: Engine, cid: str) -> None:
    """Undo a start: host ports and addresses. The veths are not deleted here: they go
    with the container's namespace when its last process has exited (a failed start's
    too: the runtime kills its init) — and deleting one synchronously costs ~18 ms of
    RCU grace periods, on the path of every `run --rm`."""
    store = engine.networks.store
    ports = store.published(cid)
    if ports:   # the elements first: a row freed before would let another start claim
        engine.networks.firewall.unpublish(ports)   # the port while its element remains
        store.release_ports(cid)
    gone = store.detach(cid)
    if gone and _shares_namespace(engine):
        # another container may keep this one's namespace alive (--network container:X):
        # then the veths stay with it, holding addresses now free — they go now
        for ep in gone:
            links.detach(links.host_end_name(cid, ep.network))


def _shares_namespace(engine: Engine) -> bool:
    """Whether any container joins another's network namespace (rare: checked in SQL)."""
    row = engine.store.db.execute(
        "SELECT 1 FROM containers WHERE host_config LIKE '%\"NetworkMode\": \"container:%' "
        "LIMIT 1").fetchone()
    return row is not None


def stopped_settings(state: dict[str, Any]) -> dict[str, Any]:
    """NetworkSettings of a container that stopped: its networks without addresses (and
    without the MAC it had, as dockerd: the next start derives one again, unless asked)."""
    ns = dict(state.get("NetworkSettings") or {})
    nets = {}
    for name, conf in (ns.get("Networks") or {}).items():
        conf = dict(conf)
        for key in ("EndpointID", "Gateway", "IPAddress", "IPv6Gateway", "GlobalIPv6Address",
                    "MacAddress"):
            conf[key] = ""
        conf["IPPrefixLen"] = conf["GlobalIPv6PrefixLen"] = 0
        nets[name] = conf
    return {"Networks": nets} if nets else {}


def settings(plan: Plan, pid: int, asked: dict[str, Any] | None = None) -> dict[str, Any]:
    """NetworkSettings of a running container; asked: its Networks as recorded at create
    (their IPAMConfig, what the user asked for, is kept for the next start)."""
    nets: dict[str, Any] = {}
    for net, ep in plan.endpoints:
        v6 = net.subnet6
        nets[net.name] = {
            "IPAMConfig": ((asked or {}).get(net.name) or {}).get("IPAMConfig"),
            "DriverOpts": ((asked or {}).get(net.name) or {}).get("DriverOpts"),
            "Links": None, "Aliases": ep.aliases or None,
            "MacAddress": ep.mac, "NetworkID": net.id, "EndpointID": ep.id,
            "Gateway": net.gateway, "IPAddress": ep.ip, "IPPrefixLen": net.subnet.prefixlen,
            "IPv6Gateway": net.gateway6, "GlobalIPv6Address": ep.ip6,
            "GlobalIPv6PrefixLen": v6.prefixlen if v6 else 0,
            "DNSNames": [n for n in (ep.name, ep.container[:12], *ep.aliases)]
            if net.name != DEFAULT else None}
    ports: dict[str, Any] = {}
    for p in plan.ports:
        ports.setdefault(f"{p.container_port}/{p.protocol}", []).append(
            {"HostIp": p.host_ip or "0.0.0.0", "HostPort": str(p.host_port)})
    for bound in ports.values():   # IPv4 first, as Docker lists them
        bound.sort(key=lambda b: ":" in b["HostIp"])
    return {"Networks": nets, "Ports": ports, "SandboxKey": f"/proc/{pid}/ns/net"}


def _bindings(c: Container) -> list[Binding]:
    """-p bindings, and with -P every exposed port not bound already, on a free port."""
    out = from_host_config(c.host_config.get("PortBindings") or {})
    if c.host_config.get("PublishAllPorts"):
        bound = {b.key for b in out}
        for key in c.config.get("ExposedPorts") or {}:
            number, _, proto = key.partition("/")
            if key not in bound:
                out.append(Binding(int(number), proto or "tcp"))
    return out


def _etc_files(engine: Engine, c: Container, plan: Plan) -> list[dict[str, Any]]:
    """/etc/hosts, /etc/hostname and /etc/resolv.conf beside the container, bound over the
    init layer's (Docker does the same: they change with every start's address)."""
    from hull.network import dns
    hc = c.host_config
    first_net, first = plan.endpoints[0]
    hostname = str(c.config.get("Hostname") or c.id[:12])
    domain = str(c.config.get("Domainname") or "")
    names = [f"{hostname}.{domain}", hostname] if domain else [hostname]
    extra = [_extra_host(item, first_net) for item in hc.get("ExtraHosts") or []]
    own = [(first.ip, names)] + ([(first.ip6, names)] if first.ip6 else [])
    host_conf = dns.host_resolvers()
    servers = list(hc.get("Dns") or [])
    options = list(hc.get("DnsOptions") or host_conf.options)
    if not servers:
        loopback = any(ipaddress.ip_address(s).is_loopback for s in host_conf.nameservers
                       if _is_ip(s))
        if first_net.name == DEFAULT and not loopback and host_conf.nameservers:
            servers = host_conf.nameservers       # as Docker's default bridge has it
        else:   # the engine's DNS on the gateway: names of the network, then the host's
            servers = [first_net.gateway]         # resolvers (reached from the host side)
            if first_net.name != DEFAULT and not hc.get("DnsOptions"):
                options = ["ndots:0", *[o for o in options if not o.startswith("ndots")]]
    files = {
        "hosts": dns.render_hosts(extra + own),
        "hostname": hostname + "\n",
        "resolv.conf": dns.render_resolv_conf(
            servers, list(hc.get("DnsSearch") or host_conf.search),
            options),
    }
    out = []
    cdir = engine.store.dir(c.id)
    from hull.engine import userns
    idmap = userns.of(hc)
    for name, text in files.items():
        path = os.path.join(cdir, name)
        with open(path + ".tmp", "w") as f:
            f.write(text)
        if idmap is not None:   # the container's root may edit them, as in Docker
            os.chown(path + ".tmp", *idmap.root)
        os.replace(path + ".tmp", path)
        out.append({"destination": f"/etc/{name}", "type": "bind", "source": path,
                    "options": ["rbind", "rprivate", "rw"]})
    return out


def _extra_host(item: str, net: Network) -> tuple[str, list[str]]:
    """--add-host name:ip (or name=ip); host-gateway is the network's gateway address."""
    sep = "=" if "=" in item else ":"
    name, _, ip = item.partition(sep)
    if ip == "host-gateway":
        ip = net.gateway
    ip = ip.strip("[]")
    if not _is_ip(ip):
        raise InvalidArgument(f"invalid IP address in add-host: {ip!r}")
    return ip, [name]


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class Networks:
    """The engine's networks: the store, the firewall, and bringing a network up."""

    def __init__(self, engine: Engine) -> None:
        from hull.network.firewall import Firewall
        self.engine = engine
        self.store = NetworkStore(engine.store.db)
        table, self.default_bridge = naming(engine.root)
        self.firewall: Firewall = Firewall(table)

    def get(self, name: str) -> Network:
        try:
            return self.store.get(name)
        except NotFound:
            if name != DEFAULT:
                raise
        return self._make_default()

    def _make_default(self) -> Network:
        from hull.engine.humanize import now
        from hull.network import ipam
        from hull.network.store import network_doc
        self.store.db.execute("BEGIN IMMEDIATE")   # its subnet is no other's, even now
        try:
            taken = links.host_routes() + [n.subnet for n in self.store.all()]
            subnet = ipam.pick_subnet(taken)
            doc = network_doc(self.store.new_id(), DEFAULT, subnet, ipam.first_host(subnet),
                              bridge=self.default_bridge, mtu=links.host_mtu(),
                              default=True, created=now())
            made = self.store.insert(doc)
            self.store.db.execute("COMMIT")
            return made
        except HullError:   # another start made it meanwhile
            self.store.db.execute("ROLLBACK")
            return self.store.get(DEFAULT)
        except BaseException:
            self.store.db.execute("ROLLBACK")
            raise

    def up(self, name: str, network_id: str = "") -> Network:
        """The network, its bridge and firewall elements in place (made when missing)."""
        net = self.get(network_id or name)
        from hull.network.firewall import Bridge
        v6 = net.subnet6
        made = links.ensure_bridge(net.bridge, net.gateway, net.subnet.prefixlen,
                                   net.mtu or links.DEFAULT_MTU, net.gateway6,
                                   v6.prefixlen if v6 else 0)
        if made:
            subnets = (str(net.subnet),) + ((str(v6),) if v6 else ())
            self.firewall.add_bridge(Bridge(net.bridge, subnets, net.internal))
        elif not self.firewall.exists():   # the ruleset was flushed: all of it back
            self.reload()

        return net

    def bridges(self) -> list[tuple[Network, bool]]:
        return [(n, links.bridge_exists(n.bridge)) for n in self.store.all()]

    def reload(self) -> None:
        """The whole firewall table rebuilt from what the engine knows (after a flush)."""
        from hull.network.firewall import Bridge
        bridges = []
        for net in self.store.all():
            v6 = net.subnet6
            bridges.append(Bridge(net.bridge, (str(net.subnet),) +
                                  ((str(v6),) if v6 else ()), net.internal))
        self.firewall.sync(bridges, self.store.published())

    def restore(self, alive: set[str]) -> None:
        """A new service's look at the network (after a crash or a reboot): addresses and
        ports of containers no longer running are freed; while any container still has
        an endpoint, the firewall table is rebuilt (a flushed ruleset comes back)."""
        holders = {e.container for e in self.store.endpoints()} | \
            {row[0] for row in self.store.db.execute(
                "SELECT DISTINCT container FROM published").fetchall()}
        for cid in holders - alive:
            release(self.engine, cid)
        if self.store.endpoints() or self.firewall.exists():
            self.reload()
