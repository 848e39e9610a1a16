"""Where the host mounts its cgroup hierarchies, and which mode that makes (v1, hybrid, v2)."""

from __future__ import annotations

import os
import time

from hull.errors import InvalidArgument
from hull.record import record

CGROUP_ROOT = "/sys/fs/cgroup"


@record
class Hierarchy:
    """One mounted cgroup hierarchy: its controllers (or 'name=X'), mount point and root."""
    controllers: tuple[str, ...]
    mountpoint: str
    root: str            # the cgroup path the mount shows at its top (not "/" inside a cgroupns)
    version: int


def detect_mode(root: str = CGROUP_ROOT) -> str:
    """'v2' when root is cgroup2, 'hybrid' when v1 sits beside a v2 'unified' mount, else 'v1'."""
    from hull.linux.fs import CGROUP2_SUPER_MAGIC, fs_magic
    if fs_magic(root) == CGROUP2_SUPER_MAGIC:
        return "v2"
    try:
        if fs_magic(f"{root}/unified") == CGROUP2_SUPER_MAGIC:
            return "hybrid"
    except OSError:
        pass
    return "v1"


def swap_accounting(root: str = CGROUP_ROOT) -> bool:
    """Whether memory+swap can be limited here (Docker's SwapLimit): v1's memory.memsw.*
    files, or on v2 a memory.swap.max in the cgroups below the root."""
    if detect_mode(root) != "v2":
        return os.path.exists(f"{root}/memory/memory.memsw.limit_in_bytes")
    try:
        with os.scandir(root) as entries:
            return any(e.is_dir() and os.path.exists(f"{e.path}/memory.swap.max")
                       for e in entries)
    except OSError:
        return False


def mounted_hierarchies(mountinfo: str = "/proc/self/mountinfo") -> list[Hierarchy]:
    out = []
    with open(mountinfo) as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            fstype, options = fields[sep + 1], fields[sep + 3]
            if fstype == "cgroup":
                ctrls = tuple(o for o in options.split(",") if o not in _MOUNT_OPTIONS)
                out.append(Hierarchy(ctrls, fields[4], fields[3], 1))
            elif fstype == "cgroup2":
                out.append(Hierarchy((), fields[4], fields[3], 2))
    return out


_MOUNT_OPTIONS = {"rw", "ro", "nosuid", "nodev", "noexec", "relatime", "noatime",
                  "xattr", "clone_children", "noprefix", "cpuset_v2_mode", "nsdelegate",
                  "memory_recursiveprot", "memory_localevents", "favordynmods"}


def own_cgroups(path: str = "/proc/self/cgroup") -> dict[str, str]:
    """The calling process's cgroup per controller key ('' is the v2 entry)."""
    out: dict[str, str] = {}
    with open(path) as f:
        for line in f:
            _, ctrls, cgpath = line.rstrip("\n").split(":", 2)
            for ctrl in ctrls.split(",") if ctrls else [""]:
                out[ctrl] = cgpath
    return out


def resolve(cgroups_path: str, container_id: str, own: str, systemd: bool = False) -> str:
    """The container's cgroup path below a hierarchy's root (OCI linux.cgroupsPath rules).

    Absolute paths are taken from the hierarchy root; relative ones from the runtime's own
    cgroup (runc does the same); empty means a directory named after the container there.
    """
    if systemd:
        raise InvalidArgument("--systemd-cgroup: the systemd cgroup driver is not supported "
                              "by hull; use the cgroupfs driver (a /path cgroupsPath)")
    path = cgroups_path or container_id
    if ".." in path.split("/"):
        raise InvalidArgument(f"linux.cgroupsPath: {cgroups_path!r} must not contain '..'")
    if not path.startswith("/"):
        path = own.rstrip("/") + "/" + path
    return "/" + path.strip("/")


def missing_dirs(path: str) -> list[str]:
    """The directories from the first existing ancestor down to path, top-down: what a
    create must make."""
    missing = []
    p = path
    while not os.path.exists(p):
        missing.append(p)
        p = os.path.dirname(p)
    return missing[::-1]


def destroy_dirs(leaves: list[str], created: list[str]) -> None:
    """Remove the container's leaf cgroups, then the parents it created if nothing else
    lives there now. Leaves are retried while the kernel still lists exiting tasks."""
    for leaf in leaves:
        # sub-cgroups made inside the container's (exec --cgroup, nested managers) go first
        for top, dirs, _ in sorted(os.walk(leaf, topdown=False), key=lambda t: -len(t[0])):
            for d in dirs:
                _rmdir_retrying(os.path.join(top, d))
        _rmdir_retrying(leaf)
    for parent in sorted(set(created) - set(leaves), key=len, reverse=True):
        try:
            os.rmdir(parent)
        except OSError:
            pass   # another container's cgroup lives there too


def _rmdir_retrying(d: str) -> None:
    delay = 0.001
    for _ in range(15):
        try:
            os.rmdir(d)
            return
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno != 16:   # EBUSY: tasks still exiting
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
    os.rmdir(d)
