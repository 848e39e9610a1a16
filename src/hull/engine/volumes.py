"""Named and anonymous volumes: directories under <root>/volumes/<name>/_data that outlive
the containers using them (Docker's `local` driver).

A volume is a directory plus a small meta.json; creating one is an atomic mkdir, so two
concurrent `run -v data:/x` agree on a single volume. A new volume mounted over a path the
image has content at is first filled with that content (Docker's copy-up), read through the
container's root without following its symlinks out of it.
"""

from __future__ import annotations

import os
import secrets
import shutil

from hull.errors import FailedPrecondition, NotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from hull.engine.filters import Filters

ANONYMOUS = "com.docker.volume.anonymous"


class VolumeStore:
    def __init__(self, root: str) -> None:
        self.dir = os.path.join(root, "volumes")

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name, "_data")

    def create(self, name: str = "", labels: dict[str, str] | None = None,
               anonymous: bool = False) -> tuple[dict[str, Any], bool]:
        """The volume, and whether this call made it."""
        from hull import fastjson
        from hull.engine.humanize import now
        name = name or secrets.token_hex(32)
        if not (name[0].isascii() and name[0].isalnum() and
                all(c.isascii() and (c.isalnum() or c in "_.-") for c in name)):
            raise FailedPrecondition(
                f'create {name}: "{name}" includes invalid characters for a local volume '
                'name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass '
                "a host directory, use absolute path")
        os.makedirs(self.dir, mode=0o711, exist_ok=True)
        top = os.path.join(self.dir, name)
        try:
            os.mkdir(top, 0o711)
        except FileExistsError:
            return self.inspect(name), False
        meta = {"Name": name, "Driver": "local", "Mountpoint": self.path(name),
                "CreatedAt": now(), "Labels": {**(labels or {}),
                                               **({ANONYMOUS: ""} if anonymous else {})},
                "Scope": "local", "Options": {}}
        os.mkdir(self.path(name), 0o755)
        tmp = os.path.join(top, "meta.json.tmp")
        with open(tmp, "w") as f:
            f.write(fastjson.dumps(meta))
        os.rename(tmp, os.path.join(top, "meta.json"))
        return meta, True

    def inspect(self, name: str) -> dict[str, Any]:
        """The volume as Docker's API shows it (its fields in Docker's order; no labels or
        options are null)."""
        from hull import fastjson
        if not name or "/" in name or name in (".", ".."):
            raise NotFound(f"get {name}: no such volume")
        try:
            with open(os.path.join(self.dir, name, "meta.json"), "rb") as f:
                meta: dict[str, Any] = fastjson.loads(f.read())
        except (OSError, ValueError):
            raise NotFound(f"get {name}: no such volume") from None
        return {"CreatedAt": meta.get("CreatedAt", ""), "Driver": meta.get("Driver", "local"),
                "Labels": meta.get("Labels") or None, "Mountpoint": meta["Mountpoint"],
                "Name": meta["Name"], "Options": meta.get("Options") or None,
                "Scope": meta.get("Scope", "local")}

    def all(self) -> list[dict[str, Any]]:
        out = []
        for name in sorted(os.listdir(self.dir)) if os.path.isdir(self.dir) else []:
            try:
                out.append(self.inspect(name))
            except NotFound:
                pass   # being created or removed right now
        return out

    def remove(self, name: str, users: list[str]) -> None:
        self.inspect(name)
        if users:
            raise FailedPrecondition(f"remove {name}: volume is in use - [{', '.join(users)}]")
        shutil.rmtree(os.path.join(self.dir, name))


VOLUME_LS_FILTERS = ("dangling", "driver", "label", "name")
VOLUME_PRUNE_FILTERS = ("all", "label", "label!")


def listed(volumes: VolumeStore, users: Callable[[str], list[str]],
           filters: Filters) -> list[dict[str, Any]]:
    """`volume ls -f`: dangling=true|false (unused or used), driver=, label=, name= (a
    regular expression, as Docker's)."""
    dangling = filters.boolean("dangling")
    out = []
    for v in volumes.all():
        if dangling is not None and bool(users(v["Name"])) == dangling:
            continue
        if not filters.match("name", v["Name"]) or not filters.exact("driver", v["Driver"]):
            continue
        if not filters.labels("label", v.get("Labels")):
            continue
        out.append(v)
    return out


def prune(volumes: VolumeStore, users: Callable[[str], list[str]], all_: bool,
          filters: Filters | None = None) -> tuple[list[str], int]:
    """`volume prune`: unused anonymous volumes (every unused one with all_, as Docker 23
    and later); returns their names and the bytes they held."""
    all_ = all_ or bool(filters and filters.boolean("all"))
    removed, space = [], 0
    for v in volumes.all():
        labels = v.get("Labels") or {}
        if not (all_ or ANONYMOUS in labels) or users(v["Name"]):
            continue
        if filters and (not filters.labels("label", labels) or not filters.not_labels(labels)):
            continue
        space += tree_size(v["Mountpoint"])
        volumes.remove(v["Name"], [])
        removed.append(v["Name"])
    return removed, space


def tree_size(path: str) -> int:
    """Bytes of the files under path (each inode once), for df and prune."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for _top, _dirs, files, dir_fd in os.fwalk(path):
        for name in files:
            try:
                info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except OSError:
                continue
            if (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += info.st_blocks * 512 if info.st_blocks else info.st_size
    return total


def copy_up(rootfs: str, dest: str, volume_dir: str) -> None:
    """Fill an empty new volume with what the image has at dest (resolved inside rootfs)."""
    from hull.linux import fs
    root_fd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        src_fd = fs.open_in_root(root_fd, dest, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return   # nothing there: the volume starts empty
    finally:
        os.close(root_fd)
    try:
        if os.listdir(volume_dir):
            return
        src = f"/proc/self/fd/{src_fd}"
        st = os.fstat(src_fd)
        os.chown(volume_dir, st.st_uid, st.st_gid)
        os.chmod(volume_dir, st.st_mode & 0o7777)
        for name in os.listdir(src):
            s, d = os.path.join(src, name), os.path.join(volume_dir, name)
            if os.path.isdir(s) and not os.path.islink(s):
                shutil.copytree(s, d, symlinks=True)
            else:
                shutil.copy2(s, d, follow_symlinks=False)
    finally:
        os.close(src_fd)
