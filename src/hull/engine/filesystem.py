"""A container's filesystem as data: `export` (the merged tree as a tar), `commit` (the rw
layer as a new image layer) and `diff` (what the rw layer changed). Every walk goes directory
by directory through fds (os.fwalk), so a running container swapping a directory for a
symlink mid-walk cannot send hull out of its tree; the init layer's files never count as
the container's changes."""

from __future__ import annotations

import os
import secrets

from hull.engine import userns
from hull.errors import FailedPrecondition, NotFound
from hull.image.upper import add_entry, at, layer_from_upper

TYPE_CHECKING = False
if TYPE_CHECKING:
    import tarfile
    from typing import IO, Any

    from hull.engine.containers import ContainerService
    from hull.engine.userns import IdMap


def export(service: ContainerService, name: str, out: IO[bytes]) -> None:
    """The container's merged filesystem as a tar (`docker export`). The tree is read
    through a read-only view of the container's snapshots; links are archived as
    links, never followed."""
    import tempfile

    from hull.image.layer import write_stream
    from hull.linux.mounts import mount_all, unmount
    c = service.store.get(name)
    sn = service.images.snapshotter
    key = f"export-{secrets.token_hex(8)}"
    target = tempfile.mkdtemp(prefix="hull-export-")
    try:
        # a view needs a committed parent: the rw layer is still active, so view its
        # parent (image + init) and overlay the rw layer's files on top in the tar
        mount_all(sn.view(key, f"{c.id}-init"), target)
        upper = sn.upper_dir(c.id)
        with write_stream(out) as tar:
            _add_tree(tar, target, skip=_rw_entries(upper))
            _add_tree(tar, upper, whiteouts=True, ids=userns.of(c.host_config))
    finally:
        try:
            unmount(target)
        except OSError:
            pass
        os.rmdir(target)
        try:
            sn.remove(key)
        except NotFound:
            pass


def commit(service: ContainerService, name: str, repo: str | None, message: str = "",
           author: str = "", changes: list[str] | None = None, pause: bool = True,
           overrides: dict[str, Any] | None = None) -> str:
    """`docker commit` (overrides: config fields POST /commit sets): the rw layer —
    only what the container changed, deletions as whiteouts — becomes a new layer on top
    of the container's image. The init layer's
    /etc/hosts, /etc/hostname and /etc/resolv.conf never go in, even if changed."""

    from hull.engine.images import _changes
    from hull.image.archive import new_image, store_plain_layer
    from hull.image.reference import parse
    c = service.store.get(name)
    ref = parse(repo) if repo else None   # a bad name fails before any work
    base_config = {k: v for k, v in c.config.items() if k in _IMAGE_CONFIG_KEYS}
    base_config.update({k: v for k, v in (overrides or {}).items()   # the API's config
                        if k in _IMAGE_CONFIG_KEYS and v not in (None, "", [], {})})
    config = _changes(changes or [], base_config)
    upper = service.images.snapshotter.upper_dir(c.id)
    freeze = pause and c.state.get("Running") and not c.state.get("Paused")
    if freeze:
        try:
            service.pause(c.id, True)
        except (NotFound, FailedPrecondition):   # it ended since its state was read
            freeze = False

    idmap = userns.of(c.host_config)

    def write_layer(out: Any) -> None:
        layer_from_upper(out, upper, INIT_FILES,
                         idmap.to_container if idmap is not None else None)
    try:
        layer = store_plain_layer(service.images, write_layer)
        base = service.images.get(c.image)
        if getattr(service.images.snapshotter, "whiteouts", "") == "overlay":
            from hull.engine.commit_snapshot import snapshot_from_upper
            from hull.image.manifest import chain_ids
            chains = chain_ids([*service.images.diff_ids(base), layer["digest"]])
            snapshot_from_upper(service.images, upper,
                                chains[-2] if len(chains) > 1 else None, chains[-1],
                                INIT_FILES, idmap)
        cmd = " ".join((c.config.get("Entrypoint") or []) + (c.config.get("Cmd") or []))
        image = new_image(service.images, base, ref, config, cmd, message, author, layer,
                          layer["digest"])
    finally:
        if freeze:
            service.pause(c.id, False)
    service.event(c, "commit", comment=message)
    return image.id


def diff(service: ContainerService, name: str) -> list[tuple[str, str]]:
    """`docker diff`: what the rw layer changed, as (A|C|D, path) sorted by path. A path
    is C when a lower layer (image or init) has it, A when not; overlay whiteouts
    (0:0 character devices) are D."""
    import stat as st
    c = service.store.get(name)
    sn = service.images.snapshotter
    upper = sn.upper_dir(c.id)
    lowers = next((o[len("lowerdir="):].split(":") for m in sn.mounts(c.id)
                   for o in m.options if o.startswith("lowerdir=")), [])
    out = []
    for top, dirs, files, dir_fd in os.fwalk(upper):
        for name_ in dirs + files:
            rel = "/" + os.path.relpath(os.path.join(top, name_), upper)
            try:
                info = os.stat(name_, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                continue   # removed by the running container meanwhile
            if rel in INIT_FILES:
                continue   # the engine's, not the container's change
            if st.S_ISCHR(info.st_mode) and info.st_rdev == 0:
                out.append(("D", rel))
            elif any(os.path.lexists(low + rel) for low in lowers):
                out.append(("C", rel))
            else:
                out.append(("A", rel))
    return sorted(out, key=lambda e: e[1])


_IMAGE_CONFIG_KEYS = ("User", "Env", "Cmd", "Entrypoint", "WorkingDir", "Labels",
                      "StopSignal", "ExposedPorts", "Volumes", "Healthcheck", "OnBuild",
                      "Shell", "StopTimeout")


INIT_FILES = ("/etc/hosts", "/etc/hostname", "/etc/resolv.conf")


def _rw_entries(upper: str) -> tuple[set[str], set[str]]:
    """Paths the read-write layer changes (written or whited out), whose lower versions an
    export leaves out, and its opaque directories, whose whole lower subtree it leaves out."""
    changed, opaque = set(), set()
    for top, dirs, files, dir_fd in os.fwalk(upper):
        for name in dirs + files:
            rel = os.path.relpath(os.path.join(top, name), upper)
            changed.add(rel)
            if name in dirs:
                try:
                    if os.getxattr(at(dir_fd, name), "trusted.overlay.opaque",
                                   follow_symlinks=False) == b"y":
                        opaque.add(rel)
                except OSError:
                    pass
    return changed, opaque


def _add_tree(tar: tarfile.TarFile, root: str,
              skip: tuple[set[str], set[str]] | None = None, whiteouts: bool = False,
              ids: IdMap | None = None) -> None:
    import stat as st
    changed, opaque = skip or (set(), set())
    for top, dirs, files, dir_fd in os.fwalk(root):
        rel_top = os.path.relpath(top, root)
        if rel_top in opaque:
            dirs[:] = []
            continue   # the rw layer replaced this directory wholesale
        dirs.sort()
        for name in sorted(dirs) + sorted(files):
            path = at(dir_fd, name)
            rel = os.path.relpath(os.path.join(top, name), root)
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                continue   # removed by the running container meanwhile
            if whiteouts and st.S_ISCHR(info.st_mode) and info.st_rdev == 0:
                continue   # an overlay whiteout: the file is deleted, so not exported
            if rel in changed:
                continue   # the rw layer's version (or its deletion) decides
            add_entry(tar, path, rel, ids.to_container if ids is not None else None)
