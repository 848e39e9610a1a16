"""`create`: what a user's flags and an image's config make into a container — its name
(claimed atomically), Config and HostConfig as Docker shapes them, its volumes (made or
taken), the init and read-write snapshots of its rootfs, a size-limited rw layer. Nothing
is left behind when any step fails."""

from __future__ import annotations

import os
import posixpath
import secrets

from hull.engine import locks, userns
from hull.engine import rootfs as rootfs_mod
from hull.engine.humanize import now
from hull.engine.store import Container
from hull.errors import FailedPrecondition, HullError, InvalidArgument, NotFound
from hull.record import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hull.engine.containers import ContainerService


_NAMES = ("brave", "calm", "eager", "gentle", "happy", "jolly", "keen", "lucid", "merry",
          "nimble", "proud", "quiet", "sharp", "swift", "vivid", "witty")


_SURNAMES = ("curie", "darwin", "euler", "gauss", "hopper", "lovelace", "noether", "pascal",
             "ritchie", "thompson", "torvalds", "turing")


@record
class RunOptions:
    image: str
    command: list[str] = field(default_factory=list)
    name: str | None = None
    env: list[str] = field(default_factory=list)
    workdir: str | None = None
    user: str | None = None
    hostname: str | None = None
    entrypoint: str | list[str] | None = None   # the flag's one word, or the API's list
    memory: int | None = None
    nano_cpus: int | None = None
    pids_limit: int | None = None
    cpuset_cpus: str | None = None
    network: str = "bridge"
    read_only: bool = False
    auto_remove: bool = False
    interactive: bool = False
    tty: bool = False
    cgroup_parent: str = "/hull"
    labels: dict[str, str] = field(default_factory=dict)
    stop_signal: str | None = None
    stop_timeout: int | None = None
    domainname: str = ""
    health_flags: dict[str, Any] = field(default_factory=dict)   # --health-*, as given
    healthcheck: dict[str, Any] | None = None   # the API's Config.Healthcheck (replaces)
    # further HostConfig fields, already checked by hostconfig.py (Binds/Mounts/Tmpfs as
    # MountPoints in "MountPoints"; Devices, Ulimits, Sysctls, CapAdd, SecurityOpt, …)
    host: dict[str, Any] = field(default_factory=dict)


_NAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


_NAME_REST = _NAME_START | frozenset("_.-")


def check_name(name: str) -> None:
    """Docker's rule for container names, [a-zA-Z0-9][a-zA-Z0-9_.-]+ in ASCII — except that
    hull also takes a one-character name (Docker wants two): nothing Docker accepts is
    refused, and `--name c` in a quick test works."""
    if not name or name[0] not in _NAME_START or not set(name) <= _NAME_REST:
        raise FailedPrecondition(f"Invalid container name ({name}), only "
                                 "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")


def _merge_env(image_env: list[str], extra: list[str]) -> list[str]:
    """Config.Env as Docker's daemon merges it: the -e variables first, in their order,
    then the image's that they do not name; a bare NAME (the client found no such
    variable in its own environment) keeps the image's NAME out, and stays in Config.Env
    as dockerd keeps it (the process's environment leaves it out: ocispec.process_env)."""
    out: dict[str, str | None] = {}
    for item in extra:
        key, eq, value = item.partition("=")
        out[key] = value if eq else None
    for item in image_env:
        key, eq, value = item.partition("=")
        if eq and key not in out:
            out[key] = value
    if "PATH" not in out:
        out["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    return [k if v is None else f"{k}={v}" for k, v in out.items()]


def create(service: ContainerService, opts: RunOptions) -> Container:
    image = service.images.resolve(opts.image)
    cfg = (service.images.config(image).get("config") or {})
    host = dict(opts.host)
    endpoint = host.pop("hull.Endpoint", None) or {}
    exposed = host.pop("hull.ExposedPorts", None) or []
    network_settings = _network_settings(service, opts.network, endpoint)
    cid = secrets.token_hex(32)
    name = opts.name or f"{secrets.choice(_NAMES)}_{secrets.choice(_SURNAMES)}"
    check_name(name.removeprefix("/"))
    entrypoint, cmd = _entrypoint_and_cmd(opts, cfg)
    args = list(entrypoint) + list(cmd)
    if not args:
        raise InvalidArgument("no command specified")
    env = _merge_env(cfg.get("Env") or [], opts.env)
    hostname = opts.hostname or cid[:12]
    if opts.workdir:
        if not opts.workdir.startswith("/"):
            raise InvalidArgument(f"the working directory '{opts.workdir}' is invalid, "
                                  "it needs to be an absolute path")
        opts.workdir = posixpath.normpath(opts.workdir)
    config: dict[str, Any] = {"Hostname": hostname, "User": opts.user or
              cfg.get("User", ""), "Env": env, "Cmd": cmd, "Entrypoint": entrypoint or None,
              "WorkingDir": opts.workdir or cfg.get("WorkingDir", ""), "Image": opts.image,
              "Labels": {**(cfg.get("Labels") or {}), **opts.labels},
              "OpenStdin": opts.interactive, "Tty": opts.tty,
              "StopSignal": opts.stop_signal or cfg.get("StopSignal") or "SIGTERM",
              **({"StopTimeout": opts.stop_timeout} if opts.stop_timeout is not None
                 else {})}
    if endpoint.get("MacAddress"):   # where Docker's API records --mac-address too
        config["MacAddress"] = endpoint["MacAddress"]
    if exposed or cfg.get("ExposedPorts"):
        config["ExposedPorts"] = {**(cfg.get("ExposedPorts") or {}),
                                  **{key: {} for key in exposed}}
    mount_points = host.pop("MountPoints", [])
    mount_points = mount_points + _volumes_from(service, host.get("VolumesFrom") or [],
                                                     mount_points)
    for raw in cfg.get("Volumes") or {}:   # the image's VOLUME entries
        # cleaned as Docker does: "/../../etc" names the container's /etc (and is
        # resolved inside the root anyway when mounted)
        dest = posixpath.normpath(posixpath.join("/", raw))
        dest = "/" + dest.lstrip("/")
        if not any(m["Destination"] == dest for m in mount_points):
            mount_points.append({"Type": "volume", "Name": "", "Source": "",
                                 "Destination": dest, "Driver": "local", "Mode": "",
                                 "RW": True, "Propagation": ""})
    for ref in (host.get("IpcMode"), host.get("PidMode"), host.get("NetworkMode")):
        if ref and ref.startswith("container:"):
            try:   # docker checks at create; a missing one is an engine error (125)
                service.store.get(ref.split(":", 1)[1])
            except NotFound as e:
                raise HullError(str(e)) from None
    if opts.memory and not host.get("MemorySwap"):
        # Docker's default: as much swap as memory (memory+swap = twice the memory),
        # or no swap limit where the kernel cannot account swap
        from hull.cgroups.hierarchy import swap_accounting
        host["MemorySwap"] = opts.memory * 2 if swap_accounting() else -1
    host_config = {"AutoRemove": opts.auto_remove, "Memory": opts.memory or 0,
                   "NanoCpus": opts.nano_cpus or 0, "PidsLimit": opts.pids_limit,
                   "CpusetCpus": opts.cpuset_cpus or "", "NetworkMode": opts.network,
                   "CgroupParent": opts.cgroup_parent,
                   "ReadonlyRootfs": opts.read_only, **host}
    if opts.domainname:
        config["Domainname"] = opts.domainname
    check = opts.healthcheck or cfg.get("Healthcheck")
    if opts.health_flags:
        from hull.engine import health
        check = health.from_flags(check, **opts.health_flags)
    if check:
        config["Healthcheck"] = check
    container = Container(cid, name, image.id, opts.image, now(), config, host_config,
                          {"Status": "created", "Running": False, "Paused": False,
                           "Restarting": False, "OOMKilled": False, "Dead": False,
                           "Pid": 0, "ExitCode": 0, "Error": "",
                           "StartedAt": "0001-01-01T00:00:00Z",
                           "FinishedAt": "0001-01-01T00:00:00Z",
                           "NetworkSettings": network_settings})
    _claim_name(service, container, generated=not opts.name)
    made: list[str] = []
    try:
        os.makedirs(service.store.dir(cid), mode=0o711)
        locks.create(service.store.dir(cid))
        container.state["MountPoints"] = _volumes(service, mount_points, made)
        service.store.update_state(cid, MountPoints=container.state["MountPoints"])
        rootfs_mod.prepare(service.images.snapshotter, cid, service.images.top_snapshot(image),
                           hostname)
        _limit_rw_layer(service, container)
        idmap = userns.of(host_config)
        if idmap is not None:   # the rw layer's root belongs to the container's root
            os.chown(service.images.snapshotter.upper_dir(cid), *idmap.root)
    except BaseException:
        service._discard(container)
        for volume in made:
            service.volumes.remove(volume, [])
        raise
    service.event(container, "create")
    return container


def _entrypoint_and_cmd(opts: RunOptions, cfg: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Docker's merge with the image: an entrypoint given drops the image's Cmd; an
    empty one ("" from the flag, [] or [""] from the API) only resets the image's
    entrypoint; none given keeps it, and the image's Cmd when no command is given."""
    given = opts.entrypoint
    if isinstance(given, str):
        given = [given]
    if given is None or all(a == "" for a in given):
        entrypoint = list(cfg.get("Entrypoint") or []) if given is None else []
        return entrypoint, opts.command or list(cfg.get("Cmd") or [])
    return list(given), opts.command


def _network_settings(service: ContainerService, mode: str, endpoint: dict[str, Any]
                      ) -> dict[str, Any]:
    """The networks the container will join; a missing one is an engine error (125)."""
    from hull.engine import networking
    try:
        out = networking.settings_at_create(
            service, mode, list(endpoint.get("Aliases") or []),
            endpoint.get("IPv4Address") or "", endpoint.get("IPv6Address") or "",
            endpoint.get("MacAddress") or "")
    except NotFound as e:
        raise HullError(str(e)) from None
    if networking.own_network(mode):
        for conf in out["Networks"].values():
            if endpoint.get("DriverOpts"):   # kept as given: the bridge reads none
                conf["DriverOpts"] = dict(endpoint["DriverOpts"])
            if endpoint.get("LinkLocalIPs"):   # added to the interface at each start
                conf["IPAMConfig"] = {**(conf.get("IPAMConfig") or {"IPv4Address": "",
                                                                    "IPv6Address": ""}),
                                      "LinkLocalIPs": list(endpoint["LinkLocalIPs"])}
    return out


def _volumes_from(service: ContainerService, sources: list[str], own: list[dict[str, Any]]
                  ) -> list[dict[str, Any]]:
    """--volumes-from X[:ro|rw]: X's volumes and bind mounts at the same places (its
    mode unless one is given); this container's own mounts win a clash."""
    out: list[dict[str, Any]] = []
    for spec in sources:
        name, _, mode = spec.partition(":")
        if mode not in ("", "ro", "rw"):
            raise InvalidArgument(f"--volumes-from {spec}: mode must be ro or rw")
        try:
            donor = service.store.get(name)
        except NotFound as e:
            raise HullError(str(e)) from None   # docker: an engine error at create
        for m in donor.state.get("MountPoints") or []:
            if m["Type"] == "tmpfs" or any(o["Destination"] == m["Destination"]
                                           for o in own + out):
                continue
            out.append({**m, "RW": m["RW"] if not mode else mode == "rw"})
    return out


def _claim_name(service: ContainerService, container: Container, generated: bool) -> None:
    """Insert the record: the name is claimed here, atomically. A generated name that is
    taken is drawn again, with a number added after a few tries (as docker does)."""
    from hull.errors import AlreadyExists
    for attempt in range(64):
        try:
            service.store.insert(container)
            return
        except AlreadyExists:
            if not generated or attempt == 63:
                raise
        name = f"{secrets.choice(_NAMES)}_{secrets.choice(_SURNAMES)}"
        container.name = name + (str(secrets.randbelow(10 * attempt)) if attempt > 5
                                 else "")


def _volumes(service: ContainerService, mount_points: list[dict[str, Any]], made: list[str]
             ) -> list[dict[str, Any]]:
    """Give each volume mount point its volume, creating the missing ones (their names
    go to `made`, so a failed create takes them back)."""
    out = []
    for m in mount_points:
        m = dict(m)
        if m["Type"] == "volume":
            meta, new = service.volumes.create(m["Name"], anonymous=not m["Name"])
            if new:
                made.append(meta["Name"])
            m.update(Name=meta["Name"], Source=meta["Mountpoint"])
        out.append(m)
    return out


def _limit_rw_layer(service: ContainerService, c: Container) -> None:
    size = (c.host_config.get("StorageOpt") or {}).get("size")
    if not size:
        return
    from hull.engine import rwlimit
    from hull.engine.hostconfig import size as parse_size
    if getattr(service.images.snapshotter, "whiteouts", "") != "overlay":
        raise InvalidArgument("--storage-opt size needs the overlay snapshotter")
    rwlimit.create(service.store.dir(c.id), service._rw_dir(c.id),
                   parse_size(size, "--storage-opt size") or 0)
