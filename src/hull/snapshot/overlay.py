"""The overlay snapshotter: a snapshot is <n>/fs (its own files) and, while active,
<n>/work; an active snapshot mounts as overlay with its parents' fs dirs as lowers."""

from __future__ import annotations

import os

from hull.linux.mounts import Mount
from hull.snapshot.base import ACTIVE, VIEW, SnapshotterBase, remove_tree

WHITEOUT_STYLE = "overlay"   # deletions in layers become 0:0 char devices, opaque xattrs


class OverlaySnapshotter(SnapshotterBase):
    whiteouts = WHITEOUT_STYLE

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
