"""Bring up `lo` in a container's new network namespace, as Docker's libnetwork does for
every container (`--network none` included): a fresh namespace's loopback is down, and
programs that talk to 127.0.0.1 (a database and its client in one container) fail.

The work is two ioctls on a socket made inside the namespace. setns(2) into a network
namespace changes only the calling thread, so a short-lived thread does it
(netlink.run_in_netns) and the caller's own namespace never changes."""

from __future__ import annotations

from hull.linux import netlink

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1


def bring_up(pid: int) -> None:
    """Set `lo` up in the network namespace of process pid; errors are raised here."""
    netlink.run_in_netns(pid, lambda: set_up("lo"))


def set_up(name: str) -> None:
    """IFF_UP on the interface called name, in the calling thread's namespace."""
    import fcntl
    import socket
    import struct
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH14x", name.encode(), 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, request))[1]
        if not flags & IFF_UP:
            fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack("16sH14x", name.encode(),
                                                               flags | IFF_UP))
