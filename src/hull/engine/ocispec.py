"""The OCI bundle config the engine hands to the runtime, from the container's Docker-shaped
Config and HostConfig. Defaults are Docker's: its capability set, masked and read-only
paths, the standard mounts and device rules; each flag then changes exactly what
`docker run` changes (moby's daemon/oci_linux.go is the reference for the mapping)."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DOCKER_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
               "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
               "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]
MASKED = ["/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
          "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
          "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"]
READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
INIT_PATH = "/sbin/docker-init"   # where Docker puts its init; scripts look for it there
_INIT_BINARIES = ("/usr/bin/tini-static", "/usr/bin/catatonit", "/usr/libexec/podman/catatonit")


def masked_paths() -> list[str]:
    """MASKED plus each CPU's thermal_throttle directory (Docker expands the same glob on
    the host: a container must not read or reset the host's throttling counters)."""
    cpus = "/sys/devices/system/cpu"
    try:
        names = os.listdir(cpus)
    except OSError:
        names = []
    return MASKED + sorted(f"{cpus}/{n}/thermal_throttle" for n in names
                           if n.startswith("cpu") and n[3:].isdigit()
                           and os.path.isdir(f"{cpus}/{n}/thermal_throttle"))


def init_binary() -> str:
    """A statically linked init from the host (--init): Debian's tini-static (Docker's own
    docker-init is tini) or catatonit (Podman's); HULL_INIT_PATH overrides."""
    from hull.errors import FailedPrecondition
    for path in filter(None, (os.environ.get("HULL_INIT_PATH"), *_INIT_BINARIES)):
        if os.access(path, os.X_OK):
            return path
    raise FailedPrecondition("--init: no init binary found (install Debian's tini or "
                             "catatonit, or set HULL_INIT_PATH)")


def capabilities(host: dict[str, Any]) -> list[str]:
    from hull.linux.capabilities import bounding_set
    everything = bounding_set()
    if host.get("Privileged"):
        return list(everything)
    add, drop = host.get("CapAdd") or [], host.get("CapDrop") or []
    caps = [] if "ALL" in drop else list(DOCKER_CAPS)
    if "ALL" in add:
        caps = list(everything)
    caps += [c for c in add if c != "ALL" and c not in caps]
    return [c for c in caps if c not in drop or c in add]


def resources(host: dict[str, Any], device_rules: list[dict[str, Any]]) -> dict[str, Any]:
    from hull.engine.hostconfig import device_numbers
    out: dict[str, Any] = {"devices": device_rules}
    memory = {k: host[h] for h, k in (("Memory", "limit"), ("MemoryReservation", "reservation"),
                                      ("MemorySwap", "swap")) if host.get(h)}
    if host.get("MemorySwappiness") is not None and host["MemorySwappiness"] >= 0:
        memory["swappiness"] = host["MemorySwappiness"]
    if host.get("OomKillDisable"):
        memory["disableOOMKiller"] = True
    cpu: dict[str, Any] = {}
    if host.get("NanoCpus"):
        cpu.update(quota=host["NanoCpus"] * 100000 // 10**9, period=100000)
    cpu.update({k: host[h] for h, k in (("CpuQuota", "quota"), ("CpuPeriod", "period"),
                                        ("CpuShares", "shares"), ("CpusetCpus", "cpus"),
                                        ("CpusetMems", "mems"),
                                        ("CpuRealtimePeriod", "realtimePeriod"),
                                        ("CpuRealtimeRuntime", "realtimeRuntime"))
                if host.get(h)})
    block: dict[str, Any] = {}
    if host.get("BlkioWeight"):
        block["weight"] = host["BlkioWeight"]
    if host.get("BlkioWeightDevice"):
        block["weightDevice"] = [dict(zip(("major", "minor"), device_numbers(d["Path"]),
                                          strict=True), weight=d["Weight"])
                                 for d in host["BlkioWeightDevice"]]
    for field, key in (("BlkioDeviceReadBps", "throttleReadBpsDevice"),
                       ("BlkioDeviceWriteBps", "throttleWriteBpsDevice"),
                       ("BlkioDeviceReadIOps", "throttleReadIOPSDevice"),
                       ("BlkioDeviceWriteIOps", "throttleWriteIOPSDevice")):
        if host.get(field):
            block[key] = [dict(zip(("major", "minor"), device_numbers(d["Path"]), strict=True),
                               rate=d["Rate"]) for d in host[field]]
    for key, value in (("memory", memory), ("cpu", cpu), ("blockIO", block)):
        if value:
            out[key] = value
    if host.get("PidsLimit"):
        out["pids"] = {"limit": host["PidsLimit"]}
    return out


def devices(host: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """linux.devices to create and the cgroup device rules: deny all, then Docker's standard
    character devices (made by the runtime), then --device ones; --privileged: every host
    device, all allowed."""
    import stat
    if host.get("Privileged"):
        made = []
        for name in sorted(os.listdir("/dev")):
            path = os.path.join("/dev", name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
                if name in ("console", "tty", "ptmx") or name.startswith(("pts", "tty")):
                    continue   # the container gets its own terminal devices
                made.append(_device(path, path, info))
        return made, [{"allow": True, "access": "rwm"}]
    rules: list[dict[str, Any]] = [{"allow": False, "access": "rwm"}]
    made = []
    for d in host.get("Devices") or []:
        info = os.stat(d["PathOnHost"])
        entry = _device(d["PathOnHost"], d["PathInContainer"], info)
        made.append(entry)
        rules.append({"allow": True, "type": entry["type"], "major": entry["major"],
                      "minor": entry["minor"], "access": d["CgroupPermissions"]})
    for text in host.get("DeviceCgroupRules") or []:   # "c 7:* rwm" (checked at create)
        kind, numbers, access = text.split()
        major, _, minor = numbers.partition(":")
        rules.append({"allow": True, "type": kind,
                      "major": None if major == "*" else int(major),
                      "minor": None if minor == "*" else int(minor), "access": access})
    return made, rules


def _device(host_path: str, path: str, info: os.stat_result) -> dict[str, Any]:
    import stat
    return {"path": path, "type": "b" if stat.S_ISBLK(info.st_mode) else "c",
            "major": os.major(info.st_rdev), "minor": os.minor(info.st_rdev),
            "fileMode": stat.S_IMODE(info.st_mode), "uid": info.st_uid, "gid": info.st_gid}


def tmpfs_mount(dest: str, opts: list[str]) -> dict[str, Any]:
    """--tmpfs and --mount type=tmpfs: Docker's nosuid,nodev,noexec unless opts say else."""
    return {"destination": dest, "type": "tmpfs", "source": "tmpfs",
            "options": ["nosuid", "nodev", "noexec", *opts]}


DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def process_env(config: dict[str, Any], tty: bool, extra: list[str] | None = None
                ) -> list[str]:
    """A process's environment as Docker's daemon gives it: PATH, HOSTNAME and, with a
    terminal, TERM=xterm, each replaced by the container's own Env and then by extra
    (exec -e); a bare NAME removes it. HOME is the runtime's to add, from the user's
    passwd entry, as runc does."""
    env = {"PATH": DEFAULT_PATH, "HOSTNAME": str(config.get("Hostname", ""))}
    if tty:
        env["TERM"] = "xterm"
    for item in [*(config.get("Env") or []), *(extra or [])]:
        key, eq, value = item.partition("=")
        if eq:
            env[key] = value
        else:
            env.pop(key, None)
    return [f"{k}={v}" for k, v in env.items()]


def build(*, config: dict[str, Any], host: dict[str, Any], cgroups_path: str, rootfs: str,
          shm: str, uid: int, gid: int,
          groups: list[int], mounts: list[dict[str, Any]], ns_paths: dict[str, str],
          seccomp: dict[str, Any] | None) -> dict[str, Any]:
    """ns_paths: namespaces to join (type → /proc/PID/ns/…) for --ipc/--pid container:X,
    and "shm": the joined container's host-side /dev/shm. shm: this container's own, used
    when it is --ipc shareable."""
    from hull.engine.securityopt import security_opt
    privileged = bool(host.get("Privileged"))
    caps = capabilities(host)
    args = (config.get("Entrypoint") or []) + (config.get("Cmd") or [])
    if host.get("Init"):
        args = [INIT_PATH, "--", *args]
        mounts = [{"destination": INIT_PATH, "type": "bind", "source": init_binary(),
                   "options": ["bind", "ro", "nosuid", "nodev"]}, *mounts]
    modes = {"network": host.get("NetworkMode", "none"), "ipc": host.get("IpcMode") or "",
             "pid": host.get("PidMode") or "", "uts": host.get("UTSMode") or ""}
    namespaces: list[dict[str, Any]] = [{"type": "mount"}, {"type": "cgroup"}]
    shm_dir = shm
    for kind, ns in (("pid", "pid"), ("ipc", "ipc"), ("uts", "uts"), ("network", "network")):
        if modes[kind] == "host":
            continue
        entry = {"type": ns}
        if ns in ns_paths:
            entry["path"] = ns_paths[ns]
        namespaces.append(entry)
    opts = host.get("SecurityOpt") or []
    nnp = security_opt(opts, "no-new-privileges")
    unmasked = privileged or security_opt(opts, "systempaths") == "unconfined"
    made, rules = devices(host)
    shm_mount: dict[str, Any] = {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                           "options": ["nosuid", "noexec", "nodev", "mode=1777",
                                       f"size={host.get('ShmSize') or 67108864}"]}
    if modes["ipc"] == "host":
        shm_mount = {"destination": "/dev/shm", "type": "bind", "source": "/dev/shm",
               "options": ["rbind", "nosuid", "noexec", "nodev"]}
    elif "shm" in ns_paths or modes["ipc"] == "shareable":
        shm_mount = {"destination": "/dev/shm", "type": "bind",
                     "source": ns_paths.get("shm", shm_dir),
               "options": ["rbind", "nosuid", "noexec", "nodev"]}
    standard = [
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "rw" if privileged else "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["rw" if privileged else "ro", "nosuid", "noexec", "nodev"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        *([shm_mount] if modes["ipc"] != "none" else []),
    ]
    standard = [m for m in standard if m["destination"] not in {x["destination"]
                                                                  for x in mounts}]
    if modes["network"] == "host":
        standard = [m for m in standard if m["type"] != "sysfs"] + [
            {"destination": "/sys", "type": "bind", "source": "/sys",
             "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}]
    process: dict[str, Any] = {
        "terminal": bool(config.get("Tty")),
        "user": {"uid": uid, "gid": gid, "additionalGids": groups},
        "args": args, "env": process_env(config, bool(config.get("Tty"))),
        "cwd": config.get("WorkingDir") or "/",
        "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
        "noNewPrivileges": nnp is not None and nnp != "false",
        "rlimits": [{"type": f"RLIMIT_{u['Name'].upper()}", "soft": u["Soft"],
                     "hard": u["Hard"]} for u in host.get("Ulimits") or []],
    }
    if host.get("OomScoreAdj"):
        process["oomScoreAdj"] = host["OomScoreAdj"]
    linux: dict[str, Any] = {
        "namespaces": namespaces,
        "cgroupsPath": cgroups_path,
        "resources": resources(host, rules),
        "devices": made,
        "sysctl": host.get("Sysctls") or {},
    }
    if host.get("IdMappings"):
        from hull.engine import userns
        idmap = userns.of(host)
        assert idmap is not None
        namespaces.insert(0, {"type": "user"})
        linux.update(idmap.oci())
    if not unmasked:
        linux.update(maskedPaths=masked_paths(), readonlyPaths=READONLY)
    if seccomp is not None and not privileged:
        linux["seccomp"] = seccomp
    spec: dict[str, Any] = {
        "ociVersion": "1.2.0", "process": process,
        "root": {"path": rootfs, "readonly": bool(host.get("ReadonlyRootfs"))},
        "mounts": standard + mounts, "linux": linux,
    }
    if modes["uts"] != "host":
        spec["hostname"] = config["Hostname"]
        if config.get("Domainname"):
            spec["domainname"] = config["Domainname"]
    return spec
