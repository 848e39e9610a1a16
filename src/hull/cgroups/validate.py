"""Checks of linux.resources against this host, made before anything is created: a cpuset
naming a CPU or memory node the host does not have, and controllers it does not mount."""

from __future__ import annotations

from hull.cgroups.resources import Resources
from hull.errors import InvalidArgument


def parse_list(text: str, where: str) -> set[int]:
    """A kernel list ("0-3,5") as a set; raises InvalidArgument naming the field."""
    out: set[int] = set()
    for part in text.strip().split(","):
        if not part:
            continue
        lo, dash, hi = part.partition("-")
        if not lo.isdigit() or (dash and not hi.isdigit()):
            raise InvalidArgument(f"{where}: {text!r} is not a list like 0-3,5")
        first, last = int(lo), int(hi) if dash else int(lo)
        if last < first:
            raise InvalidArgument(f"{where}: {part!r} is a backwards range")
        out.update(range(first, last + 1))
    return out


def _online(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def check_host(res: Resources) -> None:
    for value, where, path, what in (
            (res.cpu.cpus, "linux.resources.cpu.cpus", "/sys/devices/system/cpu/online", "CPU"),
            (res.cpu.mems, "linux.resources.cpu.mems", "/sys/devices/system/node/online",
             "memory node")):
        if value is None:
            continue
        wanted = parse_list(value, where)
        online_text = _online(path) or "0"
        online = parse_list(online_text, path)
        missing = sorted(wanted - online)
        if missing:
            raise InvalidArgument(f"{where}: {what} {missing[0]} does not exist on this host "
                                  f"(online: {online_text})")
