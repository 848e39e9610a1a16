"""What COPY and ADD read: the build context straight from its directory, or a stage's
root filesystem; which paths a source names; and a content checksum for the build cache.

The context is read in place, never packed up: `.dockerignore` (ignore.py) decides what is
in it, exactly as if BuildKit had received the filtered tree. An excluded directory that
holds a re-included path is still there (holding just that path), the way fsutil's walker
sends such parents. The Dockerfile and the ignore files are ordinary files here: BuildKit
loads them separately, so they are in the context unless a pattern excludes them.

Sources (BuildKit's copy rules): a source is cleaned against "/" (`../x` is `x`, `.` the
root), so it can never name anything outside the tree. Without wildcards it must exist, or
the build fails with `"/x": not found`, as BuildKit's cache-key step does. With wildcards
(`*`, `?`, `[...]`, Go's filepath.Match rules per path component, `\\` escaping) the
components before the first wildcard are a plain path and those from it on are matched
against directory entries; a pattern that matches nothing copies nothing and is no error
(BuildKit's AllowEmptyWildcard, see its testEmptyWildcard). Symlinks met inside a source
path are resolved within the tree (an absolute target starts again at the tree's root,
`..` stops there), as if the tree were `/`. resolve returns a symlink source as the link;
`target` follows it inside the tree as BuildKit's COPY does (FollowSymlinks), and the
checksum of a link source covers both. Walks never follow links; reads go through
directory fds opened with O_NOFOLLOW, so no link can lead them out of the tree.

Checksums (BuildKit's cache/contenthash, for local sources): per entry the relative path,
file type, permission bits with setuid/setgid/sticky, symlink target, device numbers and
the SHA-256 of a file's content — never mtime, atime, uid or gid, so a fresh checkout of
the same files hits the cache. `manifest` gives the per-entry digests, so a cache miss can
name the paths that changed.

The content index (Context only): file digests persist in SQLite keyed by (real context
root, path) with the file's (size, mtime, ctime, inode, device); a file whose stat is
unchanged is not read again, so re-checking a large context costs one lstat per entry.
Several builds share the file (WAL, a busy timeout, short transactions); a file that is
not a database, or a damaged page, makes hull start a new index, and every row carries a
CRC over its fields, so a row changed behind hull's back is ignored, never used. Like git's
"racy clean" rule, a digest is only stored when the file's mtime and ctime are older than
the moment its hashing began by more than the clock's granularity — otherwise a rewrite
within the same timestamp tick would keep its old stat and the old digest would be trusted.
"""

from __future__ import annotations

import errno
import hashlib
import os
import posixpath
import re
import sqlite3
import stat
import threading
import time
import zlib
from collections.abc import Callable, Generator, Iterator
from typing import NamedTuple, TypeVar

from hull.build.errors import BuildError
from hull.build.ignore import (
    GlobSyntaxError,
    PatternMatcher,
    compile_glob,
    has_wildcards,
    read_ignore_file,
)

MAX_LINKS = 40                      # symlinks followed while resolving one source path
RACY_NS = 100_000_000               # kernel timestamps lag the clock by up to a tick
RACY_COARSE_NS = 3_000_000_000      # files whose timestamps look like 1 s or 2 s ticks
_STALE_ROOT_NS = 30 * 24 * 3600 * 10**9   # forget contexts not checked for 30 days
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_SCHEMA = 1

Key = tuple[int, int, int, int, int]   # size, mtime_ns, ctime_ns, ino, dev (as signed)
Row = tuple[Key, str]                  # a file's stat key and content digest (hex)
_T = TypeVar("_T")
_BATCH = 2000                          # rows written per transaction


def _clock_ns() -> int:
    return time.time_ns()


def clean_rel(path: str) -> str:
    """A source path made relative to the tree root: "" for the root, never with ".."."""
    return posixpath.normpath("/" + path).lstrip("/")


def _not_found(rel: str) -> BuildError:
    return BuildError(f'"/{rel}": not found')


def _os_error(rel: str, err: OSError) -> BuildError:
    reason = (err.strerror or str(err)).lower()
    return BuildError(f"open /{rel}: {reason}")


def _enc(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _key(st: os.stat_result) -> Key:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, _signed(st.st_ino),
            _signed(st.st_dev))


def _racy(st: os.stat_result, started_ns: int) -> bool:
    """Could the file change again without its stat changing (git's racy-clean case)?"""
    coarse = st.st_mtime_ns % 1_000_000 == 0 and st.st_ctime_ns % 1_000_000 == 0
    window = RACY_COARSE_NS if coarse else RACY_NS
    return max(st.st_mtime_ns, st.st_ctime_ns) >= started_ns - window


def _hash_file(dir_fd: int, name: str) -> tuple[str, os.stat_result]:
    """SHA-256 (hex) of a regular file's content, and its stat before the read. The one
    place file content is read; never follows a symlink swapped in for the file."""
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                 dir_fd=dir_fd)
    with open(fd, "rb", buffering=0) as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EAGAIN, "changed while the build read it")
        return hashlib.file_digest(f, "sha256").hexdigest(), st


class _Item(NamedTuple):
    rel: str
    st: os.stat_result
    dir_fd: int      # open directory holding it (valid until the walk moves on)
    name: str


class Tree:
    """A directory on the host that COPY/ADD read from: the build context (with its ignore
    rules) or a stage's rootfs (none)."""

    root: str

    def __init__(self, root: str, matcher: PatternMatcher | None = None) -> None:
        self.root = os.path.abspath(root)
        self.matcher = matcher if matcher else None
        self._lock = threading.RLock()
        self._known: dict[str, Row] | None = None   # rel -> stat key, content digest
        self._index: _Index | None = None

    # --- what is in the tree -------------------------------------------------------

    def ignored(self, rel: str) -> bool:
        """Is rel left out of the tree by the ignore rules? (An excluded directory that
        holds a re-included path is not: it is there, holding just that.)"""
        rel = clean_rel(rel)
        m = self.matcher
        if m is None or not rel:
            return False
        last = m.state(rel)
        if not m.excluded(last):
            return False
        if m.can_skip(rel, last) or self._lookup(rel.split("/"), False) != rel:
            return True
        return not self._present(rel)

    def _present(self, rel: str) -> bool:
        if self.matcher is None:
            return True
        walk = self._entries(rel)
        try:
            return next(walk, None) is not None
        finally:
            walk.close()

    def _lookup(self, parts: list[str], follow_last: bool) -> str | None:
        """The real relative path parts name, symlinks on the way resolved inside the
        tree (and the last one too when follow_last); None if it does not exist or runs
        through a link that is not in the tree."""
        todo = list(reversed(parts))
        done: list[str] = []
        links = 0
        while todo:
            name = todo.pop()
            if name in ("", "."):
                continue
            if name == "..":
                if done:
                    done.pop()
                continue
            rel = "/".join([*done, name])
            path = os.path.join(self.root, rel)
            try:
                st = os.lstat(path)
                last = not todo
                if stat.S_ISLNK(st.st_mode) and (follow_last or not last):
                    links += 1
                    if links > MAX_LINKS or (self.matcher and self.matcher.matches(rel)):
                        return None
                    target = os.readlink(path)
                    if target.startswith("/"):
                        done = []
                    todo.extend(reversed(target.split("/")))
                    continue
            except OSError:
                return None
            if not last and not stat.S_ISDIR(st.st_mode):
                return None
            done.append(name)
        return "/".join(done)

    def resolve(self, pattern: str) -> list[str]:
        """The paths one COPY/ADD source names, relative to the root ("" for the root
        itself), sorted. A missing plain path raises BuildError('"/x": not found'); a
        wildcard pattern may match nothing."""
        rel = clean_rel(pattern)
        parts = rel.split("/") if rel else []
        wild = next((n for n, part in enumerate(parts) if has_wildcards(part)), None)
        if wild is None:
            found = self._lookup(parts, follow_last=False)
            if found is None or not self._present(found):
                raise _not_found(rel)
            return [found]
        try:
            globs = [compile_glob(part) for part in parts[wild:]]
        except GlobSyntaxError:
            raise BuildError(f'invalid source pattern "{pattern}": '
                             "syntax error in pattern") from None
        base = self._lookup(parts[:wild], follow_last=True)
        return [] if base is None else sorted(self._glob(base, globs))

    def target(self, rel: str) -> str:
        """Where rel leads when a final symlink is followed inside the tree (BuildKit's
        COPY follows a source's own link this way; resolve and walk never do); rel itself
        when it is no link. Raises not found when the chain dangles or is ignored."""
        rel = clean_rel(rel)
        found = self._lookup(rel.split("/") if rel else [], follow_last=True)
        if found is None or not self._present(found):
            raise _not_found(rel)
        return found

    def _glob(self, base: str, globs: list[re.Pattern[str]]) -> list[str]:
        m = self.matcher
        level = [(base, m.state(base) if m else -1)]
        for n, glob in enumerate(globs):
            final = n == len(globs) - 1
            matched: list[tuple[str, int]] = []
            for parent, parent_last in level:
                try:
                    with os.scandir(os.path.join(self.root, parent)) as it:
                        names = sorted((e.name, e.is_dir(follow_symlinks=False)) for e in it)
                except OSError:
                    continue
                for name, is_dir in names:
                    if glob.fullmatch(name) is None:
                        continue
                    rel = f"{parent}/{name}" if parent else name
                    last = m.last_hit(rel, parent_last) if m else -1
                    if final:
                        if self._present(rel):
                            matched.append((rel, last))
                    elif is_dir and not (m and m.can_skip(rel, last)):
                        matched.append((rel, last))
            level = matched
        return [rel for rel, _ in level]

    def walk(self, rel: str) -> Iterator[tuple[str, os.stat_result]]:
        """rel (as resolve returns it) and then everything below it that is in the tree,
        depth first, names sorted; lstat results. Symlinks are entries, never followed."""
        for item in self._entries(clean_rel(rel)):
            yield item.rel, item.st

    def _entries(self, rel: str) -> Generator[_Item, None, None]:
        """walk, with the open directory fd each entry can be read through."""
        m = self.matcher
        parts = rel.split("/") if rel else []
        opened: list[int] = []
        stack: list[tuple[int, str, Iterator[tuple[str, os.stat_result]], int]] = []
        pending: list[_Item] = []   # excluded directories yielded once something below is
        try:
            try:
                opened.append(os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
                for part in parts[:-1]:
                    opened.append(os.open(part, _DIR_FLAGS, dir_fd=opened[-1]))
                name = parts[-1] if parts else "."
                top = _Item(rel, os.stat(name, dir_fd=opened[-1], follow_symlinks=False),
                            opened[-1], name)
            except OSError as e:
                if e.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                    raise _not_found(rel) from None
                raise _os_error(rel, e) from None
            item: _Item | None = top
            last = m.state(rel) if m else -1
            while True:
                if item is not None:
                    present = m is None or not item.rel or not m.excluded(last)
                    is_dir = stat.S_ISDIR(item.st.st_mode)
                    if present:
                        yield from pending
                        pending.clear()
                        yield item
                    if is_dir and (present or not (m and m.can_skip(item.rel, last))):
                        if not present:
                            pending.append(item)
                        frame = self._open_dir(item, present)
                        if frame is not None:
                            stack.append((frame[0], item.rel, frame[1], last))
                        elif pending and pending[-1] is item:
                            pending.pop()
                if not stack:
                    return
                fd, parent, children, parent_last = stack[-1]
                child = next(children, None)
                if child is None:
                    stack.pop()
                    os.close(fd)
                    if pending and pending[-1].rel == parent:
                        pending.pop()
                    item = None
                    continue
                child_rel = f"{parent}/{child[0]}" if parent else child[0]
                item = _Item(child_rel, child[1], fd, child[0])
                last = m.last_hit(child_rel, parent_last) if m else -1
        finally:
            for fd, *_ in stack:
                os.close(fd)
            for fd in opened:
                os.close(fd)

    def _open_dir(self, item: _Item, present: bool
                  ) -> tuple[int, Iterator[tuple[str, os.stat_result]]] | None:
        """An fd of the directory item and its entries sorted by name; None when it
        cannot be read but is excluded anyway (fsutil skips those too)."""
        try:
            fd = os.open(item.name, _DIR_FLAGS, dir_fd=item.dir_fd)
        except OSError as e:
            if not present and e.errno == errno.EACCES:
                return None
            raise _os_error(item.rel, e) from None
        try:
            now = os.fstat(fd)
            if (now.st_ino, now.st_dev) != (item.st.st_ino, item.st.st_dev):
                raise OSError(errno.EAGAIN, "changed while the build read it")
            with os.scandir(fd) as it:
                children = sorted((e.name, e.stat(follow_symlinks=False)) for e in it)
        except OSError as e:
            os.close(fd)
            raise _os_error(item.rel, e) from None
        return fd, iter(children)

    # --- checksums -----------------------------------------------------------------

    def manifest(self, rels: list[str]) -> dict[str, str]:
        """rel path -> digest of one entry (type, permissions, link target, content), for
        each source and everything below it that is in the tree; for a source that is a
        symlink, also for what it leads to inside the tree."""
        with self._lock:
            known = self._load()
            started = _clock_ns()
            out: dict[str, str] = {}
            fresh: list[tuple[str, Key, str]] = []
            seen: set[str] = set()
            tops = [clean_rel(rel) for rel in rels]
            tops += [link for link in map(self._link_target, tops) if link is not None]
            for top in tops:
                for item in self._entries(top):
                    if item.rel not in out:
                        out[item.rel] = self._describe(item, known, started, fresh)
                        seen.add(item.rel)
            stale = [path for path in known if path not in seen and any(
                not top or path == top or path.startswith(top + "/") for top in tops)]
            for path in stale:
                del known[path]
            if self._index is not None and (fresh or stale):
                self._index.update(fresh, stale)
            return out

    def _link_target(self, rel: str) -> str | None:
        """A source that is a symlink also brings in what it leads to inside the tree:
        BuildKit's COPY copies that (FollowSymlinks), so it must be part of the key."""
        try:
            if not os.path.islink(os.path.join(self.root, rel)):
                return None
            return self.target(rel)
        except BuildError:
            return None

    def _load(self) -> dict[str, Row]:
        if self._known is None:
            self._known = self._index.load() if self._index is not None else {}
        return self._known

    def _describe(self, item: _Item, known: dict[str, Row],
                  started: int, fresh: list[tuple[str, Key, str]]) -> str:
        st = item.st
        mode = st.st_mode
        perm = f"{stat.S_IMODE(mode):o}"
        try:
            if stat.S_ISREG(mode):
                desc = f"file {perm} {self._content(item, known, started, fresh)}"
            elif stat.S_ISDIR(mode):
                desc = f"dir {perm}"
            elif stat.S_ISLNK(mode):
                desc = f"symlink {perm} {os.readlink(item.name, dir_fd=item.dir_fd)}"
            elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
                kind = "char" if stat.S_ISCHR(mode) else "block"
                desc = f"{kind} {perm} {os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
            else:
                desc = f"{'fifo' if stat.S_ISFIFO(mode) else 'socket'} {perm}"
        except OSError as e:
            raise _os_error(item.rel, e) from None
        return hashlib.sha256(_enc(desc)).hexdigest()

    def _content(self, item: _Item, known: dict[str, Row], started: int,
                 fresh: list[tuple[str, Key, str]]) -> str:
        row = known.get(item.rel)
        if row is not None and row[0] == _key(item.st):
            return row[1]
        digest, st = _hash_file(item.dir_fd, item.name)
        if _racy(st, started):
            known.pop(item.rel, None)
        else:
            known[item.rel] = (_key(st), digest)
            fresh.append((item.rel, _key(st), digest))
        return digest

    def checksum(self, rels: list[str]) -> str:
        """"sha256:…" of the sources and everything below them; the same for the same
        names, types, permissions, link targets and contents, whatever the timestamps and
        owners. The sources' order is part of it (a later source overwrites)."""
        entries = self.manifest(rels)
        h = hashlib.sha256(b"hull-context-v1\0%d\0" % len(rels))
        for rel in rels:
            h.update(_enc(clean_rel(rel)) + b"\0")
        for path in sorted(entries):
            h.update(_enc(path) + b"\0" + entries[path].encode() + b"\n")
        return "sha256:" + h.hexdigest()

    def changed_since(self, old: dict[str, str], rels: list[str]) -> list[str]:
        """Paths added, removed or changed since `old` (an earlier manifest), sorted."""
        new = self.manifest(rels)
        return sorted(path for path in old.keys() | new.keys() if old.get(path) != new.get(path))

    def close(self) -> None:
        """Release what the tree holds (the index, for a Context)."""


def _crc(rel: str, key: Key, digest: str) -> int:
    return zlib.crc32(_enc(f"{rel}\0{key}\0{digest}"))


def _parse_row(row: tuple[object, ...]) -> tuple[str, Row] | None:
    """A stored row as (rel, (key, digest)), or None when any field is not what hull
    wrote (wrong type, bad digest, CRC mismatch)."""
    path, *numbers, digest, crc = row
    if not (isinstance(path, bytes) and isinstance(digest, str) and isinstance(crc, int)
            and len(digest) == 64 and len(numbers) == 5):
        return None
    key: list[int] = []
    for value in numbers:
        if not isinstance(value, int):
            return None
        key.append(value)
    rel = os.fsdecode(path)
    full: Key = (key[0], key[1], key[2], key[3], key[4])
    if _crc(rel, full, digest) != crc:
        return None
    return rel, (full, digest)


class _Index:
    """The SQLite file of content digests. Best effort: when it cannot be used the build
    goes on without it; when it is damaged it is replaced."""

    def __init__(self, path: str, root_key: bytes) -> None:
        self.path = path
        self.root_key = root_key
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._open()

    def _open(self) -> None:
        for _ in range(2):
            try:
                self._db = self._connect()
                return
            except sqlite3.OperationalError:   # locked, unreadable, no space: do without
                break
            except sqlite3.DatabaseError:      # not a database, or damaged: start again
                self._discard()
            except OSError:
                break
        self._db = None

    def _connect(self) -> sqlite3.Connection:
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None,
                             check_same_thread=False)
        try:
            db.execute("PRAGMA busy_timeout = 5000")
            db.execute("PRAGMA journal_mode = WAL").fetchone()
            db.execute("PRAGMA synchronous = NORMAL")
            if db.execute("PRAGMA user_version").fetchone()[0] != _SCHEMA:
                db.execute("BEGIN IMMEDIATE")
                if db.execute("PRAGMA user_version").fetchone()[0] != _SCHEMA:
                    db.execute("DROP TABLE IF EXISTS files")
                    db.execute("DROP TABLE IF EXISTS roots")
                    db.execute("CREATE TABLE files (root BLOB, path BLOB, size INTEGER, "
                               "mtime_ns INTEGER, ctime_ns INTEGER, ino INTEGER, "
                               "dev INTEGER, digest TEXT, crc INTEGER, "
                               "PRIMARY KEY (root, path)) WITHOUT ROWID")
                    db.execute("CREATE TABLE roots (root BLOB PRIMARY KEY, used_ns INTEGER)")
                    db.execute(f"PRAGMA user_version = {_SCHEMA}")
                db.execute("COMMIT")
        except BaseException:
            db.close()
            raise
        return db

    def _discard(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.unlink(self.path + suffix)
            except OSError:
                pass

    def _transaction(self, work: Callable[[sqlite3.Connection], _T], write: bool
                     ) -> _T | None:
        """Run work in one short transaction; None when the index is unusable (busy for
        too long) or damaged (then it is started again, empty)."""
        with self._lock:
            db = self._db
            if db is None:
                return None
            try:
                db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                result = work(db)
                db.execute("COMMIT")
                return result
            except sqlite3.DatabaseError as e:
                if db.in_transaction:
                    try:
                        db.execute("ROLLBACK")
                    except sqlite3.DatabaseError:
                        pass
                if not isinstance(e, sqlite3.OperationalError):
                    self._discard()
                    self._open()
                return None

    def load(self) -> dict[str, Row]:
        """This context's rows (rel -> (stat key, digest)); rows failing their check are
        left out, so they are hashed again and overwritten."""
        rows = self._transaction(lambda db: db.execute(
            "SELECT path, size, mtime_ns, ctime_ns, ino, dev, digest, crc FROM files "
            "WHERE root = ?", (self.root_key,)).fetchall(), write=False) or []
        self._transaction(self._touch, write=True)
        return dict(parsed for parsed in map(_parse_row, rows) if parsed is not None)

    def _touch(self, db: sqlite3.Connection) -> None:
        """Note that this context was used; forget contexts not used for a month."""
        now = _clock_ns()
        db.execute("INSERT OR REPLACE INTO roots VALUES (?, ?)", (self.root_key, now))
        old = db.execute("SELECT root FROM roots WHERE used_ns < ?",
                         (now - _STALE_ROOT_NS,)).fetchall()
        db.executemany("DELETE FROM files WHERE root = ?", old)
        db.executemany("DELETE FROM roots WHERE root = ?", old)

    def update(self, fresh: list[tuple[str, Key, str]], stale: list[str]) -> None:
        """Store new digests and forget files that are gone, a batch per transaction."""
        def write(fresh: list[tuple[str, Key, str]], stale: list[str]
                  ) -> Callable[[sqlite3.Connection], None]:
            def run(db: sqlite3.Connection) -> None:
                db.executemany(
                    "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(self.root_key, os.fsencode(rel), *key, digest, _crc(rel, key, digest))
                     for rel, key, digest in fresh])
                db.executemany("DELETE FROM files WHERE root = ? AND path = ?",
                               [(self.root_key, os.fsencode(rel)) for rel in stale])
            return run
        for start in range(0, max(len(fresh), len(stale)), _BATCH):
            self._transaction(write(fresh[start:start + _BATCH], stale[start:start + _BATCH]),
                              write=True)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


class Context(Tree):
    """The build context: a directory, its ignore rules and the shared content index."""

    def __init__(self, root: str, dockerfile: str, index_path: str) -> None:
        super().__init__(root, PatternMatcher(read_ignore_file(root, dockerfile)))
        self._index = _Index(index_path, os.fsencode(os.path.realpath(self.root)))

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
