"""hull's nftables table: outbound NAT, published ports, isolation — and nothing else.

Everything lives in one table of hull's own (`inet hull`, or `inet hull_<tag>` for an
engine root other than the default), so hull never edits another table, chain or policy:
a host rule that drops a port still wins, and `nft delete table` undoes hull entirely.

The rules never change after the table is made. What changes is set and map *elements*:
a network adds its bridge and subnet, a published port adds one map element — so adding
the thousandth port costs what the first did (moby#53466) and each operation is one
atomic libnftables transaction.

    prerouting/output (dnat)   a packet to a host address whose (address, proto, port) or
                               (proto, port) is in a ports map is sent to the container —
                               in the kernel: no userland proxy, the client's address kept
    guard (before dnat)        127.0.0.0/8 arriving on anything but lo is dropped, so a port
                               published on 127.0.0.1 is never reachable from a neighbour
                               (moby#45610)
    forward                    replies pass; internal networks neither leave nor are
                               reached; into a bridge only DNATed (published) traffic or
                               traffic from the same bridge — a container's own address is
                               not reachable from other hosts or other networks; out of a
                               bridge, anything
    postrouting (snat)         masquerade what leaves a subnet for elsewhere, what the host
                               sends from 127.0.0.1 into a bridge, and hairpin traffic
"""

from __future__ import annotations

from dataclasses import dataclass

from hull.network import nft

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

TEMPLATE = """
table inet {table} {{
  set bridges {{ type ifname; }}
  set internal {{ type ifname; }}
  set same {{ type ifname . ifname; }}
  set subnets4 {{ type ipv4_addr; flags interval; }}
  set subnets6 {{ type ipv6_addr; flags interval; }}
  map ports_any4 {{ type inet_proto . inet_service : ipv4_addr . inet_service; }}
  map ports_addr4 {{ type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }}
  map ports_any6 {{ type inet_proto . inet_service : ipv6_addr . inet_service; }}
  map ports_addr6 {{ type ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service; }}
  chain guard {{
    type filter hook prerouting priority -150; policy accept;
    iifname != "lo" ip daddr 127.0.0.0/8 drop
    iifname != "lo" ip6 daddr ::1 drop
    iifname != "lo" iifname != @bridges ip daddr @subnets4 udp dport 53 drop
    iifname != "lo" iifname != @bridges ip daddr @subnets4 tcp dport 53 drop
  }}
  chain prerouting {{
    type nat hook prerouting priority -100; policy accept;
    fib daddr type local jump published
  }}
  chain output {{
    type nat hook output priority -100; policy accept;
    fib daddr type local jump published
  }}
  chain published {{
    meta l4proto {{ tcp, udp }} ip daddr @subnets4 th dport 53 return
    dnat ip to ip daddr . meta l4proto . th dport map @ports_addr4
    dnat ip to meta l4proto . th dport map @ports_any4
    dnat ip6 to ip6 daddr . meta l4proto . th dport map @ports_addr6
    dnat ip6 to meta l4proto . th dport map @ports_any6
  }}
  chain postrouting {{
    type nat hook postrouting priority 100; policy accept;
    oifname @bridges ip saddr 127.0.0.0/8 masquerade
    oifname @bridges ct status dnat ip saddr @subnets4 masquerade
    oifname @bridges ct status dnat ip6 saddr @subnets6 masquerade
    oifname != @bridges ip saddr @subnets4 masquerade
    oifname != @bridges ip6 saddr @subnets6 masquerade
  }}
  chain forward {{
    type filter hook forward priority 0; policy accept;
    ct state established,related accept
    iifname . oifname @same accept
    iifname @internal drop
    oifname @internal drop
    oifname @bridges ct status dnat accept
    oifname @bridges iifname != @bridges drop
    iifname @bridges oifname @bridges drop
  }}
}}
"""
# `same` holds ("b", "b") for every bridge b: traffic within one network passes (routed
# hairpin, or bridged traffic when br_netfilter sends it through this hook, internal
# networks included); between two bridges it is dropped — networks are apart. The gateway's
# port 53 is the engine's DNS: never DNATed to a container that publishes port 53.


@dataclass(frozen=True)
class Port:
    """One published port as the kernel sees it: host side → container side."""
    host_ip: str      # "" for every address
    protocol: str
    host_port: int
    container_ip: str
    container_port: int

    def element(self) -> tuple[str, str]:
        """(map name, element text)."""
        v6 = ":" in self.container_ip
        fam = "6" if v6 else "4"
        value = f"{self.container_ip} . {self.container_port}"
        if self.host_ip and self.host_ip != "::":   # "::": every IPv6 address
            return f"ports_addr{fam}", \
                f"{self.host_ip} . {self.protocol} . {self.host_port} : {value}"
        return f"ports_any{fam}", f"{self.protocol} . {self.host_port} : {value}"


@dataclass(frozen=True)
class Bridge:
    name: str
    subnets: tuple[str, ...]
    internal: bool = False


class Firewall:
    def __init__(self, table: str = "hull") -> None:
        self.table = table

    def exists(self) -> bool:
        """The table is there (by one netlink request: a start without published ports
        never loads libnftables)."""
        return nft.table_exists(self.table)

    def ensure(self) -> None:
        """Make the table when it is missing (first use, or the ruleset was flushed)."""
        if not self.exists():
            nft.run(TEMPLATE.format(table=self.table))

    def sync(self, bridges: Iterable[Bridge], ports: Iterable[Port]) -> None:
        """Replace the whole table by one built from what the engine knows, atomically:
        `hull network reload` and a starting service."""
        lines = [f"add table inet {self.table}", f"delete table inet {self.table}",
                 TEMPLATE.format(table=self.table)]
        lines += self._bridge_lines("add", bridges)
        lines += self._port_lines("add", ports)
        nft.run("\n".join(lines))

    def delete(self) -> None:
        nft.run(f"add table inet {self.table}\ndelete table inet {self.table}")

    def add_bridge(self, bridge: Bridge) -> None:
        self.ensure()
        nft.run("\n".join(self._bridge_lines("add", [bridge])))

    def remove_bridge(self, bridge: Bridge) -> None:
        if self.exists():
            try:
                nft.run("\n".join(self._bridge_lines("delete", [bridge])))
            except OSError:
                pass   # some element was gone already: nothing of it is left either way

    def publish(self, ports: Iterable[Port]) -> None:
        lines = self._port_lines("add", ports)
        if lines:
            self.ensure()
            nft.run("\n".join(lines))

    def unpublish(self, ports: Iterable[Port]) -> None:
        lines = self._port_lines("delete", ports)
        if not lines or not self.exists():
            return
        try:
            nft.run("\n".join(lines))
        except OSError:   # one already gone fails the batch: then one by one
            for line in lines:
                try:
                    nft.run(line)
                except OSError:
                    pass

    def _bridge_lines(self, verb: str, bridges: Iterable[Bridge]) -> list[str]:
        out = []
        t = self.table
        for b in bridges:
            out.append(f'{verb} element inet {t} bridges {{ "{b.name}" }}')
            out.append(f'{verb} element inet {t} same {{ "{b.name}" . "{b.name}" }}')
            if b.internal:
                out.append(f'{verb} element inet {t} internal {{ "{b.name}" }}')
            for s in b.subnets:
                fam = "6" if ":" in s else "4"
                out.append(f"{verb} element inet {t} subnets{fam} {{ {s} }}")
        return out

    def _port_lines(self, verb: str, ports: Iterable[Port]) -> list[str]:
        out = []
        for p in ports:
            name, element = p.element()
            if verb == "delete":
                element = element.split(" : ")[0]
            out.append(f"{verb} element inet {self.table} {name} {{ {element} }}")
        return out


def forward_policy_drops(bridge: str) -> str:
    """A sentence naming what to add when a base chain of another table on the forward
    hook drops by policy (iptables' FORWARD DROP, which dockerd sets): hull's accept does
    not override another table's drop, so its containers could not reach out."""
    import json
    try:
        listing = json.loads(nft.run("list chains", json=True))
    except (OSError, ValueError):
        return ""
    for item in listing.get("nftables", []):
        chain = item.get("chain")
        if not chain or chain.get("hook") != "forward" or chain.get("policy") != "drop":
            continue
        family, table, name = chain["family"], chain["table"], chain["name"]
        return (f"the host's firewall drops forwarded traffic by default (table {family} "
                f"{table}, chain {name}, policy drop): containers on {bridge} cannot reach "
                f"out until it accepts them, e.g. `nft insert rule {family} {table} {name} "
                f'iifname "{bridge}" accept; nft insert rule {family} {table} {name} '
                f'oifname "{bridge}" ct state established,related accept`')
    return ""
