"""What the engine is (`version`) and holds (`info`), in Docker's shapes: the CLI prints
them, the API answers GET /version and GET /info with them."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


# ---- version ------------------------------------------------------------------------------

def version_info() -> dict[str, Any]:
    import platform

    from hull import __version__
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    runtime = {"Name": "hull-runtime", "Version": __version__,
               "Details": {"GitCommit": ""}}
    return {"Client": {"Platform": {"Name": "hull"}, "Version": __version__,
                       "PythonVersion": platform.python_version(), "Os": "linux",
                       "Arch": arch, "Context": "default"},
            "Server": {"Platform": {"Name": "hull"}, "Version": __version__,
                       "Os": "linux", "Arch": arch, "KernelVersion": platform.release(),
                       "Components": [{"Name": "Engine", "Version": __version__,
                                       "Details": {"Os": "linux", "Arch": arch,
                                                   "KernelVersion": platform.release(),
                                                   "Experimental": "false"}}, runtime]}}


# ---- info ---------------------------------------------------------------------------------

def engine_info(root: str) -> dict[str, Any]:
    """Docker's `info` object for this engine (GET /info)."""
    import platform
    import socket

    from hull import __version__
    from hull.cgroups.hierarchy import detect_mode
    from hull.engine.containers import ContainerService
    service = ContainerService(root)
    containers = service.containers(all_=True)
    running = sum(1 for c in containers if c.state.get("Running") and
                  not c.state.get("Paused"))
    paused = sum(1 for c in containers if c.state.get("Paused"))
    snapshotter = service.images.snapshotter
    mode = detect_mode()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "ID": _engine_id(root), "Containers": len(containers),
        "ContainersRunning": running, "ContainersPaused": paused,
        "ContainersStopped": len(containers) - running - paused,
        "Images": len(service.images.images()),
        "Driver": "overlay2" if snapshotter.whiteouts == "overlay" else "vfs",
        "DriverStatus": [["Backing Filesystem", _filesystem(root)]],
        "Plugins": {"Volume": ["local"], "Network": ["host", "null"],
                    "Authorization": None, "Log": ["json-file", "none"]},
        "MemoryLimit": True, "SwapLimit": True, "CpuCfsPeriod": True, "CpuCfsQuota": True,
        "CPUShares": True, "CPUSet": True, "PidsLimit": True, "OomKillDisable": mode != "v2",
        "Debug": False, "LoggingDriver": "json-file", "CgroupDriver": "cgroupfs",
        "CgroupVersion": "2" if mode == "v2" else "1",
        "KernelVersion": platform.release(), "OperatingSystem": _os_name(),
        "OSVersion": _os_release().get("VERSION_ID", ""), "OSType": "linux",
        "Architecture": platform.machine(), "NCPU": os.cpu_count() or 1, "MemTotal": mem,
        "DockerRootDir": os.path.abspath(root), "Name": socket.gethostname(), "Labels": [],
        "ExperimentalBuild": False, "ServerVersion": __version__,
        "Runtimes": {"hull-runtime": {"path": "hull-runtime"}},
        "DefaultRuntime": "hull-runtime", "Swarm": {"LocalNodeState": "inactive"},
        "LiveRestoreEnabled": True, "InitBinary": "docker-init",
        "SecurityOptions": ["name=seccomp,profile=builtin", "name=cgroupns"]
        if mode == "v2" else ["name=seccomp,profile=builtin"],
        "Warnings": None,
    }


def _engine_id(root: str) -> str:
    """A random ID made once per root, as dockerd's engine ID."""
    import secrets
    path = os.path.join(root, "engine-id")
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        ident = secrets.token_hex(16)
        os.makedirs(root, exist_ok=True)
        with open(path + ".tmp", "w") as f:
            f.write(ident)
        os.replace(path + ".tmp", path)
        return ident


def _filesystem(root: str) -> str:
    target, best = os.path.realpath(root), ("", "unknown")
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 2 and (target + "/").startswith(fields[1].rstrip("/") + "/") \
                    and len(fields[1]) >= len(best[0]):
                best = (fields[1], fields[2])
    return {"ext4": "extfs", "ext3": "extfs", "ext2": "extfs"}.get(best[1], best[1])


def _os_release() -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        with open("/etc/os-release") as f:
            for line in f:
                key, eq, value = line.strip().partition("=")
                if eq:
                    out[key] = value.strip('"')
    except OSError:
        pass
    return out


def _os_name() -> str:
    return _os_release().get("PRETTY_NAME", "Linux")
