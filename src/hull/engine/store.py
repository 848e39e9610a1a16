"""Containers in <root>/metadata.db: one row per container, its Docker-shaped Config,
HostConfig and State as JSON. Names are unique (SQLite enforces it), so of twenty
concurrent `run --name x` exactly one wins."""

from __future__ import annotations

import os
import sqlite3

from hull import fastjson
from hull.errors import AlreadyExists, InvalidArgument, NotFound
from hull.image.store import open_db
from hull.record import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hull.engine.status import Status

SCHEMA = """
CREATE TABLE IF NOT EXISTS containers (
    id TEXT PRIMARY KEY,
    name TEXT UNIQUE NOT NULL,
    image TEXT NOT NULL,
    image_name TEXT NOT NULL,
    created TEXT NOT NULL,
    config TEXT NOT NULL,
    host_config TEXT NOT NULL,
    state TEXT NOT NULL
);
"""


@record
class Container:
    id: str
    name: str
    image: str
    image_name: str
    created: str
    config: dict[str, Any] = field(default_factory=dict)
    host_config: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def status(self) -> Status:
        """Docker's status of the container, read from its State (engine/status.py)."""
        from hull.engine import status
        return status.of(self.state)


class ContainerStore:
    def __init__(self, root: str) -> None:
        self.root = root
        self.db = open_db(root)
        self.db.executescript(SCHEMA)

    def dir(self, cid: str) -> str:
        return os.path.join(self.root, "containers", cid)

    def insert(self, c: Container) -> None:
        try:
            self.db.execute("INSERT INTO containers VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            (c.id, c.name, c.image, c.image_name, c.created,
                             fastjson.dumps(c.config), fastjson.dumps(c.host_config),
                             fastjson.dumps(c.state)))
        except sqlite3.IntegrityError:
            row = self.db.execute("SELECT id FROM containers WHERE name = ?",
                                  (c.name,)).fetchone()
            raise AlreadyExists(f'Conflict. The container name "/{c.name}" is already in '
                                f'use by container "{row[0] if row else ""}". You have to '
                                "remove (or rename) that container to be able to reuse that "
                                "name.") from None

    def _row(self, row: tuple[Any, ...]) -> Container:
        return Container(row[0], row[1], row[2], row[3], row[4], fastjson.loads(row[5]),
                         fastjson.loads(row[6]), fastjson.loads(row[7]))

    def get(self, name_or_id: str) -> Container:
        key = name_or_id.lstrip("/")
        row = self.db.execute("SELECT * FROM containers WHERE name = ? OR id = ?",
                              (key, key)).fetchone()
        if row is None and len(key) >= 3 and all(c in "0123456789abcdef" for c in key):
            rows = self.db.execute("SELECT * FROM containers WHERE id LIKE ?",
                                   (key + "%",)).fetchall()
            if len(rows) > 1:
                raise InvalidArgument(f"multiple containers match {name_or_id!r}")
            row = rows[0] if rows else None
        if row is None:
            raise NotFound(f"No such container: {name_or_id}")
        return self._row(row)

    def all(self) -> list[Container]:
        return [self._row(r) for r in self.db.execute(
            "SELECT * FROM containers ORDER BY created DESC").fetchall()]

    def update_state(self, cid: str, **changes: Any) -> dict[str, Any]:
        """Merge changes into the State JSON in one transaction (service jobs and commands both
        write it)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            row = self.db.execute("SELECT state FROM containers WHERE id = ?",
                                  (cid,)).fetchone()
            if row is None:
                raise NotFound(f"No such container: {cid}")
            state: dict[str, Any] = fastjson.loads(row[0])
            state.update(changes)
            self.db.execute("UPDATE containers SET state = ? WHERE id = ?",
                            (fastjson.dumps(state), cid))
            self.db.execute("COMMIT")
            return state
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def delete(self, cid: str) -> None:
        self.db.execute("DELETE FROM containers WHERE id = ?", (cid,))

    def update_host_config(self, cid: str, host_config: dict[str, Any]) -> None:
        self.db.execute("UPDATE containers SET host_config = ? WHERE id = ?",
                        (fastjson.dumps(host_config), cid))
