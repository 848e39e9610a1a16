"""Networks and their endpoints in the engine's metadata.db.

A network row holds Docker's `network inspect` document (less its Containers, which are
the endpoints); an endpoint is one container's place on one network: its address, MAC,
aliases and name. UNIQUE(network, ip) is what guarantees an address is never handed out
twice; an endpoint exists while its container runs and is deleted when it stops, is
removed, or was found dead after a crash or reboot — the address is free again then.
"""

from __future__ import annotations

import ipaddress
import secrets
import sqlite3

from hull import fastjson
from hull.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from hull.network import ipam
from hull.network.firewall import Port
from hull.record import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from hull.network.ports import Binding

SCHEMA = """
CREATE TABLE IF NOT EXISTS networks (
    id TEXT PRIMARY KEY,
    name TEXT UNIQUE NOT NULL,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS endpoints (
    network TEXT NOT NULL,
    container TEXT NOT NULL,
    ip TEXT NOT NULL,
    ip6 TEXT NOT NULL,
    mac TEXT NOT NULL,
    name TEXT NOT NULL,
    aliases TEXT NOT NULL,
    PRIMARY KEY (network, container),
    UNIQUE (network, ip)
);
CREATE TABLE IF NOT EXISTS published (
    container TEXT NOT NULL,
    host_ip TEXT NOT NULL,
    protocol TEXT NOT NULL,
    host_port INTEGER NOT NULL,
    container_ip TEXT NOT NULL,
    container_port INTEGER NOT NULL,
    PRIMARY KEY (protocol, host_port, host_ip)
);
"""

DEFAULT = "bridge"   # Docker's default network's name
BRIDGE_OPTION = "com.docker.network.bridge.name"


@record
class Endpoint:
    network: str
    container: str
    ip: str
    ip6: str
    mac: str
    name: str
    aliases: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        """Docker's EndpointID: stable for the pair, 64 hex."""
        import hashlib
        return hashlib.sha256(f"{self.network}/{self.container}".encode()).hexdigest()


class Network:
    """A row's document with the fields the engine uses named."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc

    @property
    def id(self) -> str:
        return str(self.doc["Id"])

    @property
    def name(self) -> str:
        return str(self.doc["Name"])

    @property
    def bridge(self) -> str:
        return str(self.doc["Options"][BRIDGE_OPTION])

    @property
    def internal(self) -> bool:
        return bool(self.doc.get("Internal"))

    @property
    def mtu(self) -> int:
        return int(self.doc["Options"].get("com.docker.network.driver.mtu") or 0)

    def _config(self, version: int) -> dict[str, str] | None:
        for c in self.doc["IPAM"]["Config"]:
            if ipaddress.ip_network(c["Subnet"]).version == version:
                return dict(c)
        return None

    @property
    def subnet(self) -> ipaddress.IPv4Network:
        c = self._config(4)
        assert c is not None
        return ipaddress.IPv4Network(c["Subnet"])

    @property
    def gateway(self) -> str:
        c = self._config(4)
        return c["Gateway"] if c else ""

    @property
    def ip_range(self) -> str:
        c = self._config(4)
        return (c or {}).get("IPRange", "")

    @property
    def aux_addresses(self) -> set[str]:
        """The addresses IPAM reserves for the host side (never handed to a container)."""
        for c in self.doc["IPAM"]["Config"]:
            if ipaddress.ip_network(c["Subnet"]).version == 4:
                return {str(a) for a in (c.get("AuxiliaryAddresses") or {}).values()}
        return set()

    @property
    def subnet6(self) -> ipaddress.IPv6Network | None:
        c = self._config(6)
        return ipaddress.IPv6Network(c["Subnet"]) if c else None

    @property
    def gateway6(self) -> str:
        c = self._config(6)
        return c["Gateway"] if c else ""


def network_doc(nid: str, name: str, subnet: ipaddress.IPv4Network, gateway: str, *,
                bridge: str, mtu: int = 0, ip_range: str = "", internal: bool = False,
                labels: dict[str, str] | None = None, options: dict[str, str] | None = None,
                subnet6: ipaddress.IPv6Network | None = None, gateway6: str = "",
                default: bool = False, created: str = "",
                aux_addresses: dict[str, str] | None = None) -> dict[str, Any]:
    """Docker's `network inspect` document (without Containers)."""
    configs: list[dict[str, Any]] = [{"Subnet": str(subnet), "Gateway": gateway,
                                      **({"IPRange": ip_range} if ip_range else {}),
                                      **({"AuxiliaryAddresses": aux_addresses}
                                         if aux_addresses else {})}]
    if subnet6 is not None:
        configs.append({"Subnet": str(subnet6), "Gateway": gateway6})
    opts = {**(options or {}), BRIDGE_OPTION: bridge}
    if mtu:
        opts["com.docker.network.driver.mtu"] = str(mtu)
    if default:
        opts.update({"com.docker.network.bridge.default_bridge": "true",
                     "com.docker.network.bridge.enable_icc": "true",
                     "com.docker.network.bridge.enable_ip_masquerade": "true",
                     "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0"})
    return {"Name": name, "Id": nid, "Created": created, "Scope": "local", "Driver": "bridge",
            "EnableIPv4": True, "EnableIPv6": subnet6 is not None,
            "IPAM": {"Driver": "default", "Options": None, "Config": configs},
            "Internal": internal, "Attachable": False, "Ingress": False,
            "ConfigFrom": {"Network": ""}, "ConfigOnly": False, "Options": opts,
            "Labels": labels or {}}


class NetworkStore:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        db.executescript(SCHEMA)

    # ---- networks ---------------------------------------------------------------------

    def all(self) -> list[Network]:
        return [Network(fastjson.loads(r[0])) for r in
                self.db.execute("SELECT doc FROM networks ORDER BY name").fetchall()]

    def get(self, name_or_id: str) -> Network:
        row = self.db.execute("SELECT doc FROM networks WHERE name = ? OR id = ?",
                              (name_or_id, name_or_id)).fetchone()
        if row is None and len(name_or_id) >= 3:
            rows = self.db.execute("SELECT doc FROM networks WHERE id LIKE ?",
                                   (name_or_id + "%",)).fetchall()
            if len(rows) > 1:
                raise InvalidArgument(f"network {name_or_id} is ambiguous ({len(rows)} "
                                      "matches found based on ID prefix)")
            row = rows[0] if rows else None
        if row is None:
            raise NotFound(f"network {name_or_id} not found")
        return Network(fastjson.loads(row[0]))

    def insert(self, doc: dict[str, Any]) -> Network:
        try:
            self.db.execute("INSERT INTO networks VALUES (?, ?, ?)",
                            (doc["Id"], doc["Name"], fastjson.dumps(doc)))
        except sqlite3.IntegrityError:
            raise AlreadyExists(f"network with name {doc['Name']} already exists") from None
        return Network(doc)

    def delete(self, network_id: str) -> None:
        self.db.execute("DELETE FROM networks WHERE id = ?", (network_id,))

    @staticmethod
    def new_id() -> str:
        return secrets.token_hex(32)

    # ---- endpoints --------------------------------------------------------------------

    def endpoints(self, network_id: str | None = None, container: str | None = None
                  ) -> list[Endpoint]:
        sql, args = "SELECT * FROM endpoints", []
        where = []
        if network_id is not None:
            where.append("network = ?")
            args.append(network_id)
        if container is not None:
            where.append("container = ?")
            args.append(container)
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [Endpoint(r[0], r[1], r[2], r[3], r[4], r[5], fastjson.loads(r[6]))
                for r in self.db.execute(sql, args).fetchall()]

    def attach(self, net: Network, container: str, name: str, aliases: list[str],
               wanted_ip: str = "", wanted_ip6: str = "", mac: str = "") -> Endpoint:
        """An address for the container on net, recorded in one transaction."""
        from hull.linux.netlink import mac_for
        self.db.execute("BEGIN IMMEDIATE")
        try:
            if self.db.execute("SELECT 1 FROM endpoints WHERE network = ? AND container = ?",
                               (net.id, container)).fetchone():
                raise FailedPrecondition(f"endpoint with name {name} already exists in "
                                         f"network {net.name}")
            rows = self.db.execute("SELECT ip, ip6 FROM endpoints WHERE network = ?",
                                   (net.id,)).fetchall()
            in_use = {r[0] for r in rows} | net.aux_addresses
            ip = ipam.check_address(net.subnet, wanted_ip, net.gateway, in_use) \
                if wanted_ip else ipam.allocate(net.subnet, in_use, net.gateway, net.ip_range)
            ip6 = ""
            if net.subnet6 is not None:
                used6 = {r[1] for r in rows}
                ip6 = ipam.check_address(net.subnet6, wanted_ip6, net.gateway6, used6) \
                    if wanted_ip6 else ipam.allocate(net.subnet6, used6, net.gateway6)
            ep = Endpoint(net.id, container, ip, ip6, mac or mac_for(ip), name, aliases)
            self.db.execute("INSERT INTO endpoints VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (ep.network, ep.container, ep.ip, ep.ip6, ep.mac, ep.name,
                             fastjson.dumps(ep.aliases)))
            self.db.execute("COMMIT")
            return ep
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def detach(self, container: str, network_id: str | None = None) -> list[Endpoint]:
        gone = self.endpoints(network_id, container)
        if network_id is None:
            self.db.execute("DELETE FROM endpoints WHERE container = ?", (container,))
        else:
            self.db.execute("DELETE FROM endpoints WHERE container = ? AND network = ?",
                            (container, network_id))
        return gone

    # ---- published ports --------------------------------------------------------------

    def published(self, container: str | None = None) -> list[Port]:
        sql = "SELECT host_ip, protocol, host_port, container_ip, container_port FROM " \
              "published" + (" WHERE container = ?" if container is not None else "")
        rows = self.db.execute(sql, () if container is None else (container,)).fetchall()
        return [Port(r[0], r[1], int(r[2]), r[3], int(r[4])) for r in rows]

    def claim_ports(self, container: str, bindings: list[Binding], container_ip: str
                    ) -> list[Port]:
        """Host ports for the container's bindings, recorded in one transaction: a port
        another container holds (on the same or every address) is Docker's "port is
        already allocated"; a port a host process listens on, "address already in use"."""
        if not bindings:
            return []
        self.db.execute("BEGIN IMMEDIATE")
        try:
            taken = {(r[0], r[1], int(r[2])) for r in self.db.execute(
                "SELECT host_ip, protocol, host_port FROM published").fetchall()}
            out: list[Port] = []

            def free(ip: str, proto: str, port: int) -> bool:
                """Every address ("") clashes with each one, and each one with every."""
                held = taken | {(p.host_ip, p.protocol, p.host_port) for p in out}
                return not any(pr == proto and po == port and
                               (i == ip or i in ("", "::") or not ip)
                               for i, pr, po in held)
            for b in bindings:
                port = b.host_port
                if port:
                    if not free(b.host_ip, b.protocol, port):
                        raise FailedPrecondition(f"Bind for {b.host_ip or '0.0.0.0'}:{port} "
                                                 "failed: port is already allocated")
                    _check_bindable(b.host_ip, b.protocol, port)
                else:
                    port = _pick_port(b, free)
                out.append(Port(b.host_ip, b.protocol, port, container_ip, b.container_port))
            for p in out:
                self.db.execute("INSERT INTO published VALUES (?, ?, ?, ?, ?, ?)",
                                (container, p.host_ip, p.protocol, p.host_port,
                                 p.container_ip, p.container_port))
            self.db.execute("COMMIT")
            return out
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def mirror_ports(self, container: str, ports: list[Port], container_ip6: str
                     ) -> list[Port]:
        """The IPv6 side of ports published on every address, for a dual-stack container:
        the same host ports on every IPv6 address ("::"), as Docker publishes them."""
        out = [Port("::", p.protocol, p.host_port, container_ip6, p.container_port)
               for p in ports if not p.host_ip]
        for p in out:
            self.db.execute("INSERT OR REPLACE INTO published VALUES (?, ?, ?, ?, ?, ?)",
                            (container, p.host_ip, p.protocol, p.host_port, p.container_ip,
                             p.container_port))
        return out

    def release_ports(self, container: str) -> list[Port]:
        gone = self.published(container)
        self.db.execute("DELETE FROM published WHERE container = ?", (container,))
        return gone


def _socket_type(protocol: str) -> tuple[int, int]:
    import socket
    if protocol == "udp":
        return socket.SOCK_DGRAM, 0
    if protocol == "sctp":
        return socket.SOCK_STREAM, socket.IPPROTO_SCTP
    return socket.SOCK_STREAM, 0


def _bind(host_ip: str, protocol: str, port: int) -> int:
    """Bind (ip, port) for a moment: the port it got, or OSError when a host process holds
    it. Nothing keeps the socket: the kernel's DNAT needs no listener."""
    import socket
    family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
    kind, proto = _socket_type(protocol)
    with socket.socket(family, kind, proto) as s:
        # as the engine's own DNS sockets on the gateways: a port bound there (53/udp)
        # is no clash with publishing it on every address
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host_ip or ("::" if family == socket.AF_INET6 else "0.0.0.0"), port))
        return int(s.getsockname()[1])


def _check_bindable(host_ip: str, protocol: str, port: int) -> None:
    try:
        _bind(host_ip, protocol, port)
    except OSError as e:
        raise FailedPrecondition(
            f"failed to bind host port {host_ip or '0.0.0.0'}:{port}/{protocol}: "
            f"{e.strerror.lower() if e.strerror else e}") from None


def _pick_port(b: Binding, free: Callable[[str, str, int], bool]) -> int:
    """A free host port: from the binding's range, or one the kernel picks (its ephemeral
    range, as Docker uses)."""
    candidates = range(b.host_low, b.host_high + 1) if b.host_low else None
    if candidates is None:
        for _ in range(64):
            port = _bind(b.host_ip, b.protocol, 0)
            if free(b.host_ip, b.protocol, port):
                return port
    else:
        for port in candidates:
            if free(b.host_ip, b.protocol, port):
                try:
                    return _bind(b.host_ip, b.protocol, port)
                except OSError:
                    continue
    where = f"{b.host_ip or '0.0.0.0'}:{b.host_low}-{b.host_high}" if b.host_low else "host"
    raise FailedPrecondition(f"Bind for {where} failed: port is already allocated")
