"""A container create request in Docker's own shape (POST /containers/create: Config with
HostConfig and NetworkingConfig) turned into the engine's RunOptions, every value checked
here with Docker's daemon messages, so a client of the API gets what dockerd would say.

The HostConfig checks are the ones `hull run`'s flags get (hostconfig.py parses each
field in its flag's form, so both front ends share one parser per field): a device, an
ulimit, a mount is written back into the flag's text and parsed by the same function.
"""

from __future__ import annotations

import os
import re

from hull.engine import hostconfig as hc
from hull.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hull.engine.create import RunOptions

MIN_MEMORY = 6 << 20


class Spec:
    """What the request asked for, read field by field with its type checked."""

    def __init__(self, body: dict[str, Any]) -> None:
        if not isinstance(body, dict):
            raise InvalidArgument("the container config must be a JSON object")
        self.config = body
        self.host = _obj(_field(body, "HostConfig"), "HostConfig")
        self.net = _obj(_field(body, "NetworkingConfig"), "NetworkingConfig")
        self.warnings: list[str] = []

    def text(self, key: str, where: dict[str, Any] | None = None) -> str:
        value = _field(self.config if where is None else where, key)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise InvalidArgument(f"json: cannot unmarshal {_kind(value)} into Go struct "
                                  f"field of type string ({key})")
        return value

    def number(self, key: str, where: dict[str, Any] | None = None) -> int:
        value = _field(self.config if where is None else where, key)
        if value is None:
            return 0
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidArgument(f"json: cannot unmarshal {_kind(value)} into Go struct "
                                  f"field of type int64 ({key})")
        return int(value)

    def flag(self, key: str, where: dict[str, Any] | None = None) -> bool:
        value = _field(self.config if where is None else where, key)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise InvalidArgument(f"json: cannot unmarshal {_kind(value)} into Go struct "
                                  f"field of type bool ({key})")
        return value

    def words(self, key: str, where: dict[str, Any] | None = None) -> list[str] | None:
        """A list of strings (Docker's StrSlice also takes one string); None if absent."""
        value = _field(self.config if where is None else where, key)
        if value is None:
            return None
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidArgument(f"json: cannot unmarshal {_kind(value)} into Go struct "
                                  f"field of type []string ({key})")
        return list(value)

    def obj(self, key: str, where: dict[str, Any] | None = None) -> dict[str, Any]:
        return _obj(_field(self.config if where is None else where, key), key)

    def items(self, key: str, where: dict[str, Any] | None = None) -> list[Any]:
        value = _field(self.config if where is None else where, key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise InvalidArgument(f"json: cannot unmarshal {_kind(value)} into Go struct "
                                  f"field of type list ({key})")
        return value


def _field(where: dict[str, Any], key: str) -> Any:
    """where[key], the name matched as Go's encoding/json matches it for dockerd: exactly,
    else regardless of case (docker-py sends CPURealtimePeriod for CpuRealtimePeriod)."""
    if key in where:
        return where[key]
    folded = key.lower()
    return next((v for k, v in where.items() if k.lower() == folded), None)


def _obj(value: Any, key: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"json: cannot unmarshal {_kind(value)} into Go struct field "
                              f"of type object ({key})")
    return value


def _kind(value: Any) -> str:
    return {bool: "bool", int: "number", float: "number", str: "string", list: "array",
            dict: "object"}.get(type(value), "null")


# ---- the rules every front end's create is held to (the CLI's flags and the API's JSON) --

def check_memory(memory: int | None, swap: int | None, reservation: int | None) -> None:
    """dockerd's memory rules, with its words: at least 6 MB; swap (memory+swap, -1
    unlimited) only with a memory limit and not below it; a reservation not above it."""
    if memory is not None and 0 < memory < MIN_MEMORY:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    if swap is not None and swap not in (0, -1):
        if not memory:
            raise InvalidArgument("You should always set the Memory limit when using "
                                  "Memoryswap limit")
        if swap < memory:
            raise InvalidArgument("Minimum memoryswap limit should be larger than memory "
                                  "limit, see usage")
    if reservation and memory and reservation > memory:
        raise InvalidArgument("Minimum memory limit can not be less than memory reservation "
                              "limit, see usage")


def check_hostname(hostname: str | None, uts: str | None) -> None:
    if hostname and uts == "host":
        raise InvalidArgument("Conflicting options: hostname and the UTS mode")


def check_mount_points(destinations: list[str]) -> None:
    dupe = next((d for i, d in enumerate(destinations) if d in destinations[:i]), None)
    if dupe:
        raise InvalidArgument(f"Duplicate mount point: {dupe}")


def run_options(body: dict[str, Any], name: str | None, cgroup_parent: str
                ) -> tuple[RunOptions, list[str]]:
    """The request as RunOptions for create(), and the warnings Docker would give."""
    from hull.engine.create import RunOptions
    s = Spec(body)
    host = s.host
    image = s.text("Image")
    if not image:
        raise InvalidArgument("no image specified")
    memory = s.number("Memory", host) or None
    check_memory(memory, None, None)
    network = s.text("NetworkMode", host) or "default"
    if network == "default":
        network = "bridge"
    stop_signal = s.text("StopSignal") or None
    if stop_signal:
        from hull.runtime.signals import parse_signal
        parse_signal(stop_signal)
    check_hostname(s.text("Hostname"), s.text("UTSMode", host))
    nano = s.number("NanoCpus", host) or None
    if nano and (s.number("CpuPeriod", host) or s.number("CpuQuota", host)):
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be "
                              "set")
    restart = _restart(s)
    if s.flag("AutoRemove", host) and restart["Name"] not in ("", "no"):
        raise InvalidArgument("can't create 'AutoRemove' container with restart policy")
    entrypoint = s.words("Entrypoint")
    opts = RunOptions(
        image=image, command=s.words("Cmd") or [], name=name or None,
        env=s.words("Env") or [], workdir=s.text("WorkingDir") or None,
        user=s.text("User") or None, hostname=s.text("Hostname") or None,
        domainname=s.text("Domainname"), entrypoint=entrypoint,
        memory=memory, nano_cpus=nano, pids_limit=s.number("PidsLimit", host) or None,
        cpuset_cpus=s.text("CpusetCpus", host) or None, network=network,
        read_only=s.flag("ReadonlyRootfs", host), auto_remove=s.flag("AutoRemove", host),
        interactive=s.flag("OpenStdin"), tty=s.flag("Tty"),
        cgroup_parent=s.text("CgroupParent", host) or cgroup_parent,
        labels={str(k): str(v) for k, v in s.obj("Labels").items()},
        stop_signal=stop_signal,
        stop_timeout=s.number("StopTimeout") if s.config.get("StopTimeout") is not None
        else None,
        healthcheck=s.obj("Healthcheck") or None,
        host=_host_config(s, network, memory))
    return opts, s.warnings


def _restart(s: Spec) -> dict[str, Any]:
    policy = s.obj("RestartPolicy", s.host)
    name = s.text("Name", policy)
    if name not in ("", "no", "always", "on-failure", "unless-stopped"):
        raise InvalidArgument(f"invalid restart policy: unknown policy '{name}'; use one of "
                              "'no', 'always', 'on-failure', or 'unless-stopped'")
    retries = s.number("MaximumRetryCount", policy)
    if retries and name != "on-failure":
        raise InvalidArgument("invalid restart policy: maximum retry count can only be used "
                              "with 'on-failure'")
    if retries < 0:
        raise InvalidArgument("invalid restart policy: maximum retry count cannot be "
                              "negative")
    return {"Name": name or "no", "MaximumRetryCount": retries}


def _host_config(s: Spec, network: str, memory: int | None) -> dict[str, Any]:
    """HostConfig beyond the basic fields, in the form create() takes (as runflags.py
    makes it from the command line's flags)."""
    host = s.host
    swap = s.number("MemorySwap", host) or None
    reservation = s.number("MemoryReservation", host) or None
    check_memory(memory, swap, reservation)
    ipc = hc.namespace_mode(s.text("IpcMode", host) or None, "IpcMode",
                            ("private", "shareable", "host", "none", "container"))
    pid = hc.namespace_mode(s.text("PidMode", host) or None, "PidMode", ("host", "container"))
    uts = hc.namespace_mode(s.text("UTSMode", host) or None, "UTSMode", ("host",))
    if s.flag("OomKillDisable", host) and not memory:
        s.warnings.append("OOM killer is disabled for the container, but no memory limit is "
                          "set, this can result in the system running out of resources.")
    sysctls = dict(hc.sysctl(f"{k}={v}", network, ipc, uts)
                   for k, v in s.obj("Sysctls", host).items())
    binds = s.words("Binds", host) or []
    mounts = [hc.volume(b) for b in binds] + [hc.mount(_mount_text(m))
                                               for m in s.items("Mounts", host)]
    tmpfs = dict(hc.tmpfs(f"{k}:{v}" if v else str(k)) for k, v in s.obj("Tmpfs", host).items())
    dests = [m["Destination"] for m in mounts] + list(tmpfs)
    check_mount_points(dests)
    for dest in s.obj("Volumes"):   # Config.Volumes: anonymous volumes where nothing else is
        if str(dest) not in dests:  # (compose lists its named volumes' targets here too)
            mounts.append(hc.volume(str(dest)))
    log = s.obj("LogConfig", host)
    out: dict[str, Any] = {
        "Binds": binds, "MountPoints": mounts, "Tmpfs": tmpfs,
        "Devices": [hc.device(_device_text(d)) for d in s.items("Devices", host)],
        "Ulimits": [hc.ulimit(_ulimit_text(u)) for u in s.items("Ulimits", host)],
        "Sysctls": sysctls,
        "CapAdd": hc.capabilities(s.words("CapAdd", host), "CapAdd"),
        "CapDrop": hc.capabilities(s.words("CapDrop", host), "CapDrop"),
        "SecurityOpt": hc.security_opts(s.words("SecurityOpt", host)),
        "Privileged": s.flag("Privileged", host), "Init": bool(_field(host, "Init")),
        "GroupAdd": s.words("GroupAdd", host) or [],
        "OomScoreAdj": hc.integer(s.number("OomScoreAdj", host), "OomScoreAdj", -1000, 1000) or 0,
        "IpcMode": ipc or "private", "PidMode": pid, "UTSMode": uts,
        "MemorySwap": swap or 0, "MemoryReservation": reservation or 0,
        "MemorySwappiness": hc.integer(_field(host, "MemorySwappiness"), "MemorySwappiness", -1,
                                       100),
        "OomKillDisable": s.flag("OomKillDisable", host),
        "CpuPeriod": hc.integer(s.number("CpuPeriod", host) or None, "CpuPeriod", 1000,
                                1000000) or 0,
        "CpuQuota": hc.integer(s.number("CpuQuota", host) or None, "CpuQuota", -1) or 0,
        "CpuShares": hc.integer(s.number("CpuShares", host), "CpuShares", 0) or 0,
        "CpusetMems": s.text("CpusetMems", host),
        # the realtime scheduler's budget (cgroup v1 cpu.rt_*; the parent must grant it)
        "CpuRealtimePeriod": hc.integer(s.number("CpuRealtimePeriod", host), "CpuRealtimePeriod",
                                        0) or 0,
        "CpuRealtimeRuntime": hc.integer(s.number("CpuRealtimeRuntime", host),
                                         "CpuRealtimeRuntime", -1) or 0,
        "BlkioWeight": hc.integer(s.number("BlkioWeight", host) or None, "BlkioWeight", 10,
                                  1000) or 0,
        "BlkioWeightDevice": [hc.weight_device(f"{d.get('Path')}:{d.get('Weight')}")
                              for d in s.items("BlkioWeightDevice", host)],
        **{key: [hc.throttle(f"{d.get('Path')}:{d.get('Rate')}", key, key.endswith("IOps"))
                 for d in s.items(key, host)]
           for key in ("BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps",
                       "BlkioDeviceWriteIOps")},
        "ShmSize": s.number("ShmSize", host) or 67108864,
        "RestartPolicy": _restart(s),
        "LogConfig": _log_config(s, log),
    }
    volume_driver = s.text("VolumeDriver", host)
    if volume_driver not in ("", "local"):
        # hull's volumes are local ones: only a container that needs none may name another
        # driver (dockerd too records it at create and looks for the plugin per volume)
        if any(m.get("Type") == "volume" for m in mounts):
            from hull.errors import NotFound
            raise NotFound(f'error looking up volume plugin {volume_driver}: plugin '
                           f'"{volume_driver}" not found')
        out["VolumeDriver"] = volume_driver
    rules = s.words("DeviceCgroupRules", host) or []
    bad = next((r for r in rules if not _DEVICE_RULE.match(r)), None)
    if bad is not None:
        raise InvalidArgument(f"invalid device cgroup format '{bad}'")
    if rules:
        out["DeviceCgroupRules"] = rules
    cgroupns = s.text("CgroupnsMode", host)
    if cgroupns not in ("", "private", "host"):
        raise InvalidArgument(f"invalid cgroup namespace mode: {cgroupns}")
    if cgroupns == "host":
        raise InvalidArgument("cgroup namespace mode 'host' is not supported: hull gives "
                              "every container a cgroup namespace of its own")
    out["CgroupnsMode"] = "private"   # what every hull container has (ocispec.py)
    isolation = s.text("Isolation", host)
    if isolation not in ("", "default"):
        raise InvalidArgument(f"Invalid isolation: {isolation!r} - linux only supports "
                              "'default'")
    if isolation:   # Linux has the one isolation; recorded as asked, as dockerd does
        out["Isolation"] = isolation
    if s.words("VolumesFrom", host):
        out["VolumesFrom"] = s.words("VolumesFrom", host)
    storage = s.obj("StorageOpt", host)
    if storage:
        from hull.engine import rwlimit
        out["StorageOpt"] = rwlimit.parse([f"{k}={v}" for k, v in storage.items()])
    out.update(_network_config(s, network))
    out["ProcView"], out["ProcViewSysinfo"] = _proc_view(s)
    _userns(s, out, network)
    return out


# the log drivers dockerd has built in: a name outside them is unknown to Docker too, and
# gets its words; one of them that hull lacks gets hull's own ("hull has json-file, none")
_DOCKER_LOG_DRIVERS = ("awslogs", "etwlogs", "fluentd", "gcplogs", "gelf", "journald",
                       "json-file", "local", "logentries", "none", "splunk", "syslog")


# Docker's --device-cgroup-rule: type, major:minor (either "*"), access
_DEVICE_RULE = re.compile(r"^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$")


def _log_config(s: Spec, log: dict[str, Any]) -> dict[str, Any]:
    from hull.engine.logfile import parse_opts
    driver = s.text("Type", log)
    if driver and driver not in _DOCKER_LOG_DRIVERS:
        raise InvalidArgument(f"logger: no log driver named '{driver}' is registered")
    return parse_opts(s.text("Type", log) or None,
                      [f"{k}={v}" for k, v in s.obj("Config", log).items()])


def _mount_text(m: Any) -> str:
    """An API Mount object as the --mount text hostconfig.mount() parses."""
    if not isinstance(m, dict):
        raise InvalidArgument("invalid mount config: expected an object")
    fields = [f"type={m.get('Type') or 'volume'}"]
    if m.get("Source"):
        fields.append(f"source={m['Source']}")
    fields.append(f"target={m.get('Target') or ''}")
    if m.get("ReadOnly"):
        fields.append("readonly")
    bind = m.get("BindOptions") or {}
    if bind.get("Propagation"):
        fields.append(f"bind-propagation={bind['Propagation']}")
    tmpfs = m.get("TmpfsOptions") or {}
    if tmpfs.get("SizeBytes"):
        fields.append(f"tmpfs-size={tmpfs['SizeBytes']}")
    if tmpfs.get("Mode"):
        fields.append(f"tmpfs-mode={int(tmpfs['Mode']):o}")
    if m.get("Type") == "bind" and m.get("Source") and not os.path.exists(m["Source"]) \
            and bind.get("CreateMountpoint"):
        os.makedirs(m["Source"], exist_ok=True)
    return ",".join(fields)


def _device_text(d: Any) -> str:
    if not isinstance(d, dict):
        raise InvalidArgument("invalid device mapping: expected an object")
    host = d.get("PathOnHost") or ""
    return f"{host}:{d.get('PathInContainer') or host}:{d.get('CgroupPermissions') or 'rwm'}"


def _ulimit_text(u: Any) -> str:
    if not isinstance(u, dict):
        raise InvalidArgument("invalid ulimit: expected an object")
    return f"{u.get('Name')}={u.get('Soft')}:{u.get('Hard')}"


def _network_config(s: Spec, mode: str) -> dict[str, Any]:
    """PortBindings, ExposedPorts, DNS and the endpoint the container joins its network
    with (NetworkingConfig's entry for that network: aliases, address, MAC)."""
    from hull.network import ports
    host = s.host
    bindings = []
    for key, entries in s.obj("PortBindings", host).items():
        if not isinstance(entries, list):
            raise InvalidArgument(f"invalid PortBindings for {key}: expected a list")
        for entry in entries or [{}]:
            ip = str((entry or {}).get("HostIp") or "")
            hport = str((entry or {}).get("HostPort") or "")
            ip = f"[{ip}]" if ":" in ip else ip
            bindings += ports.parse(f"{ip}:{hport}:{key}" if ip else
                                    f"{hport}:{key}" if hport else key)
    exposed = [k for key in s.obj("ExposedPorts") for k in ports.parse_expose(key)]
    endpoints = s.obj("EndpointsConfig", s.net)
    endpoint = _obj(endpoints.get(mode) or (next(iter(endpoints.values()))
                                            if len(endpoints) == 1 else {}), "EndpointsConfig")
    ipam = _obj(_field(endpoint, "IPAMConfig"), "IPAMConfig")
    if mode == "host" and (bindings or s.flag("PublishAllPorts", host)):
        s.warnings.append("Published ports are discarded when using host network mode")
        bindings = []
    if mode.startswith("container:") and (s.words("Dns", host) or bindings or
                                          s.words("ExtraHosts", host)):
        raise InvalidArgument("conflicting options: port publishing, DNS or extra hosts "
                              "and the container type network mode")
    return {"NetworkMode": mode, "PortBindings": ports.to_host_config(bindings),
            "PublishAllPorts": s.flag("PublishAllPorts", host),
            "Dns": s.words("Dns", host) or [], "DnsSearch": s.words("DnsSearch", host) or [],
            "DnsOptions": s.words("DnsOptions", host) or [],
            "ExtraHosts": s.words("ExtraHosts", host) or None,
            "hull.Endpoint": {"Aliases": s.words("Aliases", endpoint) or [],
                              "IPv4Address": s.text("IPv4Address", ipam),
                              "IPv6Address": s.text("IPv6Address", ipam),
                              "MacAddress": s.text("MacAddress", endpoint) or
                              s.text("MacAddress"),
                              "DriverOpts": {str(k): str(v) for k, v in
                                             s.obj("DriverOpts", endpoint).items()},
                              "LinkLocalIPs": _addresses(s.words("LinkLocalIPs", ipam) or [],
                                                         "LinkLocalIPs")},
            "hull.ExposedPorts": exposed + [b.key for b in bindings]}


def _addresses(values: list[str], what: str) -> list[str]:
    import ipaddress
    for value in values:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise InvalidArgument(f"invalid {what} address: {value!r}") from None
    return values


def _proc_view(s: Spec) -> tuple[str, bool]:
    """The container's /proc view: the engine's configured mode (container unless set),
    falling back to the host's where this kernel cannot serve it (said in Warnings)."""
    from hull.engine.settings import setting
    from hull.procfs.support import fuse_missing, user_notification
    mode = setting("proc-view", "HULL_PROC_VIEW") or "container"
    if mode == "container":
        why = fuse_missing()
        if why:
            s.warnings.append(f"{why}: the container sees the host's /proc")
            return "host", False
        return mode, user_notification()
    return mode, False


def _userns(s: Spec, out: dict[str, Any], network: str) -> None:
    from hull.engine import userns
    mode = s.text("UsernsMode", s.host)
    if mode not in ("", "host"):
        raise InvalidArgument(f"invalid UsernsMode {mode!r}: hull takes host or the "
                              "configured remapping")
    idmap = userns.choose("host" if mode == "host" else None)
    if mode == "host":
        out["UsernsMode"] = "host"
    if idmap is not None:
        userns.check_compatible(out, network)
        out["IdMappings"] = idmap.to_dict()
