"""`-p`/`--publish` and `--expose` as Docker reads them, and the shapes Docker stores them in.

    -p [ip:][hostPort[-end]:]containerPort[-end][/tcp|udp|sctp]

A spec turns into one binding per container port. Host ports are given one per container
port (equal ranges), left empty (an ephemeral port is chosen at start), or given as a range
for a single container port (one free port of the range is chosen at start). The errors are
Docker's own words, so scripts that match them keep working.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from hull.errors import InvalidArgument

PROTOCOLS = ("tcp", "udp", "sctp")


@dataclass(frozen=True)
class Binding:
    """One container port published on the host. host_port 0: any free port between
    host_low and host_high (both 0: the ephemeral range)."""
    container_port: int
    protocol: str
    host_ip: str = ""
    host_port: int = 0
    host_low: int = 0
    host_high: int = 0

    @property
    def key(self) -> str:
        """Docker's name of the container port: "80/tcp"."""
        return f"{self.container_port}/{self.protocol}"


def _range(text: str, what: str) -> tuple[int, int]:
    low, sep, high = text.partition("-")
    try:
        a = int(low)
        b = int(high) if sep else a
    except ValueError:
        raise InvalidArgument(f"invalid {what}: {text}") from None
    if not (0 <= a <= 65535 and 0 <= b <= 65535) or b < a:
        raise InvalidArgument(f"invalid {what}: {text}")
    if what == "containerPort" and a == 0:
        raise InvalidArgument(f"invalid {what}: {text}")
    return a, b


def parse(spec: str) -> list[Binding]:
    """One -p value → its bindings (InvalidArgument with Docker's message)."""
    body, _, proto = spec.partition("/")
    proto = proto.lower() or "tcp"
    if proto not in PROTOCOLS:
        raise InvalidArgument(f"invalid proto: {proto}")
    ip = ""
    if body.startswith("["):   # [v6]:host:container
        end = body.find("]")
        ip, body = body[1:end], body[end + 2:]
        parts = body.split(":")
    else:
        parts = body.split(":")
        if len(parts) > 3:
            raise InvalidArgument(f"invalid port format: {spec}")
        if len(parts) == 3:
            ip = parts.pop(0)
    if ip:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            raise InvalidArgument(f"invalid IP address: {ip}") from None
        if address.is_unspecified:   # 0.0.0.0 or :: — every address, as Docker reads it
            ip = ""
        elif address.version == 6:
            raise InvalidArgument(f"invalid IP address: {ip}: hull publishes ports on IPv4 "
                                  "host addresses only (for now)")
        else:
            ip = str(address)
    container_text = parts[-1]
    host_text = parts[0] if len(parts) == 2 else ""
    c_low, c_high = _range(container_text, "containerPort")
    h_low, h_high = _range(host_text, "hostPort") if host_text else (0, 0)
    count = c_high - c_low + 1
    if host_text and h_high - h_low + 1 != count and count != 1:
        raise InvalidArgument("invalid ranges specified for container and host Ports: "
                              f"{container_text} and {host_text}")
    if host_text and count == 1 and h_high > h_low:   # a host range for one port
        return [Binding(c_low, proto, ip, 0, h_low, h_high)]
    return [Binding(c_low + i, proto, ip, h_low + i if host_text else 0)
            for i in range(count)]


def parse_expose(spec: str) -> list[str]:
    """--expose 80[-90][/proto] → Docker's ExposedPorts keys."""
    body, _, proto = spec.partition("/")
    proto = proto.lower() or "tcp"
    if proto not in PROTOCOLS:
        raise InvalidArgument(f"invalid proto: {proto}")
    low, high = _range(body, "containerPort")
    return [f"{p}/{proto}" for p in range(low, high + 1)]


def to_host_config(bindings: list[Binding]) -> dict[str, list[dict[str, str]]]:
    """HostConfig.PortBindings: what was asked ("" for a port chosen at start)."""
    out: dict[str, list[dict[str, str]]] = {}
    for b in bindings:
        port = str(b.host_port) if b.host_port else \
            (f"{b.host_low}-{b.host_high}" if b.host_low else "")
        out.setdefault(b.key, []).append({"HostIp": b.host_ip, "HostPort": port})
    return out


def from_host_config(port_bindings: dict[str, list[dict[str, str]]]) -> list[Binding]:
    out = []
    for key, entries in (port_bindings or {}).items():
        number, _, proto = key.partition("/")
        for e in entries or [{}]:
            text = e.get("HostPort") or ""
            low, _, high = text.partition("-")
            ip = e.get("HostIp") or ""
            if high:
                out.append(Binding(int(number), proto or "tcp", ip, 0, int(low), int(high)))
            else:
                out.append(Binding(int(number), proto or "tcp", ip, int(low or 0)))
    return out
