"""The content store: verified, atomic, resumable."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from hull.content.store import ContentStore
from hull.digest import validate
from hull.errors import AlreadyExists, InvalidArgument, NotFound


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_add_read_info_walk_delete(tmp_path: Path) -> None:
    cs = ContentStore(str(tmp_path))
    d = cs.add(b"hello")
    assert d == sha(b"hello") and cs.read(d) == b"hello" and cs.info(d).size == 5
    assert [i.digest for i in cs.walk()] == [d]
    cs.verify(d)
    cs.delete(d)
    with pytest.raises(NotFound):
        cs.read(d)


def test_mismatch_leaves_nothing_visible(tmp_path: Path) -> None:
    cs = ContentStore(str(tmp_path))
    w = cs.writer("r1")
    w.write(b"payload")
    with pytest.raises(InvalidArgument, match="expected"):
        w.commit(7, sha(b"other"))
    assert list(cs.walk()) == [] and cs.ingest_offset("r1") == 0
    w = cs.writer("r2")
    w.write(b"short")
    with pytest.raises(InvalidArgument):
        w.commit(99, sha(b"short"))
    assert not cs.exists(sha(b"short"))


def test_interrupted_ingest_resumes(tmp_path: Path) -> None:
    cs = ContentStore(str(tmp_path))
    data = bytes(range(256)) * 1000
    w = cs.writer("pull-layer")
    w.write(data[:100000])
    w.close()                       # the download broke here
    cs.release("pull-layer")
    assert not cs.exists(sha(data)) and cs.ingest_offset("pull-layer") == 100000
    w = cs.writer("pull-layer")
    assert w.offset == 100000
    w.write(data[100000:])
    assert w.commit(len(data), sha(data)) == sha(data)
    assert cs.read(sha(data)) == data


def test_one_writer_per_ingest(tmp_path: Path) -> None:
    cs = ContentStore(str(tmp_path))
    w = cs.writer("same")
    with pytest.raises(AlreadyExists):
        cs.writer("same")
    w.abort()


@pytest.mark.parametrize("bad", ["sha256:abc", "md5:" + "0" * 32, "sha256:" + "G" * 64, "x"])
def test_invalid_digests(bad: str) -> None:
    with pytest.raises(InvalidArgument):
        validate(bad)
