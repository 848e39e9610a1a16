"""A container's filesystem, laid out as the seeds describe: the image's read-only layers,
an init layer with the container's /etc/hosts, /etc/resolv.conf and /etc/hostname, and the
read-write layer on top (the only one `commit` and `diff` look at)."""

from __future__ import annotations

import os

from hull.errors import NotFound
from hull.linux import fs
from hull.linux.mounts import mount_all, unmount

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hull.engine.userns import IdMap
    from hull.snapshot.protocol import Snapshotter

HOSTS = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
         "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
         "ff02::2\tip6-allrouters\n")


MOUNT_POINTS = ("proc", "sys", "dev", "dev/pts", "dev/shm", "etc")
EMPTY_FILES = (".dockerenv", "dev/console")   # as Docker's init layer has them


def _resolv_conf() -> bytes:
    from hull.network.dns import host_resolv_conf
    try:
        with open(host_resolv_conf(), "rb") as f:
            return f.read()
    except OSError:
        return b""


def prepare(sn: Snapshotter, cid: str, image_top: str | None, hostname: str) -> None:
    """Make the init and read-write snapshots of a new container."""
    init_key = f"{cid}-init"
    sn.prepare(f"{init_key}-active", image_top)
    upper = sn.upper_dir(f"{init_key}-active")
    root_fd = os.open(upper, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        # the runtime's standard mount points live here too, so the rw layer (what diff
        # and commit see) holds only what the container itself changed
        for path in MOUNT_POINTS:
            os.close(fs.mkdir_all_in_root(root_fd, path))
        etc = fs.open_in_root(root_fd, "etc", os.O_PATH | os.O_DIRECTORY)
        try:   # /etc/mtab as Docker's init layer makes it: the mount table's own view
            os.symlink("/proc/mounts", "mtab", dir_fd=etc)
        finally:
            os.close(etc)
        for path, data in (("etc/hosts", HOSTS.encode()), ("etc/hostname",
                                                            f"{hostname}\n".encode()),
                           ("etc/resolv.conf", _resolv_conf()),
                           *((name, b"") for name in EMPTY_FILES)):
            mode = 0o755 if path in EMPTY_FILES else 0o644   # Docker's .dockerenv: rwxr-xr-x
            fd = fs.open_in_root(root_fd, path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            try:
                os.fchmod(fd, mode)   # whatever the caller's umask
                os.write(fd, data)
            finally:
                os.close(fd)
    finally:
        os.close(root_fd)
    sn.commit(init_key, f"{init_key}-active")
    sn.prepare(cid, init_key)


def mount(sn: Snapshotter, cid: str, target: str, idmap: IdMap | None = None,
          copies_dir: str = "") -> None:
    """Mount the container's layers at target; for a remapped container, on lower layers
    made usable under its mapping (engine/remapped_layers.py)."""
    os.makedirs(target, exist_ok=True)
    mounts = sn.mounts(cid)
    if idmap is not None:
        from hull.engine.remapped_layers import remap_mounts
        mounts = remap_mounts(mounts, idmap, os.path.dirname(target), copies_dir)
    try:
        mount_all(mounts, target)
    except BaseException:
        _release_lowers(target)
        raise


def umount(target: str) -> None:
    try:
        unmount(target)
    except OSError:
        pass
    _release_lowers(target)


def _release_lowers(target: str) -> None:
    from hull.engine.remapped_layers import LOWERS
    if os.path.isdir(os.path.join(os.path.dirname(target), LOWERS)):
        from hull.engine.remapped_layers import release
        release(os.path.dirname(target))


def remove(sn: Snapshotter, cid: str) -> None:
    for key in (cid, f"{cid}-init", f"{cid}-init-active"):
        try:
            sn.remove(key)
        except NotFound:
            pass
