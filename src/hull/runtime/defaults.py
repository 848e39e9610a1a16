"""The default bundle config (`hull-runtime spec`) and the features document (`features`)."""

from __future__ import annotations

from hull.runtime.state import OCI_VERSION

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
MASKED = ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
          "/proc/scsi", "/sys/devices/virtual/powercap"]
READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def default_mounts() -> list[dict[str, Any]]:
    return [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
    ]


def default_spec(rootless: bool = False, args: list[str] | None = None,
                 terminal: bool = True) -> dict[str, Any]:
    namespaces = [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "cgroup")]
    spec: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": terminal, "user": {"uid": 0, "gid": 0}, "args": args or ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "TERM=xterm"],
            "cwd": "/",
            "capabilities": {k: list(DEFAULT_CAPS)
                             for k in ("bounding", "effective", "permitted")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "hull",
        "mounts": default_mounts(),
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": namespaces,
            "maskedPaths": MASKED,
            "readonlyPaths": READONLY,
        },
    }
    if rootless:
        namespaces.append({"type": "user"})
        spec["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 1}]
        spec["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 1}]
        spec["linux"].pop("resources")
    return spec


def features() -> dict[str, Any]:
    from hull.cgroups.hierarchy import detect_mode
    from hull.linux import seccomp
    from hull.linux.capabilities import CAPABILITIES, last_cap
    from hull.runtime.mountopts import _EXTRA, _FLAGS, PROPAGATIONS
    from hull.runtime.spec import HOOK_KINDS, NAMESPACE_TYPES
    mode = detect_mode()
    return {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": list(HOOK_KINDS),
        "mountOptions": sorted({*_FLAGS, *PROPAGATIONS, *_EXTRA}),
        "linux": {
            "namespaces": list(NAMESPACE_TYPES),
            "capabilities": CAPABILITIES[: last_cap() + 1],
            "cgroup": {"v1": mode != "v2", "v2": mode in ("v2", "hybrid"), "systemd": False,
                       "systemdUser": False, "rdma": False},
            "seccomp": {
                "enabled": seccomp.available(),
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",
                            "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
                            "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
                "operators": sorted(seccomp.OPERATORS),
                "archs": sorted(seccomp.ARCHES),
                "knownFlags": sorted(seccomp._FLAG_ATTRS),
                "supportedFlags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                                   "SECCOMP_FILTER_FLAG_TSYNC"],
            },
            "apparmor": {"enabled": True},
            "selinux": {"enabled": True},
            "intelRdt": {"enabled": False},
            "mountExtensions": {"idmap": {"enabled": True}},
        },
        "annotations": {"org.opencontainers.runc.version": "hull-runtime"},
    }
