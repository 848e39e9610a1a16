"""hull.linux.netlink's wire format, without root: attributes and messages packed and
parsed back, and whole requests against a fake kernel on a datagram socketpair (what the
client sends, how it reads acks, dumps and errors)."""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Iterator

import pytest

from hull.errors import InvalidArgument, NotFound
from hull.linux import netlink as nl


def test_attr_is_padded_to_four_bytes_and_its_length_is_unpadded() -> None:
    packed = nl.attr(nl.IFLA_IFNAME, "eth0")   # 4 + "eth0\0" = 9, padded to 12
    assert len(packed) == 12
    assert struct.unpack_from("=HH", packed) == (9, nl.IFLA_IFNAME)
    assert packed[4:9] == b"eth0\0" and packed[9:] == b"\0\0\0"
    assert nl.attr(nl.IFLA_MTU, 1500) == struct.pack("=HHI", 8, nl.IFLA_MTU, 1500)
    assert len(nl.attr(nl.IFLA_ADDRESS, b"\x02\x42\xac\x11\x00\x02")) == 12
    assert [nl.align(n) for n in (0, 1, 3, 4, 5, 8)] == [0, 4, 4, 4, 8, 8]


def test_attrs_round_trip_with_nesting() -> None:
    peer = nl.IFINFOMSG.pack(0, 0, 0, 0, 0) + nl.attr(nl.IFLA_IFNAME, "eth0") + \
        nl.attr(nl.IFLA_NET_NS_FD, 7)
    data = nl.attr(nl.IFLA_IFNAME, "veth1") + nl.nest(
        nl.IFLA_LINKINFO, nl.attr(nl.IFLA_INFO_KIND, "veth"),
        nl.nest(nl.IFLA_INFO_DATA, nl.attr(nl.VETH_INFO_PEER, peer))) + \
        nl.attr(nl.IFLA_MTU, 9000)
    attrs = nl.parse_attrs(data)
    assert attrs[nl.IFLA_IFNAME] == b"veth1\0"
    assert attrs[nl.IFLA_MTU] == struct.pack("=I", 9000)
    info = nl.parse_attrs(attrs[nl.IFLA_LINKINFO])
    assert info[nl.IFLA_INFO_KIND] == b"veth\0"
    # the peer's attributes follow an ifinfomsg of its own
    peer_data = nl.parse_attrs(nl.parse_attrs(info[nl.IFLA_INFO_DATA])[nl.VETH_INFO_PEER]
                               [nl.IFINFOMSG.size:])
    assert peer_data == {nl.IFLA_IFNAME: b"eth0\0", nl.IFLA_NET_NS_FD: struct.pack("=I", 7)}


def test_parse_attrs_masks_the_nested_flag_and_rejects_overruns() -> None:
    flagged = struct.pack("=HH", 8, nl.IFLA_LINKINFO | 0x8000) + b"abcd"
    assert nl.parse_attrs(flagged) == {nl.IFLA_LINKINFO: b"abcd"}
    with pytest.raises(OSError) as e:
        nl.parse_attrs(struct.pack("=HH", 40, 1) + b"abcd")
    assert e.value.errno == errno.EBADMSG


def test_messages_round_trip_several_in_one_datagram() -> None:
    one = nl.message(nl.RTM_NEWLINK, nl.NLM_F_MULTI, 5, nl.attr(1, "a"))   # 16 + 6 → 24
    two = nl.message(nl.NLMSG_DONE, nl.NLM_F_MULTI, 5, struct.pack("=i", 0))
    assert struct.unpack_from("=I", one)[0] == 16 + 8
    got = list(nl.parse_messages(one + two))
    assert got == [nl.Message(nl.RTM_NEWLINK, nl.NLM_F_MULTI, 5, nl.attr(1, "a")),
                   nl.Message(nl.NLMSG_DONE, nl.NLM_F_MULTI, 5, struct.pack("=i", 0))]
    with pytest.raises(OSError):
        list(nl.parse_messages(one[:-4]))


def test_error_payload_becomes_oserror_with_the_kernels_text() -> None:
    request = nl.NLMSGHDR.pack(40, nl.RTM_NEWLINK, 0x605, 1, 0)
    assert nl.error_of(struct.pack("=i", 0) + request, nl.NLM_F_CAPPED, "x") is None
    err = nl.error_of(struct.pack("=i", -errno.EEXIST) + request, nl.NLM_F_CAPPED,
                      "add bridge br0")
    assert isinstance(err, OSError) and err.errno == errno.EEXIST
    assert err.strerror == f"add bridge br0: {os.strerror(errno.EEXIST)}"
    tlv = nl.attr(nl.NLMSGERR_ATTR_MSG, "mtu greater than device maximum")
    err = nl.error_of(struct.pack("=i", -errno.EINVAL) + request + tlv,
                      nl.NLM_F_CAPPED | nl.NLM_F_ACK_TLVS, "set link br0")
    assert err is not None and err.errno == errno.EINVAL
    assert str(err.strerror).endswith("Invalid argument (mtu greater than device maximum)")
    # not capped: the whole request (its length from its header) sits before the TLVs
    whole = nl.NLMSGHDR.pack(24, nl.RTM_NEWLINK, 5, 1, 0) + b"\0" * 8
    err = nl.error_of(struct.pack("=i", -errno.EINVAL) + whole + tlv, nl.NLM_F_ACK_TLVS,
                      "w")
    assert err is not None and "(mtu greater" in str(err.strerror)


class FakeKernel:
    """The far end of a datagram socketpair standing in for the kernel: replies are
    queued before the request (the client's sequence numbers start at 1)."""

    def __init__(self) -> None:
        self.ours, self.theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.client = nl.Netlink(self.ours)

    def reply(self, *messages: bytes) -> None:
        self.theirs.send(b"".join(messages))

    def request(self) -> nl.Message:
        (m,) = nl.parse_messages(self.theirs.recv(1 << 16))
        return m

    def close(self) -> None:
        self.client.close()
        self.theirs.close()


@pytest.fixture
def kernel() -> Iterator[FakeKernel]:
    k = FakeKernel()
    yield k
    k.close()


def ack(seq: int, err: int = 0) -> bytes:
    return nl.message(nl.NLMSG_ERROR, nl.NLM_F_CAPPED, seq,
                      struct.pack("=i", err) + nl.NLMSGHDR.pack(16, 0, 0, seq, 0))


def test_add_bridge_sends_create_excl_ack_and_raises_eexist(kernel: FakeKernel) -> None:
    kernel.reply(ack(99, -errno.ENOENT))   # a stale reply of another request: skipped
    kernel.reply(ack(1, -errno.EEXIST))
    with pytest.raises(OSError) as e:
        kernel.client.add_bridge("br-test", mtu=1400)
    assert e.value.errno == errno.EEXIST
    assert e.value.strerror == "add bridge br-test: File exists"
    sent = kernel.request()
    assert sent.type == nl.RTM_NEWLINK and sent.seq == 1
    assert sent.flags == nl.NLM_F_REQUEST | nl.NLM_F_ACK | nl.NLM_F_CREATE | nl.NLM_F_EXCL
    attrs = nl.parse_attrs(sent.payload[nl.IFINFOMSG.size:])
    assert attrs[nl.IFLA_IFNAME] == b"br-test\0"
    assert attrs[nl.IFLA_MTU] == struct.pack("=I", 1400)
    assert nl.parse_attrs(attrs[nl.IFLA_LINKINFO]) == {nl.IFLA_INFO_KIND: b"bridge\0"}


def test_set_link_by_name_with_up_flag(kernel: FakeKernel) -> None:
    kernel.reply(ack(1))
    kernel.client.set_link("eth0", up=True, mac="02:42:ac:11:00:02", mtu=1450)
    sent = kernel.request()
    _family, _type, index, flags, change = nl.IFINFOMSG.unpack_from(sent.payload)
    assert (index, flags, change) == (0, nl.IFF_UP, nl.IFF_UP)
    attrs = nl.parse_attrs(sent.payload[nl.IFINFOMSG.size:])
    assert attrs[nl.IFLA_ADDRESS] == bytes.fromhex("0242ac110002")
    assert attrs[nl.IFLA_MTU] == struct.pack("=I", 1450)


def link_message(seq: int, index: int, name: str, kind: str, up: bool) -> bytes:
    body = nl.IFINFOMSG.pack(0, 1, index, nl.IFF_UP if up else 0, 0) + \
        nl.attr(nl.IFLA_IFNAME, name) + nl.attr(nl.IFLA_MTU, 1500) + \
        nl.attr(nl.IFLA_ADDRESS, bytes.fromhex("0242ac110002")) + \
        nl.attr(nl.IFLA_MASTER, 3) + nl.nest(nl.IFLA_LINKINFO, nl.attr(nl.IFLA_INFO_KIND, kind))
    return nl.message(nl.RTM_NEWLINK, nl.NLM_F_MULTI, seq, body)


def test_dump_reads_multipart_until_done(kernel: FakeKernel) -> None:
    kernel.reply(link_message(1, 4, "veth0", "veth", True),
                 link_message(1, 5, "veth1", "veth", False))
    kernel.reply(link_message(1, 6, "br0", "bridge", True),
                 nl.message(nl.NLMSG_DONE, nl.NLM_F_MULTI, 1, struct.pack("=i", 0)))
    links = kernel.client.links()
    assert links[0] == nl.Link(4, "veth0", 1500, "02:42:ac:11:00:02", 3, True, "veth")
    assert [(x.name, x.up, x.kind) for x in links] == \
        [("veth0", True, "veth"), ("veth1", False, "veth"), ("br0", True, "bridge")]
    sent = kernel.request()
    assert sent.type == nl.RTM_GETLINK
    assert sent.flags == nl.NLM_F_REQUEST | nl.NLM_F_DUMP   # a dump ends with DONE, no ack


def test_interrupted_dump_is_asked_again(kernel: FakeKernel) -> None:
    done = struct.pack("=i", 0)
    kernel.reply(nl.message(nl.RTM_NEWLINK, nl.NLM_F_MULTI | nl.NLM_F_DUMP_INTR, 1,
                            link_message(1, 4, "old", "veth", True)[16:]),
                 nl.message(nl.NLMSG_DONE, nl.NLM_F_MULTI | nl.NLM_F_DUMP_INTR, 1, done))
    kernel.reply(link_message(2, 4, "new", "veth", True),
                 nl.message(nl.NLMSG_DONE, nl.NLM_F_MULTI, 2, done))
    assert [x.name for x in kernel.client.links()] == ["new"]


def test_missing_link_is_notfound(kernel: FakeKernel) -> None:
    kernel.reply(ack(1, -errno.ENODEV))
    with pytest.raises(NotFound):
        kernel.client.link("nothere")
    kernel.reply(ack(2, -errno.ENODEV))
    kernel.client.delete_link("nothere")   # missing_ok
    kernel.reply(ack(3, -errno.ENODEV))
    with pytest.raises(OSError) as e:
        kernel.client.delete_link("nothere", missing_ok=False)
    assert e.value.errno == errno.ENODEV


def test_address_and_route_requests(kernel: FakeKernel) -> None:
    kernel.reply(link_message(1, 7, "eth0", "veth", True), ack(1))   # get link, its ack
    kernel.reply(ack(2))
    kernel.client.add_address("eth0", "172.18.0.5", 16)
    kernel.request()
    sent = kernel.request()
    assert sent.type == nl.RTM_NEWADDR
    assert nl.IFADDRMSG.unpack_from(sent.payload) == (socket.AF_INET, 16, 0, 0, 7)
    attrs = nl.parse_attrs(sent.payload[nl.IFADDRMSG.size:])
    assert attrs[nl.IFA_LOCAL] == attrs[nl.IFA_ADDRESS] == socket.inet_aton("172.18.0.5")
    assert attrs[nl.IFA_BROADCAST] == socket.inet_aton("172.18.255.255")

    kernel.reply(ack(3))
    kernel.client.add_route(gateway="fd00::1")
    sent = kernel.request()
    family, dst_len, *_rest = nl.RTMSG.unpack_from(sent.payload)
    assert (family, dst_len) == (socket.AF_INET6, 0)
    attrs = nl.parse_attrs(sent.payload[nl.RTMSG.size:])
    assert attrs == {nl.RTA_GATEWAY: socket.inet_pton(socket.AF_INET6, "fd00::1")}


def test_parse_address_and_route() -> None:
    v6 = socket.inet_pton(socket.AF_INET6, "fd00::2")
    payload = nl.IFADDRMSG.pack(socket.AF_INET6, 64, 0, 0, 3) + nl.attr(nl.IFA_ADDRESS, v6)
    assert nl.parse_address(payload) == nl.Address(socket.AF_INET6, 3, "fd00::2", 64)
    route = nl.RTMSG.pack(socket.AF_INET, 0, 0, 0, 254, 3, 0, 1, 0) + \
        nl.attr(nl.RTA_GATEWAY, socket.inet_aton("10.0.0.1")) + nl.attr(nl.RTA_OIF, 2) + \
        nl.attr(nl.RTA_TABLE, 254)
    assert nl.parse_route(route) == nl.Route(socket.AF_INET, "default", 0, "10.0.0.1", 2,
                                             254)


def test_bad_arguments_are_refused_before_sending(kernel: FakeKernel) -> None:
    with pytest.raises(InvalidArgument):
        kernel.client.add_bridge("a-name-of-16-chr")
    with pytest.raises(InvalidArgument):
        kernel.client.set_link("eth0", mac="02:42:ac:11:00")
    with pytest.raises(InvalidArgument):
        kernel.client.add_route(gateway="10.0.0.256")


def test_mac_for_is_dockers() -> None:
    assert nl.mac_for("172.17.0.2") == "02:42:ac:11:00:02"
    with pytest.raises(InvalidArgument):
        nl.mac_for("fd00::2")


def test_real_kernel_dump_of_this_namespace() -> None:
    """Read only: any user may dump links; every namespace has lo."""
    with nl.Netlink() as client:
        lo = next(x for x in client.links() if x.name == "lo")
        assert client.link("lo") == lo
        assert lo.mtu > 0 and lo.kind == ""
