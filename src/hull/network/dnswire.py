"""DNS messages on the wire (RFC 1035), as much as the embedded DNS server needs: read a
stub resolver's query, write the few answers hull gives itself (A, AAAA, PTR, the error
codes), and read an upstream reply's header and question to match it to its query.

Everything here reads bytes that a container sent, so nothing trusts a length or a
count: a name is followed through compression pointers only backwards (a pointer loop
cannot spin), no name grows past 255 bytes, and every parser returns None instead of
raising (the server's loop must not stop for a bad packet, and must not answer a
response — two servers bouncing errors at each other is a classic amplification loop).
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

TYPE_A = 1
TYPE_NS = 2
TYPE_CNAME = 5
TYPE_SOA = 6
TYPE_PTR = 12
TYPE_MX = 15
TYPE_TXT = 16
TYPE_AAAA = 28
TYPE_SRV = 33
TYPE_OPT = 41
TYPE_IXFR = 251
TYPE_AXFR = 252
TYPE_ANY = 255
CLASS_IN = 1
CLASS_ANY = 255

NOERROR = 0
FORMERR = 1
SERVFAIL = 2
NXDOMAIN = 3
NOTIMP = 4
REFUSED = 5

QR = 0x8000
AA = 0x0400
TC = 0x0200
RD = 0x0100
RA = 0x0080
CD = 0x0010
OPCODE_QUERY = 0

HEADER = struct.Struct("!HHHHHH")
_RR_FIXED = struct.Struct("!HHIH")      # type, class, ttl, rdlength
_QUESTION_FIXED = struct.Struct("!HH")  # type, class
MAX_NAME = 255
MAX_LABEL = 63
UDP_PLAIN = 512    # a reply without EDNS may not be longer (RFC 1035 4.2.1)
UDP_EDNS = 1232    # the most we send even to an EDNS client: no IP fragmentation (flag day 2020)

# names whose rdata is one domain name, decoded by parse() for the reader's convenience
_NAME_RDATA = (TYPE_NS, TYPE_CNAME, TYPE_PTR)


class _Malformed(Exception):
    """Internal: the bytes are not a DNS message; parsers turn this into None."""


@dataclass(frozen=True, slots=True)
class Question:
    labels: tuple[bytes, ...]   # as sent (case kept: replies echo it, RFC 4343 and 0x20)
    qtype: int
    qclass: int

    @property
    def name(self) -> str:
        """Presentation form without the trailing dot ("" is the root): unusual bytes
        escaped as \\DDD, so a label holding a dot can never pass for two labels."""
        return ".".join(_escape(label) for label in self.labels)

    @property
    def key(self) -> str:
        """The name for comparisons: DNS names are case-insensitive (ASCII only)."""
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class ResourceRecord:
    name: str
    rtype: int
    rclass: int
    ttl: int
    rdata: bytes
    target: str | None = None   # the decoded name of an NS, CNAME or PTR record


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    flags: int
    questions: tuple[Question, ...]
    answers: tuple[ResourceRecord, ...] = ()
    authority: tuple[ResourceRecord, ...] = ()
    additional: tuple[ResourceRecord, ...] = ()
    edns_size: int | None = None   # the requestor's UDP payload size, None: no OPT record

    @property
    def is_response(self) -> bool:
        return bool(self.flags & QR)

    @property
    def opcode(self) -> int:
        return (self.flags >> 11) & 0xF

    @property
    def rcode(self) -> int:
        return self.flags & 0xF

    @property
    def question(self) -> Question | None:
        return self.questions[0] if self.questions else None


@dataclass(frozen=True, slots=True)
class Answer:
    """One record hull answers with; its owner is always the question's name."""

    rtype: int
    ttl: int
    rdata: bytes


# ---- reading ----------------------------------------------------------------------------

def _escape(label: bytes) -> str:
    out = []
    for byte in label:
        char = chr(byte)
        if 0x21 <= byte <= 0x7E and char not in '.\\"();@$':
            out.append(char)
        else:
            out.append(f"\\{byte:03d}")
    return "".join(out)


def _read_name(data: bytes, pos: int) -> tuple[tuple[bytes, ...], int]:
    """The labels of the name at pos and the offset just after it (after the first pointer
    if it was compressed). Each pointer must lead strictly before the segment it was
    found in, so the walk always ends; the name may not exceed 255 bytes."""
    labels: list[bytes] = []
    end = -1
    size = 1
    segment = pos
    while True:
        if pos >= len(data):
            raise _Malformed("name runs past the end")
        length = data[pos]
        kind = length & 0xC0
        if kind == 0xC0:
            if pos + 1 >= len(data):
                raise _Malformed("pointer runs past the end")
            target = ((length & 0x3F) << 8) | data[pos + 1]
            if end < 0:
                end = pos + 2
            if target >= segment:
                raise _Malformed("compression pointer does not point backwards")
            pos = segment = target
            continue
        if kind:
            raise _Malformed("extended label type")
        if length == 0:
            return tuple(labels), (pos + 1 if end < 0 else end)
        label = data[pos + 1:pos + 1 + length]
        if len(label) != length:
            raise _Malformed("label runs past the end")
        size += length + 1
        if size > MAX_NAME:
            raise _Malformed("name longer than 255 bytes")
        labels.append(label)
        pos += 1 + length


def _read_question(data: bytes, pos: int) -> tuple[Question, int]:
    labels, pos = _read_name(data, pos)
    if pos + _QUESTION_FIXED.size > len(data):
        raise _Malformed("question runs past the end")
    qtype, qclass = _QUESTION_FIXED.unpack_from(data, pos)
    return Question(labels, qtype, qclass), pos + _QUESTION_FIXED.size


def _read_record(data: bytes, pos: int) -> tuple[ResourceRecord, int]:
    labels, pos = _read_name(data, pos)
    if pos + _RR_FIXED.size > len(data):
        raise _Malformed("record runs past the end")
    rtype, rclass, ttl, rdlength = _RR_FIXED.unpack_from(data, pos)
    pos += _RR_FIXED.size
    rdata = data[pos:pos + rdlength]
    if len(rdata) != rdlength:
        raise _Malformed("rdata runs past the end")
    target = None
    if rtype in _NAME_RDATA:
        target = ".".join(_escape(label) for label in _read_name(data, pos)[0])
    name = ".".join(_escape(label) for label in labels)
    return ResourceRecord(name, rtype, rclass, ttl, rdata, target), pos + rdlength


def _parse(data: bytes, *, records: bool) -> Message:
    if len(data) < HEADER.size:
        raise _Malformed("shorter than a header")
    qid, flags, qdcount, ancount, nscount, arcount = HEADER.unpack_from(data)
    pos = HEADER.size
    questions = []
    for _ in range(qdcount):
        question, pos = _read_question(data, pos)
        questions.append(question)
    if not records:
        return Message(qid, flags, tuple(questions))
    sections: list[list[ResourceRecord]] = [[], [], []]
    for section, count in zip(sections, (ancount, nscount, arcount), strict=True):
        for _ in range(count):
            record, pos = _read_record(data, pos)
            section.append(record)
    edns_size = None
    for record in sections[2]:
        if record.rtype == TYPE_OPT:
            edns_size = max(record.rclass, UDP_PLAIN)   # below 512 means 512 (RFC 6891 6.2.5)
            break
    return Message(qid, flags, tuple(questions), tuple(sections[0]), tuple(sections[1]),
                   tuple(sections[2]), edns_size)


def parse(data: bytes) -> Message | None:
    """The whole message (any kind), or None if it is not well formed."""
    try:
        return _parse(data, records=True)
    except _Malformed:
        return None


def parse_head(data: bytes) -> Message | None:
    """Header and questions only (the records left unread): enough to match an upstream
    reply to the query it answers without judging records hull never looks at."""
    try:
        return _parse(data, records=False)
    except _Malformed:
        return None


def parse_query(data: bytes) -> Message | None:
    """A query hull can act on: well formed, not a response, with a question. None
    otherwise; format_error() then says whether a FORMERR is owed or nothing at all."""
    message = parse(data)
    if message is None or message.is_response or not message.questions:
        return None
    return message


def format_error(data: bytes) -> bytes | None:
    """FORMERR for a packet with a readable query header but nothing usable after it;
    None (send nothing) for a runt or for anything flagged as a response."""
    if len(data) < HEADER.size:
        return None
    qid, flags = struct.unpack_from("!HH", data)
    if flags & QR:
        return None
    flags = QR | (flags & (0xF << 11)) | (flags & RD) | RA | FORMERR
    return HEADER.pack(qid, flags, 0, 0, 0, 0)


def peek_id(data: bytes) -> int | None:
    return int.from_bytes(data[:2], "big") if len(data) >= HEADER.size else None


def with_id(data: bytes, qid: int) -> bytes:
    """The same message under another ID (forwarding rewrites it both ways)."""
    return qid.to_bytes(2, "big") + data[2:]


# ---- writing ----------------------------------------------------------------------------

def encode_name(name: str) -> bytes:
    """A plain dotted name (no escapes; hull's own names) in wire form; ValueError if a
    label is empty or too long or the whole too long."""
    name = name.rstrip(".") if name != "." else ""
    out = bytearray()
    for label in name.split(".") if name else ():
        raw = label.encode("idna" if not label.isascii() else "ascii")
        if not 0 < len(raw) <= MAX_LABEL:
            raise ValueError(f"bad DNS label {label!r} in {name!r}")
        out += bytes([len(raw)]) + raw
    out += b"\0"
    if len(out) > MAX_NAME:
        raise ValueError(f"DNS name too long: {name!r}")
    return bytes(out)


def _encode_labels(labels: Iterable[bytes]) -> bytes:
    return b"".join(bytes([len(label)]) + label for label in labels) + b"\0"


def a(address: str, ttl: int) -> Answer:
    return Answer(TYPE_A, ttl, ipaddress.IPv4Address(address).packed)


def aaaa(address: str, ttl: int) -> Answer:
    return Answer(TYPE_AAAA, ttl, ipaddress.IPv6Address(address).packed)


def ptr(name: str, ttl: int) -> Answer:
    return Answer(TYPE_PTR, ttl, encode_name(name))


def _opt_record() -> bytes:
    # root owner, type OPT, class = our UDP payload size, TTL 0 (rcode ext, version 0, no DO)
    return b"\0" + _RR_FIXED.pack(TYPE_OPT, UDP_EDNS, 0, 0)


def build_response(query: Message, rcode: int, answers: Sequence[Answer] = (), *,
                   authoritative: bool = False) -> bytes:
    """The reply to query: its ID and first question echoed, RD and CD copied, RA set (we
    recurse, through the upstreams), AA when hull owns the name. Answers that would not
    fit the client's size limit are left off the end."""
    question = query.question
    flags = QR | (query.opcode << 11) | (query.flags & (RD | CD)) | RA | (rcode & 0xF)
    if authoritative:
        flags |= AA
    body = b""
    if question is not None:
        body = _encode_labels(question.labels) + _QUESTION_FIXED.pack(question.qtype,
                                                                      question.qclass)
    tail = _opt_record() if query.edns_size is not None else b""
    limit = UDP_PLAIN if query.edns_size is None else min(query.edns_size, UDP_EDNS)
    room = limit - HEADER.size - len(body) - len(tail)
    records = []
    for answer in answers:
        # owner: a pointer to the question's name, which always sits at offset 12
        record = b"\xc0\x0c" + _RR_FIXED.pack(answer.rtype, CLASS_IN, answer.ttl,
                                              len(answer.rdata)) + answer.rdata
        if question is None or len(record) > room:
            # No TC bit: hull serves no TCP to retry on, and the records that fit (a few
            # of many replicas' addresses) are a usable answer; Docker would set TC.
            break
        room -= len(record)
        records.append(record)
    header = HEADER.pack(query.id, flags, 1 if question is not None else 0, len(records), 0,
                         1 if tail else 0)
    return header + body + b"".join(records) + tail


def build_query(name: str, qtype: int, qid: int, *, qclass: int = CLASS_IN, rd: bool = True,
                edns_size: int | None = None) -> bytes:
    """A stub resolver's query (tests, health probes)."""
    flags = RD if rd else 0
    additional = b""
    if edns_size is not None:
        additional = b"\0" + _RR_FIXED.pack(TYPE_OPT, edns_size, 0, 0)
    return (HEADER.pack(qid, flags, 1, 0, 0, 1 if additional else 0) + encode_name(name) +
            _QUESTION_FIXED.pack(qtype, qclass) + additional)


# ---- reverse names ----------------------------------------------------------------------

def reverse_address(question: Question) -> str | None:
    """The address a PTR question's name stands for (4.3.2.1.in-addr.arpa → 1.2.3.4, 32
    nibbles under ip6.arpa → an IPv6 address), or None for any other name (a partial
    reverse zone such as 3.2.1.in-addr.arpa is not an address)."""
    labels = [label.lower() for label in question.labels]
    try:
        if labels[-2:] == [b"in-addr", b"arpa"] and len(labels) == 6:
            octets = labels[3::-1]
            if all(o.isdigit() and len(o) <= 3 and int(o) <= 255 for o in octets):
                return ".".join(str(int(o)) for o in octets)
        elif labels[-2:] == [b"ip6", b"arpa"] and len(labels) == 34:
            nibbles = labels[31::-1]
            if all(len(n) == 1 and n in b"0123456789abcdef" for n in nibbles):
                return str(ipaddress.IPv6Address(int(b"".join(nibbles), 16)))
    except ValueError:
        return None
    return None


def reverse_name(address: str) -> str:
    """The PTR question name for an address (ipaddress knows both forms)."""
    return ipaddress.ip_address(address).reverse_pointer
