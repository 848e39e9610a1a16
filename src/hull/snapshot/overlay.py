"""The overlay snapshotter: a snapshot is <n>/fs (its own files) and, while active,
<n>/work; an active snapshot mounts as overlay with its parents' fs dirs as lowers."""

from __future__ import annotations

import os
from collections.abc import Iterator

from hull.linux.mounts import Mount
from hull.snapshot.base import ACTIVE, VIEW, SnapshotDB, SnapshotInfo, Usage, remove_tree, usage_of

WHITEOUT_STYLE = "overlay"   # deletions in layers become 0:0 char devices, opaque xattrs


class OverlaySnapshotter:
    whiteouts = WHITEOUT_STYLE

    def __init__(self, root: str) -> None:
        self.db = SnapshotDB(root)

    def _fs(self, sid: int) -> str:
        return os.path.join(self.db.dir(sid), "fs")

    def prepare(self, key: str, parent: str | None) -> list[Mount]:
        sid = self.db.create(key, parent, ACTIVE)
        os.makedirs(self._fs(sid))
        os.makedirs(os.path.join(self.db.dir(sid), "work"))
        return self.mounts(key)

    def view(self, key: str, parent: str | None) -> list[Mount]:
        sid = self.db.create(key, parent, VIEW)
        os.makedirs(self._fs(sid))
        return self.mounts(key)

    def commit(self, name: str, key: str) -> None:
        sid = self.db.commit(name, key)
        remove_tree(os.path.join(self.db.dir(sid), "work"))

    def mounts(self, key: str) -> list[Mount]:
        sid, info = self.db.get(key)
        lowers = [self._fs(s) for s in self.db.chain(info.parent)]
        if info.kind == ACTIVE:
            if not lowers:
                return [Mount("bind", self._fs(sid), ["rbind", "rw"])]
            return [Mount("overlay", "overlay", [
                f"lowerdir={':'.join(lowers)}", f"upperdir={self._fs(sid)}",
                f"workdir={os.path.join(self.db.dir(sid), 'work')}", "index=off"])]
        if not lowers:
            return [Mount("bind", self._fs(sid), ["rbind", "ro"])]
        if len(lowers) == 1:
            return [Mount("bind", lowers[0], ["rbind", "ro"])]
        # read-only overlay: lowers only (overlay needs two or more without an upper)
        return [Mount("overlay", "overlay", [f"lowerdir={':'.join(lowers)}", "ro"])]

    def upper_dir(self, key: str) -> str:
        """The directory holding this snapshot's own changes (layer apply writes here)."""
        sid, _ = self.db.get(key)
        return self._fs(sid)

    def remove(self, key: str) -> None:
        self.db.remove(key, lambda sid: remove_tree(self.db.dir(sid)))

    def usage(self, key: str) -> Usage:
        sid, _ = self.db.get(key)
        return usage_of(self._fs(sid))

    def walk(self) -> Iterator[SnapshotInfo]:
        return self.db.walk()
