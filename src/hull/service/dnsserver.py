"""The embedded DNS server: the engine service answers on each network's gateway, port 53.

The protocol lives in hull.network.dns (sans-IO); this module gives it sockets in the
service's event loop: one UDP socket per network, bound to the gateway address, and one
socket towards the upstream resolvers. The host's resolvers are the upstreams — reached
from the host's side, so a loopback resolver (systemd-resolved's 127.0.0.53) works for
containers too, and nothing falls back to a public resolver.

Names come from the engine's endpoints table, read again whenever metadata.db (or its
WAL) changed, and before any "no such name" answer: an endpoint is written before `run -d`
returns, so a container's name resolves the moment its start is acknowledged — no event
to miss, no cache to go stale after a service restart. The connection is opened and
closed within one callback: the service forks its jobs, and a SQLite connection must
never be open across a fork (the child's own connection would inherit its lock state).
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import sqlite3

from hull.network import dns
from hull.service.log import log

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hull.service.loop import Loop, Timer

PORT = 53
BATCH = 64            # datagrams per socket per loop turn
MAX_TCP = 64          # TCP clients at once
FORCED_EVERY = 0.02   # s: re-reading the names for an unknown one, at most this often


class _Conn:
    """A TCP client: its socket, its network, what it sent that is not a whole query yet."""

    def __init__(self, sock: socket.socket, network: str) -> None:
        self.sock, self.network, self.buf = sock, network, b""


class DnsServer:
    def __init__(self, loop: Loop, root: str, port: int = PORT) -> None:
        self.loop, self.root, self.port = loop, root, port
        self.sockets: dict[str, tuple[str, socket.socket]] = {}   # network → (gateway, sock)
        self.upstream: socket.socket | None = None
        upstreams, search = self._host_resolvers()
        self.resolver = dns.Resolver(upstreams)
        self.resolver.search = tuple(d.lower().rstrip(".") for d in search)
        self.stamp: tuple[int, ...] = ()
        self.timer: Timer | None = None
        self.subnets: dict[str, ipaddress.IPv4Network] = {}   # who may ask each socket
        self.listeners: dict[str, socket.socket] = {}   # TCP, per network
        self.local: dict[str, bool] = {}   # source address → is it one of the host's
        self.conns: dict[tuple[str, int], _Conn] = {}   # TCP clients, by their address
        self.forced = 0.0   # when the records were last read for an unknown name

    # ---- sockets --------------------------------------------------------------------------

    def sync(self) -> None:
        """A socket on each network's gateway that exists now (a bridge made by a start, a
        network removed): called as the service starts and after every container start."""
        rows = self._rows("SELECT name, doc FROM networks")
        if rows is None:
            return
        import json
        wanted = {}
        for name, doc in rows:
            for conf in json.loads(doc)["IPAM"]["Config"] or []:
                if ":" not in conf["Subnet"]:
                    wanted[name] = conf["Gateway"]
                    self.subnets[name] = ipaddress.IPv4Network(conf["Subnet"])
        for name in list(self.sockets):
            if self.sockets[name][0] != wanted.get(name):
                self._close(name)
        for name, gateway in wanted.items():
            if name not in self.sockets:
                self._bind(name, gateway)

    def started(self, host_config: dict[str, Any]) -> None:
        """A container started: its network's server must be there (a network's first
        container made its bridge). Nothing to do for most starts: no network of its own,
        or one already served."""
        mode = str(host_config.get("NetworkMode") or "none")
        if mode in ("none", "host") or mode.startswith("container:"):
            return
        if (mode if mode != "default" else "bridge") not in self.sockets:
            self.sync()

    def _bind(self, network: str, gateway: str) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((gateway, self.port))
        except OSError as e:
            sock.close()
            if e.errno != errno.EADDRNOTAVAIL:   # not there yet: its bridge is not up
                log(f"dns: cannot serve {network} on {gateway}:{self.port}: {e.strerror}")
            return
        sock.setblocking(False)
        self.sockets[network] = (gateway, sock)
        self.loop.add_reader(sock, lambda: self._query(network, sock))
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:   # TCP too: a stub resolver retries there when an answer was truncated
            listener.bind((gateway, self.port))
            listener.listen(16)
        except OSError as e:
            listener.close()
            log(f"dns: no TCP on {gateway}:{self.port}: {e.strerror}")
            return
        listener.setblocking(False)
        self.listeners[network] = listener
        self.loop.add_reader(listener, lambda: self._accept(network, listener))

    def _close(self, network: str) -> None:
        _, sock = self.sockets.pop(network)
        self.loop.forget(sock)
        sock.close()
        listener = self.listeners.pop(network, None)
        if listener is not None:
            self.loop.forget(listener)
            listener.close()
        for peer, conn in list(self.conns.items()):
            if conn.network == network:
                self._hang_up(peer)

    def close(self) -> None:
        for name in list(self.sockets):
            self._close(name)
        for peer in list(self.conns):
            self._hang_up(peer)
        if self.upstream is not None:
            self.loop.forget(self.upstream)
            self.upstream.close()
            self.upstream = None

    # ---- traffic --------------------------------------------------------------------------

    def _query(self, network: str, sock: socket.socket) -> None:
        """At most BATCH datagrams per turn: a container asking in a loop must not starve
        the rest of the loop (output, /proc views)."""
        for _ in range(BATCH):
            try:
                data, client = sock.recvfrom(65535)
            except OSError:   # EAGAIN: drained
                return
            if not self._may_ask(network, client[0]):
                continue   # only the network's own containers (and the host) ask here
            self._refresh(force=self._unknown(data, network))
            self._do(self.resolver.handle(data, network, client[:2]))

    def _unknown(self, data: bytes, network: str) -> bool:
        """A one-label name the records lack: read them again before saying NXDOMAIN
        (a container started a moment ago)."""
        from hull.network import dnswire
        message = dnswire.parse_query(data)
        question = message.question if message is not None else None
        return question is not None and len(question.labels) == 1 and \
            self.resolver.records.lookup(network, question.name) is None

    def _upstream_reply(self) -> None:
        assert self.upstream is not None
        while True:
            try:
                data, server = self.upstream.recvfrom(65535)
            except (BlockingIOError, InterruptedError, OSError):
                return
            self._do(self.resolver.on_upstream_reply(data, server[:2]))

    def _may_ask(self, network: str, address: str) -> bool:
        """A container of this network, or the host itself (whose queries come from any
        of its own addresses): never another network's container, never a neighbour."""
        subnet = self.subnets.get(network)
        if subnet is not None and ipaddress.IPv4Address(address) in subnet:
            return True
        local = self.local.get(address)
        if local is None:
            try:   # an address of this host is one it can bind
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                    probe.bind((address, 0))
                local = True
            except OSError:
                local = False
            if len(self.local) > 256:
                self.local.clear()
            self.local[address] = local
        return local

    # ---- TCP: two length bytes, then the message (RFC 1035 4.2.2) -------------------------

    def _accept(self, network: str, listener: socket.socket) -> None:
        try:
            sock, peer = listener.accept()
        except OSError:
            return
        if len(self.conns) >= MAX_TCP or not self._may_ask(network, peer[0]):
            sock.close()
            return
        sock.setblocking(False)
        key = (str(peer[0]), -int(peer[1]))   # negative: never a UDP client's address
        self.conns[key] = _Conn(sock, network)
        self.loop.add_reader(sock, lambda: self._tcp_read(key))

    def _tcp_read(self, peer: tuple[str, int]) -> None:
        conn = self.conns.get(peer)
        if conn is None:
            return
        try:
            data = conn.sock.recv(65537)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._hang_up(peer)
            return
        conn.buf += data
        while len(conn.buf) >= 2 and len(conn.buf) >= 2 + int.from_bytes(conn.buf[:2], "big"):
            size = int.from_bytes(conn.buf[:2], "big")
            query, conn.buf = conn.buf[2:2 + size], conn.buf[2 + size:]
            self._refresh(force=self._unknown(query, conn.network))
            self._do(self.resolver.handle(query, conn.network, peer))

    def _hang_up(self, peer: tuple[str, int]) -> None:
        conn = self.conns.pop(peer)
        self.loop.forget(conn.sock)
        conn.sock.close()

    def _do(self, action: dns.Action | None) -> None:
        if isinstance(action, dns.Reply) and action.client in self.conns:
            conn = self.conns[action.client]
            try:   # a reply is small: one send (a peer that does not read is dropped)
                conn.sock.send(len(action.data).to_bytes(2, "big") + action.data)
            except OSError:
                self._hang_up(action.client)
        elif isinstance(action, dns.Reply):
            entry = self.sockets.get(action.network)
            if entry is not None:
                try:
                    entry[1].sendto(action.data, action.client)
                except OSError:
                    pass
        elif isinstance(action, dns.Forward):
            if self.upstream is None:
                self.upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self.upstream.setblocking(False)
                self.loop.add_reader(self.upstream, self._upstream_reply)
            try:
                self.upstream.sendto(action.data, action.upstream)
            except OSError:
                pass
        self._arm()

    def _arm(self) -> None:
        due = self.resolver.next_deadline()
        if due is None or (self.timer is not None and not self.timer.cancelled and
                           self.timer.when <= due):
            return
        import time
        if self.timer is not None:
            self.timer.cancel()
        self.timer = self.loop.call_later(max(0.0, due - time.monotonic()), self._expire)

    def _expire(self) -> None:
        self.timer = None
        for action in self.resolver.expire():
            self._do(action)
        self._arm()

    # ---- names ----------------------------------------------------------------------------

    def _stamp(self) -> tuple[int, ...]:
        out: list[int] = []
        for name in ("metadata.db", "metadata.db-wal"):
            try:
                st = os.stat(os.path.join(self.root, name))
                out += [st.st_mtime_ns, st.st_size, st.st_ino]
            except OSError:
                out += [0, 0, 0]
        return tuple(out)

    def _rows(self, sql: str) -> list[tuple[str, ...]] | None:
        """One query on a connection of its own, closed before returning."""
        path = os.path.join(self.root, "metadata.db")
        if not os.path.exists(path):
            return None
        try:
            db = sqlite3.connect(path, timeout=1.0)
            try:
                return [tuple(r) for r in db.execute(sql).fetchall()]
            finally:
                db.close()
        except sqlite3.Error:
            return None

    def _refresh(self, force: bool = False) -> None:
        """Records again from the endpoints table when anything may have changed."""
        stamp = self._stamp()
        if stamp == self.stamp:
            import time
            now = time.monotonic()
            if not force or now - self.forced < FORCED_EVERY:
                return   # unchanged; and an unknown name re-reads at most every 20 ms
            self.forced = now
        rows = self._rows("SELECT n.name, e.container, e.name, e.aliases, e.ip, e.ip6 FROM "
                          "endpoints e JOIN networks n ON n.id = e.network")
        if rows is None:
            return
        import json
        records = dns.Records()
        for network, container, name, aliases, ip, ip6 in rows:
            records.add(network, container, [name, *json.loads(aliases)], ip or None,
                        ip6 or None)
        self.resolver.records = records
        self.stamp = stamp

    @staticmethod
    def _host_resolvers() -> tuple[list[tuple[str, int]], list[str]]:
        """The host's nameservers (the upstreams) and search domains."""
        conf = dns.host_resolvers()
        return [(server, PORT) for server in conf.nameservers], conf.search
