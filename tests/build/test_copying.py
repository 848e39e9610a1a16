"""COPY and ADD on the filesystem (hull.build.copying, copyflags, fetching): where files
land, what they look like, and that nothing escapes the rootfs or the source root. The
tmp_path is both the "context" and the "rootfs"; only --chown's ownership checks need
root, and they touch nothing but tmp_path."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import http.server
import io
import lzma
import os
import socket
import stat
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hull.build.copying import SymbolicMode, copy_into, parse_chmod, resolve_owner
from hull.build.errors import BuildError
from hull.build.fetching import fetch_url, url_filename

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")


@pytest.fixture
def src(tmp_path: Path) -> Path:
    d = tmp_path / "context"
    d.mkdir()
    return d


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    d = tmp_path / "rootfs"
    d.mkdir()
    return d


def put(path: Path, text: str = "data", mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def copy(rootfs: Path, src: Path, sources: list[str], dest: str, *, dest_is_dir: bool = False,
         **kw: Any) -> None:
    kw.setdefault("owner", None)
    kw.setdefault("mode", None)
    kw.setdefault("keep_owner", False)
    copy_into(str(rootfs), str(src), sources, dest, dest_is_dir=dest_is_dir, **kw)


# --- where things land ------------------------------------------------------------------

def test_directory_copies_its_contents(src: Path, rootfs: Path) -> None:
    put(src / "dir/a", "A")
    put(src / "dir/sub/b", "B")
    copy(rootfs, src, ["dir"], "/dest")
    assert (rootfs / "dest/a").read_text() == "A"
    assert (rootfs / "dest/sub/b").read_text() == "B"
    assert not (rootfs / "dest/dir").exists()
    assert stat.S_IMODE((rootfs / "dest").stat().st_mode) == 0o755


def test_whole_context(src: Path, rootfs: Path) -> None:
    put(src / "a")
    copy(rootfs, src, [""], "/", dest_is_dir=True)
    assert (rootfs / "a").is_file()


def test_trailing_slash_makes_a_directory(src: Path, rootfs: Path) -> None:
    put(src / "f", "F")
    copy(rootfs, src, ["f"], "/newdir", dest_is_dir=True)
    assert (rootfs / "newdir/f").read_text() == "F"


def test_file_to_file(src: Path, rootfs: Path) -> None:
    put(src / "f", "F")
    copy(rootfs, src, ["f"], "/renamed")
    assert (rootfs / "renamed").read_text() == "F"


def test_file_into_existing_directory(src: Path, rootfs: Path) -> None:
    put(src / "sub/f", "F")
    (rootfs / "existing").mkdir()
    copy(rootfs, src, ["sub/f"], "/existing")
    assert (rootfs / "existing/f").read_text() == "F"


def test_several_sources(src: Path, rootfs: Path) -> None:
    put(src / "a", "A")
    put(src / "b", "B")
    put(src / "d/c", "C")
    copy(rootfs, src, ["a", "b", "d"], "/out", dest_is_dir=True)
    assert sorted(os.listdir(rootfs / "out")) == ["a", "b", "c"]


def test_missing_parents_are_created_0755(src: Path, rootfs: Path) -> None:
    put(src / "f")
    old = os.umask(0o077)
    try:
        copy(rootfs, src, ["f"], "/x/y/z")
    finally:
        os.umask(old)
    assert (rootfs / "x/y/z").is_file()
    for d in ("x", "x/y"):
        assert stat.S_IMODE((rootfs / d).stat().st_mode) == 0o755


def test_overwrite(src: Path, rootfs: Path) -> None:
    put(src / "dir/f", "new", 0o600)
    put(rootfs / "dest/f", "old", 0o644)
    put(rootfs / "dest/other", "kept")
    copy(rootfs, src, ["dir"], "/dest")
    assert (rootfs / "dest/f").read_text() == "new"
    assert stat.S_IMODE((rootfs / "dest/f").stat().st_mode) == 0o600
    assert (rootfs / "dest/other").read_text() == "kept"


def test_type_conflicts_are_errors(src: Path, rootfs: Path) -> None:
    put(src / "dir/x/f")
    put(rootfs / "d1/x", "a file where the source has a directory")
    with pytest.raises(BuildError, match="cannot copy to non-directory: /d1/x"):
        copy(rootfs, src, ["dir"], "/d1")
    put(src / "dir2/y")
    (rootfs / "d2/y").mkdir(parents=True)
    with pytest.raises(BuildError, match="cannot replace to directory /d2/y with file"):
        copy(rootfs, src, ["dir2"], "/d2")
    put(rootfs / "file")
    with pytest.raises(BuildError, match="non-directory"):
        copy(rootfs, src, ["dir"], "/file")


def test_missing_source(src: Path, rootfs: Path) -> None:
    with pytest.raises(BuildError, match='"/nope": not found'):
        copy(rootfs, src, ["nope"], "/x")


def test_mtimes_and_modes_kept(src: Path, rootfs: Path) -> None:
    f = put(src / "dir/sub/f", mode=0o751)
    os.utime(f, (1_000_000, 1_000_000))
    os.utime(src / "dir/sub", (2_000_000, 2_000_000))
    os.utime(src / "dir", (3_000_000, 3_000_000))
    (rootfs / "dest").mkdir()
    copy(rootfs, src, ["dir"], "/dest")
    assert (rootfs / "dest/sub/f").stat().st_mtime == 1_000_000
    assert stat.S_IMODE((rootfs / "dest/sub/f").stat().st_mode) == 0o751
    assert (rootfs / "dest/sub").stat().st_mtime == 2_000_000
    # the existing destination directory takes the source directory's times (fsutil)
    assert (rootfs / "dest").stat().st_mtime == 3_000_000


def test_hard_links_kept(src: Path, rootfs: Path) -> None:
    put(src / "dir/h1", "same")
    os.link(src / "dir/h1", src / "dir/h2")
    copy(rootfs, src, ["dir"], "/d")
    assert (rootfs / "d/h1").stat().st_ino == (rootfs / "d/h2").stat().st_ino


def test_fifo_and_socket(src: Path, rootfs: Path) -> None:
    (src / "dir").mkdir()
    os.mkfifo(src / "dir/fifo", 0o640)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(src / "dir/sock"))
    sock.close()
    copy(rootfs, src, ["dir"], "/d")
    assert stat.S_ISFIFO((rootfs / "d/fifo").lstat().st_mode)
    assert stat.S_ISREG((rootfs / "d/sock").lstat().st_mode)   # as BuildKit: an empty file


# --- symlinks, in the source and in the rootfs ------------------------------------------

def test_symlinks_in_a_tree_are_copied_as_links(src: Path, rootfs: Path) -> None:
    put(src / "dir/target", "T")
    (src / "dir/rel").symlink_to("target")
    (src / "dir/abs").symlink_to("/etc/passwd")
    (src / "dir/up").symlink_to("../../../outside")
    copy(rootfs, src, ["dir"], "/d")
    assert os.readlink(rootfs / "d/rel") == "target"
    assert os.readlink(rootfs / "d/abs") == "/etc/passwd"
    assert os.readlink(rootfs / "d/up") == "../../../outside"


def test_named_source_symlink_is_followed_inside_the_root_only(src: Path, rootfs: Path,
                                                              tmp_path: Path) -> None:
    put(src / "real", "inside")
    (src / "link").symlink_to("real")
    copy(rootfs, src, ["link"], "/out/", dest_is_dir=True)
    assert (rootfs / "out/link").read_text() == "inside"   # named as the source, not target
    assert not (rootfs / "out/link").is_symlink()
    secret = put(tmp_path / "secret", "host secret")
    (src / "up").symlink_to("../secret")
    (src / "abs").symlink_to(str(secret))
    for name in ("up", "abs"):   # pointing out of the context: the link itself, unfollowed
        copy(rootfs, src, [name], f"/x-{name}")
        assert (rootfs / f"x-{name}").is_symlink()
        assert os.readlink(rootfs / f"x-{name}") == os.readlink(src / name)
    assert "host secret" not in [p.read_text() for p in rootfs.rglob("*")
                                 if p.is_file() and not p.is_symlink()]


def test_dest_through_absolute_symlink_stays_in_rootfs(src: Path, rootfs: Path) -> None:
    name = f"hull-copy-test-{os.getpid()}"
    put(src / "f", "F")
    (rootfs / "etc").mkdir()
    (rootfs / "link").symlink_to("/etc")
    copy(rootfs, src, ["f"], f"/link/{name}")
    assert (rootfs / "etc" / name).read_text() == "F"
    assert not os.path.exists(f"/etc/{name}")
    # a dangling link: its target is created inside the rootfs
    (rootfs / "dangling").symlink_to(f"/tmp/{name}/deeper")
    copy(rootfs, src, ["f"], "/dangling")
    assert (rootfs / "tmp" / name / "deeper").read_text() == "F"
    assert not os.path.exists(f"/tmp/{name}")


def test_dotdot_in_dest_stops_at_the_root(src: Path, rootfs: Path) -> None:
    put(src / "f", "F")
    (rootfs / "a").mkdir()
    (rootfs / "a/up").symlink_to("../../../../..")
    copy(rootfs, src, ["f"], "/../../x")
    copy(rootfs, src, ["f"], "/a/up/y")
    assert (rootfs / "x").read_text() == "F"
    assert (rootfs / "y").read_text() == "F"


def test_symlink_in_rootfs_under_dest_is_not_written_through(src: Path, rootfs: Path,
                                                            tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    put(src / "dir/sub/f")
    (rootfs / "d").mkdir()
    (rootfs / "d/sub").symlink_to(str(outside))
    with pytest.raises(BuildError, match="non-directory"):
        copy(rootfs, src, ["dir"], "/d")
    assert os.listdir(outside) == []
    # a file over a symlink replaces the link, never writes its target
    put(src / "g", "G")
    (rootfs / "d/g").symlink_to(str(outside / "g"))
    copy(rootfs, src, ["g"], "/d/")
    assert not (rootfs / "d/g").is_symlink()
    assert os.listdir(outside) == []


# --- --chown ------------------------------------------------------------------------------

@pytest.fixture
def users(rootfs: Path) -> Path:
    put(rootfs / "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"
        "app:x:1000:1001::/home/app:/bin/sh\n")
    put(rootfs / "etc/group", "root:x:0:\nstaff:x:2000:app\n")
    return rootfs


def test_resolve_owner(users: Path) -> None:
    r = str(users)
    assert resolve_owner(r, "") is None
    assert resolve_owner(r, "app") == (1000, 1001)
    assert resolve_owner(r, "app:staff") == (1000, 2000)
    assert resolve_owner(r, "app:7") == (1000, 7)
    assert resolve_owner(r, "1234") == (1234, 1234)
    assert resolve_owner(r, "1234:55") == (1234, 55)
    assert resolve_owner(r, "root") == (0, 0)
    assert resolve_owner(r, ":staff") == (0, 2000)
    with pytest.raises(BuildError, match="can't find uid for user nosuch: no such user: "
                       "nosuch"):
        resolve_owner(r, "nosuch")
    with pytest.raises(BuildError, match="can't find gid for group nog: no such group"):
        resolve_owner(r, "app:nog")


def test_resolve_owner_reads_the_rootfs_files_only(rootfs: Path, tmp_path: Path) -> None:
    host = put(tmp_path / "hostpasswd", "evil:x:4242:4242::/:/bin/sh\n")
    (rootfs / "etc").mkdir()
    (rootfs / "etc/passwd").symlink_to("/../../../../../../../.." + str(host))
    with pytest.raises(BuildError, match="no such user"):
        resolve_owner(str(rootfs), "evil")
    # numbers need no file at all
    assert resolve_owner(str(rootfs), "5:6") == (5, 6)


@pytest.mark.root
@root_only
def test_chown_applies_to_copies_and_created_dirs(src: Path, users: Path) -> None:
    put(src / "dir/sub/f")
    copy(users, src, ["dir"], "/new/d", owner=resolve_owner(str(users), "app:staff"))
    for p in ("new", "new/d", "new/d/sub", "new/d/sub/f"):
        st = (users / p).stat()
        assert (st.st_uid, st.st_gid) == (1000, 2000), p


@pytest.mark.root
@root_only
def test_owners_context_vs_stage(src: Path, rootfs: Path) -> None:
    put(src / "dir/f")
    os.chown(src / "dir/f", 5, 6)
    os.chown(src / "dir", 5, 6)
    copy(rootfs, src, ["dir"], "/ctx")
    assert ((rootfs / "ctx/f").stat().st_uid, (rootfs / "ctx/f").stat().st_gid) == (0, 0)
    copy(rootfs, src, ["dir"], "/stage", keep_owner=True)
    assert ((rootfs / "stage/f").stat().st_uid, (rootfs / "stage/f").stat().st_gid) == (5, 6)
    # the destination directory is created by the copy, as root (BuildKit)
    assert (rootfs / "stage").stat().st_uid == 0


# --- --chmod ------------------------------------------------------------------------------

def test_parse_chmod() -> None:
    assert parse_chmod("") is None
    assert parse_chmod("755") == 0o755
    assert parse_chmod("0644") == 0o644
    assert parse_chmod("0") == 0
    assert isinstance(parse_chmod("u+x"), SymbolicMode)
    for bad in ("64a", "10000", "8"):
        with pytest.raises(BuildError, match=f"invalid chmod parameter: '{bad}'. it should "
                           "be octal"):
            parse_chmod(bad)
    for bad in ("u+q", "x", "u+x,", "+r w"):
        with pytest.raises(BuildError, match="invalid chmod parameter"):
            parse_chmod(bad)


def test_octal_chmod_on_files_dirs_and_created_parents(src: Path, rootfs: Path) -> None:
    put(src / "dir/sub/f", mode=0o600)
    copy(rootfs, src, ["dir"], "/p/q", mode=0o4750)
    assert stat.S_IMODE((rootfs / "p/q/sub/f").stat().st_mode) == 0o4750
    assert stat.S_IMODE((rootfs / "p/q/sub").stat().st_mode) == 0o4750
    assert stat.S_IMODE((rootfs / "p").stat().st_mode) == 0o750   # perm bits only
    put(src / "g", mode=0o600)
    copy(rootfs, src, ["g"], "/r/g", mode=parse_chmod("777"))
    assert stat.S_IMODE((rootfs / "r").stat().st_mode) == 0o777


@pytest.mark.parametrize("spec", ["go-w", "u=rw,g=r,o=r", "a+X", "u+rw,g+r,o-x,o+w",
                                  "+x", "=r", "u=g", "g+s,+t", "u-x+s", "a=rwx,o-rwx"])
def test_symbolic_chmod_matches_chmod1(spec: str, tmp_path: Path) -> None:
    parsed = parse_chmod(spec)
    assert isinstance(parsed, SymbolicMode)
    for is_dir, start in ((False, 0o666), (False, 0o714), (True, 0o124), (True, 0o755)):
        p = tmp_path / f"x{is_dir}{start:o}"
        if is_dir:
            p.mkdir()
        else:
            p.touch()
        os.chmod(p, start)
        subprocess.run(["chmod", spec, str(p)], check=True)
        want = stat.S_IMODE(p.stat().st_mode)
        # GNU chmod keeps a directory's setgid bit unless told otherwise; not the point here
        mask = 0o5777 if is_dir else 0o7777
        assert parsed.apply(start, is_dir) & mask == want & mask, (spec, oct(start), is_dir)
        os.chmod(p, 0o700)
        if is_dir:
            p.rmdir()
        else:
            p.unlink()


def test_symbolic_chmod_sticky_bit_as_bsd() -> None:
    """BuildKit's parser is BSD's setmode: `o+t` does nothing and `u+t` sets the sticky
    bit, the other way round from GNU chmod."""
    others, user = parse_chmod("o+t"), parse_chmod("u+t")
    assert isinstance(others, SymbolicMode) and isinstance(user, SymbolicMode)
    assert others.apply(0o755, True) == 0o755
    assert user.apply(0o755, True) == 0o1755


def test_symbolic_chmod_copied(src: Path, rootfs: Path) -> None:
    put(src / "dir/f", mode=0o666)
    (src / "dir/d").mkdir()
    (src / "dir/d").chmod(0o524)
    copy(rootfs, src, ["dir"], "/out", mode=parse_chmod("a+X"))
    assert stat.S_IMODE((rootfs / "out/f").stat().st_mode) == 0o666
    assert stat.S_IMODE((rootfs / "out/d").stat().st_mode) == 0o535
    assert stat.S_IMODE((rootfs / "out").stat().st_mode) == 0o755


# --- --exclude and --parents -------------------------------------------------------------

@pytest.fixture
def tree(src: Path) -> Path:
    for name in ("a.txt", "b.go", "sub/c.txt", "sub/d.go", "keep/x.txt", "deep/er/e.txt"):
        put(src / "dir" / name)
    return src


def listing(top: Path) -> list[str]:
    return sorted(str(p.relative_to(top)) for p in top.rglob("*") if not p.is_dir())


@pytest.mark.parametrize(("patterns", "left"), [
    (["*.txt"], ["b.go", "deep/er/e.txt", "keep/x.txt", "sub/c.txt", "sub/d.go"]),
    (["**/*.txt"], ["b.go", "sub/d.go"]),
    (["sub"], ["a.txt", "b.go", "deep/er/e.txt", "keep/x.txt"]),
    (["*/*.txt"], ["a.txt", "b.go", "deep/er/e.txt", "sub/d.go"]),
    (["sub", "!sub/d.go"], ["a.txt", "b.go", "deep/er/e.txt", "keep/x.txt", "sub/d.go"]),
    (["deep/**"], ["a.txt", "b.go", "keep/x.txt", "sub/c.txt", "sub/d.go"]),
    (["*"], []),
])
def test_exclude(tree: Path, rootfs: Path, patterns: list[str], left: list[str]) -> None:
    copy(rootfs, tree, ["dir"], "/out", excludes=patterns)
    assert listing(rootfs / "out") == left
    if "sub" in patterns and "sub/d.go" not in left:
        assert not (rootfs / "out/sub").exists()


def test_exclude_never_drops_the_named_source(tree: Path, rootfs: Path) -> None:
    copy(rootfs, tree, ["dir/a.txt"], "/out/", dest_is_dir=True, excludes=["*.txt"])
    assert listing(rootfs / "out") == ["a.txt"]


def test_parents(tree: Path, rootfs: Path) -> None:
    copy(rootfs, tree, ["dir/sub/c.txt", "dir/keep"], "/out", dest_is_dir=True,
         parents=True)
    assert listing(rootfs / "out") == ["dir/keep/x.txt", "dir/sub/c.txt"]
    copy(rootfs, tree, ["dir/./sub/d.go"], "/pivot", dest_is_dir=True, parents=True)
    assert listing(rootfs / "pivot") == ["sub/d.go"]
    copy(rootfs, tree, ["dir/deep"], "/ex", dest_is_dir=True, parents=True,
         excludes=["dir/deep/er"])
    assert (rootfs / "ex/dir/deep").is_dir()
    assert listing(rootfs / "ex") == []


# --- ADD: archives --------------------------------------------------------------------------

def make_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        def add(name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE,
                link: str = "") -> None:
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.size = kind, link, len(data)
            info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o640
            info.uid, info.gid = os.geteuid(), os.getegid()
            info.mtime = 1_234_567
            tar.addfile(info, io.BytesIO(data))
        add("top", kind=tarfile.DIRTYPE)
        add("top/file", b"payload")
        add("top/.wh.gone", b"")
        add("top/link", kind=tarfile.SYMTYPE, link="file")
        add("abs", kind=tarfile.SYMTYPE, link="/")
        add("abs/through", b"stays inside")
    return buf.getvalue()


def compressors() -> Iterator[tuple[str, Any]]:
    yield "plain", lambda b: b
    yield "gzip", gzip.compress
    yield "bzip2", bz2.compress
    yield "xz", lzma.compress
    try:
        import zstandard
    except ImportError:
        return
    yield "zstd", lambda b: zstandard.ZstdCompressor().compress(b)


@pytest.mark.parametrize(("kind", "compress"), list(compressors()))
def test_add_unpacks_archives(src: Path, rootfs: Path, kind: str, compress: Any) -> None:
    (src / "archive.bin").write_bytes(compress(make_tar()))   # told by content, not name
    copy(rootfs, src, ["archive.bin"], "/out", unpack=True)
    assert (rootfs / "out/top/file").read_text() == "payload"
    assert stat.S_IMODE((rootfs / "out/top/file").stat().st_mode) == 0o640
    assert (rootfs / "out/top/file").stat().st_mtime == 1_234_567
    assert (rootfs / "out/top/.wh.gone").is_file()   # whiteouts are plain files here
    assert os.readlink(rootfs / "out/top/link") == "file"
    assert (rootfs / "out/through").read_text() == "stays inside"   # "/" is the dest dir
    assert not (rootfs / "out/archive.bin").exists()


def test_add_archive_over_existing_and_breakout(src: Path, rootfs: Path) -> None:
    put(rootfs / "out/top/file", "old")
    put(rootfs / "out/mine", "kept")
    (src / "a.tar").write_bytes(make_tar())
    copy(rootfs, src, ["a.tar"], "/out/", dest_is_dir=True, unpack=True)
    assert (rootfs / "out/top/file").read_text() == "payload"
    assert (rootfs / "out/mine").read_text() == "kept"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("../escape")
        tar.addfile(info, io.BytesIO(b""))
    (src / "bad.tar").write_bytes(buf.getvalue())
    with pytest.raises(BuildError, match="outside"):
        copy(rootfs, src, ["bad.tar"], "/bad", unpack=True)
    assert not (rootfs / "escape").exists()


def test_add_truncated_archive_fails(src: Path, rootfs: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("big")
        data = os.urandom(200_000)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    packed = gzip.compress(buf.getvalue())
    (src / "cut.tgz").write_bytes(packed[: len(packed) // 2])
    with pytest.raises(BuildError, match=r"failed to unpack cut\.tgz"):
        copy(rootfs, src, ["cut.tgz"], "/out", unpack=True)


@pytest.mark.root
@root_only
def test_add_archive_owners(src: Path, rootfs: Path) -> None:
    (src / "a.tar").write_bytes(make_tar())
    copy(rootfs, src, ["a.tar"], "/new/out", unpack=True, owner=(7, 8))
    for p in ("new", "new/out", "new/out/top", "new/out/top/file"):
        st = (rootfs / p).stat()
        assert (st.st_uid, st.st_gid) == (7, 8), p
    assert stat.S_IMODE((rootfs / "new").stat().st_mode) == 0o755


@pytest.mark.root
@root_only
def test_device_from_a_stage(src: Path, rootfs: Path) -> None:
    (src / "dev").mkdir()
    os.mknod(src / "dev/null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.chmod(src / "dev/null", 0o666)
    copy(rootfs, src, ["dev"], "/dev", keep_owner=True)
    st = (rootfs / "dev/null").lstat()
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)
    assert stat.S_IMODE(st.st_mode) == 0o666


def test_add_non_archive_is_copied(src: Path, rootfs: Path) -> None:
    put(src / "fake.tar.gz", "not really")
    (src / "zeros.tar").write_bytes(bytes(2048))
    copy(rootfs, src, ["fake.tar.gz", "zeros.tar"], "/out/", dest_is_dir=True, unpack=True)
    assert (rootfs / "out/fake.tar.gz").read_text() == "not really"
    assert (rootfs / "out/zeros.tar").stat().st_size == 2048
    # COPY never unpacks
    (src / "real.tar").write_bytes(make_tar())
    copy(rootfs, src, ["real.tar"], "/c/", dest_is_dir=True)
    assert (rootfs / "c/real.tar").is_file()


# --- ADD: URLs ------------------------------------------------------------------------------

BODY = b"remote content\n"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/missing":
            self.send_error(404)
            return
        self.send_response(200)
        if self.path.startswith("/dated"):
            self.send_header("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_fetch_url(server: str, tmp_path: Path) -> None:
    path, mtime = fetch_url(f"{server}/dated/file.txt", str(tmp_path))
    assert path == str(tmp_path / "file.txt")
    assert Path(path).read_bytes() == BODY
    assert mtime == 1445412480
    assert os.stat(path).st_mtime == mtime
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    other = tmp_path / "other"
    other.mkdir()
    path, mtime = fetch_url(f"{server}/undated", str(other))
    assert mtime == 0 and os.stat(path).st_mtime == 0
    assert os.listdir(other) == ["undated"]


def test_fetch_url_errors(server: str, tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="invalid response status 404"):
        fetch_url(f"{server}/missing", str(tmp_path))
    good = "sha256:" + hashlib.sha256(BODY).hexdigest()
    path, _ = fetch_url(f"{server}/f", str(tmp_path), checksum=good)
    assert Path(path).read_bytes() == BODY
    bad = "sha256:" + "0" * 64
    with pytest.raises(BuildError, match=r"digest mismatch for .*/g: sha256:"):
        fetch_url(f"{server}/g", str(tmp_path), checksum=bad)
    with pytest.raises(BuildError, match="invalid checksum digest format"):
        fetch_url(f"{server}/h", str(tmp_path), checksum="nonsense")
    assert sorted(os.listdir(tmp_path)) == ["f"]   # nothing left of the failed ones


def test_url_filename() -> None:
    assert url_filename("https://example.com/a/b.tar.gz?x=1") == "b.tar.gz"
    assert url_filename("https://example.com/") == "__unnamed__"
    assert url_filename("https://example.com") == "__unnamed__"
    assert url_filename("https://example.com/dir/") == "dir"
    assert url_filename("https://example.com/with%20space") == "with space"


def test_downloaded_file_copied(server: str, tmp_path: Path, rootfs: Path) -> None:
    dl = tmp_path / "dl"
    dl.mkdir()
    path, _ = fetch_url(f"{server}/dated/tool", str(dl))
    copy(rootfs, dl, [os.path.basename(path)], "/usr/bin/", dest_is_dir=True)
    st = (rootfs / "usr/bin/tool").stat()
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_mtime == 1445412480
