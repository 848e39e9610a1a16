"""User-namespace remapping (`--userns-remap` in Docker's daemon, per container in hull).

Without it, root in a container is root on the host: the capabilities and seccomp are all
that keep it in. Remapped, the container's uid 0..65535 are an unprivileged range of host
ids taken from /etc/subuid and /etc/subgid, so a process that gets out is nobody in
particular. The image's layers stay as they are on disk (owned by 0): they are mounted
*idmapped* (see remapped_lowers), or where the kernel or filesystem cannot, a copy shifted
into the range is made once per layer and mapping and reused.

Whatever hull itself reads from or writes into such a container (commit, export, cp) is
translated at the boundary with to_host/to_container, so images and archives always carry
container ids, as Docker's do.
"""

from __future__ import annotations

import os

from hull.errors import InvalidArgument
from hull.record import record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_USER = "hull-remap"   # Docker's "default" is a user it creates, dockremap
MIN_IDS = 65536               # 0..65535: root, the system users and nobody (65534)



def _sub_files() -> tuple[str, str]:
    """/etc/subuid and /etc/subgid (HULL_SUBUID/HULL_SUBGID name others, for tests)."""
    return (os.environ.get("HULL_SUBUID", "/etc/subuid"),
            os.environ.get("HULL_SUBGID", "/etc/subgid"))


@record
class IdMap:
    """Container id ranges laid over host ranges: [(container, host, size)]."""
    uids: list[tuple[int, int, int]]
    gids: list[tuple[int, int, int]]

    def to_dict(self) -> dict[str, Any]:
        return {"UidMaps": [list(r) for r in self.uids], "GidMaps": [list(r) for r in self.gids]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IdMap:
        return cls([(int(a), int(b), int(c)) for a, b, c in data["UidMaps"]],
                   [(int(a), int(b), int(c)) for a, b, c in data["GidMaps"]])

    def oci(self) -> dict[str, Any]:
        def one(ranges: list[tuple[int, int, int]]) -> list[dict[str, int]]:
            return [{"containerID": c, "hostID": h, "size": s} for c, h, s in ranges]
        return {"uidMappings": one(self.uids), "gidMappings": one(self.gids)}

    @property
    def key(self) -> str:
        """A short name of the mapping, for caches made per mapping."""
        import hashlib
        return hashlib.sha256(repr((self.uids, self.gids)).encode()).hexdigest()[:16]

    @property
    def root(self) -> tuple[int, int]:
        """The host uid/gid the container's root is."""
        return self.to_host(0, 0)

    def to_host(self, uid: int, gid: int) -> tuple[int, int]:
        """A container's ids as the host stores them (unmapped ids: the overflow id)."""
        return _shift(uid, self.uids, True), _shift(gid, self.gids, True)

    def to_container(self, uid: int, gid: int) -> tuple[int, int]:
        """Host ids as the container sees them (ids outside the range: nobody, 65534)."""
        return _shift(uid, self.uids, False), _shift(gid, self.gids, False)


def _shift(value: int, ranges: list[tuple[int, int, int]], up: bool) -> int:
    for container, host, size in ranges:
        start, other = (container, host) if up else (host, container)
        if start <= value < start + size:
            return other + value - start
    return 65534


def check_compatible(host: dict[str, Any], network: str) -> None:
    """Docker's rule: what shares a host namespace or gives every capability cannot be
    combined with remapping (the container's root would be host root there)."""
    for wrong, what in ((host.get("Privileged"), "--privileged"),
                        (host.get("PidMode") == "host", "--pid host"),
                        (network == "host", "--network host"),
                        (host.get("IpcMode") == "host", "--ipc host"),
                        (host.get("UTSMode") == "host", "--uts host")):
        if wrong:
            raise InvalidArgument(f"{what} cannot be used with user namespace remapping: "
                                  "add --userns host")


def of(host_config: dict[str, Any]) -> IdMap | None:
    """The mapping a container was created with, or None when it is not remapped."""
    data = host_config.get("IdMappings")
    return IdMap.from_dict(data) if data else None


# ---- choosing the mapping at create ---------------------------------------------------

def configured_default() -> str:
    """What a container gets when --userns does not say: HULL_USERNS_REMAP, else
    "userns-remap" in the engine config (engine/settings.py)."""
    from hull.engine.settings import setting
    return setting("userns-remap", "HULL_USERNS_REMAP")


def choose(flag: str | None) -> IdMap | None:
    """`--userns` (host | remap | remap:USER[:GROUP]) or else the configured default
    (default | USER[:GROUP] | "") → the mapping to create the container with."""
    if flag == "host":
        return None
    if flag is not None and flag != "remap" and not flag.startswith("remap:"):
        raise InvalidArgument(f"invalid --userns {flag!r}: use host, remap or "
                              "remap:USER[:GROUP]")
    spec = (flag.partition(":")[2] or "default") if flag else configured_default()
    if not spec:
        return None
    user, _, group = spec.partition(":")
    if user == "default":
        user = group = DEFAULT_USER
        _ensure_default_ranges()
    subuid, subgid = _sub_files()
    return IdMap(_ranges(subuid, user, "uid"), _ranges(subgid, group or user, "gid"))


def _ranges(path: str, who: str, kind: str) -> list[tuple[int, int, int]]:
    """Every subordinate range of `who` (a name or a number), laid end to end from
    container id 0, as Docker concatenates them."""
    names = {who}
    try:
        import grp
        import pwd
        if who.isdigit():
            names.add(pwd.getpwuid(int(who)).pw_name if kind == "uid"
                      else grp.getgrgid(int(who)).gr_name)
        else:
            names.add(str(pwd.getpwnam(who).pw_uid if kind == "uid"
                          else grp.getgrnam(who).gr_gid))
    except (KeyError, ImportError):
        pass
    out, next_id = [], 0
    for name, start, count in _read(path):
        if name in names and count > 0:
            out.append((next_id, start, count))
            next_id += count
    if not out:
        raise InvalidArgument(f"userns remap: no subordinate {kind} range for {who!r} in "
                              f"{path} (add one, e.g. `usermod --add-sub{kind}s "
                              f"100000-165535 {who}`)")
    if next_id < MIN_IDS:
        raise InvalidArgument(f"userns remap: {who!r} has {next_id} subordinate {kind}s in "
                              f"{path}; a container needs at least {MIN_IDS}")
    return out


def _read(path: str) -> list[tuple[str, int, int]]:
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    return [e for e in (_parse(line) for line in lines) if e]


def _ensure_default_ranges() -> None:
    """"default" is hull-remap's ranges, added (as Docker adds dockremap's) past every
    range already given out when it has none, under a lock so two creates agree."""
    import fcntl
    for path in _sub_files():
        with open(path, "a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.seek(0)
            entries = [e for e in (_parse(line) for line in f.read().splitlines()) if e]
            if any(name == DEFAULT_USER for name, _, _ in entries):
                continue
            start = max([100000] + [start + count for _, start, count in entries])
            f.seek(0, os.SEEK_END)
            f.write(f"{DEFAULT_USER}:{start}:{MIN_IDS}\n")


def _parse(line: str) -> tuple[str, int, int] | None:
    parts = line.strip().split(":")
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        return parts[0], int(parts[1]), int(parts[2])
    return None
