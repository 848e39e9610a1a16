"""The copying fallback for backing filesystems where overlay cannot work (overlay on
overlay, some network filesystems): a new snapshot starts as a full copy of its parent,
and deletions in layers are applied as deletions rather than whiteouts."""

from __future__ import annotations

import os
import subprocess

from hull.errors import HullError
from hull.linux.mounts import Mount
from hull.snapshot.base import ACTIVE, VIEW, SnapshotterBase, remove_tree


class NativeSnapshotter(SnapshotterBase):
    whiteouts = "delete"

    def _create(self, key: str, parent: str | None, kind: str) -> None:
        sid = self.db.create(key, parent, kind)
        target = self._fs(sid)
        try:
            if parent is None:
                os.makedirs(target)
                return
            os.makedirs(self.db.dir(sid), exist_ok=True)
            psid, _ = self.db.get(parent)
            # cp -a keeps owners, modes, times, links, device nodes and xattrs
            proc = subprocess.run(["cp", "-a", "--reflink=auto", self._fs(psid), target],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise HullError(f"snapshot {key}: copying {parent} failed: "
                                f"{proc.stderr.strip()}")
        except BaseException:
            self.db.remove(key, lambda sid: remove_tree(self.db.dir(sid)))
            raise

    def prepare(self, key: str, parent: str | None) -> list[Mount]:
        self._create(key, parent, ACTIVE)
        return self.mounts(key)

    def view(self, key: str, parent: str | None) -> list[Mount]:
        self._create(key, parent, VIEW)
        return self.mounts(key)

    def commit(self, name: str, key: str) -> None:
        self.db.commit(name, key)

    def mounts(self, key: str) -> list[Mount]:
        sid, info = self.db.get(key)
        return [Mount("bind", self._fs(sid), ["rbind", "rw" if info.kind == ACTIVE else "ro"])]
