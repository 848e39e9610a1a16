"""A filesystem-changing step's layer: a fresh snapshot on the parent layer, mounted so the
step can change it; its upper directory — exactly what the step changed, deletions as
overlay whiteouts — is then written as the layer tar (its digest is the diffID) and the same
directory becomes the committed snapshot named by the new chainID. Nothing is copied twice:
unlike `commit` there are no init-layer files to leave out (RUN's /etc files are bind mounts,
and the stubs the runtime made for mount points are removed before the layer is read).

Whatever fails or is interrupted leaves no mount and no snapshot behind."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets

from hull.build.errors import BuildError
from hull.build.state import Layer
from hull.errors import AlreadyExists, NotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    from hull.image.store import ImageStore


class StepFS:
    """The step's snapshot, mounted at rootfs."""

    def __init__(self, images: ImageStore, parent: str | None, scratch: str) -> None:
        if images.snapshotter.whiteouts != "overlay":
            raise BuildError("hull build needs the overlay snapshotter (this root uses "
                             "the copying one: its backing filesystem has no overlayfs)")
        self.images = images
        self.parent = parent
        # the pid in the name: what a build killed hard left is found and removed
        self.key = f"build-{os.getpid()}-{secrets.token_hex(12)}"
        self.rootfs = os.path.join(scratch, self.key)
        self.mounted = False
        self.committed = False

    def __enter__(self) -> StepFS:
        self.images.snapshotter.prepare(self.key, self.parent)
        try:
            self.mount()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def mount(self) -> None:
        from hull.linux.mounts import mount_all
        os.makedirs(self.rootfs, exist_ok=True)
        mounts = self.images.snapshotter.mounts(self.key)
        for m in mounts:   # the upper dir is read as the layer: no redirects, no
            if m.type == "overlay":   # metadata-only copy-ups, whatever the kernel defaults
                m.options = [*m.options, "redirect_dir=off", "metacopy=off"]
        mount_all(mounts, self.rootfs)
        self.mounted = True

    def unmount(self) -> None:
        if self.mounted:
            from hull.linux.mounts import unmount
            unmount(self.rootfs)
            self.mounted = False
        with contextlib.suppress(OSError):
            os.rmdir(self.rootfs)

    def __exit__(self, *exc: object) -> None:
        self.unmount()
        if not self.committed:
            with contextlib.suppress(NotFound):
                self.images.snapshotter.remove(self.key)

    def changed(self) -> bool:
        """Whether the step changed anything: its upper dir, once directories that were
        only copied up (a mount stub made and removed in them) are taken out again."""
        upper = self.images.snapshotter.upper_dir(self.key)
        lowers = next((o[len("lowerdir="):].split(":")
                       for m in self.images.snapshotter.mounts(self.key)
                       for o in m.options if o.startswith("lowerdir=")), [])
        if lowers:
            _prune_copied_up(upper, lowers)
        return bool(os.listdir(upper))

    def commit(self, lease: str) -> tuple[Layer, int]:
        """The layer of what the step changed, stored; (layer, its unpacked size). The
        running build's lease holds it from the moment it exists, so a concurrent
        `image prune` cannot take it before the cache or the image does."""
        from hull.image.archive import store_plain_layer
        from hull.image.upper import layer_from_upper
        self.unmount()
        sn = self.images.snapshotter
        upper = sn.upper_dir(self.key)

        def write(out: object) -> None:
            layer_from_upper(out, upper)
        descriptor = store_plain_layer(self.images, write)
        diff_id = str(descriptor["digest"])
        chain = diff_id if self.parent is None else \
            "sha256:" + hashlib.sha256(f"{self.parent} {diff_id}".encode()).hexdigest()
        self.images.lease(lease, [(chain, diff_id)])
        try:
            sn.commit(chain, self.key)
        except AlreadyExists:   # the same layer exists (another build, an equal step)
            sn.remove(self.key)
        self.committed = True
        return Layer(chain, diff_id, descriptor), sn.usage(chain).size


@contextlib.contextmanager
def step_fs(images: ImageStore, parent: str | None) -> Iterator[StepFS]:
    scratch = os.path.join(images.root, "build", "mounts")
    os.makedirs(scratch, exist_ok=True)
    with StepFS(images, parent, scratch) as fs:
        yield fs


@contextlib.contextmanager
def view(images: ImageStore, chain: str | None) -> Iterator[str]:
    """A read-only mount of a layer chain (an empty directory for scratch): what COPY
    --from, RUN --mount from= and build --output read."""
    import tempfile

    from hull.linux.mounts import mount_all, unmount
    sn = images.snapshotter
    base = os.path.join(images.root, "build", "mounts")
    os.makedirs(base, exist_ok=True)
    target = tempfile.mkdtemp(dir=base, prefix=f"build-{os.getpid()}-view-")
    key = os.path.basename(target)
    mounted = False
    try:
        if chain is not None:
            mount_all(sn.view(key, chain), target)
            mounted = True
        yield target
    finally:
        if mounted:
            unmount(target)
        if chain is not None:
            with contextlib.suppress(NotFound):
                sn.remove(key)
        os.rmdir(target)


def remove_stubs(rootfs: str, made: list[str]) -> None:
    """Mount points the runtime had to create (a bind over /etc/hosts where the image has
    none, a --mount target): removed again, deepest first, if still empty, so they do not
    end up in the layer (BuildKit does the same). Resolved inside the rootfs: a symlink in
    the image never sends this to the host's files."""
    import stat
    for path in sorted(made, key=len, reverse=True):
        with _in_root(rootfs, os.path.dirname(path)) as parent:
            if parent < 0:
                continue
            name = os.path.basename(path)
            try:
                info = os.stat(name, dir_fd=parent, follow_symlinks=False)
                if stat.S_ISDIR(info.st_mode):
                    os.rmdir(name, dir_fd=parent)
                elif stat.S_ISREG(info.st_mode) and info.st_size == 0:
                    os.unlink(name, dir_fd=parent)
            except OSError:
                pass


def _prune_copied_up(upper: str, lowers: list[str]) -> None:
    """Remove the upper dir's directories that hold nothing and are, in mode, owner and
    mtime, the directory the lower layers have: overlay copied them up for a file that is
    gone again. Bottom-up, so a chain of such directories goes whole."""
    import stat
    for top, dirs, _files, dir_fd in os.fwalk(upper, topdown=False):
        for name in dirs:
            rel = os.path.relpath(os.path.join(top, name), upper)
            try:
                if os.listdir(f"/proc/self/fd/{dir_fd}/{name}"):
                    continue
                if os.getxattr(f"/proc/self/fd/{dir_fd}/{name}", "trusted.overlay.opaque",
                               follow_symlinks=False) == b"y":
                    continue
            except OSError:
                pass
            try:
                mine = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except OSError:
                continue
            below = _topmost(lowers, rel)
            if below is None or not stat.S_ISDIR(below.st_mode):
                continue
            if (mine.st_mode, mine.st_uid, mine.st_gid, mine.st_mtime_ns) == \
                    (below.st_mode, below.st_uid, below.st_gid, below.st_mtime_ns):
                os.rmdir(name, dir_fd=dir_fd)


def _topmost(lowers: list[str], rel: str) -> os.stat_result | None:
    """The path as the topmost lower layer that has it has it (the layers are the
    snapshotter's own directories; rel comes from walking the upper dir, no links)."""
    for lower in lowers:
        try:
            return os.lstat(os.path.join(lower, rel))
        except OSError:
            continue
    return None


def parent_times(rootfs: str, made: list[str]) -> dict[str, tuple[int, int]]:
    """The times of the existing directories the stubs go into, to put back after."""
    out: dict[str, tuple[int, int]] = {}
    for path in made:
        parent = os.path.dirname(path)
        if parent in made or parent in out:
            continue
        with _in_root(rootfs, parent) as fd:
            if fd >= 0:
                info = os.stat(fd)
                out[parent] = (info.st_atime_ns, info.st_mtime_ns)
    return out


def restore_times(rootfs: str, times: dict[str, tuple[int, int]]) -> None:
    for path, ns in times.items():
        with _in_root(rootfs, path) as fd:
            if fd >= 0:
                try:
                    os.utime(f"/proc/self/fd/{fd}", ns=ns)
                except OSError:
                    pass


def missing_targets(rootfs: str, targets: list[str]) -> list[str]:
    """The mount targets (and their missing parents) the rootfs lacks now."""
    out: list[str] = []
    for target in targets:
        parts = [p for p in target.split("/") if p]
        for i in range(1, len(parts) + 1):
            path = "/" + "/".join(parts[:i])
            if path in out:
                continue
            with _in_root(rootfs, os.path.dirname(path)) as parent:
                try:
                    if parent >= 0:
                        os.stat(parts[i - 1], dir_fd=parent, follow_symlinks=False)
                        continue
                except OSError:
                    pass
            out.append(path)
    return out


@contextlib.contextmanager
def _in_root(rootfs: str, path: str) -> Iterator[int]:
    """A directory of the rootfs opened inside it (-1 when it cannot be)."""
    from hull.linux import fs
    root = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    fd = -1
    try:
        try:
            fd = fs.open_in_root(root, path or "/", os.O_PATH | os.O_DIRECTORY)
        except OSError:
            fd = -1
        yield fd
    finally:
        if fd >= 0:
            os.close(fd)
        os.close(root)
