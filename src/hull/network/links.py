"""The kernel side of a bridge network, through netlink (no `ip` process per step).

    host namespace                              container namespace
    ┌───────────────────────┐                   ┌────────────────────┐
    │ bridge (gateway addr) │── veth<hash> ═════│ eth0 (its address) │
    └───────────────────────┘                   │ default via gateway│
                                                └────────────────────┘

The veth's container end is created directly inside the container's namespace (no move,
no name clash in the host's), and goes away with that namespace: when the container's
last process exits the kernel deletes the pair, so a crash leaves no link behind.
"""

from __future__ import annotations

import errno
import hashlib
import ipaddress
import os
import socket
from dataclasses import dataclass

from hull.errors import FailedPrecondition, NotFound
from hull.linux.netlink import Netlink, mac_for, run_in_netns

DEFAULT_MTU = 1500


@dataclass(frozen=True)
class Interface:
    """One network interface of a container, as the engine planned it."""
    host_name: str     # the veth's host end
    name: str          # inside: eth0, eth1, ...
    bridge: str
    mac: str
    address: str
    prefixlen: int
    gateway: str
    address6: str = ""
    prefixlen6: int = 0
    gateway6: str = ""
    default_route: bool = True
    mtu: int = DEFAULT_MTU
    link_local: tuple[str, ...] = ()   # Docker's LinkLocalIPs: extra host addresses


def host_end_name(container_id: str, network_id: str) -> str:
    """"veth" + 7 hex: unique per (container, network), within IFNAMSIZ."""
    return "veth" + hashlib.sha256(f"{container_id}/{network_id}".encode()).hexdigest()[:7]


def host_mtu() -> int:
    """The MTU of the interface the host's default route leaves through (moby#22028:
    a fixed 1500 breaks on hosts whose uplink is smaller, e.g. in VMs or VPNs)."""
    with Netlink() as nl:
        routes = [r for r in nl.routes(socket.AF_INET) if r.prefixlen == 0 and r.oif]
        if not routes:
            return DEFAULT_MTU
        for link in nl.links():
            if link.index == routes[0].oif:
                return link.mtu or DEFAULT_MTU
    return DEFAULT_MTU


def host_routes() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Destinations the host routes already (but its default routes): a new network's
    subnet must overlap none of them."""
    out: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    with Netlink() as nl:
        for family in (socket.AF_INET, socket.AF_INET6):
            for r in nl.routes(family):
                if r.prefixlen == 0 or not r.dst:
                    continue
                out.append(ipaddress.ip_network(f"{r.dst}/{r.prefixlen}", strict=False))
    return out


def ensure_bridge(name: str, gateway: str, prefixlen: int, mtu: int,
                  gateway6: str = "", prefixlen6: int = 0) -> bool:
    """The network's bridge, up, holding the gateway address; True when it was (made or)
    completed now. Going up is the last step, so a bridge that is up is complete; one left
    half-made (a start killed midway) is completed by the next start. Two starts racing
    both succeed. A link of that name that is not a bridge is refused, never adopted."""
    with Netlink() as nl:
        try:
            link = nl.link(name)
            if link.kind != "bridge":
                raise FailedPrecondition(f"cannot use {name} as a network's bridge: an "
                                         "interface of that name exists and is not a "
                                         "bridge")
            if link.up:
                return False
        except NotFound:
            try:
                nl.add_bridge(name, mtu=mtu)
            except OSError as e:
                if e.errno != errno.EEXIST:
                    raise
        # a MAC of its own: a bridge without one takes the lowest of its ports', so it
        # would change as containers come and go, and the containers' ARP caches would
        # keep sending to the gateway's old MAC (DNS and the default route lost for seconds)
        if gateway:
            nl.set_link(name, mac=mac_for(gateway))
        _sysctl(f"net/ipv4/conf/{name}/route_localnet", "1")   # host's 127.0.0.1 → DNAT
        for address, plen in ((gateway, prefixlen), (gateway6, prefixlen6)):
            if address:
                try:
                    nl.add_address(name, address, plen)
                except OSError as e:
                    if e.errno != errno.EEXIST:
                        raise
        nl.set_link(name, up=True)
    if _read_sysctl("net/ipv4/ip_forward") != "1":   # Docker enables it too
        _sysctl("net/ipv4/ip_forward", "1")
    if gateway6 and _read_sysctl("net/ipv6/conf/all/forwarding") != "1":
        _sysctl("net/ipv6/conf/all/forwarding", "1")
    return True


def delete_bridge(name: str) -> None:
    with Netlink() as nl:
        nl.delete_link(name, missing_ok=True)


def bridge_exists(name: str) -> bool:
    with Netlink() as nl:
        try:
            nl.link(name)
        except NotFound:
            return False
        return True


def attach(pid: int, interfaces: list[Interface]) -> None:
    """Give the container (its init is pid) its interfaces: each veth made with its peer
    inside the container's namespace, the host end on the bridge; then, inside, `lo` and
    each interface up with its address and the default route through the first."""
    ns_fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        with Netlink() as nl:
            for i in interfaces:
                try:
                    nl.add_veth(i.host_name, i.name, peer_netns_fd=ns_fd, mtu=i.mtu,
                                peer_mac=i.mac)
                except FileExistsError:   # the last run's, its namespace not yet freed
                    nl.delete_link(i.host_name)
                    nl.add_veth(i.host_name, i.name, peer_netns_fd=ns_fd, mtu=i.mtu,
                                peer_mac=i.mac)
                if not i.address6:   # no IPv6 on this network: its host end is quiet
                    _no_ipv6(i.host_name)   # (no link-local address, DAD, MLD reports)
                nl.set_link(i.host_name, master=i.bridge, up=True)
    finally:
        os.close(ns_fd)

    def inside() -> None:
        with Netlink() as nl:
            nl.set_link("lo", up=True)
            for i in interfaces:
                nl.add_address(i.name, i.address, i.prefixlen)
                if i.address6:
                    nl.add_address(i.name, i.address6, i.prefixlen6)
                else:   # as Docker does for a network without IPv6
                    _no_ipv6(i.name)
                for extra in i.link_local:   # each a host address, as libnetwork adds it
                    nl.add_address(i.name, extra, 128 if ":" in extra else 32)
                nl.set_link(i.name, up=True)
                if i.default_route:
                    nl.add_route(gateway=i.gateway)
                    if i.gateway6:
                        nl.add_route(gateway=i.gateway6)
    run_in_netns(pid, inside)


def detach(host_name: str) -> None:
    """Remove a veth (network disconnect of a running container; its peer goes with it)."""
    with Netlink() as nl:
        nl.delete_link(host_name, missing_ok=True)


def _no_ipv6(interface: str) -> None:
    """disable_ipv6 on one interface (of the calling thread's namespace)."""
    try:
        _sysctl(f"net/ipv6/conf/{interface}/disable_ipv6", "1")
    except OSError:
        pass   # a kernel without IPv6: nothing to quiet


def _sysctl(key: str, value: str) -> None:
    with open(f"/proc/sys/{key}", "w") as f:
        f.write(value)


def _read_sysctl(key: str) -> str:
    try:
        with open(f"/proc/sys/{key}") as f:
            return f.read().strip()
    except OSError:
        return ""
