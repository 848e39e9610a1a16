"""Idmapped mounts (mount options `idmap`/`ridmap`, mount uidMappings/gidMappings).

The runtime makes them, in the host's user namespace where it holds CAP_SYS_ADMIN over the
filesystem: clone the source tree (open_tree), attach a user namespace's mapping to it
(mount_setattr MOUNT_ATTR_IDMAP) and hand the detached mount to the container's init, which
moves it into place (move_mount). The mapping comes from the mount's own uidMappings and
gidMappings (in a throwaway user namespace), or else from the container's user namespace.
"""

from __future__ import annotations

import os

from hull.errors import InvalidArgument, Unavailable
from hull.linux import mount as m
from hull.linux import namespaces as ns
from hull.runtime.spec import IdMapping, Mount, Spec

AT_FDCWD = -100


def wanted(mnt: Mount) -> bool:
    return bool({"idmap", "ridmap"} & set(mnt.options)) or bool(mnt.uid_mappings)


def userns_with(uid_maps: list[IdMapping], gid_maps: list[IdMapping]) -> int:
    """An fd of a new user namespace carrying these mappings (its creator exits at once)."""
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(ready_r)
            os.close(done_w)
            ns.unshare(ns.CLONE_NEWUSER)
            os.write(ready_w, b"1")
            os.read(done_r, 1)   # stay until the maps are written and the fd is open
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(done_r)
    try:
        if os.read(ready_r, 1) != b"1":
            raise Unavailable("idmapped mount: could not create a user namespace")
        for name, maps in (("uid_map", uid_maps), ("gid_map", gid_maps)):
            with open(f"/proc/{pid}/{name}", "w") as f:
                f.write("".join(mp.line() for mp in maps))
        return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(ready_r)
        os.close(done_w)
        os.waitpid(pid, 0)


def make_mounts(spec: Spec, container_userns: str | None) -> dict[int, int]:
    """Detached idmapped mounts for the config's mounts, by index: {index: mount fd}."""
    out: dict[int, int] = {}
    try:
        for i, mnt in enumerate(spec.mounts):
            if not wanted(mnt):
                continue
            where = f"mounts[{i}]"
            if mnt.uid_mappings or mnt.gid_mappings:
                if not (mnt.uid_mappings and mnt.gid_mappings):
                    raise InvalidArgument(f"{where}: idmapped mounts need both uidMappings "
                                          "and gidMappings")
                userns = userns_with(mnt.uid_mappings, mnt.gid_mappings)
            elif container_userns is not None:
                userns = os.open(container_userns, os.O_RDONLY | os.O_CLOEXEC)
            else:
                raise InvalidArgument(f"{where}: an idmapped mount needs uidMappings and "
                                      "gidMappings, or a user namespace for the container")
            try:
                recursive = "ridmap" in mnt.options or "rbind" in mnt.options
                flags = m.OPEN_TREE_CLONE | m.OPEN_TREE_CLOEXEC
                try:
                    tree = m.open_tree(AT_FDCWD, mnt.source,
                                       flags | (m.AT_RECURSIVE if recursive else 0))
                except OSError as e:
                    raise InvalidArgument(f"{where}: cannot clone {mnt.source}: "
                                          f"{e.strerror}") from None
                try:
                    m.mount_setattr(tree, m.MountAttr(m.MOUNT_ATTR_IDMAP, 0, 0, userns),
                                    recursive="ridmap" in mnt.options)
                except OSError as e:
                    os.close(tree)
                    raise Unavailable(f"{where}: the kernel cannot idmap {mnt.source} "
                                      f"({e.strerror}; the filesystem may not support "
                                      "idmapped mounts)") from None
                out[i] = tree
            finally:
                os.close(userns)
    except BaseException:
        for fd in out.values():
            os.close(fd)
        raise
    return out
