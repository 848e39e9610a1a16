"""Build the container's filesystem view inside its new mount namespace.

Order (runc's, which the OCI spec follows): make "/" slave so nothing propagates back to the
host; bind the rootfs onto itself; perform `mounts` in order, every target resolved inside
the rootfs (openat2 RESOLVE_IN_ROOT) and mounted through its fd, so an image's symlinks can
never redirect a mount onto the host; create devices; pivot_root (or MS_MOVE + chroot with
--no-pivot); then mask and make read-only what the config asks.
"""

from __future__ import annotations

import errno
import os
import stat

from hull.errors import InvalidArgument, Unavailable
from hull.linux import fs
from hull.linux import mount as m
from hull.runtime import mountopts
from hull.runtime.spec import Device, Mount, Spec
from hull.suppress import suppress

DEFAULT_DEVICES = [
    Device("/dev/null", "c", 1, 3, 0o666, 0, 0), Device("/dev/zero", "c", 1, 5, 0o666, 0, 0),
    Device("/dev/full", "c", 1, 7, 0o666, 0, 0), Device("/dev/random", "c", 1, 8, 0o666, 0, 0),
    Device("/dev/urandom", "c", 1, 9, 0o666, 0, 0), Device("/dev/tty", "c", 5, 0, 0o666, 0, 0),
]
DEV_LINKS = [("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"),
             ("/proc/self/fd/1", "/dev/stdout"), ("/proc/self/fd/2", "/dev/stderr")]


def prepare(spec: Spec, in_userns: bool, cgroup_dirs: dict[str, str], new_cgroupns: bool,
            mount_fds: dict[int, int]) -> None:
    """Everything before pivot_root. Runs in the container's fresh mount namespace."""
    rootfs = str(spec.root_path)
    # nothing the container mounts may propagate back to the host; the configured
    # rootfsPropagation is applied to the container's "/" after pivot_root (as runc does)
    m.mount(None, "/", None, m.MS_SLAVE | m.MS_REC)
    # pivot_root refuses a new root whose parent mount is shared
    m.mount(None, _mount_point_of(rootfs), None, m.MS_PRIVATE)
    m.mount(rootfs, rootfs, None, m.MS_BIND | m.MS_REC)
    root_fd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        dev_is_bind = False
        for i, mnt in enumerate(spec.mounts):
            opts = mountopts.parse(mnt.options)
            if mnt.destination.rstrip("/") == "/dev" and (opts.is_bind or mnt.type == "bind"):
                dev_is_bind = True
            if i in mount_fds:
                _move_idmapped(root_fd, mnt, opts, mount_fds.pop(i))
            else:
                _mount_one(root_fd, mnt, opts, in_userns, cgroup_dirs, new_cgroupns)
        if not dev_is_bind:
            for dev in DEFAULT_DEVICES:
                _make_device(root_fd, dev, in_userns)
            for target, link in DEV_LINKS:
                _symlink(root_fd, target, link)
            if os.path.exists("/proc/kcore"):
                _symlink(root_fd, "/proc/kcore", "/dev/core")
            _ptmx(root_fd)
        for dev in spec.linux.devices:
            _make_device(root_fd, dev, in_userns)
    finally:
        os.close(root_fd)


def _mount_one(root_fd: int, mnt: Mount, opts: mountopts.Options, in_userns: bool,
               cgroup_dirs: dict[str, str], new_cgroupns: bool) -> None:
    kind = mnt.type or ("bind" if opts.is_bind else "")
    if kind == "bind" or opts.is_bind:
        _bind(root_fd, mnt, opts)
    elif kind == "cgroup":
        _cgroup(root_fd, mnt, opts, cgroup_dirs, new_cgroupns)
    else:
        if not kind:
            raise InvalidArgument(f"mount {mnt.destination}: type is required for a "
                                  "non-bind mount")
        fd = fs.ensure_in_root(root_fd, mnt.destination, directory=True)
        try:
            try:
                m.mount(mnt.source or kind, fs.fd_path(fd), kind, opts.flags,
                        ",".join(opts.data) or None)
            except PermissionError:
                if kind != "sysfs":
                    raise
                # sysfs in a user namespace that does not own the network namespace: bind
                # the host's read-only, as runc does
                m.mount("/sys", fs.fd_path(fd), None, m.MS_BIND | m.MS_REC)
                m.mount(None, fs.fd_path(fd), None,
                        m.MS_BIND | m.MS_REMOUNT | m.MS_RDONLY | m.MS_NOSUID | m.MS_NODEV
                        | m.MS_NOEXEC)
            _finish(fd, opts)
        finally:
            os.close(fd)


def _move_idmapped(root_fd: int, mnt: Mount, opts: mountopts.Options, tree: int) -> None:
    """Put a detached idmapped mount (made by the runtime, see idmap.py) at its target."""
    is_dir = stat.S_ISDIR(os.fstat(tree).st_mode)
    fd = fs.ensure_in_root(root_fd, mnt.destination, directory=is_dir)
    try:
        m.move_mount(tree, fd)
    finally:
        os.close(fd)
        os.close(tree)
    flags = opts.flags & ~(m.MS_BIND | m.MS_REC | m.MS_REMOUNT)
    fd2 = fs.open_in_root(root_fd, mnt.destination)
    try:
        if flags:
            _remount(fs.fd_path(fd2), flags)
        _finish(fd2, opts)
    finally:
        os.close(fd2)


def _bind(root_fd: int, mnt: Mount, opts: mountopts.Options) -> None:
    source = mnt.source
    if not source:
        raise InvalidArgument(f"mount {mnt.destination}: a bind mount needs a source")
    try:
        is_dir = stat.S_ISDIR(os.stat(source).st_mode)
    except FileNotFoundError:
        raise InvalidArgument(f"mount {mnt.destination}: bind source {source} does not "
                              "exist") from None
    fd = fs.ensure_in_root(root_fd, mnt.destination, directory=is_dir)
    try:
        target = fs.fd_path(fd)
        m.mount(source, target, None, m.MS_BIND | (opts.flags & m.MS_REC))
        remount_flags = opts.flags & ~(m.MS_BIND | m.MS_REC | m.MS_REMOUNT)
        if remount_flags:
            # a bind mount takes its flags only on a second, remounting call
            fd2 = fs.open_in_root(root_fd, mnt.destination)
            try:
                _remount(fs.fd_path(fd2), remount_flags)
            finally:
                os.close(fd2)
        fd_final = fs.open_in_root(root_fd, mnt.destination)
        try:
            _finish(fd_final, opts)
        finally:
            os.close(fd_final)
    finally:
        os.close(fd)


def _remount(path: str, flags: int) -> None:
    try:
        m.mount(None, path, None, m.MS_BIND | m.MS_REMOUNT | flags)
    except PermissionError:
        # inside a user namespace the kernel keeps the locked flags: ask for them too
        m.mount(None, path, None, m.MS_BIND | m.MS_REMOUNT | flags
                | mountopts.statvfs_flags(path))


def _finish(fd: int, opts: mountopts.Options) -> None:
    """Propagation and recursive attributes, applied to the mount just made at fd's path."""
    # fd was opened before the mount: reopen through its path to reach the new mount's root
    path = os.readlink(fs.fd_path(fd))
    for prop in opts.propagation:
        m.mount(None, path, None, prop)
    set_mask, clr_mask = mountopts.recursive_attrs(opts.extra)
    if set_mask or clr_mask:
        tree = os.open(path, os.O_PATH | os.O_CLOEXEC)
        try:
            m.mount_setattr(tree, m.MountAttr(set_mask, clr_mask, 0, 0), recursive=True)
        finally:
            os.close(tree)


def _cgroup(root_fd: int, mnt: Mount, opts: mountopts.Options, cgroup_dirs: dict[str, str],
            new_cgroupns: bool) -> None:
    """`type: cgroup` means "the container's cgroups here": cgroup2 on a v2 host, a tmpfs of
    per-controller mounts on v1/hybrid (as runc lays it out)."""
    fd = fs.ensure_in_root(root_fd, mnt.destination, directory=True)
    try:
        target = os.readlink(fs.fd_path(fd))
    finally:
        os.close(fd)
    flags = opts.flags & ~(m.MS_BIND | m.MS_REC)
    if list(cgroup_dirs) == [""]:
        if new_cgroupns:
            m.mount("cgroup2", target, "cgroup2", flags)
        else:
            m.mount(cgroup_dirs[""], target, None, m.MS_BIND | m.MS_REC)
            _remount(target, flags)
        return
    m.mount("tmpfs", target, "tmpfs", m.MS_NOSUID | m.MS_NODEV | m.MS_NOEXEC, "mode=755")
    seen: dict[str, str] = {}
    for key, host_dir in cgroup_dirs.items():
        seen.setdefault(host_dir, key)
    for host_dir, key in seen.items():
        name = _hierarchy_name(host_dir)
        sub = os.path.join(target, name)
        os.makedirs(sub, exist_ok=True)
        if new_cgroupns and key != "unified":
            m.mount("cgroup", sub, "cgroup", flags, key)
        elif new_cgroupns:
            m.mount("cgroup2", sub, "cgroup2", flags)
        else:
            m.mount(host_dir, sub, None, m.MS_BIND | m.MS_REC)
            _remount(sub, flags)
    if flags & m.MS_RDONLY:
        m.mount(None, target, None, m.MS_REMOUNT | m.MS_BIND | flags)


def _hierarchy_name(host_dir: str) -> str:
    """The mount directory under /sys/fs/cgroup that holds host_dir (e.g. 'cpu', 'unified')."""
    rel = os.path.relpath(host_dir, "/sys/fs/cgroup")
    return rel.split("/", 1)[0]


def _make_device(root_fd: int, dev: Device, in_userns: bool) -> None:
    if in_userns:
        # mknod is refused in a user namespace: bind the host's node instead
        fd = fs.ensure_in_root(root_fd, dev.path, directory=False)
        try:
            m.mount(dev.path, fs.fd_path(fd), None, m.MS_BIND)
        finally:
            os.close(fd)
        return
    parent, _, name = dev.path.strip("/").rpartition("/")
    pfd = fs.mkdir_all_in_root(root_fd, parent)
    try:
        with suppress(FileNotFoundError):
            os.unlink(name, dir_fd=pfd)
        kind = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}
        mode = (dev.file_mode if dev.file_mode is not None else 0o666) & 0o7777
        old = os.umask(0)
        try:
            os.mknod(name, kind[dev.type] | mode, os.makedev(dev.major, dev.minor), dir_fd=pfd)
        finally:
            os.umask(old)
        os.chown(name, dev.uid or 0, dev.gid or 0, dir_fd=pfd, follow_symlinks=False)
    finally:
        os.close(pfd)


def _symlink(root_fd: int, target: str, link: str) -> None:
    parent, _, name = link.strip("/").rpartition("/")
    pfd = fs.mkdir_all_in_root(root_fd, parent)
    try:
        os.symlink(target, name, dir_fd=pfd)
    except FileExistsError:
        pass
    finally:
        os.close(pfd)


def _ptmx(root_fd: int) -> None:
    pfd = fs.mkdir_all_in_root(root_fd, "dev")
    try:
        with suppress(FileNotFoundError):
            os.unlink("ptmx", dir_fd=pfd)
        os.symlink("pts/ptmx", "ptmx", dir_fd=pfd)
    finally:
        os.close(pfd)


def pivot(rootfs: str, no_pivot: bool) -> None:
    if no_pivot:
        os.chdir(rootfs)
        m.mount(rootfs, "/", None, m.MS_MOVE)
        os.chroot(".")
        os.chdir("/")
        return
    old_root = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    new_root = os.open(rootfs, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        # pivot_root(".", ".") stacks the old root on top of the new one: no put_old dir
        # is needed inside the rootfs, and unmounting "." then drops the host's root
        os.fchdir(new_root)
        m.pivot_root(".", ".")
        os.fchdir(old_root)
        m.mount(None, ".", None, m.MS_SLAVE | m.MS_REC)
        m.umount(".", m.MNT_DETACH)
        os.chdir("/")
    finally:
        os.close(old_root)
        os.close(new_root)


def _mount_point_of(path: str) -> str:
    """The mount point that holds path (the longest mountinfo entry that contains it)."""
    best = "/"
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if (path == point or path.startswith(point.rstrip("/") + "/")) and \
                    len(point) > len(best):
                best = point
    return best


def apply_root_propagation(spec: Spec) -> None:
    prop = mountopts.PROPAGATIONS.get(spec.linux.rootfs_propagation)
    if prop is not None:
        m.mount(None, "/", None, prop)


def finish(spec: Spec) -> None:
    """After pivot_root: masked and read-only paths, then the read-only root."""
    for path in spec.linux.masked_paths:
        _mask(path)
    for path in spec.linux.readonly_paths:
        _readonly(path)
    if spec.root_readonly:
        _remount("/", m.MS_RDONLY)


def _mask(path: str) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        m.mount("tmpfs", path, "tmpfs", m.MS_RDONLY)
        return
    # never bind whatever an image put at /dev/null over a path (CVE-2025-31133 class)
    null = os.stat("/dev/null", follow_symlinks=False)
    if not stat.S_ISCHR(null.st_mode) or null.st_rdev != os.makedev(1, 3):
        raise Unavailable("/dev/null in the container is not the null device; refusing to "
                          f"mask {path} with it")
    m.mount("/dev/null", path, None, m.MS_BIND)


def _readonly(path: str) -> None:
    try:
        m.mount(path, path, None, m.MS_BIND | m.MS_REC)
    except OSError as e:
        if e.errno == errno.ENOENT:
            return
        raise
    _remount(path, m.MS_RDONLY | m.MS_NOSUID | m.MS_NODEV | m.MS_NOEXEC)
