"""Address management: which subnet a new network gets, which address a container gets.

Subnets come from Docker's default pools (172.17-31.0.0/16, then 192.168.x.0/20) and must
overlap nothing the host already routes — on this kind of machine a guess like Docker's
fixed 172.17.0.0/16 may collide with the host's own networks, and a bridge over an address
range the host already reaches breaks both. Addresses are handed out lowest first, never
the network, gateway or broadcast address; the store's UNIQUE(network, ip) makes a double
hand-out impossible even for two starts at once.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator

from hull.errors import FailedPrecondition, InvalidArgument

Net4 = ipaddress.IPv4Network
Net6 = ipaddress.IPv6Network
AnyNet = ipaddress.IPv4Network | ipaddress.IPv6Network


def default_pools() -> Iterator[Net4]:
    for second in range(17, 32):
        yield ipaddress.IPv4Network(f"172.{second}.0.0/16")
    for third in range(0, 256, 16):
        yield ipaddress.IPv4Network(f"192.168.{third}.0/20")


def pick_subnet(taken: Iterable[AnyNet]) -> Net4:
    """The first pool subnet that overlaps none of taken (host routes, other networks)."""
    used = list(taken)
    for candidate in default_pools():
        if not any(candidate.version == t.version and candidate.overlaps(t) for t in used):
            return candidate
    raise FailedPrecondition("could not find an available, non-overlapping IPv4 address "
                             "pool among the defaults to assign to the network")


def pick_subnet6(taken: Iterable[AnyNet], seed: str) -> Net6:
    """A unique local /64 (fd00::/8) derived from the network's ID, as podman does."""
    used = list(taken)
    base = int(seed[:10], 16) if seed else 0
    for i in range(256):
        value = (0xFD << 120) | (((base + i) & ((1 << 56) - 1)) << 64)
        candidate = ipaddress.IPv6Network((value, 64))
        if not any(t.version == 6 and candidate.overlaps(t) for t in used):
            return candidate
    raise FailedPrecondition("could not find an available IPv6 subnet")


def parse_subnet(text: str) -> AnyNet:
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidArgument(f"invalid subnet {text}: invalid CIDR address: {text}") from None
    if str(net) != text and text.split("/")[0] != str(net.network_address):
        raise InvalidArgument(f"invalid subnet {text}: it should be {net}")
    if net.num_addresses < 4:
        raise InvalidArgument(f"invalid subnet {text}: too small for a network")
    return net


def first_host(net: AnyNet) -> str:
    return str(net.network_address + 1)


def allocate(net: AnyNet, in_use: set[str], gateway: str, ip_range: str = "") -> str:
    """The lowest free address of ip_range (or the subnet)."""
    pool = ipaddress.ip_network(ip_range) if ip_range else net
    last = int(net.broadcast_address)
    first = max(int(pool.network_address), int(net.network_address) + 1)
    for value in range(first, int(pool.broadcast_address) + 1):
        text = str(ipaddress.ip_address(value) if net.version == 4
                   else ipaddress.IPv6Address(value))
        if value != last and text != gateway and text not in in_use:
            return text
    raise FailedPrecondition(f"no available IPv{net.version} addresses on this network's "
                             f"address pools: {net}")


def check_address(net: AnyNet, address: str, gateway: str, in_use: set[str]) -> str:
    """--ip: inside the subnet, not the gateway, not taken (Docker's messages)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise InvalidArgument(f"invalid IPv{net.version} address: {address}") from None
    if ip not in net or ip in (net.network_address, net.broadcast_address):
        raise InvalidArgument(f"Invalid address {address}: It does not belong to any of this "
                              "network's subnets")
    if str(ip) == gateway or str(ip) in in_use:
        raise FailedPrecondition(f"Address already in use: {address}")
    return str(ip)
