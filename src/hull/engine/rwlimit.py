"""--storage-opt size=N: a hard limit on what a container can write, on any filesystem.

Docker can limit the rw layer only when /var/lib/docker is XFS mounted with pquota
(moby#29364). hull's way works everywhere, this kernel's no-quota ext4 included: the
container's rw snapshot directory (its overlay upperdir `fs` and `workdir` `work`) is
the root of a filesystem of exactly N bytes, an ext4 made in a sparse file and
loop-mounted there:

    <root>/containers/<id>/rw.img     sparse file of N bytes, ext4, no reserved blocks
          │ mount -o loop (util-linux: the loop device goes away with the unmount)
          ▼
    <snapshots>/<n>/                  fs/ (upperdir) + work/ (workdir)

A write past N fails inside the container with ENOSPC; the host's filesystem and other
containers are untouched, and only the blocks actually written are used on the host.
The filesystem stays mounted while the container exists (and is mounted again at
start after a reboot); removing the container unmounts it and deletes the file.
"""

from __future__ import annotations

import os

from hull.errors import HullError, InvalidArgument

MIN_SIZE = 8 << 20   # below this, ext4's own metadata leaves too little room to be useful


def parse(opts: list[str]) -> dict[str, str]:
    """--storage-opt KEY=VALUE list as HostConfig.StorageOpt (only size exists)."""
    from hull.engine.hostconfig import size
    out: dict[str, str] = {}
    for item in opts:
        key, eq, value = item.partition("=")
        if not eq:
            raise InvalidArgument(f"--storage-opt {item!r}: expected key=value")
        if key != "size":
            raise InvalidArgument(f"--storage-opt: unknown option {key!r} (hull knows size)")
        n = size(value, "--storage-opt size")
        if n is None or n < MIN_SIZE:
            raise InvalidArgument(f"--storage-opt size={value}: must be at least 8MB")
        out[key] = value
    return out


def image_path(container_dir: str) -> str:
    return os.path.join(container_dir, "rw.img")


def create(container_dir: str, snapshot_dir: str, size: int) -> None:
    """Make the filesystem and mount it over the (still empty) rw snapshot directory."""
    img = image_path(container_dir)
    fd = os.open(img, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        os.ftruncate(fd, size)
    finally:
        os.close(fd)
    _run(["mkfs.ext4", "-q", "-F", "-m", "0", "-i", "8192", "-E",
          "lazy_itable_init=1,lazy_journal_init=1,root_owner=0:0", img], "mkfs.ext4")
    mount(container_dir, snapshot_dir)
    for name in ("fs", "work"):
        os.makedirs(os.path.join(snapshot_dir, name), mode=0o755, exist_ok=True)
    lost = os.path.join(snapshot_dir, "lost+found")
    if os.path.isdir(lost):
        os.rmdir(lost)


def mount(container_dir: str, snapshot_dir: str) -> None:
    """Mount the container's filesystem if it has one and it is not mounted (after a
    reboot)."""
    img = image_path(container_dir)
    if not os.path.exists(img) or os.path.ismount(snapshot_dir):
        return
    _run(["mount", "-t", "ext4", "-o", "loop,nodev,nosuid", img, snapshot_dir], "mount")


def remove(container_dir: str, snapshot_dir: str) -> None:
    if os.path.ismount(snapshot_dir):
        _run(["umount", snapshot_dir], "umount")
    try:
        os.unlink(image_path(container_dir))
    except FileNotFoundError:
        pass


def _run(cmd: list[str], what: str) -> None:
    import subprocess  # only limited containers need it; every start imports this module
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise HullError(f"--storage-opt size: {what}: {proc.stderr.strip()}")
