"""A mount described as data (type, source, options), as snapshotters return it, and the
code that performs a list of them. Overlay mounts with long lower chains are mounted from
the chain's common directory with relative paths, so 100+ layers fit in the one page the
kernel takes for mount options (containerd does the same)."""

from __future__ import annotations

import os

from hull.linux import mount as m
from hull.record import field, record

PAGE_LIMIT = 4000   # a little under the kernel's 4096-byte mount data page

_FLAGS = {"ro": m.MS_RDONLY, "nosuid": m.MS_NOSUID, "nodev": m.MS_NODEV,
          "noexec": m.MS_NOEXEC, "rbind": m.MS_BIND | m.MS_REC, "bind": m.MS_BIND}


@record
class Mount:
    type: str
    source: str
    options: list[str] = field(default_factory=list)

    def to_oci(self, destination: str) -> dict[str, object]:
        return {"destination": destination, "type": self.type, "source": self.source,
                "options": list(self.options)}


def _split(options: list[str]) -> tuple[int, str]:
    flags = 0
    data = []
    for opt in options:
        if opt in _FLAGS:
            flags |= _FLAGS[opt]
        elif opt != "rw":
            data.append(opt)
    return flags, ",".join(data)


def mount_all(mounts: list[Mount], target: str) -> None:
    for mnt in mounts:
        flags, data = _split(mnt.options)
        if mnt.type == "bind" or flags & m.MS_BIND:
            m.mount(mnt.source, target, None, m.MS_BIND | (flags & m.MS_REC))
            if flags & m.MS_RDONLY:
                m.mount(None, target, None, m.MS_BIND | m.MS_REMOUNT | m.MS_RDONLY)
        elif mnt.type == "overlay" and len(data) > PAGE_LIMIT:
            _mount_overlay_relative(mnt, flags, target)
        else:
            m.mount(mnt.source, target, mnt.type, flags, data or None)


def _mount_overlay_relative(mnt: Mount, flags: int, target: str) -> None:
    """Mount in a child that chdirs to the common directory of every layer path, so the
    options can name them relatively (mount(2) resolves them against the cwd)."""
    layer_keys = ("lowerdir", "upperdir", "workdir")
    paths = [p for opt in mnt.options if opt.partition("=")[0] in layer_keys
             for p in opt.partition("=")[2].split(":")]
    common = os.path.commonpath([os.path.dirname(p) for p in paths])
    options = []
    for opt in mnt.options:
        key, eq, value = opt.partition("=")
        if eq and key in layer_keys:
            value = ":".join(os.path.relpath(p, common) for p in value.split(":"))
        options.append(f"{key}{eq}{value}")
    _, data = _split(options)
    target = os.path.abspath(target)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.chdir(common)
            m.mount(mnt.source, target, "overlay", flags, data)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise OSError(f"mount overlay on {target} with {len(paths)} layers failed")


def unmount(target: str) -> None:
    m.umount(target, m.MNT_DETACH)
