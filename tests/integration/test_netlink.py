"""hull.linux.netlink against the real kernel, checked with iproute2: a bridge and a veth
whose peer is made directly in a second namespace, addresses and default routes of both
families, a ping across, deletion. Everything happens in network namespaces made for the
test and held only by open file descriptors: closing them is the whole clean-up (no
bind mounts, and the host's own interfaces are never touched)."""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from hull.errors import NotFound
from hull.linux import namespaces
from hull.linux.netlink import Netlink, mac_for, run_in_netns

pytestmark = pytest.mark.root


@dataclass
class Netns:
    """A fresh network namespace: an fd holding it, its path, a Netlink inside it."""

    fd: int
    path: str
    nl: Netlink

    def ip(self, *args: str) -> Any:
        out = subprocess.run(["nsenter", f"--net={self.path}", "ip", "-j", *args],
                             check=True, capture_output=True, text=True, timeout=30).stdout
        return json.loads(out or "[]")

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["nsenter", f"--net={self.path}", *argv], capture_output=True,
                              text=True, timeout=30)


def new_netns() -> Netns:
    """unshare(CLONE_NEWNET) in a throwaway thread; an fd on the namespace keeps it."""
    fds: list[int] = []

    def inside() -> None:
        namespaces.unshare(namespaces.CLONE_NEWNET)
        fds.append(os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC))
    thread = threading.Thread(target=inside)
    thread.start()
    thread.join()
    (fd,) = fds
    path = f"/proc/{os.getpid()}/fd/{fd}"
    return Netns(fd, path, run_in_netns(path, Netlink))


@pytest.fixture
def host_names() -> Iterator[None]:
    """The host namespace's interfaces are the same afterwards (and this thread's
    namespace never changed)."""
    before_ns = os.readlink("/proc/thread-self/ns/net")
    with Netlink() as nl:
        before = sorted(link.name for link in nl.links())
    yield
    with Netlink() as nl:
        assert sorted(link.name for link in nl.links()) == before
    assert os.readlink("/proc/thread-self/ns/net") == before_ns


@pytest.fixture
def pair(host_names: None) -> Iterator[tuple[Netns, Netns]]:
    """A "host" and a "container" namespace."""
    made: list[Netns] = []
    try:
        made.append(new_netns())
        made.append(new_netns())
        yield made[0], made[1]
    finally:
        for ns in made:
            ns.nl.close()
            os.close(ns.fd)


def by_name(links: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {link["ifname"]: link for link in links}


def test_bridge_veth_addresses_routes_ping_delete(pair: tuple[Netns, Netns]) -> None:
    host, box = pair
    assert host.nl.link("lo").index == 1 and [x.name for x in box.nl.links()] == ["lo"]

    host.nl.add_bridge("hull-br0", mtu=1400)
    host.nl.add_veth("veth-h0", "eth0", peer_netns_fd=box.fd, mtu=1400,
                     peer_mac=mac_for("10.88.0.2"))
    host.nl.set_link("veth-h0", master="hull-br0", up=True, mac="02:00:00:00:00:01")
    host.nl.set_link("hull-br0", up=True, mac="02:00:00:00:00:fe")
    host.nl.add_address("hull-br0", "10.88.0.1", 24)
    host.nl.add_address("hull-br0", "fd88::1", 64)
    box.nl.set_link("eth0", up=True)
    box.nl.add_address("eth0", "10.88.0.2", 24)
    box.nl.add_address("eth0", "fd88::2", 64)
    box.nl.add_route(gateway="10.88.0.1")
    box.nl.add_route(gateway="fd88::1")

    # what iproute2 sees
    links = by_name(host.ip("-d", "link", "show"))
    assert "eth0" not in links   # the peer never appeared here
    assert links["hull-br0"]["linkinfo"]["info_kind"] == "bridge"
    assert "UP" in links["hull-br0"]["flags"]
    assert links["hull-br0"]["address"] == "02:00:00:00:00:fe"
    veth = links["veth-h0"]
    assert veth["linkinfo"]["info_kind"] == "veth"
    assert veth["master"] == "hull-br0" and veth["mtu"] == 1400 and "UP" in veth["flags"]
    assert veth["address"] == "02:00:00:00:00:01"
    eth0 = by_name(box.ip("-d", "link", "show"))["eth0"]
    assert eth0["linkinfo"]["info_kind"] == "veth" and eth0["mtu"] == 1400
    assert eth0["address"] == "02:42:0a:58:00:02" and "UP" in eth0["flags"]
    addrs = {(a["family"], a["local"], a["prefixlen"], a.get("broadcast"), a.get("nodad"))
             for a in by_name(box.ip("addr", "show"))["eth0"]["addr_info"]
             if a.get("scope") == "global"}
    assert addrs == {("inet", "10.88.0.2", 24, "10.88.0.255", None),
                     ("inet6", "fd88::2", 64, None, True)}
    v4 = [r for r in box.ip("route", "show") if r["dst"] == "default"]
    v6 = [r for r in box.ip("-6", "route", "show") if r["dst"] == "default"]
    assert [(r["gateway"], r["dev"]) for r in v4] == [("10.88.0.1", "eth0")]
    assert [(r["gateway"], r["dev"]) for r in v6] == [("fd88::1", "eth0")]

    # what the module itself reads back
    bridge, hveth = host.nl.link("hull-br0"), host.nl.link("veth-h0")
    assert (bridge.kind, bridge.up, bridge.mtu) == ("bridge", True, 1400)
    assert (hveth.kind, hveth.master, hveth.mac) == ("veth", bridge.index, "02:00:00:00:00:01")
    inside = box.nl.link("eth0")
    assert [(a.address, a.prefixlen) for a in box.nl.addresses(socket.AF_INET)
            if a.index == inside.index] == [("10.88.0.2", 24)]
    assert ("fd88::2", 64) in [(a.address, a.prefixlen)
                               for a in box.nl.addresses(socket.AF_INET6)]
    defaults = [r for r in box.nl.routes(socket.AF_INET) if r.dst == "default"]
    assert [(r.gateway, r.oif, r.prefixlen) for r in defaults] == \
        [("10.88.0.1", inside.index, 0)]
    defaults = [r for r in box.nl.routes(socket.AF_INET6) if r.dst == "default"]
    assert [(r.gateway, r.oif) for r in defaults] == [("fd88::1", inside.index)]

    # the link works, both families (the IPv6 addresses are usable at once: nodad)
    for target in ("10.88.0.1", "fd88::1"):
        ping = box.run("/bin/busybox", "ping", "-c1", "-W1", target)
        assert ping.returncode == 0, ping.stdout + ping.stderr

    # deleting the host end takes the peer along
    host.nl.delete_link("veth-h0", missing_ok=False)
    assert "veth-h0" not in by_name(host.ip("link", "show"))
    assert [x.name for x in box.nl.links()] == ["lo"]
    host.nl.delete_link("hull-br0")
    assert [x.name for x in host.nl.links()] == ["lo"]


def test_errors(pair: tuple[Netns, Netns]) -> None:
    host, _box = pair
    host.nl.add_bridge("hull-br1")
    with pytest.raises(OSError) as e:
        host.nl.add_bridge("hull-br1")
    assert e.value.errno == errno.EEXIST
    assert e.value.strerror == "add bridge hull-br1: File exists"
    with pytest.raises(NotFound):
        host.nl.link("hull-none")
    with pytest.raises(NotFound):
        host.nl.set_link("hull-br1", master="hull-none")
    with pytest.raises(OSError) as e:
        host.nl.set_link("hull-none", up=True)
    assert e.value.errno == errno.ENODEV
    with pytest.raises(OSError) as e:
        host.nl.set_link("hull-br1", mtu=1 << 20)
    assert e.value.errno == errno.EINVAL and "set link hull-br1" in str(e.value)
    host.nl.add_address("hull-br1", "10.89.0.1", 24)
    with pytest.raises(OSError) as e:
        host.nl.add_address("hull-br1", "10.89.0.1", 24)
    assert e.value.errno == errno.EEXIST
    with pytest.raises(OSError) as e:   # a route through a device that is down
        host.nl.add_route(dst="10.90.0.0", prefixlen=24, dev="hull-br1")
    assert e.value.errno == errno.ENETDOWN
    assert str(e.value.strerror).startswith("add route 10.90.0.0/24: ")
    host.nl.set_link("hull-br1", up=True)
    host.nl.add_route(dst="10.90.0.0", prefixlen=24, dev="hull-br1")
    assert ("10.90.0.0", 24, "", host.nl.link("hull-br1").index) in [
        (r.dst, r.prefixlen, r.gateway, r.oif) for r in host.nl.routes(socket.AF_INET)]
    with pytest.raises(OSError) as e:
        host.nl.add_route(dst="10.90.0.0", prefixlen=24, dev="hull-br1")
    assert e.value.errno == errno.EEXIST
    host.nl.delete_link("hull-none")   # missing_ok
    with pytest.raises(OSError) as e:
        host.nl.delete_link("hull-none", missing_ok=False)
    assert e.value.errno == errno.ENODEV


def test_move_a_link_and_detach_it(pair: tuple[Netns, Netns]) -> None:
    host, box = pair
    host.nl.add_bridge("hull-br2")
    host.nl.add_veth("veth-h2", "veth-c2")   # both ends here, as `ip link add` makes them
    host.nl.set_link("veth-h2", master="hull-br2")
    assert host.nl.link("veth-h2").master == host.nl.link("hull-br2").index
    host.nl.set_link("veth-h2", master="")
    assert host.nl.link("veth-h2").master == 0
    host.nl.set_link("veth-c2", netns_fd=box.fd, mtu=1300, up=True)
    with pytest.raises(NotFound):
        host.nl.link("veth-c2")
    moved = box.nl.link("veth-c2")
    assert (moved.mtu, moved.up, moved.kind) == (1300, True, "veth")
    host.nl.delete_link("veth-h2", missing_ok=False)
    with pytest.raises(NotFound):
        box.nl.link("veth-c2")


def test_run_in_netns_by_pid_and_loopback(host_names: None) -> None:
    """A pid names the namespace; the caller's stays; exceptions cross back; the
    loopback helper built on it still brings lo up."""
    from hull.network import loopback
    child = subprocess.Popen(["unshare", "--net", "sleep", "60"])
    try:
        for _ in range(500):   # until unshare has exec'd sleep in its new namespace
            if os.readlink(f"/proc/{child.pid}/ns/net") != \
                    os.readlink("/proc/self/ns/net"):
                break
            threading.Event().wait(0.01)
        theirs = os.readlink(f"/proc/{child.pid}/ns/net")
        assert run_in_netns(child.pid, lambda: os.readlink("/proc/thread-self/ns/net")) == \
            theirs
        with pytest.raises(ZeroDivisionError):
            run_in_netns(child.pid, lambda: 1 // 0)
        loopback.bring_up(child.pid)
        with run_in_netns(child.pid, Netlink) as nl:
            assert nl.link("lo").up
        with pytest.raises(FileNotFoundError):
            run_in_netns("/nonexistent/ns", Netlink)
    finally:
        child.kill()
        child.wait()
