"""The on-disk content store: <root>/blobs/sha256/<hex> and <root>/ingest/<ref>/.

A writer appends to ingest/<ref>/data; an interrupted ingest resumes from what is there
(the hash is rebuilt by reading it back). commit() checks size and digest, fsyncs, and
renames into blobs/ — the only way a blob appears, so a blob is always whole and verified.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

from hull.digest import validate
from hull.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from hull.record import record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO


@record
class BlobInfo:
    digest: str
    size: int
    created: float


class BlobWriter:
    """Append-only writer for one ingest; use as a context manager or call close()."""

    def __init__(self, store: ContentStore, ref: str, path: str) -> None:
        self.store = store
        self.ref = ref
        self.path = path
        self._hash = hashlib.sha256()
        self._file = open(os.path.join(path, "data"), "ab+")  # noqa: SIM115 - kept open
        self._file.seek(0)
        while chunk := self._file.read(1 << 20):   # resume: rebuild the running hash
            self._hash.update(chunk)
        self.offset = self._file.tell()

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self._hash.update(data)
        self.offset += len(data)

    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()

    def commit(self, size: int | None = None, digest: str | None = None) -> str:
        """Verify and publish; returns the digest. On mismatch the ingest is discarded."""
        actual = self.digest()
        if (size is not None and size != self.offset) or (digest is not None and
                                                           digest != actual):
            self.abort()
            want = f"{digest or '?'} ({size if size is not None else '?'} bytes)"
            raise InvalidArgument(f"content {self.ref}: got {actual} ({self.offset} bytes), "
                                  f"expected {want}")
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        target = self.store.blob_path(actual)
        if os.path.exists(target):
            self._remove()
            return actual
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.rename(os.path.join(self.path, "data"), target)
        dirfd = os.open(os.path.dirname(target), os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dirfd)
        finally:
            os.close(dirfd)
        self._remove()
        return actual

    def close(self) -> None:
        """Stop writing but keep the partial data, so a later writer resumes it."""
        if not self._file.closed:
            self._file.close()

    def abort(self) -> None:
        self.close()
        self._remove()

    def _remove(self) -> None:
        for name in ("data", "lock"):
            try:
                os.unlink(os.path.join(self.path, name))
            except FileNotFoundError:
                pass
        try:
            os.rmdir(self.path)
        except OSError:
            pass

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ContentStore:
    def __init__(self, root: str) -> None:
        self.root = root

    def blob_path(self, digest: str) -> str:
        algorithm, _, hexpart = validate(digest).partition(":")
        return os.path.join(self.root, "blobs", algorithm, hexpart)

    def writer(self, ref: str) -> BlobWriter:
        """A writer for ingest `ref` (resumes earlier partial data under the same ref).
        One writer per ref at a time: a second is refused while the first holds the lock."""
        if not ref or "/" in ref or ref.startswith("."):
            raise InvalidArgument(f"invalid ingest reference {ref!r}")
        path = os.path.join(self.root, "ingest", ref)
        os.makedirs(path, exist_ok=True)
        try:
            os.close(os.open(os.path.join(path, "lock"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            raise AlreadyExists(f"ingest {ref} is being written by another writer") from None
        return BlobWriter(self, ref, path)

    def release(self, ref: str) -> None:
        """Drop the lock of a writer that died without closing (its data is kept)."""
        try:
            os.unlink(os.path.join(self.root, "ingest", ref, "lock"))
        except FileNotFoundError:
            pass

    def ingest_offset(self, ref: str) -> int:
        try:
            return os.path.getsize(os.path.join(self.root, "ingest", ref, "data"))
        except FileNotFoundError:
            return 0

    def add(self, data: bytes, digest: str | None = None) -> str:
        """Store a small blob in one go."""
        import uuid
        w = self.writer(f"add-{uuid.uuid4().hex}")
        try:
            w.write(data)
            return w.commit(len(data), digest)
        except BaseException:
            w.abort()
            raise

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self.blob_path(digest), "rb")
        except FileNotFoundError:
            raise NotFound(f"content {digest}: not found") from None

    def read(self, digest: str) -> bytes:
        with self.open(digest) as f:
            return f.read()

    def exists(self, digest: str) -> bool:
        return os.path.exists(self.blob_path(digest))

    def info(self, digest: str) -> BlobInfo:
        try:
            st = os.stat(self.blob_path(digest))
        except FileNotFoundError:
            raise NotFound(f"content {digest}: not found") from None
        return BlobInfo(digest, st.st_size, st.st_mtime)

    def walk(self) -> Iterator[BlobInfo]:
        base = os.path.join(self.root, "blobs", "sha256")
        try:
            names = sorted(os.listdir(base))
        except FileNotFoundError:
            return
        for name in names:
            st = os.stat(os.path.join(base, name))
            yield BlobInfo(f"sha256:{name}", st.st_size, st.st_mtime)

    def delete(self, digest: str) -> None:
        try:
            os.unlink(self.blob_path(digest))
        except FileNotFoundError:
            raise NotFound(f"content {digest}: not found") from None

    def verify(self, digest: str) -> None:
        """Re-hash a stored blob (for `fsck`-style checks and tests)."""
        h = hashlib.sha256()
        with self.open(digest) as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        if "sha256:" + h.hexdigest() != digest:
            raise FailedPrecondition(f"content {digest}: stored data does not match its "
                                     "digest")
