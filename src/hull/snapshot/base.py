"""Bookkeeping shared by the snapshotters: a SQLite table of snapshots, each with a
numeric directory (short names keep overlay mount options small), a parent and a kind."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator

from hull.errors import AlreadyExists, FailedPrecondition, NotFound
from hull.record import record

ACTIVE, VIEW, COMMITTED = "active", "view", "committed"


@record
class SnapshotInfo:
    key: str
    parent: str | None
    kind: str
    created: float


@record
class Usage:
    size: int      # bytes of file data (apparent size)
    inodes: int


class SnapshotDB:
    def __init__(self, root: str) -> None:
        self.root = root
        os.makedirs(root, exist_ok=True)
        self.db = sqlite3.connect(os.path.join(root, "metadata.db"), timeout=30,
                                  isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS snapshots (id INTEGER PRIMARY KEY, "
                        "key TEXT UNIQUE NOT NULL, parent TEXT, kind TEXT NOT NULL, "
                        "created REAL NOT NULL)")

    def close(self) -> None:
        self.db.close()

    def dir(self, sid: int) -> str:
        return os.path.join(self.root, str(sid))

    def get(self, key: str) -> tuple[int, SnapshotInfo]:
        row = self.db.execute("SELECT id, key, parent, kind, created FROM snapshots "
                              "WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise NotFound(f"snapshot {key!r} does not exist")
        return row[0], SnapshotInfo(row[1], row[2], row[3], row[4])

    def create(self, key: str, parent: str | None, kind: str) -> int:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            if parent is not None:
                _, pinfo = self.get(parent)
                if pinfo.kind != COMMITTED:
                    raise FailedPrecondition(f"snapshot parent {parent!r} is {pinfo.kind}, "
                                             "not committed")
            try:
                cur = self.db.execute("INSERT INTO snapshots (key, parent, kind, created) "
                                      "VALUES (?, ?, ?, ?)", (key, parent, kind, time.time()))
            except sqlite3.IntegrityError:
                raise AlreadyExists(f"snapshot {key!r} already exists") from None
            sid = cur.lastrowid
            assert sid is not None
            self.db.execute("COMMIT")
            return sid
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def chain(self, key: str | None) -> list[int]:
        """IDs from key up to its root (key first)."""
        out = []
        while key is not None:
            sid, info = self.get(key)
            out.append(sid)
            key = info.parent
        return out

    def commit(self, name: str, key: str) -> int:
        sid, info = self.get(key)
        if info.kind != ACTIVE:
            raise FailedPrecondition(f"snapshot {key!r} is {info.kind}; only an active "
                                     "snapshot can be committed")
        try:
            self.db.execute("UPDATE snapshots SET key = ?, kind = ? WHERE id = ?",
                            (name, COMMITTED, sid))
        except sqlite3.IntegrityError:
            raise AlreadyExists(f"snapshot {name!r} already exists") from None
        return sid

    def remove(self, key: str, free: Callable[[int], None]) -> None:
        """Remove a snapshot with no children: free(id) deletes its files first, so that
        on a full disk the space comes back before the database needs to write."""
        sid, _ = self.get(key)
        child = self.db.execute("SELECT key FROM snapshots WHERE parent = ? LIMIT 1",
                                (key,)).fetchone()
        if child is not None:
            raise FailedPrecondition(f"snapshot {key!r} has a child {child[0]!r}; remove "
                                     "that first")
        free(sid)
        self.db.execute("DELETE FROM snapshots WHERE id = ?", (sid,))

    def walk(self) -> Iterator[SnapshotInfo]:
        for row in self.db.execute("SELECT key, parent, kind, created FROM snapshots "
                                   "ORDER BY id").fetchall():
            yield SnapshotInfo(*row)


def usage_of(path: str) -> Usage:
    size = inodes = 0
    for top, dirs, files in os.walk(path):
        inodes += len(dirs) + len(files)
        for name in files:
            try:
                size += os.lstat(os.path.join(top, name)).st_size
            except FileNotFoundError:
                pass
    return Usage(size, inodes)


def remove_tree(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


class SnapshotterBase:
    """What the overlay and copying snapshotters share: the table, each snapshot's `fs`
    directory, removal, usage and listing."""

    whiteouts = "overlay"

    def __init__(self, root: str) -> None:
        self.db = SnapshotDB(root)

    def _fs(self, sid: int) -> str:
        return os.path.join(self.db.dir(sid), "fs")

    def upper_dir(self, key: str) -> str:
        """The directory holding this snapshot's own files (layer apply writes here)."""
        sid, _ = self.db.get(key)
        return self._fs(sid)

    def remove(self, key: str) -> None:
        self.db.remove(key, lambda sid: remove_tree(self.db.dir(sid)))

    def exists(self, key: str) -> bool:
        """Whether the snapshot is there (cheap: no walk of its files, unlike usage)."""
        try:
            self.db.get(key)
        except NotFound:
            return False
        return True

    def usage(self, key: str) -> Usage:
        sid, _ = self.db.get(key)
        return usage_of(self._fs(sid))

    def walk(self) -> Iterator[SnapshotInfo]:
        return self.db.walk()
