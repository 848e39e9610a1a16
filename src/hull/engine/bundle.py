"""A container's bundle for the runtime: its rootfs mounted, the user resolved from the
image's own /etc/passwd and /etc/group (read as text inside the rootfs, never executed),
the working directory made, volumes, tmpfs and /proc view mounts, joined namespaces, the
seccomp profile — all written as one OCI config.json."""

from __future__ import annotations

import os

from hull.engine import ocispec, userns
from hull.engine import rootfs as rootfs_mod
from hull.errors import HullError, InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hull.engine.core import Engine
    from hull.engine.store import Container
    from hull.engine.userns import IdMap


def own_network(host: dict[str, Any]) -> bool:
    """Whether the container gets a network namespace of its own (not the host's, not
    another container's)."""
    from hull.engine.networking import own_network as joins_network
    mode = str(host.get("NetworkMode") or "none")
    return mode == "none" or joins_network(mode)


def _make_workdir(rootfs: str, workdir: str, idmap: IdMap | None) -> None:
    """-w /new/dir: created (owned by the container's root) when the image lacks it, as
    Docker does at every start; resolved inside the rootfs, links never leaving it."""
    if workdir in ("", "/"):
        return
    from hull.linux import fs
    root_fd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            fd = fs.open_in_root(root_fd, workdir, os.O_PATH | os.O_DIRECTORY)
        except FileNotFoundError:
            fd = fs.mkdir_all_in_root(root_fd, workdir)
            if idmap is not None:
                os.chown(fs.fd_path(fd), *idmap.root)
        except NotADirectoryError:
            raise InvalidArgument(f"Cannot mkdir: {workdir} is not a directory") from None
        os.close(fd)
    finally:
        os.close(root_fd)


def resolve_user(rootfs: str, user: str, group_add: list[str]) -> tuple[int, int, list[int]]:
    """user[:group] by number or by name in the image's /etc/passwd and /etc/group (read as
    text inside the rootfs, never executed); supplementary groups are the primary group,
    the named user's memberships in /etc/group and --group-add, as Docker has them."""
    name, _, group = user.partition(":")

    def table(path: str) -> list[list[str]]:
        from hull.linux import fs
        root_fd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fd = fs.open_in_root(root_fd, path, os.O_RDONLY)
        except OSError:
            return []
        finally:
            os.close(root_fd)
        with os.fdopen(fd) as f:
            return [line.strip().split(":") for line in f if line.count(":") >= 2]
    groups_table: list[list[str]] | None = None

    def gid_of(g: str) -> int:
        nonlocal groups_table
        if g.isdigit():
            return int(g)
        if groups_table is None:
            groups_table = table("/etc/group")
        entry = next((e for e in groups_table if e[0] == g), None)
        if entry is None:
            raise InvalidArgument(f"unable to find group {g}: no matching entries in group "
                                  "file")
        return int(entry[2])
    uid = gid = 0
    login = name or "root"
    if name.isdigit():
        uid = int(name)
        passwd = table("/etc/passwd")
        entry = next((e for e in passwd if len(e) > 3 and e[2] == name), None)
        gid, login = (int(entry[3]), entry[0]) if entry else (0, "")
    elif name:
        entry = next((e for e in table("/etc/passwd") if e[0] == name), None)
        if entry is None or len(entry) < 4:
            raise InvalidArgument(f"unable to find user {name}: no matching entries in passwd "
                                  "file")
        uid, gid = int(entry[2]), int(entry[3])
    if group:
        gid = gid_of(group)
    extra: list[int] = []
    if login:
        if groups_table is None:
            groups_table = table("/etc/group")
        extra = [int(e[2]) for e in groups_table
                 if len(e) > 3 and login in e[3].split(",") and e[2].isdigit()]
    for g in group_add:
        extra.append(gid_of(g))
    # the primary group leads the supplementary list, as in a Docker container's `id`
    extra = [gid, *extra]
    return uid, gid, [g for i, g in enumerate(extra) if g not in extra[:i]]


def prepare(service: Engine, c: Container, proc_view: str = "",
            etc_mounts: list[dict[str, Any]] | None = None) -> str:
    """Mount the rootfs and write config.json for the runtime; proc_view: the directory
    of the container's /proc files, bound over the kernel's; etc_mounts: the network's
    /etc/hosts, /etc/hostname and /etc/resolv.conf."""
    bundle = service.store.dir(c.id)
    target = os.path.join(bundle, "rootfs")
    from hull.engine import rwlimit
    rwlimit.mount(bundle, service._rw_dir(c.id))   # after a reboot
    rootfs_mod.mount(service.images.snapshotter, c.id, target,
                     userns.of(c.host_config), service.remapped_copies())
    try:
        hc = c.host_config
        _make_workdir(target, c.config.get("WorkingDir") or "", userns.of(hc))
        uid, gid, groups = resolve_user(target, c.config.get("User") or "",
                                         hc.get("GroupAdd") or [])
        seccomp = None
        if not hc.get("Privileged"):
            from hull.engine import seccomp_profile
            seccomp = seccomp_profile.for_container(hc.get("SecurityOpt") or [],
                                                    ocispec.capabilities(hc))
        sysinfo_socket = service.sysinfo_socket(c) if proc_view else ""
        if seccomp is not None and sysinfo_socket:
            from hull.procfs.server import with_sysinfo
            seccomp = with_sysinfo(seccomp, sysinfo_socket)
        if hc.get("IpcMode") == "shareable":
            _mount_shm(service, c)
        spec = ocispec.build(
            config=c.config, host=hc, shm=service.shm_dir(c.id), rootfs=target, uid=uid,
            gid=gid, groups=groups,
            cgroups_path=f"{hc.get('CgroupParent') or '/hull'}/{c.id}",
            mounts=(etc_mounts or []) + _oci_mounts(service, c, target) +
            _proc_mounts(proc_view),
            ns_paths=_joined_namespaces(service, c), seccomp=seccomp)
        from hull import fastjson
        with open(os.path.join(bundle, "config.json"), "w") as f:
            f.write(fastjson.dumps(spec))
    except BaseException:
        rootfs_mod.umount(target)
        raise
    return bundle


def _oci_mounts(service: Engine, c: Container, rootfs: str) -> list[dict[str, Any]]:
    from hull.engine.volumes import copy_up
    out = []
    for m in c.state.get("MountPoints") or []:
        if m["Type"] == "tmpfs":
            out.append(ocispec.tmpfs_mount(m["Destination"], m.get("TmpfsOptions") or []))
            continue
        if m["Type"] == "volume":
            copy_up(rootfs, m["Destination"], m["Source"])
            idmap = userns.of(c.host_config)
            if idmap is not None and os.stat(m["Source"]).st_uid == 0 and \
                    not os.listdir(m["Source"]):
                os.chown(m["Source"], *idmap.root)   # as Docker gives it to remapped root
        options = ["rbind", "rw" if m["RW"] else "ro"]
        if m.get("Propagation"):
            options.append(m["Propagation"])
        out.append({"destination": m["Destination"], "type": "bind",
                    "source": m["Source"], "options": options})
    for dest, opts in (c.host_config.get("Tmpfs") or {}).items():
        out.append(ocispec.tmpfs_mount(dest, [o for o in opts.split(",") if o]))
    return out


def _proc_mounts(proc_view: str) -> list[dict[str, Any]]:
    if not proc_view:
        return []
    from hull.procfs.server import oci_mounts
    return oci_mounts(proc_view)


def _mount_shm(service: Engine, c: Container) -> None:
    """--ipc shareable: /dev/shm is a tmpfs on the host side (as Docker makes it), so
    that containers joining this one's IPC namespace can bind the same one."""
    from hull.linux.mount import MS_NODEV, MS_NOEXEC, MS_NOSUID, mount
    path = service.shm_dir(c.id)
    os.makedirs(path, exist_ok=True)
    if not os.path.ismount(path):
        mount("shm", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              f"mode=1777,size={c.host_config.get('ShmSize') or 67108864}")


def _joined_namespaces(service: Engine, c: Container) -> dict[str, str]:
    """--ipc/--pid container:X: the namespaces of X's init, which must be running."""
    out = {}
    for ns, mode in (("ipc", c.host_config.get("IpcMode")),
                     ("pid", c.host_config.get("PidMode")),
                     ("net", c.host_config.get("NetworkMode"))):
        if mode and mode.startswith("container:"):
            other = service.store.get(mode.split(":", 1)[1])
            pid = int(other.state.get("Pid") or 0)
            if not other.state.get("Running") or not pid or \
                    not os.path.exists(f"/proc/{pid}/ns/{ns}"):
                raise HullError(f"cannot join the {ns} namespace of {other.name}: container "
                                "is not running")
            if ns == "net":   # --network container:X: X's namespace and its /etc files
                out["network"] = f"/proc/{pid}/ns/net"
                continue
            if ns == "ipc" and other.host_config.get("IpcMode") != "shareable":
                raise HullError(f"joining IPC of container {other.name}: non-shareable IPC "
                                "(hint: use --ipc shareable for the donor container)")
            out[ns] = f"/proc/{other.state['Pid']}/ns/{ns}"
            if ns == "ipc":
                out["shm"] = service.shm_dir(other.id)
    return out
