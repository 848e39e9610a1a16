"""The build cache: a step that ran before with the same inputs is not run again, and a
step that runs says why it could not be taken from the cache.

Keys are BuildKit's idea in hull's terms: a step's key hashes its parent state's key (the
base image and every instruction before it, metadata ones included), the instruction with
its values expanded, and what it reads — the build-args in scope (RUN sees them as
environment), the sources' content checksum (COPY/ADD: content and mode, never mtime), the
mounts. So a step after the first miss misses too: its parent key is new.

Each entry keeps its layer (chain ID, blob) under a lease in the image store, so image gc
keeps it while the entry lives; `builder prune` drops entries and lets gc take the layers.
An entry whose layer went missing or whose blob does not match is dropped and rebuilt,
never used. Entries live in the root's metadata.db: concurrent builds share them through
SQLite's transactions, and a layer made twice at once is committed once (the snapshot
commit is atomic; the loser's copy is removed).

Why a step missed is found by comparing it with the entry made last time by the same
Dockerfile line text (`inputs`, stored with each entry): a changed earlier step, base image,
metadata instruction, build-arg, source file, or the instruction itself."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass

from hull.errors import NotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hull.image.store import ImageStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS build_cache (
    key TEXT PRIMARY KEY,       -- sha256 of parent key + instruction + inputs
    parent TEXT NOT NULL,       -- the key of the state the step ran on
    original TEXT NOT NULL,     -- the instruction as written (why-missed looks it up)
    description TEXT NOT NULL,  -- as shown: RUN echo hi
    inputs TEXT NOT NULL,       -- JSON: what went into the key, for why-missed
    result TEXT NOT NULL,       -- JSON: the layer (chain, diff_id, blob descriptor)
    size INTEGER NOT NULL,      -- the layer's unpacked bytes
    created REAL NOT NULL,
    last_used REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS build_cache_original ON build_cache (original);
"""

LEASE = "build-cache:"


def key_of(*parts: Any) -> str:
    """A stable hash of JSON-able parts (dict keys sorted)."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(blob).hexdigest()


@dataclass
class Entry:
    key: str
    result: dict[str, Any]


class BuildCache:
    def __init__(self, images: ImageStore) -> None:
        self.images = images
        self.db = images.db
        self.db.executescript(SCHEMA)

    def get(self, key: str) -> tuple[Entry | None, str]:
        """The entry for key if it is whole; else (None, why: "" when there is none)."""
        row = self.db.execute("SELECT result FROM build_cache WHERE key = ?",
                              (key,)).fetchone()
        if row is None:
            return None, ""
        result = json.loads(row[0])
        damage = self._damage(result)
        if damage:
            self.drop([key])
            return None, f"cache entry damaged ({damage}): rebuilt"
        self.db.execute("UPDATE build_cache SET last_used = ? WHERE key = ?",
                        (time.time(), key))
        return Entry(key, result), ""

    def _damage(self, result: dict[str, Any]) -> str:
        if result.get("empty"):
            return ""   # a step that changed nothing has no layer to lose
        layer = result.get("layer") or {}
        if not self.images.snapshotter.exists(str(result.get("chain"))):
            return "its layer snapshot is missing"
        try:
            info = self.images.content.info(str(layer.get("digest")))
        except (NotFound, ValueError):
            return "its layer blob is missing"
        if info.size != layer.get("size"):
            return "its layer blob has the wrong size"
        return ""

    def put(self, key: str, parent: str, original: str, description: str,
            inputs: dict[str, Any], result: dict[str, Any], size: int) -> None:
        now = time.time()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute(
                "INSERT OR REPLACE INTO build_cache (key, parent, original, description, "
                "inputs, result, size, created, last_used) VALUES (?,?,?,?,?,?,?,?,?)",
                (key, parent, original, description, json.dumps(inputs, sort_keys=True),
                 json.dumps(result, sort_keys=True), size, now, now))
            if not result.get("empty"):
                self.images.lease(LEASE + key, [(str(result["chain"]),
                                                 str(result["layer"]["digest"]))])
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def why_missed(self, parent: str, original: str, inputs: dict[str, Any]) -> str:
        """Why no entry matched: what differs from the one this line made last time.
        original starts with the build's scope (its context and Dockerfile), so another
        project's steps are never the comparison."""
        row = self.db.execute(
            "SELECT parent, inputs FROM build_cache WHERE original = ? "
            "ORDER BY last_used DESC LIMIT 1", (original,)).fetchone()
        if row is None:
            scope = original.partition(" ")[0]
            same_parent = self.db.execute(
                "SELECT description FROM build_cache WHERE parent = ? AND "
                "substr(original, 1, ?) = ? ORDER BY last_used DESC LIMIT 1",
                (parent, len(scope) + 1, scope + " ")).fetchone()
            if same_parent is not None:
                return f"the instruction changed (was: {same_parent[0]})"
            return "not built before"
        old_parent, old = row[0], json.loads(row[1])
        if old_parent != parent:
            return _parent_change(old, inputs)
        return _input_change(old, inputs)

    def previous(self, parent: str, original: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(inputs, result) of the entry this instruction made last on the same parent
        state; ({}, {}) when there is none (see reuse.py)."""
        row = self.db.execute(
            "SELECT inputs, result FROM build_cache WHERE parent = ? AND original = ? "
            "ORDER BY last_used DESC LIMIT 1", (parent, original)).fetchone()
        return (json.loads(row[0]), json.loads(row[1])) if row else ({}, {})

    # ---- pruning and accounting ---------------------------------------------------------

    def drop(self, keys: list[str]) -> None:
        self.db.executemany("DELETE FROM build_cache WHERE key = ?", [(k,) for k in keys])
        self.images.release([LEASE + k for k in keys])

    def prune(self, until: float | None = None, keep_chains: set[str] | None = None
              ) -> tuple[int, int]:
        """Drop the entries last used before `until` (all: None) whose layer is not in
        keep_chains, and free the layers only they held; (entries, bytes freed)."""
        cutoff = until if until is not None else time.time()
        rows = self.db.execute("SELECT key, result FROM build_cache WHERE last_used <= ?",
                               (cutoff,)).fetchall()
        keep = keep_chains or set()
        gone = [key for key, result in rows if json.loads(result).get("chain") not in keep
                or json.loads(result).get("empty")]
        if not gone:
            return 0, 0
        self.drop(gone)
        removed = self.images.gc()
        return len(gone), sum(size for _, size in removed)

    def usage(self) -> list[dict[str, Any]]:
        """Docker's BuildCache records for `system df`."""
        out = []
        for key, desc, size, created, used in self.db.execute(
                "SELECT key, description, size, created, last_used FROM build_cache"):
            out.append({"ID": key.split(":", 1)[1][:25], "Type": "regular",
                        "Description": desc, "InUse": False, "Shared": False,
                        "Size": size, "CreatedAt": created, "LastUsedAt": used,
                        "UsageCount": 1})
        return out


def _parent_change(old: dict[str, Any], new: dict[str, Any]) -> str:
    if old.get("base") != new.get("base"):
        return f"the base image changed ({new.get('base_name', '')})"
    old_meta, new_meta = old.get("meta") or [], new.get("meta") or []
    for before, now in zip(old_meta, new_meta, strict=False):
        if before != now:
            if before.startswith("ARG ") and now.startswith("ARG "):
                changed = sorted(set(now[4:].split()) ^ set(before[4:].split()))
                names = sorted({c.partition("=")[0] for c in changed})
                return f"build-arg {', '.join(names)} changed"
            return f"{now} changed (was: {before})"
    if len(old_meta) != len(new_meta):
        added = [m for m in new_meta if m not in old_meta]
        return f"{added[0]} is new" if added else "an instruction before it was removed"
    return "an earlier step was rebuilt"


def _input_change(old: dict[str, Any], new: dict[str, Any]) -> str:
    old_args, new_args = old.get("build_args") or {}, new.get("build_args") or {}
    for name in sorted(set(old_args) | set(new_args)):
        if old_args.get(name) != new_args.get(name):
            return f"build-arg {name} changed"
    old_files, new_files = old.get("files") or {}, new.get("files") or {}
    if old_files != new_files:
        changed = sorted(p for p in set(old_files) | set(new_files)
                         if old_files.get(p) != new_files.get(p))
        more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        return "source changed: " + ", ".join(changed[:3]) + more
    for field, what in (("args", "the instruction changed"), ("script", "its heredoc changed"),
                        ("env", "its environment changed"),
                        ("hosts", "--add-host changed"), ("shm", "--shm-size changed"),
                        ("ulimits", "--ulimit changed"),
                        ("mounts", "its mounts changed"), ("source_key", "its source changed"),
                        ("user", "USER changed"), ("cwd", "WORKDIR changed")):
        if old.get(field) != new.get(field):
            return what
    return "cache entry pruned"
