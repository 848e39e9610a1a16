"""network/dns.py and dnswire.py: the embedded DNS server's logic, sans-IO first (packets
built by hand and by dnswire, a fake clock), then for real: a tiny loop in this file drives
a Resolver over UDP sockets on 127.0.0.1, with a fake upstream on 127.0.0.1, and busybox's
nslookup asks it. Nothing is ever sent outside 127.0.0.0/8 (the loop asserts it)."""

from __future__ import annotations

import itertools
import random
import re
import secrets
import selectors
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Iterator

import pytest

from hull.network import dns, dnswire
from hull.network.dns import Forward, Records, Reply, Resolver

CLIENT = ("172.30.0.9", 40000)
UP1 = ("127.0.0.53", 53)
UP2 = ("127.0.0.54", 53)
WEB_ID = "0123456789abcdef" * 4


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def records() -> Records:
    r = Records()
    r.add("mynet", WEB_ID, ["web", "frontend"], "172.30.0.2", "fd00::2")
    r.add("mynet", "fedcba9876543210" * 4, ["db"], "172.30.0.3", None)
    r.add("mynet", "1111111111112222" * 4, ["db2", "replica"], "172.30.0.4", None)
    r.add("mynet", "3333333333334444" * 4, ["db3", "replica"], "172.30.0.5", None)
    return r


def ask(resolver: Resolver, name: str, qtype: int = dnswire.TYPE_A, qid: int = 0x4242,
        network: str = "mynet") -> dns.Action | None:
    return resolver.handle(dnswire.build_query(name, qtype, qid), network, CLIENT)


def answer_of(action: dns.Action | None) -> dnswire.Message:
    assert isinstance(action, Reply)
    message = dnswire.parse(action.data)
    assert message is not None
    return message


def addresses(message: dnswire.Message) -> list[str]:
    import ipaddress
    return [str(ipaddress.ip_address(rr.rdata)) for rr in message.answers
            if rr.rtype in (dnswire.TYPE_A, dnswire.TYPE_AAAA)]


# ---- the wire format --------------------------------------------------------------------

HAND_QUERY = bytes.fromhex("beef 0100 0001 0000 0000 0000"
                           "03 576562 07 4578616d706c65 00 0001 0001")


def test_a_hand_built_query_parses_and_build_query_makes_the_same_bytes() -> None:
    message = dnswire.parse_query(HAND_QUERY)
    assert message is not None
    assert (message.id, message.flags, message.opcode) == (0xBEEF, dnswire.RD, 0)
    assert message.question == dnswire.Question((b"Web", b"Example"), dnswire.TYPE_A,
                                                dnswire.CLASS_IN)
    assert message.question.name == "Web.Example" and message.question.key == "web.example"
    assert message.edns_size is None
    assert dnswire.build_query("Web.Example.", dnswire.TYPE_A, 0xBEEF) == HAND_QUERY


def test_a_response_echoes_id_question_case_and_rd_and_sets_qr_aa_ra() -> None:
    query = dnswire.parse_query(HAND_QUERY)
    assert query is not None
    data = dnswire.build_response(query, dnswire.NOERROR, [dnswire.a("172.30.0.2", 600)],
                                  authoritative=True)
    # header, the question verbatim, then one A record owned by a pointer to offset 12
    assert data == (bytes.fromhex("beef 8580 0001 0001 0000 0000") + HAND_QUERY[12:] +
                    bytes.fromhex("c00c 0001 0001 00000258 0004 ac1e0002"))
    reply = dnswire.parse(data)
    assert reply is not None and reply.is_response and reply.rcode == dnswire.NOERROR
    assert reply.answers[0].name == "Web.Example" and reply.answers[0].ttl == 600
    plain = dnswire.build_response(query, dnswire.NXDOMAIN)
    assert struct.unpack("!H", plain[2:4])[0] == 0x8183   # QR RD RA NXDOMAIN, no AA


def test_compressed_names_are_followed_backwards() -> None:
    data = (bytes.fromhex("0001 8180 0001 0002 0000 0000") +
            b"\x01a\x01b\x00" + bytes.fromhex("0001 0001") +
            # an A record owned by a.b (pointer), a PTR owned by x.a.b whose target is c.a.b
            bytes.fromhex("c00c 0001 0001 0000003c 0004 0a000001") +
            b"\x01x\xc0\x0c" + bytes.fromhex("000c 0001 0000003c 0004") + b"\x01c\xc0\x0c")
    message = dnswire.parse(data)
    assert message is not None
    assert [rr.name for rr in message.answers] == ["a.b", "x.a.b"]
    assert message.answers[1].target == "c.a.b"


@pytest.mark.parametrize("qname", [
    b"\xc0\x0c",                # points at itself
    b"\x01a\xc0\x0c",           # a label, then back to the start of the same name: a loop
    b"\xc0\x20",                # points forwards
    b"\x3fa",                   # label runs past the end
    b"\x80\x00",                # reserved label type
    b"\x3f" + b"a" * 63 + b"\x3f" + b"a" * 63 + b"\x3f" + b"a" * 63 + b"\x3f" + b"a" * 63 + b"\0",
])
def test_malformed_names_give_formerr_never_an_exception(qname: bytes) -> None:
    packet = bytes.fromhex("7777 0100 0001 0000 0000 0000") + qname + b"\x00\x01\x00\x01"
    assert dnswire.parse(packet) is None
    action = Resolver([UP1]).handle(packet, "mynet", CLIENT)
    message = answer_of(action)
    assert (message.id, message.rcode, message.questions) == (0x7777, dnswire.FORMERR, ())


def test_runts_and_responses_are_dropped_and_every_prefix_is_safe() -> None:
    resolver = Resolver([UP1], records=records())
    assert resolver.handle(b"\x12\x34\x01", "mynet", CLIENT) is None
    response = dnswire.build_response(dnswire.parse(HAND_QUERY) or pytest.fail(),
                                      dnswire.NOERROR)
    assert resolver.handle(response, "mynet", CLIENT) is None    # never answer an answer
    for cut in range(len(HAND_QUERY)):
        action = resolver.handle(HAND_QUERY[:cut], "mynet", CLIENT)
        assert action is None if cut < 12 else answer_of(action).rcode == dnswire.FORMERR


def test_random_garbage_never_raises() -> None:
    rng = random.Random(1035)
    resolver = Resolver([UP1], records=records())
    for _ in range(3000):
        size = rng.choice([rng.randrange(0, 40), rng.randrange(0, 600)])
        blob = bytes(rng.randrange(256) for _ in range(size))
        if rng.random() < 0.5 and len(blob) > 12:    # a plausible header, then noise
            blob = struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, rng.randrange(3)) + blob[12:]
        action = resolver.handle(blob, "mynet", CLIENT)
        assert action is None or isinstance(action, Reply | Forward)
        resolver.on_upstream_reply(blob, UP1)
        dnswire.parse(blob)


def test_edns_opt_is_tolerated_and_answered_with_one() -> None:
    query = dnswire.build_query("web", dnswire.TYPE_A, 9, edns_size=4096)
    message = dnswire.parse_query(query)
    assert message is not None and message.edns_size == 4096
    reply = answer_of(Resolver(records=records()).handle(query, "mynet", CLIENT))
    assert [rr.rtype for rr in reply.additional] == [dnswire.TYPE_OPT]
    assert reply.edns_size == dnswire.UDP_EDNS and addresses(reply) == ["172.30.0.2"]


def test_answers_that_do_not_fit_512_bytes_are_left_off() -> None:
    r = Records()
    for i in range(60):
        r.add("mynet", f"{i:064x}", [f"w{i}", "many"], f"10.1.0.{i + 2}", None)
    data = Resolver(records=r).handle(dnswire.build_query("many", dnswire.TYPE_A, 1),
                                      "mynet", CLIENT)
    assert isinstance(data, Reply) and len(data.data) <= 512
    assert 20 < len(answer_of(data).answers) < 60


def test_reverse_names() -> None:
    def q(name: str) -> dnswire.Question:
        return dnswire.Question(tuple(p.encode() for p in name.split(".")), dnswire.TYPE_PTR,
                                dnswire.CLASS_IN)
    assert dnswire.reverse_address(q("2.0.30.172.in-addr.arpa")) == "172.30.0.2"
    assert dnswire.reverse_address(q("2.0.30.172.IN-ADDR.ARPA")) == "172.30.0.2"
    assert dnswire.reverse_address(q(dnswire.reverse_name("fd00::2"))) == "fd00::2"
    for partial in ("0.30.172.in-addr.arpa", "300.0.30.172.in-addr.arpa", "x.y.ip6.arpa",
                    "web.mynet"):
        assert dnswire.reverse_address(q(partial)) is None


# ---- records and answers ----------------------------------------------------------------

def test_records_names_ids_aliases_case_and_removal() -> None:
    r = records()
    web = dns.Addresses(("172.30.0.2",), ("fd00::2",))
    for name in ("web", "WEB.", "frontend", WEB_ID[:12], "web.mynet", "Web.MyNet."):
        assert r.lookup("mynet", name) == web, name
    assert r.lookup("mynet", WEB_ID) is None and r.lookup("other", "web") is None
    assert r.lookup("mynet", "replica") == dns.Addresses(("172.30.0.4", "172.30.0.5"), ())
    assert r.reverse("mynet", "172.30.0.2") == "web"
    assert r.reverse("mynet", "fd00:0::2") == "web"
    r.add("other", WEB_ID, ["web"], "10.9.0.2", None)
    assert r.networks_of("mynet", "172.30.0.2") == ["mynet", "other"]
    r.remove("mynet", "3333333333334444" * 4)
    assert r.lookup("mynet", "replica") == dns.Addresses(("172.30.0.4",), ())
    r.remove_container(WEB_ID)
    assert r.lookup("mynet", "web") is None and r.lookup("other", "web") is None
    assert r.reverse("mynet", "172.30.0.2") is None


def test_owned_names_are_answered_at_once_with_aa() -> None:
    resolver = Resolver([UP1], records=records())
    reply = answer_of(ask(resolver, "Web", qid=0x1111))
    assert reply.id == 0x1111 and reply.flags & dnswire.AA and reply.flags & dnswire.RA
    assert reply.question is not None and reply.question.name == "Web"
    assert addresses(reply) == ["172.30.0.2"] and reply.answers[0].ttl == 600
    assert addresses(answer_of(ask(resolver, "web", dnswire.TYPE_AAAA))) == ["fd00::2"]
    assert addresses(answer_of(ask(resolver, "web", dnswire.TYPE_ANY))) == ["172.30.0.2",
                                                                           "fd00::2"]
    nodata = answer_of(ask(resolver, "db", dnswire.TYPE_AAAA))   # v4-only container
    assert (nodata.rcode, nodata.answers, bool(nodata.flags & dnswire.AA)) == (0, (), True)
    mx = answer_of(ask(resolver, "db", dnswire.TYPE_MX))
    assert (mx.rcode, mx.answers) == (dnswire.NOERROR, ())
    firsts = {addresses(answer_of(ask(resolver, "replica")))[0] for _ in range(4)}
    assert firsts == {"172.30.0.4", "172.30.0.5"}                 # round robin
    assert resolver.in_flight() == 0


def test_ptr_for_hull_addresses_answers_and_others_forward() -> None:
    resolver = Resolver([UP1], records=records())
    for address in ("172.30.0.2", "fd00::2"):
        reply = answer_of(ask(resolver, dnswire.reverse_name(address), dnswire.TYPE_PTR))
        assert reply.flags & dnswire.AA and [rr.target for rr in reply.answers] == ["web.mynet"]
    assert isinstance(ask(resolver, dnswire.reverse_name("172.30.0.99"), dnswire.TYPE_PTR),
                      Forward)


def test_unknown_single_label_is_nxdomain_never_forwarded() -> None:
    resolver = Resolver([UP1], records=records())
    for name in ("nosuch", "nosuch.", "localhost"):
        reply = answer_of(ask(resolver, name))
        assert reply.rcode == dnswire.NXDOMAIN and not reply.answers
    assert resolver.in_flight() == 0 and resolver.next_deadline() is None


def test_default_bridge_resolves_no_container_names_but_forwards() -> None:
    resolver = Resolver([UP1], records=records())
    resolver.records.add("bridge", WEB_ID, ["web"], "172.17.0.2", None)
    assert answer_of(ask(resolver, "web", network="bridge")).rcode == dnswire.NXDOMAIN
    assert isinstance(ask(resolver, "example.com", network="bridge"), Forward)


def test_a_client_resolves_the_names_of_all_its_networks() -> None:
    r = records()
    r.add("backend", "9" * 64, ["cache"], "10.9.0.3", None)
    r.add("backend", WEB_ID, ["web"], "10.9.0.2", None)
    resolver = Resolver([UP1], records=r)
    from_web = resolver.handle(dnswire.build_query("cache", dnswire.TYPE_A, 1), "mynet",
                               ("172.30.0.2", 5000))
    assert addresses(answer_of(from_web)) == ["10.9.0.3"]
    assert answer_of(ask(resolver, "cache")).rcode == dnswire.NXDOMAIN   # not db's network


def test_forwarding_rewrites_the_id_and_restores_it(monkeypatch: pytest.MonkeyPatch) -> None:
    ids = iter([0x1234, 0x1234, 0x5678])   # the second forward's first pick is taken
    monkeypatch.setattr(secrets, "randbits", lambda _bits: next(ids))
    clock = Clock()
    resolver = Resolver([UP1], records=records(), clock=clock)
    first = ask(resolver, "Example.COM", qid=0xAAAA)
    second = ask(resolver, "example.org", qid=0xBBBB)
    assert isinstance(first, Forward) and isinstance(second, Forward)
    assert first.upstream == UP1 and dnswire.peek_id(first.data) == 0x1234
    assert dnswire.peek_id(second.data) == 0x5678
    assert first.data[2:] == dnswire.build_query("Example.COM", dnswire.TYPE_A, 0)[2:]
    assert resolver.in_flight() == 2 and resolver.next_deadline() == 104.0

    query = dnswire.parse_query(first.data)
    assert query is not None
    upstream = dnswire.build_response(query, dnswire.NOERROR, [dnswire.a("93.184.216.34", 60)])
    assert resolver.on_upstream_reply(upstream, ("127.0.0.99", 53)) is None   # not asked
    assert resolver.on_upstream_reply(dnswire.with_id(upstream, 0x9999), UP1) is None
    wrong = dnswire.build_response(dnswire.parse_query(dnswire.build_query(
        "evil.example", dnswire.TYPE_A, 0x1234)) or pytest.fail(), dnswire.NOERROR)
    assert resolver.on_upstream_reply(wrong, UP1) is None           # not our question
    back = resolver.on_upstream_reply(upstream, UP1)
    assert isinstance(back, Reply) and back.client == CLIENT and back.network == "mynet"
    assert back.data == dnswire.with_id(upstream, 0xAAAA)
    assert resolver.on_upstream_reply(upstream, UP1) is None        # answered already
    assert resolver.in_flight() == 1


def test_silent_upstreams_end_in_servfail_after_the_next_one_is_tried() -> None:
    clock = Clock()
    resolver = Resolver([UP1, UP2], records=records(), clock=clock, timeout=5.0)
    first = ask(resolver, "example.com", qid=0x0101)
    assert isinstance(first, Forward) and first.upstream == UP1
    clock.now = 104.9
    assert resolver.expire() == []
    clock.now = 105.0
    [retry] = resolver.expire()
    assert isinstance(retry, Forward) and retry.upstream == UP2
    assert resolver.next_deadline() == 110.0
    [failed] = resolver.expire(110.0)
    message = answer_of(failed)
    assert (message.id, message.rcode) == (0x0101, dnswire.SERVFAIL)
    assert failed == Reply(failed.data, CLIENT, "mynet")
    assert resolver.next_deadline() is None and resolver.in_flight() == 0


def test_a_late_answer_from_the_first_upstream_still_counts() -> None:
    clock = Clock()
    resolver = Resolver([UP1, UP2], clock=clock, timeout=1.0)
    first = ask(resolver, "example.com", qid=7)
    assert isinstance(first, Forward)
    clock.now += 1
    assert isinstance(resolver.expire()[0], Forward)
    query = dnswire.parse_query(first.data) or pytest.fail()
    back = resolver.on_upstream_reply(dnswire.build_response(query, dnswire.NXDOMAIN), UP1)
    assert isinstance(back, Reply) and answer_of(back).rcode == dnswire.NXDOMAIN
    assert resolver.expire(clock.now + 10) == []


def test_servfail_from_an_upstream_moves_on_to_the_next() -> None:
    resolver = Resolver([UP1, UP2], clock=Clock())
    first = ask(resolver, "example.com")
    assert isinstance(first, Forward)
    query = dnswire.parse_query(first.data) or pytest.fail()
    retry = resolver.on_upstream_reply(dnswire.build_response(query, dnswire.SERVFAIL), UP1)
    assert isinstance(retry, Forward) and retry.upstream == UP2
    query = dnswire.parse_query(retry.data) or pytest.fail()
    last = resolver.on_upstream_reply(dnswire.build_response(query, dnswire.SERVFAIL), UP2)
    assert answer_of(last).rcode == dnswire.SERVFAIL and resolver.in_flight() == 0


def test_no_upstreams_or_too_many_in_flight_is_servfail() -> None:
    assert answer_of(ask(Resolver(records=records()), "example.com")).rcode == \
        dnswire.SERVFAIL
    busy = Resolver([UP1], max_pending=2)
    assert isinstance(ask(busy, "a.example"), Forward)
    assert isinstance(ask(busy, "b.example"), Forward)
    assert answer_of(ask(busy, "c.example")).rcode == dnswire.SERVFAIL


def test_other_opcodes_and_zone_transfers() -> None:
    resolver = Resolver([UP1], records=records())
    notify = bytearray(dnswire.build_query("example.com", dnswire.TYPE_SOA, 3))
    notify[2] |= 4 << 3
    assert answer_of(resolver.handle(bytes(notify), "mynet", CLIENT)).rcode == dnswire.NOTIMP
    assert answer_of(ask(resolver, "example.com", dnswire.TYPE_AXFR)).rcode == dnswire.REFUSED


# ---- resolv.conf and hosts --------------------------------------------------------------

def test_resolv_conf_parse_and_render() -> None:
    conf = dns.parse_resolv_conf("# generated\nnameserver 10.255.255.53\n"
                                 "nameserver fe80::1%eth0  # link-local\n; comment\n"
                                 "domain corp\nsearch a.example b.example\n"
                                 "options ndots:2\noptions edns0 timeout:1\n")
    assert conf == dns.ResolvConf(["10.255.255.53", "fe80::1%eth0"],
                                  ["a.example", "b.example"], ["ndots:2", "edns0", "timeout:1"])
    assert dns.render_resolv_conf(["172.30.0.1"], ["example.com"], ["ndots:0"]) == \
        "search example.com\nnameserver 172.30.0.1\noptions ndots:0\n"
    assert dns.render_resolv_conf(["1.1.1.1", "8.8.8.8"], ["."], []) == \
        "nameserver 1.1.1.1\nnameserver 8.8.8.8\n"


def test_hosts_as_docker_writes_them() -> None:
    text = dns.render_hosts([("10.0.0.5", "db.local"), ("10.0.0.6", ["a", "b"]),
                             ("172.30.0.2", "0123456789ab")])
    assert text == ("127.0.0.1\tlocalhost\n"
                    "::1\tlocalhost ip6-localhost ip6-loopback\n"
                    "fe00::0\tip6-localnet\n"
                    "ff00::0\tip6-mcastprefix\n"
                    "ff02::1\tip6-allnodes\n"
                    "ff02::2\tip6-allrouters\n"
                    "10.0.0.5\tdb.local\n"
                    "10.0.0.6\ta b\n"
                    "172.30.0.2\t0123456789ab\n")
    assert dns.render_hosts([], ipv6=False) == "127.0.0.1\tlocalhost\n"


# ---- for real: UDP on 127.0.0.1 and busybox nslookup ------------------------------------

BUSYBOX = shutil.which("busybox") or "/bin/busybox"
needs_busybox = pytest.mark.skipif(not shutil.which(BUSYBOX), reason="no busybox")


class Harness:
    """The engine's part in miniature: a network's DNS socket, an upstream socket, and a
    fake upstream answering example.test (silent for silent.test), all on 127.0.0.1."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.sel = selectors.DefaultSelector()
        self.server, self.outbound, self.fake, self.mute = (self._udp() for _ in range(4))
        self.fake_seen: list[int] = []

    def _udp(self) -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.setblocking(False)
        self.sel.register(s, selectors.EVENT_READ)
        return s

    def address(self, s: socket.socket) -> tuple[str, int]:
        host, port = s.getsockname()
        return str(host), int(port)

    def close(self) -> None:
        for s in (self.server, self.outbound, self.fake, self.mute):
            self.sel.unregister(s)
            s.close()
        self.sel.close()

    def act(self, action: dns.Action | None) -> None:
        if isinstance(action, Reply):
            assert action.network == "mynet"
            self.server.sendto(action.data, action.client)
        elif isinstance(action, Forward):
            assert action.upstream[0].startswith("127."), action   # never the real resolver
            self.outbound.sendto(action.data, action.upstream)

    def step(self, wait: float) -> None:
        deadline = self.resolver.next_deadline()
        if deadline is not None:
            wait = max(0.0, min(wait, deadline - time.monotonic()))
        for key, _ in self.sel.select(wait):
            s = key.fileobj
            assert isinstance(s, socket.socket)
            data, peer = s.recvfrom(65535)
            if s is self.server:
                self.act(self.resolver.handle(data, "mynet", peer))
            elif s is self.outbound:
                self.act(self.resolver.on_upstream_reply(data, peer))
            elif s is self.fake:
                self.upstream_answer(data, peer)
        for action in self.resolver.expire():
            self.act(action)

    def upstream_answer(self, data: bytes, peer: tuple[str, int]) -> None:
        query = dnswire.parse_query(data)
        assert query is not None and query.question is not None
        self.fake_seen.append(query.id)
        name, qtype = query.question.key, query.question.qtype
        if name == "silent.test":
            return
        answers = [dnswire.a("192.0.2.10", 60)] if (name, qtype) == ("example.test", 1) \
            else []
        rcode = dnswire.NOERROR if name == "example.test" else dnswire.NXDOMAIN
        self.fake.sendto(dnswire.build_response(query, rcode, answers), peer)

    def nslookup(self, *args: str) -> tuple[int, str]:
        server = f"127.0.0.1:{self.address(self.server)[1]}"
        proc = subprocess.Popen([BUSYBOX, "nslookup", *args, server],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        end = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < end:
            self.step(0.02)
        if proc.poll() is None:
            proc.kill()
        out, _ = proc.communicate()
        return proc.returncode, out

    def query(self, data: bytes, wait: float = 0.5) -> bytes | None:
        """Send data from a client socket and run the loop until an answer or wait ends."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.bind(("127.0.0.1", 0))
            client.setblocking(False)
            client.sendto(data, self.address(self.server))
            end = time.monotonic() + wait
            while time.monotonic() < end:
                self.step(0.01)
                try:
                    return client.recv(65535)
                except BlockingIOError:
                    continue
        return None


@pytest.fixture
def harness() -> Iterator[Harness]:
    h = Harness(Resolver(records=records(), timeout=0.3))
    h.resolver.upstreams = [h.address(h.fake)]
    yield h
    h.close()


@needs_busybox
def test_nslookup_gets_a_and_aaaa_for_a_container_name(harness: Harness) -> None:
    rc, out = harness.nslookup("web")
    assert rc == 0, out
    assert "Address: 172.30.0.2" in out and "Address: fd00::2" in out
    assert "Non-authoritative" not in out and "can't find" not in out


@needs_busybox
def test_nslookup_v4_only_container_gets_nodata_for_aaaa(harness: Harness) -> None:
    rc, out = harness.nslookup("DB")
    assert rc == 0 and "Address: 172.30.0.3" in out, out
    assert "NXDOMAIN" not in out and "Can't find" not in out and "can't find" not in out


@needs_busybox
def test_nslookup_reverse_lookups(harness: Harness) -> None:
    for address, name in (("172.30.0.2", "2.0.30.172.in-addr.arpa"),
                          ("fd00::2", dnswire.reverse_name("fd00::2"))):
        rc, out = harness.nslookup(address)
        assert rc == 0 and f"{name}\tname = web.mynet" in out, out


@needs_busybox
def test_nslookup_unknown_single_label_is_nxdomain_within_50ms(harness: Harness) -> None:
    rc, out = harness.nslookup("-debug", "nosuchpeer")   # busybox exits 1: not found
    assert rc == 1 and "** server can't find nosuchpeer: NXDOMAIN" in out, out
    times = [int(ms) for ms in re.findall(r"completed in (\d+)ms", out)]
    assert len(times) == 2 and max(times) < 50, out
    assert harness.fake_seen == []
    start = time.monotonic()
    raw = harness.query(dnswire.build_query("nosuchpeer", dnswire.TYPE_A, 0x5151))
    assert raw is not None and time.monotonic() - start < 0.05
    assert answer_of(Reply(raw, CLIENT, "mynet")).rcode == dnswire.NXDOMAIN


@needs_busybox
def test_nslookup_dotted_name_is_forwarded_and_the_id_restored(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    ours = itertools.count(0x0BAD)
    monkeypatch.setattr(secrets, "randbits", lambda _bits: next(ours))
    rc, out = harness.nslookup("-type=a", "example.test")
    # busybox matches replies by ID: the address shows only if the client's ID came back
    assert rc == 0 and "Address: 192.0.2.10" in out and "Non-authoritative" in out, out
    assert len(harness.fake_seen) == 1
    raw = harness.query(dnswire.build_query("Example.Test", dnswire.TYPE_A, 0xC0DE))
    assert raw is not None and dnswire.peek_id(raw) == 0xC0DE
    assert addresses(answer_of(Reply(raw, CLIENT, "mynet"))) == ["192.0.2.10"]
    assert harness.fake_seen == [0x0BAD, 0x0BAE]    # the upstream saw only our IDs
    assert harness.resolver.in_flight() == 0


@needs_busybox
def test_nslookup_silent_upstream_ends_in_servfail(harness: Harness) -> None:
    start = time.monotonic()
    rc, out = harness.nslookup("-type=a", "silent.test")
    assert rc == 1 and "** server can't find silent.test: SERVFAIL" in out, out
    assert time.monotonic() - start < 4      # our 0.3 s deadline, not busybox's 5 s timeout
    assert harness.resolver.in_flight() == 0


@needs_busybox
def test_nslookup_skips_a_silent_upstream_for_the_next(harness: Harness) -> None:
    harness.resolver.upstreams = [harness.address(harness.mute), harness.address(harness.fake)]
    rc, out = harness.nslookup("-type=a", "example.test")
    assert rc == 0 and "Address: 192.0.2.10" in out, out


def test_malformed_packets_over_udp_are_ignored_or_formerr(harness: Harness) -> None:
    assert harness.query(b"\x01\x02\x03", wait=0.1) is None
    assert harness.query(dnswire.build_response(
        dnswire.parse_query(HAND_QUERY) or pytest.fail(), 0), wait=0.1) is None
    raw = harness.query(bytes.fromhex("abcd 0100 0001 0000 0000 0000 c00c 0001 0001"))
    assert raw is not None and raw[:4] == bytes.fromhex("abcd 8181")
    raw = harness.query(dnswire.build_query("web", dnswire.TYPE_A, 0x0102))   # still serving
    assert raw is not None and addresses(answer_of(Reply(raw, CLIENT, "mynet"))) == \
        ["172.30.0.2"]
