"""Test helpers for networking: a "neighbour host" (a network namespace joined to the host
by a veth, as another machine on the LAN would be), a fake upstream DNS server on a
loopback address (no test may query the machine's own resolver), and a snapshot of the
host's links and nftables tables to prove nothing leaked."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from pathlib import Path

from hull.network import dnswire

# 198.18.0.0/15 is the benchmarking range: on no real network, and on no host route here
NEIGHBOUR_NET = "198.18.5"


def sh(*args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=check,
                          timeout=timeout)


class Neighbour:
    """Another machine on the host's LAN: netns `name`, address .2, the host's side .1."""

    def __init__(self, tag: str) -> None:
        self.name = f"hullnb{tag}"
        self.host_if = f"hnb{tag}"
        self.host_ip = f"{NEIGHBOUR_NET}.1"
        self.ip = f"{NEIGHBOUR_NET}.2"
        sh("ip", "netns", "add", self.name)
        sh("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", "eth0",
           "netns", self.name)
        sh("ip", "addr", "add", f"{self.host_ip}/24", "dev", self.host_if)
        sh("ip", "link", "set", self.host_if, "up")
        self.run("ip", "addr", "add", f"{self.ip}/24", "dev", "eth0")
        self.run("ip", "link", "set", "eth0", "up")
        self.run("ip", "link", "set", "lo", "up")
        self.run("ip", "route", "add", "default", "via", self.host_ip)

    def run(self, *args: str, check: bool = True, timeout: float = 30
            ) -> subprocess.CompletedProcess[str]:
        return sh("ip", "netns", "exec", self.name, *args, check=check, timeout=timeout)

    def close(self) -> None:
        sh("ip", "link", "del", self.host_if, check=False)
        sh("ip", "netns", "del", self.name, check=False)


class FakeUpstream:
    """A DNS server on 127.0.0.x:53 answering NAME.upstream.test with 10.9.8.7 and
    NXDOMAIN otherwise; it counts the queries it saw."""

    ADDRESS = "10.9.8.7"

    def __init__(self, ip: str = "127.0.0.153") -> None:
        self.ip = ip
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as resolvers do
        self.sock.bind((ip, 53))
        self.sock.settimeout(0.1)
        self.stopping = False
        self.seen: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping:
            try:
                data, client = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            query = dnswire.parse_query(data)
            if query is None or query.question is None:
                continue
            name = query.question.name.rstrip(".").lower()
            self.seen.append(name)
            if name.endswith(".upstream.test") and query.question.qtype == dnswire.TYPE_A:
                reply = dnswire.build_response(query, dnswire.NOERROR,
                                               [dnswire.a(self.ADDRESS, 60)])
            else:
                reply = dnswire.build_response(query, dnswire.NXDOMAIN)
            self.sock.sendto(reply, client)

    def resolv_conf(self, directory: Path) -> Path:
        path = directory / "resolv.conf"
        path.write_text(f"nameserver {self.ip}\nsearch example.test\n")
        return path

    def close(self) -> None:
        self.stopping = True
        self.thread.join(5)
        self.sock.close()


def host_state() -> tuple[list[str], list[str]]:
    """The host's links and nftables tables (names), to compare before and after."""
    links = sorted(line.split()[0].split("@")[0] for line in
                   sh("ip", "-br", "link").stdout.splitlines())
    tables = sorted(line for line in sh("nft", "list", "tables").stdout.splitlines())
    return links, tables


def foreign_ruleset() -> str:
    """`nft list ruleset` without hull's tables: what hull must never change."""
    out, keep = [], True
    for line in sh("nft", "list", "ruleset").stdout.splitlines():
        if line.startswith("table "):
            keep = " hull" not in line
        if keep:
            out.append(line)
    return "\n".join(out)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tag() -> str:
    return f"{os.getpid() % 10000}"
