"""The image store: images and tags in <root>/metadata.db, blobs in the content store,
unpacked layers as committed snapshots named by chainID, so a layer shared by many images
is unpacked once."""

from __future__ import annotations

import os
import sqlite3
import time

from hull import fastjson
from hull.content.store import ContentStore
from hull.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from hull.image import manifest as mf
from hull.image.reference import Reference, parse
from hull.record import record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from hull.snapshot.protocol import Snapshotter

SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY,            -- config digest
    manifest TEXT NOT NULL,         -- manifest digest
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,          -- unpacked bytes
    added REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tags (
    name TEXT PRIMARY KEY,          -- registry/repository:tag
    image TEXT NOT NULL REFERENCES images(id),
    tagged REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS repo_digests (
    name TEXT NOT NULL,             -- registry/repository@digest
    image TEXT NOT NULL REFERENCES images(id),
    PRIMARY KEY (name, image)
);
CREATE TABLE IF NOT EXISTS parents (  -- Docker's Parent: the image a commit was made on
    image TEXT PRIMARY KEY REFERENCES images(id),
    parent TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS leases (  -- what gc keeps besides images (containerd's leases)
    owner TEXT NOT NULL,            -- e.g. "build-cache:<key>"
    snapshot TEXT NOT NULL,         -- a layer's chain ID
    blob TEXT NOT NULL,             -- its layer blob digest
    PRIMARY KEY (owner, snapshot)
);
"""


@record
class Image:
    id: str
    manifest: str
    media_type: str
    size: int
    added: float

    @property
    def short_id(self) -> str:
        return self.id.split(":", 1)[1][:12]


def open_db(root: str) -> sqlite3.Connection:
    os.makedirs(root, exist_ok=True)
    db = sqlite3.connect(os.path.join(root, "metadata.db"), timeout=30, isolation_level=None)
    _wal(db)
    db.execute("PRAGMA foreign_keys=ON")
    db.executescript(SCHEMA)
    return db


def _wal(db: sqlite3.Connection) -> None:
    """WAL mode. Switching a new database to it takes an exclusive lock and SQLite does not
    wait for that one: two processes opening a fresh root at once (a command and the
    service's survey) see "database is locked" — retried here."""
    import time
    deadline = time.monotonic() + 30
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def choose_snapshotter(root: str) -> Snapshotter:
    """overlay where the backing filesystem takes it (probed once, remembered), else the
    copying snapshotter."""
    base = os.path.join(root, "snapshots")
    os.makedirs(base, exist_ok=True)
    marker = os.path.join(base, "driver")
    try:
        with open(marker) as f:
            driver = f.read().strip()
    except FileNotFoundError:
        driver = "overlay" if _overlay_works(base) else "native"
        with open(marker, "w") as f:
            f.write(driver + "\n")
    if driver == "overlay":
        from hull.snapshot.overlay import OverlaySnapshotter
        return OverlaySnapshotter(os.path.join(base, "overlay"))
    from hull.snapshot.native import NativeSnapshotter
    return NativeSnapshotter(os.path.join(base, "native"))


def _overlay_works(base: str) -> bool:
    import shutil
    import tempfile

    from hull.linux import mount as m
    probe = tempfile.mkdtemp(prefix=".probe-", dir=base)
    try:
        for d in ("lower", "upper", "work", "merged"):
            os.mkdir(os.path.join(probe, d))
        try:
            m.mount("overlay", os.path.join(probe, "merged"), "overlay", 0,
                    f"lowerdir={probe}/lower,upperdir={probe}/upper,workdir={probe}/work")
        except OSError:
            return False
        m.umount(os.path.join(probe, "merged"), m.MNT_DETACH)
        return True
    finally:
        shutil.rmtree(probe, ignore_errors=True)


class ImageStore:
    def __init__(self, root: str) -> None:
        self.root = root
        self.content = ContentStore(os.path.join(root, "content"))
        self.db = open_db(root)
        self._snapshotter: Snapshotter | None = None

    def close(self) -> None:
        """Close the databases (before a fork: a SQLite connection must never cross one)."""
        self.db.close()
        if self._snapshotter is not None:
            self._snapshotter.db.close()  # type: ignore[attr-defined]
            self._snapshotter = None

    @property
    def snapshotter(self) -> Snapshotter:
        if self._snapshotter is None:
            self._snapshotter = choose_snapshotter(self.root)
        return self._snapshotter

    # ---- reading -----------------------------------------------------------------------

    def config(self, image: Image) -> dict[str, Any]:
        return mf.load_json(self.content.read(image.id), f"image config {image.id}")

    def manifest_of(self, image: Image) -> mf.Manifest:
        return mf.parse_manifest(self.content.read(image.manifest), f"manifest {image.manifest}")

    def diff_ids(self, image: Image) -> list[str]:
        rootfs = self.config(image).get("rootfs") or {}
        return [str(d) for d in rootfs.get("diff_ids") or []]

    def top_snapshot(self, image: Image) -> str | None:
        chain = mf.chain_ids(self.diff_ids(image))
        return chain[-1] if chain else None

    def images(self) -> list[Image]:
        rows = self.db.execute("SELECT id, manifest, media_type, size, added FROM images "
                               "ORDER BY added DESC").fetchall()
        return [Image(*r) for r in rows]

    def tags_of(self, image_id: str) -> list[str]:
        return [r[0] for r in self.db.execute(
            "SELECT name FROM tags WHERE image = ? ORDER BY name", (image_id,))]

    def repo_digests_of(self, image_id: str) -> list[str]:
        return [r[0] for r in self.db.execute(
            "SELECT name FROM repo_digests WHERE image = ? ORDER BY name", (image_id,))]

    def get(self, image_id: str) -> Image:
        row = self.db.execute("SELECT id, manifest, media_type, size, added FROM images "
                              "WHERE id = ?", (image_id,)).fetchone()
        if row is None:
            raise NotFound(f"No such image: {image_id}")
        return Image(*row)

    def resolve(self, name: str) -> Image:
        """A tag, name@digest, full or short image ID → the image; NotFound otherwise."""
        hexpart = name.removeprefix("sha256:")
        if len(hexpart) >= 4 and all(c in "0123456789abcdef" for c in hexpart):
            rows = self.db.execute("SELECT id FROM images WHERE id LIKE ?",
                                   (f"sha256:{hexpart}%",)).fetchall()
            if len(rows) == 1:
                return self.get(rows[0][0])
            if len(rows) > 1:
                raise InvalidArgument(f"ambiguous image ID prefix {name!r}")
        try:
            ref = parse(name)
        except InvalidArgument:
            raise NotFound(f"No such image: {name}") from None
        if ref.digest:
            row = self.db.execute("SELECT image FROM repo_digests WHERE name = ?",
                                  (f"{ref.name}@{ref.digest}",)).fetchone()
            if row is None:
                row = self.db.execute("SELECT id FROM images WHERE manifest = ?",
                                      (ref.digest,)).fetchone()
        else:
            row = self.db.execute("SELECT image FROM tags WHERE name = ?",
                                  (str(ref),)).fetchone()
        if row is None:   # named as Docker names it: normalized, tag added
            raise NotFound(f"No such image: {ref.familiar()}")
        return self.get(row[0])

    # ---- writing -----------------------------------------------------------------------

    def add(self, manifest_digest: str, ref: Reference | None = None) -> Image:
        """Register an image whose manifest, config and layer blobs are all in the content
        store, unpack its layers, and tag it. Idempotent."""
        manifest = mf.parse_manifest(self.content.read(manifest_digest),
                                     f"manifest {manifest_digest}")
        config = mf.load_json(self.content.read(manifest.config.digest),
                              f"image config {manifest.config.digest}")
        diff_ids = [str(d) for d in (config.get("rootfs") or {}).get("diff_ids") or []]
        if len(diff_ids) != len(manifest.layers):
            raise InvalidArgument(f"image config {manifest.config.digest}: "
                                  f"{len(diff_ids)} diff_ids for {len(manifest.layers)} layers")
        size = self.unpack(manifest, diff_ids)
        image_id = manifest.config.digest
        self.db.execute("INSERT OR IGNORE INTO images (id, manifest, media_type, size, added) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (image_id, manifest_digest, manifest.media_type, size, time.time()))
        if ref is not None:
            if ref.tag:
                self.tag(image_id, ref.with_tag(ref.tag))
            self.db.execute("INSERT OR IGNORE INTO repo_digests (name, image) VALUES (?, ?)",
                            (f"{ref.name}@{manifest_digest}", image_id))
        return self.get(image_id)

    def unpack(self, manifest: mf.Manifest, diff_ids: list[str]) -> int:
        """Each layer once: snapshots are named by chainID. Returns the unpacked size.

        With overlay, a layer's directory does not depend on the layers below it (whiteouts
        are markers), so missing layers are unpacked in parallel into staging directories
        and then moved, in order, into their snapshots; the copying snapshotter needs each
        parent's files first and unpacks in order."""
        sn = self.snapshotter
        chains = mf.chain_ids(diff_ids)
        missing = []
        for i, chain in enumerate(chains):
            try:
                sn.usage(chain)
            except NotFound:
                missing.append(i)
        staged: dict[int, str] = {}
        if sn.whiteouts == "overlay" and len(missing) > 1:
            staged = self._stage_parallel(manifest, diff_ids, missing)
        try:
            total = 0
            parent: str | None = None
            for i, (desc, diff_id, chain) in enumerate(zip(manifest.layers, diff_ids, chains,
                                                           strict=True)):
                if i in missing:
                    self._unpack_one(desc.digest, diff_id, chain, parent, staged.pop(i, None))
                total += sn.usage(chain).size
                parent = chain
            return total
        finally:
            import shutil
            for path in staged.values():
                shutil.rmtree(path, ignore_errors=True)

    def _stage_parallel(self, manifest: mf.Manifest, diff_ids: list[str],
                        missing: list[int]) -> dict[int, str]:
        from concurrent.futures import ThreadPoolExecutor

        from hull.image.layer import apply_layer
        staging = os.path.join(self.root, "snapshots", "staging")
        os.makedirs(staging, exist_ok=True)
        paths = {i: os.path.join(staging, os.urandom(16).hex()) for i in missing}

        def extract(i: int) -> None:
            os.mkdir(paths[i], 0o755)
            with self.content.open(manifest.layers[i].digest) as blob:
                got, _ = apply_layer(blob, paths[i], "overlay")
            if got != diff_ids[i]:
                raise InvalidArgument(f"layer {manifest.layers[i].digest}: unpacked content "
                                      f"is {got}, the image config says {diff_ids[i]}")
        try:
            with ThreadPoolExecutor(max_workers=3) as pool:
                for job in [pool.submit(extract, i) for i in missing]:
                    job.result()
        except BaseException:
            import shutil
            for path in paths.values():
                shutil.rmtree(path, ignore_errors=True)
            raise
        return paths

    def _unpack_one(self, blob_digest: str, diff_id: str, chain: str, parent: str | None,
                    staged: str | None) -> None:
        from hull.image.layer import apply_layer
        sn = self.snapshotter

        def fill(upper: str) -> None:
            if staged is not None:
                os.rename(staged, upper)   # replaces the empty directory
                return
            with self.content.open(blob_digest) as blob:
                got, _ = apply_layer(blob, upper, sn.whiteouts)
            if got != diff_id:
                raise InvalidArgument(f"layer {blob_digest}: unpacked content is {got}, "
                                      f"the image config says {diff_id}")
        self.add_snapshot(chain, parent, fill)

    def add_snapshot(self, chain: str, parent: str | None, fill: Callable[[str], None]
                     ) -> None:
        """Snapshot `chain` on `parent`, its files written by fill(upper dir) into a
        scratch snapshot that becomes `chain` only when complete; a concurrent maker of
        the same chain may win, and a failure leaves nothing behind."""
        sn = self.snapshotter
        key = f"extract-{os.urandom(16).hex()}"
        sn.prepare(key, parent)
        try:
            fill(sn.upper_dir(key))
            try:
                sn.commit(chain, key)
            except AlreadyExists:   # another maker of the same layer won the race
                sn.remove(key)
        except BaseException:
            try:
                sn.remove(key)
            except (NotFound, FailedPrecondition):
                pass
            raise

    def tag(self, image_id: str, ref: Reference) -> None:
        if not ref.tag or ref.digest:
            raise InvalidArgument(f"{ref}: a tag needs name:tag, not a digest")
        self.get(image_id)
        self.db.execute("INSERT INTO tags (name, image, tagged) VALUES (?, ?, ?) "
                        "ON CONFLICT(name) DO UPDATE SET image = excluded.image, "
                        "tagged = excluded.tagged", (str(ref), image_id, time.time()))

    def untag(self, ref: Reference) -> str:
        row = self.db.execute("SELECT image FROM tags WHERE name = ?", (str(ref),)).fetchone()
        if row is None:
            raise NotFound(f"No such image: {ref.familiar()}")
        self.db.execute("DELETE FROM tags WHERE name = ?", (str(ref),))
        return str(row[0])

    def untag_digest(self, name: str) -> None:
        """Forget one repo@digest name of an image (its RepoDigests entry)."""
        self.db.execute("DELETE FROM repo_digests WHERE name = ?", (name,))

    def set_parent(self, image_id: str, parent: str) -> None:
        """Record the local image `image_id` was made from (commit, a build step): Docker
        shows it as Parent; pulled and loaded images have none."""
        self.db.execute("INSERT OR REPLACE INTO parents (image, parent) VALUES (?, ?)",
                        (image_id, parent))

    def parent_of(self, image_id: str) -> str:
        row = self.db.execute("SELECT parent FROM parents WHERE image = ?",
                              (image_id,)).fetchone()
        return str(row[0]) if row else ""

    def delete(self, image_id: str) -> None:
        """Forget an image and its tags; its blobs and snapshots go at gc()."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute("DELETE FROM tags WHERE image = ?", (image_id,))
            self.db.execute("DELETE FROM repo_digests WHERE image = ?", (image_id,))
            self.db.execute("DELETE FROM parents WHERE image = ?", (image_id,))
            self.db.execute("DELETE FROM images WHERE id = ?", (image_id,))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def gc(self, keep_snapshots: set[str] = frozenset()  # type: ignore[assignment]
           ) -> list[tuple[str, int]]:
        """Remove blobs and layer snapshots no image references (reference counting by
        reachability from the images table); a layer a container's snapshot still stands on
        stays. Returns the layers removed (chain ID, unpacked bytes), top layers first, as
        Docker reports them after "Deleted: <image>"."""
        blobs: set[str] = set()
        snaps: set[str] = set(keep_snapshots)
        for image in self.images():
            manifest = self.manifest_of(image)
            blobs |= {image.manifest, manifest.config.digest} | {d.digest for d in
                                                                 manifest.layers}
            snaps |= set(mf.chain_ids(self.diff_ids(image)))
        for snapshot, blob in self.db.execute("SELECT snapshot, blob FROM leases"):
            snaps.add(snapshot)   # the build cache's layers, and below them their parents
            blobs.add(blob)
        snaps |= self._parents_of(snaps)
        for info in list(self.content.walk()):
            if info.digest not in blobs:
                self.content.delete(info.digest)
        removed: list[tuple[str, int]] = []
        changed = True
        while changed:   # children first: a parent cannot go while a child exists
            changed = False
            for snap in list(self.snapshotter.walk()):
                if snap.kind == "committed" and snap.key.startswith("sha256:") and \
                        snap.key not in snaps:
                    size = self.snapshotter.usage(snap.key).size
                    try:
                        self.snapshotter.remove(snap.key)
                    except FailedPrecondition:
                        continue
                    removed.append((snap.key, size))
                    changed = True
        return removed


    def _parents_of(self, snaps: set[str]) -> set[str]:
        """Every layer below the given ones (a leased layer needs its parents)."""
        parent = {i.key: i.parent for i in self.snapshotter.walk()}
        out: set[str] = set()
        for key in snaps:
            up = parent.get(key)
            while up is not None and up not in out:
                out.add(up)
                up = parent.get(up)
        return out

    def lease(self, owner: str, layers: list[tuple[str, str]]) -> None:
        """Keep these layers (chain ID, blob digest) from gc until release(owner)."""
        self.db.executemany("INSERT OR IGNORE INTO leases (owner, snapshot, blob) "
                            "VALUES (?, ?, ?)", [(owner, c, b) for c, b in layers])

    def release(self, owners: list[str]) -> None:
        self.db.executemany("DELETE FROM leases WHERE owner = ?", [(o,) for o in owners])


def config_blob(config: dict[str, Any]) -> bytes:
    return fastjson.dumps(config).encode()
