"""`inspect` of a container: hull's record in the shape of Docker's ContainerJSON, every key
Docker has (so `-f '{{.HostConfig.RestartPolicy.Name}}'` or `{{.NetworkSettings.IPAddress}}`
work on any container), hull's own extras (ProcView, IdMappings…) kept in HostConfig."""

from __future__ import annotations

import os

from hull.errors import NotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hull.engine.containers import ContainerService

_HOST_DEFAULTS: dict[str, Any] = {
    "Binds": None, "ContainerIDFile": "", "LogConfig": {"Type": "json-file", "Config": {}},
    "NetworkMode": "none", "PortBindings": {},
    "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}, "AutoRemove": False,
    "VolumeDriver": "", "VolumesFrom": None, "ConsoleSize": [0, 0], "CapAdd": None,
    "CapDrop": None, "CgroupnsMode": "host", "Dns": [], "DnsOptions": [], "DnsSearch": [],
    "ExtraHosts": None, "GroupAdd": None, "IpcMode": "private", "Cgroup": "", "Links": None,
    "OomScoreAdj": 0, "PidMode": "", "Privileged": False, "PublishAllPorts": False,
    "ReadonlyRootfs": False, "SecurityOpt": None, "UTSMode": "", "UsernsMode": "",
    "ShmSize": 67108864, "Runtime": "hull-runtime", "Isolation": "", "CpuShares": 0,
    "Memory": 0, "NanoCpus": 0, "CgroupParent": "", "BlkioWeight": 0,
    "BlkioWeightDevice": [], "BlkioDeviceReadBps": [], "BlkioDeviceWriteBps": [],
    "BlkioDeviceReadIOps": [], "BlkioDeviceWriteIOps": [], "CpuPeriod": 0, "CpuQuota": 0,
    "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "",
    "Devices": [], "DeviceCgroupRules": None, "DeviceRequests": None, "MemoryReservation": 0,
    "MemorySwap": 0, "MemorySwappiness": None, "OomKillDisable": False, "PidsLimit": None,
    "Ulimits": [], "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0,
    "IOMaximumBandwidth": 0, "MaskedPaths": None, "ReadonlyPaths": None,
}
_CONFIG_DEFAULTS: dict[str, Any] = {
    "Hostname": "", "Domainname": "", "User": "", "AttachStdin": False,
    "AttachStdout": False, "AttachStderr": False, "Tty": False, "OpenStdin": False,
    "StdinOnce": False, "Env": None, "Cmd": None, "Image": "", "Volumes": None,
    "WorkingDir": "", "Entrypoint": None, "OnBuild": None, "Labels": {},
}
_ENDPOINT: dict[str, Any] = {
    "IPAMConfig": None, "Links": None, "Aliases": None, "NetworkID": "", "EndpointID": "",
    "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
    "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "MacAddress": "", "DriverOpts": None,
}


def container_json(service: ContainerService, name: str, size: bool = False
                   ) -> dict[str, Any]:
    """GET /containers/{id}/json; size adds SizeRw and SizeRootFs (inspect -s)."""
    c = service.store.get(name)
    sn = service.images.snapshotter
    try:
        upper = sn.upper_dir(c.id)
        lower = next((o[len("lowerdir="):] for m in sn.mounts(c.id) for o in m.options
                      if o.startswith("lowerdir=")), "")
    except NotFound:
        upper = lower = ""
    # Docker's State; the bookkeeping (and a record's old MonitorStart) stays
    state = {k: v for k, v in c.state.items()
             if k not in ("MountPoints", "RestartCount", "MonitorPid", "MonitorStart",
                          "StoppedByUser", "NetworkSettings")}
    mounts = [{k: v for k, v in m.items() if k != "TmpfsOptions"}
              for m in c.state.get("MountPoints") or [] if m.get("Type") != "tmpfs"]
    cdir = service.store.dir(c.id)
    network = c.host_config.get("NetworkMode") or "none"
    host = {**_HOST_DEFAULTS, **{k: v for k, v in c.host_config.items()
                                 if k not in ("MountPoints",)}}
    if not host.get("Binds"):
        host["Binds"] = None
    path = (c.config.get("Entrypoint") or []) + (c.config.get("Cmd") or [])
    out: dict[str, Any] = {
        "Id": c.id, "Created": c.created, "Path": path[0] if path else "",
        "Args": path[1:], "State": state, "Image": c.image,
        "ResolvConfPath": os.path.join(cdir, "resolv.conf"),
        "HostnamePath": os.path.join(cdir, "hostname"),
        "HostsPath": os.path.join(cdir, "hosts"),
        "LogPath": service.log_path(c.id), "Name": f"/{c.name}",
        "RestartCount": int(c.state.get("RestartCount") or 0), "Driver": "overlay2",
        "Platform": "linux", "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "",
        "ExecIDs": None, "HostConfig": host,
        "GraphDriver": {"Data": {
            "LowerDir": lower, "MergedDir": os.path.join(cdir, "rootfs"), "UpperDir": upper,
            "WorkDir": os.path.join(os.path.dirname(upper), "work") if upper else ""},
            "Name": "overlay2"},
        "Mounts": mounts, "Config": {**_CONFIG_DEFAULTS, **c.config},
        "NetworkSettings": network_settings(c.state, c.config, network),
    }
    if size:
        out["SizeRw"], out["SizeRootFs"] = service.sizes(c)
    return out


def network_settings(state: dict[str, Any], config: dict[str, Any], mode: str
                     ) -> dict[str, Any]:
    """Docker's NetworkSettings: a network per joined one; the top-level address fields
    (what `{{.NetworkSettings.IPAddress}}` scripts read) from the default bridge, as
    Docker fills them; Ports: published ones while running, exposed ones as null."""
    ns = state.get("NetworkSettings") or {}
    nets = {name: {**_ENDPOINT, **conf}
            for name, conf in (ns.get("Networks") or {mode: {}}).items()}
    ports: dict[str, Any] = {key: None for key in config.get("ExposedPorts") or {}} \
        if state.get("Running") else {}
    ports.update(ns.get("Ports") or {} if state.get("Running") else {})
    bridge = nets.get("bridge") or {}
    return {
        "Bridge": "", "SandboxID": "", "HairpinMode": False, "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0, "Ports": ports,
        "SandboxKey": ns.get("SandboxKey", "") if state.get("Running") else "",
        "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None,
        **{key: bridge.get(key, _ENDPOINT.get(key, "")) for key in (
            "EndpointID", "Gateway", "GlobalIPv6Address", "GlobalIPv6PrefixLen", "IPAddress",
            "IPPrefixLen", "IPv6Gateway", "MacAddress")},
        "Networks": nets}
