"""Image layers for a container whose ids are remapped (engine/userns.py).

The layers on disk belong to host root (the ids the image has). Under a user namespace the
container's root is, say, host uid 100000, and would see every image file as nobody's. Two
ways to make the layers its own, as the issue asks:

* idmapped mounts (Linux >= 5.12 for the mount, >= 5.19 for overlayfs lower layers on
  them): each lower layer directory is cloned with open_tree and the mapping attached with
  mount_setattr(MOUNT_ATTR_IDMAP); overlay is then mounted on those clones. Nothing is
  copied and the layers stay shared with every other container, remapped or not.
* where the kernel or the layer's filesystem refuses that: a copy of the layer with every
  owner shifted into the range, made once per (layer, mapping) under
  <root>/remapped/<mapping key>/<layer> and reused by every container with that mapping.

HULL_IDMAP=copy forces the copies (to test them on a kernel that has idmapped mounts).
The read-write layer is the container's own: its root directory is given to the mapped
root, and what the container writes there is owned by host ids in the range.
"""

from __future__ import annotations

import os
import stat

from hull.linux.mounts import Mount

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hull.engine.userns import IdMap

LOWERS = "lowers"   # in the container's directory: where the idmapped clones are attached


def remap_mounts(mounts: list[Mount], idmap: IdMap, container_dir: str,
                 copies_dir: str) -> list[Mount]:
    """The snapshotter's mounts with every lower layer replaced by a remapped one."""
    out = []
    for mnt in mounts:
        if mnt.type != "overlay":
            out.append(mnt)
            continue
        options = []
        for opt in mnt.options:
            key, _, value = opt.partition("=")
            if key == "lowerdir":
                lowers = _remap_lowers(value.split(":"), idmap, container_dir, copies_dir)
                opt = "lowerdir=" + ":".join(lowers)
            options.append(opt)
        out.append(Mount(mnt.type, mnt.source, options))
    return out


def _remap_lowers(lowers: list[str], idmap: IdMap, container_dir: str,
                  copies_dir: str) -> list[str]:
    if os.environ.get("HULL_IDMAP") == "copy":
        return [shifted_copy(low, idmap, copies_dir) for low in lowers]
    base = os.path.join(container_dir, LOWERS)
    os.makedirs(base, mode=0o700, exist_ok=True)
    userns = _userns_fd(idmap)
    out = []
    try:
        for i, low in enumerate(lowers):
            target = os.path.join(base, str(i))
            os.makedirs(target, exist_ok=True)
            try:
                _attach_idmapped(low, target, userns)
                out.append(target)
            except OSError:
                out.append(shifted_copy(low, idmap, copies_dir))
    except BaseException:
        release(container_dir)
        raise
    finally:
        os.close(userns)
    return out


def _userns_fd(idmap: IdMap) -> int:
    from hull.runtime.idmap import userns_with
    from hull.runtime.spec import IdMapping
    return userns_with([IdMapping(*r) for r in idmap.uids],
                       [IdMapping(*r) for r in idmap.gids])


def _attach_idmapped(source: str, target: str, userns: int) -> None:
    from hull.linux import mount as m
    from hull.runtime.idmap import AT_FDCWD
    tree = m.open_tree(AT_FDCWD, source, m.OPEN_TREE_CLONE | m.OPEN_TREE_CLOEXEC)
    try:
        m.mount_setattr(tree, m.MountAttr(m.MOUNT_ATTR_IDMAP, 0, 0, userns), recursive=False)
        to = os.open(target, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            m.move_mount(tree, to)
        finally:
            os.close(to)
    finally:
        os.close(tree)


def release(container_dir: str) -> None:
    """Detach the idmapped clones (after the overlay on them is unmounted)."""
    from hull.linux import mount as m
    base = os.path.join(container_dir, LOWERS)
    try:
        names = os.listdir(base)
    except FileNotFoundError:
        return
    for name in names:
        try:
            m.umount(os.path.join(base, name), m.MNT_DETACH)
        except OSError:
            pass
        try:
            os.rmdir(os.path.join(base, name))
        except OSError:
            pass
    try:
        os.rmdir(base)
    except OSError:
        pass


def shifted_copy(layer: str, idmap: IdMap, copies_dir: str) -> str:
    """The layer with owners shifted into the mapping's range, made on first use: `cp -a`
    (reflinks where the filesystem has them; xattrs, whiteout devices and hard links kept),
    then every owner moved, then renamed into place so a half-made copy is never used."""
    import hashlib
    key = hashlib.sha256(layer.encode()).hexdigest()[:24]
    done = os.path.join(copies_dir, idmap.key, key)
    if os.path.isdir(done):
        return done
    os.makedirs(os.path.dirname(done), mode=0o711, exist_ok=True)
    with open(done + ".source", "w") as f:   # for sweep: the layer this is a copy of
        f.write(layer)
    scratch = f"{done}.{os.getpid()}.tmp"
    import subprocess
    subprocess.run(["cp", "-a", "--reflink=auto", layer, scratch], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        shift_tree(scratch, idmap)
        try:
            os.rename(scratch, done)
        except OSError:   # another create made it meanwhile
            if not os.path.isdir(done):
                raise
    finally:
        if os.path.exists(scratch):
            subprocess.run(["rm", "-rf", scratch], check=False)
    return done


def shift_tree(top: str, idmap: IdMap) -> None:
    """Move every owner in the tree from container ids to the mapping's host ids."""
    def shift(name: str, dir_fd: int | None) -> None:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        uid, gid = idmap.to_host(st.st_uid, st.st_gid)
        os.chown(name, uid, gid, dir_fd=dir_fd, follow_symlinks=False)
        if not stat.S_ISLNK(st.st_mode):
            os.chmod(name, st.st_mode & 0o7777, dir_fd=dir_fd)   # chown cleared setuid
    shift(top, None)
    for _, dirs, files, dir_fd in os.fwalk(top):
        for name in dirs + files:
            shift(name, dir_fd)


def sweep(copies_dir: str) -> None:
    """Remove the shifted copies whose layer is gone (an image was removed, or the
    container whose init layer it was)."""
    import shutil
    try:
        mappings = os.listdir(copies_dir)
    except FileNotFoundError:
        return
    for mapping in mappings:
        where = os.path.join(copies_dir, mapping)
        for name in os.listdir(where):
            if not name.endswith(".source"):
                continue
            with open(os.path.join(where, name)) as f:
                layer = f.read()
            if not os.path.isdir(layer):
                shutil.rmtree(os.path.join(where, name.removesuffix(".source")),
                              ignore_errors=True)
                os.unlink(os.path.join(where, name))
