"""OCI mount options -> mount(2) flags, propagation flags, data string and special options."""

from __future__ import annotations

from hull.linux import mount as m
from hull.record import field, record

# option -> (clear?, flag)
_FLAGS: dict[str, tuple[bool, int]] = {
    "ro": (False, m.MS_RDONLY), "rw": (True, m.MS_RDONLY),
    "nosuid": (False, m.MS_NOSUID), "suid": (True, m.MS_NOSUID),
    "nodev": (False, m.MS_NODEV), "dev": (True, m.MS_NODEV),
    "noexec": (False, m.MS_NOEXEC), "exec": (True, m.MS_NOEXEC),
    "sync": (False, m.MS_SYNCHRONOUS), "async": (True, m.MS_SYNCHRONOUS),
    "dirsync": (False, m.MS_DIRSYNC), "remount": (False, m.MS_REMOUNT),
    "mand": (False, m.MS_MANDLOCK), "nomand": (True, m.MS_MANDLOCK),
    "noatime": (False, m.MS_NOATIME), "atime": (True, m.MS_NOATIME),
    "nodiratime": (False, m.MS_NODIRATIME), "diratime": (True, m.MS_NODIRATIME),
    "bind": (False, m.MS_BIND), "rbind": (False, m.MS_BIND | m.MS_REC),
    "relatime": (False, m.MS_RELATIME), "norelatime": (True, m.MS_RELATIME),
    "strictatime": (False, m.MS_STRICTATIME), "nostrictatime": (True, m.MS_STRICTATIME),
    "nosymfollow": (False, m.MS_NOSYMFOLLOW), "symfollow": (True, m.MS_NOSYMFOLLOW),
    "lazytime": (False, m.MS_LAZYTIME), "nolazytime": (True, m.MS_LAZYTIME),
    "silent": (False, m.MS_SILENT), "loud": (True, m.MS_SILENT),
}
PROPAGATIONS: dict[str, int] = {
    "private": m.MS_PRIVATE, "rprivate": m.MS_PRIVATE | m.MS_REC,
    "shared": m.MS_SHARED, "rshared": m.MS_SHARED | m.MS_REC,
    "slave": m.MS_SLAVE, "rslave": m.MS_SLAVE | m.MS_REC,
    "unbindable": m.MS_UNBINDABLE, "runbindable": m.MS_UNBINDABLE | m.MS_REC,
}
_EXTRA = {"rro", "rrw", "rnosuid", "rsuid", "rnodev", "rdev", "rnoexec", "rexec", "idmap",
          "ridmap", "tmpcopyup", "rnosymfollow", "rsymfollow", "rnoatime", "ratime",
          "rrelatime", "rnorelatime", "rstrictatime", "rnostrictatime", "rnodiratime",
          "rdiratime"}


@record
class Options:
    flags: int = 0
    propagation: list[int] = field(default_factory=list)
    data: list[str] = field(default_factory=list)
    extra: set[str] = field(default_factory=set)

    @property
    def is_bind(self) -> bool:
        return bool(self.flags & m.MS_BIND)


def parse(options: list[str]) -> Options:
    out = Options()
    for opt in options:
        if opt in _FLAGS:
            clear, flag = _FLAGS[opt]
            out.flags = out.flags & ~flag if clear else out.flags | flag
        elif opt in PROPAGATIONS:
            out.propagation.append(PROPAGATIONS[opt])
        elif opt in _EXTRA:
            out.extra.add(opt)
        else:
            out.data.append(opt)
    return out


def statvfs_flags(path: str) -> int:
    """The MS_* flags a mount already has, which a remount inside a user namespace must keep
    (the kernel locks nosuid/nodev/noexec/ro/atime flags set by a more privileged owner)."""
    import os
    st = os.statvfs(path)
    out = 0
    for st_flag, ms_flag in ((os.ST_RDONLY, m.MS_RDONLY), (os.ST_NOSUID, m.MS_NOSUID),
                             (os.ST_NODEV, m.MS_NODEV), (os.ST_NOEXEC, m.MS_NOEXEC),
                             (os.ST_NOATIME, m.MS_NOATIME), (os.ST_NODIRATIME, m.MS_NODIRATIME),
                             (os.ST_RELATIME, m.MS_RELATIME)):
        if st.f_flag & st_flag:
            out |= ms_flag
    return out


def recursive_attrs(extra: set[str]) -> tuple[int, int]:
    """mount_setattr(2) set/clear masks for the recursive r* options."""
    table = {"rro": 0x1, "rnosuid": 0x2, "rnodev": 0x4, "rnoexec": 0x8, "rnoatime": 0x10,
             "rstrictatime": 0x20, "rnodiratime": 0x80, "rnosymfollow": 0x200000}
    inverse = {"rrw": 0x1, "rsuid": 0x2, "rdev": 0x4, "rexec": 0x8, "ratime": 0x10,
               "rdiratime": 0x80, "rsymfollow": 0x200000, "rrelatime": 0x70}
    set_mask = sum(v for k, v in table.items() if k in extra)
    clr_mask = sum(v for k, v in inverse.items() if k in extra)
    return set_mask, clr_mask
