"""The embedded DNS server's logic, without sockets: the engine service's event loop owns a
UDP socket on each network's gateway address (port 53) and one for talking upstream, and
hands every datagram to a Resolver, which says what to send where.

What a container on a user-defined network may ask, and what it gets (Docker's embedded
DNS, with one deliberate difference):
  - a container name, 12-character short ID or alias on a network it shares with the
    asker: the addresses at once, AA set (several containers behind one alias: all of
    them, rotated per answer as Docker round-robins); `name.network` works too.
  - a PTR for such a container's address: `name.network`, as Docker answers.
  - any other name without a dot: NXDOMAIN at once. Docker forwards these to the host's
    resolvers, and a container looking up a peer that is not up yet waits out a timeout
    for a name no public resolver could know.
  - everything else: forwarded to the host's resolvers (the engine reads them from the
    host's resolv.conf), under a fresh random query ID; the reply goes back under the
    client's own ID. An upstream that stays silent past the deadline is skipped for the
    next one; when none is left, the client gets SERVFAIL instead of its own timeout.
    With no upstream at all: SERVFAIL, never a public resolver the user did not choose.
The default bridge network ("bridge") resolves no container names, as in Docker.

Also here, because they are the rest of a container's name service: parse the host's
resolv.conf, render a container's resolv.conf (--dns, --dns-search, --dns-option) and its
/etc/hosts (Docker's defaults, --add-host, the container's own line).
"""

from __future__ import annotations

import heapq
import ipaddress
import itertools
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, TypeAlias

from hull.errors import InvalidArgument
from hull.network import dnswire as wire

DEFAULT_BRIDGE = "bridge"
TTL = 600             # Docker's embedded DNS answers with this TTL (libnetwork respTTL)
TIMEOUT = 4.0         # per upstream attempt, as Docker's extIOTimeout
MAX_UPSTREAMS = 3     # glibc reads 3 nameservers (MAXNS); Docker tries 3 (maxExtDNS)
MAX_PENDING = 1024    # forwards in flight; past it, SERVFAIL (a flood cannot grow memory)

Address: TypeAlias = tuple[str, int]


# ---- what the engine tells the server ---------------------------------------------------

class Addresses(NamedTuple):
    ipv4: tuple[str, ...]
    ipv6: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Entry:
    names: tuple[str, ...]   # normalized; the first is the container's own name
    ipv4: str | None
    ipv6: str | None


def _norm_name(name: str) -> str:
    name = name.strip().lower()
    return name[:-1] if name.endswith(".") else name


def _norm_address(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        raise InvalidArgument(f"not an IP address: {address!r}") from None


class Records:
    """Which names each network's containers answer to, and at which addresses.

    Indexes are rebuilt for one network whenever a container joins or leaves it (rare);
    lookups (every query) are dict hits."""

    def __init__(self) -> None:
        self._nets: dict[str, dict[str, _Entry]] = {}         # network → id → entry
        self._names: dict[str, dict[str, list[str]]] = {}     # network → name → ids
        self._addrs: dict[str, dict[str, str]] = {}           # network → address → id

    def add(self, network: str, container_id: str, names: Sequence[str], ipv4: str | None,
            ipv6: str | None) -> None:
        """Container joins network (again: replaces what was known). names: its name and
        aliases, first the name (PTR answers with it); the short ID is added here."""
        normalized = [_norm_name(n) for n in names]
        if len(container_id) >= 12:
            normalized.append(container_id[:12].lower())
        unique = tuple(dict.fromkeys(n for n in normalized if n))
        entry = _Entry(unique, _norm_address(ipv4) if ipv4 else None,
                       _norm_address(ipv6) if ipv6 else None)
        self._nets.setdefault(network, {})[container_id] = entry
        self._reindex(network)

    def remove(self, network: str, container_id: str) -> None:
        """Container left network (disconnect, stop); unknown ones are ignored."""
        if self._nets.get(network, {}).pop(container_id, None) is not None:
            self._reindex(network)

    def remove_container(self, container_id: str) -> None:
        """Container left every network (removed)."""
        for network in [n for n, entries in self._nets.items() if container_id in entries]:
            self.remove(network, container_id)

    def _reindex(self, network: str) -> None:
        entries = self._nets.get(network, {})
        if not entries:
            for table in (self._nets, self._names, self._addrs):
                table.pop(network, None)
            return
        names: dict[str, list[str]] = {}
        addrs: dict[str, str] = {}
        for cid, entry in entries.items():
            for name in entry.names:
                names.setdefault(name, []).append(cid)
            for address in (entry.ipv4, entry.ipv6):
                if address:
                    addrs[address] = cid
        self._names[network], self._addrs[network] = names, addrs

    def lookup(self, network: str, name: str) -> Addresses | None:
        """Every address name has on network (name.network too); None: not a name there."""
        key = _norm_name(name)
        ids = self._names.get(network, {}).get(key)
        suffix = "." + network.lower()
        if ids is None and key.endswith(suffix):
            ids = self._names.get(network, {}).get(key[:-len(suffix)])
        if ids is None:
            return None
        entries = [self._nets[network][cid] for cid in ids]
        return Addresses(tuple(e.ipv4 for e in entries if e.ipv4),
                         tuple(e.ipv6 for e in entries if e.ipv6))

    def reverse(self, network: str, address: str) -> str | None:
        """The name of the container holding address on network, or None."""
        try:
            key = str(ipaddress.ip_address(address))
        except ValueError:
            return None
        cid = self._addrs.get(network, {}).get(key)
        if cid is None:
            return None
        names = self._nets[network][cid].names
        return names[0] if names else None

    def networks_of(self, network: str, address: str) -> list[str]:
        """The networks whose names a client at address on network may resolve: network
        itself first, then the other networks its container is on (Docker resolves across
        all of a container's networks, but a container asks only one nameserver)."""
        scope = [network]
        try:
            cid = self._addrs.get(network, {}).get(str(ipaddress.ip_address(address)))
        except ValueError:
            cid = None
        if cid is not None:
            scope += [n for n, entries in self._nets.items()
                      if n != network and n != DEFAULT_BRIDGE and cid in entries]
        return scope


# ---- what the loop is told to do --------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Reply:
    """Send data to client from network's DNS socket: a stub resolver drops an answer
    that comes from any other address than the one it asked."""

    data: bytes
    client: Address
    network: str


@dataclass(frozen=True, slots=True)
class Forward:
    """Send data (the query under a fresh ID) to upstream from the upstream socket."""

    data: bytes
    upstream: Address


Action: TypeAlias = Reply | Forward


@dataclass(slots=True, eq=False)
class _Pending:
    query: wire.Message            # the client's, original ID
    raw: bytes                     # the client's bytes, original ID
    client: Address
    network: str
    upstreams: tuple[Address, ...]
    keys: list[tuple[int, Address]] = field(default_factory=list)   # (our id, upstream)
    deadline: float = 0.0
    done: bool = False


def _norm_upstream(address: Address) -> Address:
    host, port = address[0], address[1]
    try:
        host = str(ipaddress.ip_address(host))
    except ValueError:
        pass
    return host, int(port)


class Resolver:
    """One per engine: answers for every network's DNS socket (the loop says which)."""

    def __init__(self, upstreams: Iterable[Address] = (), *, records: Records | None = None,
                 timeout: float = TIMEOUT, clock: Callable[[], float] = time.monotonic,
                 max_pending: int = MAX_PENDING) -> None:
        self.upstreams = [_norm_upstream(u) for u in upstreams]   # the engine may replace
        # the containers' search domains (the host's): a resolver that appends them to a
        # bare name (busybox's nslookup does, whatever ndots says) still finds a container
        self.search: tuple[str, ...] = ()
        self.records = records if records is not None else Records()
        self.timeout = timeout
        self.clock = clock
        self.max_pending = max_pending
        self._pending: dict[tuple[int, Address], _Pending] = {}
        self._live = 0
        self._timers: list[tuple[float, int, _Pending]] = []
        self._order = itertools.count()
        self._turn = 0

    # ---- queries from containers ----------------------------------------------------------

    def handle(self, query: bytes, network: str, client: Address) -> Action | None:
        """What to do with a datagram that came to network's DNS socket from client.
        None: send nothing (a runt, or a response: never answer those)."""
        message = wire.parse_query(query)
        if message is None:
            error = wire.format_error(query)
            return Reply(error, client, network) if error is not None else None
        question = message.question
        assert question is not None   # parse_query guarantees one

        def reply(rcode: int, answers: Sequence[wire.Answer] = (), aa: bool = False) -> Reply:
            data = wire.build_response(message, rcode, answers, authoritative=aa)
            return Reply(data, client, network)

        if message.opcode != wire.OPCODE_QUERY:
            return reply(wire.NOTIMP)
        if question.qtype in (wire.TYPE_AXFR, wire.TYPE_IXFR):
            return reply(wire.REFUSED)   # no zone transfers of anything, ours or upstream's
        owned = self._answer_owned(question, network, client[0])
        if owned is not None:
            return reply(wire.NOERROR, owned, aa=True)
        if len(question.labels) == 1:
            return reply(wire.NXDOMAIN)
        return self._forward(message, query, network, client)

    def _answer_owned(self, question: wire.Question, network: str,
                      client_ip: str) -> list[wire.Answer] | None:
        """The answers for a name the client's networks own ([] for a type it lacks: NODATA);
        None when the name is not theirs."""
        if network == DEFAULT_BRIDGE or question.qclass not in (wire.CLASS_IN, wire.CLASS_ANY):
            return None
        scope = self.records.networks_of(network, client_ip)
        if question.qtype in (wire.TYPE_PTR, wire.TYPE_ANY):
            address = wire.reverse_address(question)
            if address is not None:
                for net in scope:
                    name = self.records.reverse(net, address)
                    if name is not None:
                        return [wire.ptr(f"{name}.{net}", TTL)]
        keys = [question.key] + [question.key[:-len(d) - 1] for d in self.search
                                 if question.key.endswith("." + d)]
        for net in scope:
            found = next((f for k in keys if (f := self.records.lookup(net, k)) is not None),
                         None)
            if found is None:
                continue
            answers = []
            if question.qtype in (wire.TYPE_A, wire.TYPE_ANY):
                answers += [wire.a(ip, TTL) for ip in self._rotate(found.ipv4)]
            if question.qtype in (wire.TYPE_AAAA, wire.TYPE_ANY):
                answers += [wire.aaaa(ip, TTL) for ip in self._rotate(found.ipv6)]
            return answers
        return None

    def _rotate(self, addresses: tuple[str, ...]) -> list[str]:
        """Replicas behind one alias, a different one first each time (Docker shuffles)."""
        if len(addresses) < 2:
            return list(addresses)
        self._turn += 1
        start = self._turn % len(addresses)
        return list(addresses[start:] + addresses[:start])

    # ---- forwarding -----------------------------------------------------------------------

    def _forward(self, message: wire.Message, raw: bytes, network: str,
                 client: Address) -> Action:
        upstreams = tuple(self.upstreams[:MAX_UPSTREAMS])
        if not upstreams or self._live >= self.max_pending:
            return Reply(wire.build_response(message, wire.SERVFAIL), client, network)
        pending = _Pending(message, raw, client, network, upstreams)
        self._live += 1
        return self._send(pending, self.clock())

    def _send(self, pending: _Pending, now: float) -> Forward:
        """The query to the next untried upstream, under an ID no other forward to it
        holds: unpredictable, so an off-path sender cannot forge the upstream's answer."""
        upstream = pending.upstreams[len(pending.keys)]
        while True:
            qid = secrets.randbits(16)
            if (qid, upstream) not in self._pending:
                break
        key = (qid, upstream)
        pending.keys.append(key)
        self._pending[key] = pending
        pending.deadline = now + self.timeout
        heapq.heappush(self._timers, (pending.deadline, next(self._order), pending))
        return Forward(wire.with_id(pending.raw, qid), upstream)

    def _finish(self, pending: _Pending, data: bytes) -> Reply:
        pending.done = True
        self._live -= 1
        for key in pending.keys:
            self._pending.pop(key, None)
        return Reply(wire.with_id(data, pending.query.id), pending.client, pending.network)

    def _fail(self, pending: _Pending) -> Reply:
        return self._finish(pending, wire.build_response(pending.query, wire.SERVFAIL))

    def on_upstream_reply(self, data: bytes, upstream: Address) -> Action | None:
        """A datagram from upstream: the client's answer under its own ID (a Reply), the
        query to the next upstream if this one failed (a Forward), or None to drop it (no
        forward of ours, or not an answer to the question we asked)."""
        head = wire.parse_head(data)
        if head is None or not head.is_response:
            return None
        pending = self._pending.get((head.id, _norm_upstream(upstream)))
        if pending is None or pending.done:
            return None
        asked = pending.query.question
        got = head.question
        if got is None:
            if head.rcode == wire.NOERROR:
                return None
        elif asked is None or (got.key, got.qtype, got.qclass) != \
                (asked.key, asked.qtype, asked.qclass):
            return None
        if head.rcode in (wire.SERVFAIL, wire.REFUSED) and \
                len(pending.keys) < len(pending.upstreams):
            return self._send(pending, self.clock())   # Docker too asks the next one
        return self._finish(pending, data)

    def expire(self, now: float | None = None) -> list[Action]:
        """Forwards past their deadline: each goes to its next upstream, or, with none
        left, ends in SERVFAIL to its client."""
        now = self.clock() if now is None else now
        actions: list[Action] = []
        while self._timers and self._timers[0][0] <= now:
            deadline, _, pending = heapq.heappop(self._timers)
            if pending.done or deadline != pending.deadline:
                continue
            if len(pending.keys) < len(pending.upstreams):
                actions.append(self._send(pending, now))
            else:
                actions.append(self._fail(pending))
        return actions

    def next_deadline(self) -> float | None:
        """When expire() next has work (the clock's time), for the loop's timer."""
        while self._timers:
            deadline, _, pending = self._timers[0]
            if not pending.done and deadline == pending.deadline:
                return deadline
            heapq.heappop(self._timers)
        return None

    def in_flight(self) -> int:
        return self._live


# ---- a container's resolv.conf and hosts ------------------------------------------------

@dataclass(frozen=True, slots=True)
class ResolvConf:
    nameservers: list[str]
    search: list[str]
    options: list[str]


def host_resolv_conf() -> str:
    """The host's resolver configuration: /etc/resolv.conf, or the file HULL_RESOLV_CONF
    names (tests point hull at a resolver of their own; no test may query the host's)."""
    import os
    return os.environ.get("HULL_RESOLV_CONF") or "/etc/resolv.conf"


def host_resolvers() -> ResolvConf:
    """The host's resolver configuration, parsed (empty when it cannot be read): the
    containers' resolv.conf on the default bridge and the embedded DNS's upstreams."""
    try:
        with open(host_resolv_conf()) as f:
            return parse_resolv_conf(f.read())
    except OSError:
        return ResolvConf([], [], [])


def parse_resolv_conf(text: str) -> ResolvConf:
    """As glibc reads it: `#` and `;` start comments, one address per nameserver line
    (anything after it ignored), the last search or domain line wins, options add up."""
    nameservers: list[str] = []
    search: list[str] = []
    options: list[str] = []
    for line in text.splitlines():
        words = line.split()
        if not words or words[0][0] in "#;":
            continue
        for i, word in enumerate(words):
            if word[0] in "#;":
                words = words[:i]
                break
        keyword, args = words[0], words[1:]
        if keyword == "nameserver" and args:
            nameservers.append(args[0])
        elif keyword == "search":
            search = args
        elif keyword == "domain" and args:
            search = args[:1]
        elif keyword == "options":
            options += args
    return ResolvConf(nameservers, search, options)


def render_resolv_conf(nameservers: Iterable[str], search: Iterable[str] = (),
                       options: Iterable[str] = ()) -> str:
    """A container's resolv.conf, laid out as Docker writes it: search, then nameservers,
    then options; `--dns-search .` alone means no search line."""
    lines = []
    search = [s for s in search if s]
    if search and search != ["."]:
        lines.append("search " + " ".join(search))
    lines += [f"nameserver {ns}" for ns in nameservers]
    options = [o for o in options if o]
    if options:
        lines.append("options " + " ".join(options))
    return "".join(line + "\n" for line in lines)


DEFAULT_HOSTS = (("127.0.0.1", "localhost"),)
DEFAULT_HOSTS6 = (
    ("::1", "localhost ip6-localhost ip6-loopback"),
    ("fe00::0", "ip6-localnet"),
    ("ff00::0", "ip6-mcastprefix"),
    ("ff02::1", "ip6-allnodes"),
    ("ff02::2", "ip6-allrouters"),
)


def render_hosts(entries: Iterable[tuple[str, str | Sequence[str]]], *,
                 ipv6: bool = True) -> str:
    """A container's /etc/hosts as Docker writes it ("IP<tab>names" lines): the defaults,
    then entries in the order given — the engine passes the --add-host lines, then the
    container's own "IP hostname" line. ipv6=False leaves out the IPv6 defaults, as
    Docker does for a container whose IPv6 is disabled."""
    lines = list(DEFAULT_HOSTS) + (list(DEFAULT_HOSTS6) if ipv6 else [])
    for address, names in entries:
        lines.append((address, names if isinstance(names, str) else " ".join(names)))
    return "".join(f"{address}\t{names}\n" for address, names in lines)
