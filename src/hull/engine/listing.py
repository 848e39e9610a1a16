"""Which containers `ps` lists, and the summary of each, as Docker's daemon answers
GET /containers/json: the same filters, the same order (newest first), the same rules —
stopped containers only with -a, a status filter, -n/--last; before=/since= cut the list at
a container; name= is a regular expression over the name with and without its "/"."""

from __future__ import annotations

from hull.engine import humanize
from hull.engine.filters import FilterError, Filters
from hull.errors import NotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hull.engine.containers import ContainerService
    from hull.engine.store import Container

PS_FILTERS = ("ancestor", "before", "exited", "health", "id", "isolation", "is-task",
              "label", "name", "network", "since", "status", "volume", "publish", "expose")
STATES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")
HEALTH = ("starting", "healthy", "unhealthy", "none")


def state_of(c: Container) -> str:
    """One word, as Docker's State.StateString()."""
    st = c.state
    if st.get("Running"):
        return "paused" if st.get("Paused") else "running"
    if st.get("Restarting"):
        return "restarting"
    if st.get("Dead"):
        return "dead"
    return "created" if st.get("Status") == "created" else "exited"


def health_of(c: Container) -> str:
    return str((c.state.get("Health") or {}).get("Status") or "none")


def status_text(c: Container, now: float | None = None) -> str:
    """The STATUS column: "Up 5 minutes (healthy)", "Exited (0) 2 hours ago", "Created"."""
    st = c.state
    if st.get("Running"):
        if st.get("Paused"):
            return f"Up {_since(st.get('StartedAt', ''), now)} (Paused)"
        health = (st.get("Health") or {}).get("Status")
        up = f"Up {_since(st.get('StartedAt', ''), now)}"
        if health == "starting":
            return up + " (health: starting)"
        return up + (f" ({health})" if health else "")
    if st.get("Restarting"):
        return f"Restarting ({st.get('ExitCode', 0)}) {_since(st.get('FinishedAt', ''), now)}" \
            " ago"
    if st.get("Dead"):
        return "Dead"
    if not humanize.parse_time(st.get("StartedAt", "")):
        return "Created"
    return f"Exited ({st.get('ExitCode', 0)}) {_since(st.get('FinishedAt', ''), now)} ago"


def _since(stamp: str, now: float | None) -> str:
    return humanize.ago(humanize.parse_time(stamp), now).removesuffix(" ago")


def select(service: ContainerService, all_: bool = False, filters: Filters | None = None,
           limit: int = -1) -> list[Container]:
    """The containers `ps` shows, newest first."""
    filters = filters or Filters([], PS_FILTERS)
    for value in filters.get("status"):
        if value not in STATES:
            raise FilterError(f"Invalid filter 'status={value}'")
        all_ = True
    for value in filters.get("health"):
        if value not in HEALTH:
            raise FilterError(f"Unrecognised filter value for health: {value}")
    exited = []
    for value in filters.get("exited"):
        try:
            exited.append(int(value))
        except ValueError:
            raise FilterError(f'strconv.Atoi: parsing "{value}": invalid syntax') from None
    for key in ("is-task",):
        if filters.contains(key) and filters.boolean(key):
            return []   # hull runs no swarm tasks
    containers = service.containers(all_=True)
    containers.sort(key=lambda c: c.created, reverse=True)
    before = _cut(service, filters.get("before"))
    since = _cut(service, filters.get("since"))
    ancestors = _ancestors(service, filters.get("ancestor"))
    out: list[Container] = []
    for c in containers:
        if before is not None:
            if c.id == before:
                before = None
            continue
        if since is not None and c.id == since:
            break
        if not c.state.get("Running") and not all_ and limit <= 0:
            continue
        if not (filters.match("name", "/" + c.name) or filters.match("name", c.name)):
            continue
        if filters.get("id") and not any(c.id.startswith(v) for v in filters.get("id")):
            continue
        if not filters.labels("label", c.config.get("Labels")):
            continue
        if limit > 0 and len(out) == limit:
            break
        if exited and not (not c.state.get("Running") and c.state.get("ExitCode") in exited
                           and humanize.parse_time(c.state.get("StartedAt", ""))):
            continue
        if not filters.match("status", state_of(c)) or not filters.exact("health",
                                                                          health_of(c)):
            continue
        if filters.contains("volume") and not _uses_volume(c, filters.get("volume")):
            continue
        if ancestors is not None and c.image not in ancestors:
            continue
        if filters.contains("network") and \
                c.host_config.get("NetworkMode", "none") not in filters.get("network"):
            continue
        if filters.contains("publish") or filters.contains("expose"):
            continue   # no container publishes or exposes a port until networking lands
        out.append(c)
    return out


def _cut(service: ContainerService, values: list[str]) -> str | None:
    """before=/since=: the container named (by ID or name); a missing one is an error."""
    cid = None
    for value in values:
        try:
            cid = service.store.get(value).id
        except NotFound as e:
            raise FilterError(str(e)) from None
    return cid


def _ancestors(service: ContainerService, values: list[str]) -> set[str] | None:
    """ancestor=IMAGE: the image and every image built on it (by layer chain)."""
    if not values:
        return None
    store = service.images
    wanted = set()
    for value in values:
        try:
            wanted.add(store.resolve(value).id)
        except NotFound:
            continue
    out = set(wanted)
    chains = {i.id: store.diff_ids(i) for i in store.images()}
    for base in wanted:
        prefix = chains.get(base, [])
        out |= {i for i, ch in chains.items() if prefix and ch[:len(prefix)] == prefix}
    return out


def _uses_volume(c: Container, values: list[str]) -> bool:
    mounts = c.state.get("MountPoints") or []
    return any(m.get("Destination") == v or (m.get("Name") or m.get("Source")) == v
               for m in mounts for v in values)


def summary(service: ContainerService, c: Container, size: bool = False) -> dict[str, Any]:
    """One container as GET /containers/json returns it (types.Container)."""
    path = (c.config.get("Entrypoint") or []) + (c.config.get("Cmd") or [])
    args = [f"'{a}'" if " " in a else a for a in path[1:]]
    command = " ".join([path[0], *args]) if path else ""
    mounts = [{"Type": m.get("Type", "volume"), "Name": m.get("Name", ""),
               "Source": m.get("Source", ""), "Destination": m.get("Destination", ""),
               "Driver": m.get("Driver", ""), "Mode": m.get("Mode", ""),
               "RW": m.get("RW", True), "Propagation": m.get("Propagation", "")}
              for m in c.state.get("MountPoints") or [] if m.get("Type") != "tmpfs"]
    network = c.host_config.get("NetworkMode", "none")
    ns = c.state.get("NetworkSettings") or {}
    out: dict[str, Any] = {
        "Id": c.id, "Names": ["/" + c.name], "Image": c.image_name, "ImageID": c.image,
        "Command": command, "Created": int(humanize.parse_time(c.created)),
        "Ports": _ports(c.state, c.config),
        "Labels": c.config.get("Labels") or {}, "State": state_of(c),
        "Status": status_text(c), "HostConfig": {"NetworkMode": network},
        "NetworkSettings": {"Networks": ns.get("Networks") or {network: {}}},
        "Mounts": mounts}
    if size:
        out["SizeRw"], out["SizeRootFs"] = service.sizes(c)
    return out


def _ports(state: dict[str, Any], config: dict[str, Any]) -> list[dict[str, Any]]:
    """types.Port entries: each published port while running, and exposed ones bare."""
    out: list[dict[str, Any]] = []
    published = (state.get("NetworkSettings") or {}).get("Ports") or {} \
        if state.get("Running") else {}
    for key in sorted(set(config.get("ExposedPorts") or {}) | set(published),
                      key=lambda k: (k.partition("/")[2], int(k.partition("/")[0]))):
        number, _, proto = key.partition("/")
        bound = published.get(key) or []
        if not bound:
            out.append({"PrivatePort": int(number), "Type": proto})
        for b in bound:
            out.append({"IP": b["HostIp"], "PrivatePort": int(number),
                        "PublicPort": int(b["HostPort"]), "Type": proto})
    return out
