"""Safe layer apply: the breakout corpus (containerd's TestBreakouts classes and moby's
TestUntarInvalidHardlink/Symlink, ApplyLayerInvalid*), each with a host canary that must be
untouched, plus the faithful-unpack checks (whiteouts, links, devices, xattrs, owners,
modes, times, compression, diffID)."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from hull.errors import InvalidArgument
from hull.image.layer import Breakout, apply_layer

pytestmark = pytest.mark.root


def entry(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", link: str = "",
          mode: int = 0o644, **kw: int) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.mtime = kw.pop("mtime", 1_600_000_000)
    for key, value in kw.items():
        setattr(info, key, value)
    return info, data


def tarball(entries: list[tuple[tarfile.TarInfo, bytes]], pax: bool = False) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT if pax
                      else tarfile.GNU_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)
    return buf.getvalue()


class Host:
    """A root to unpack into, and host files outside it that must not change."""

    def __init__(self, tmp: Path) -> None:
        self.root = tmp / "root"
        self.root.mkdir()
        self.outside = tmp / "outside"
        self.outside.mkdir()
        self.canary = tmp / "canary"
        self.canary.write_text("canary")
        (self.outside / "victim").write_text("victim")

    def untouched(self) -> None:
        assert self.canary.read_text() == "canary"
        assert os.stat(self.canary).st_nlink == 1
        assert sorted(os.listdir(self.outside)) == ["victim"]
        assert (self.outside / "victim").read_text() == "victim"
        assert not os.listxattr(self.outside)


def d(name: str) -> tuple[tarfile.TarInfo, bytes]:
    return entry(name, tarfile.DIRTYPE, mode=0o755)


def sym(name: str, target: str) -> tuple[tarfile.TarInfo, bytes]:
    return entry(name, tarfile.SYMTYPE, link=target)


def hard(name: str, target: str) -> tuple[tarfile.TarInfo, bytes]:
    return entry(name, tarfile.LNKTYPE, link=target)


def f(name: str, data: bytes = b"evil") -> tuple[tarfile.TarInfo, bytes]:
    return entry(name, data=data)


# (case, entries given the Host, expect an error?, check inside the root)
Case = tuple[str, Callable[[Host], list[tuple[tarfile.TarInfo, bytes]]], bool]
BREAKOUTS: list[Case] = [
    ("dotdot name", lambda h: [f("../canary")], True),
    ("dotdot inside name", lambda h: [d("dir"), f("dir/../../canary")], True),
    ("deep dotdot name", lambda h: [f("a/b/../../../outside/new")], True),
    ("absolute name stays inside", lambda h: [f(str(h.canary))], False),
    ("relative symlink parent", lambda h: [sym("link", "../"), f("link/canary")], False),
    ("absolute symlink parent", lambda h: [sym("link", str(h.outside)), f("link/new")], False),
    ("dotdot symlink parent (moby InvalidSymlink)",
     lambda h: [sym("dotdot", "../../../../../../.." + str(h.outside)), f("dotdot/new")], False),
    ("hardlink dotdot (moby InvalidHardlink)",
     lambda h: [hard("dotdot", "../../../../../../../../.." + str(h.canary))], True),
    ("hardlink relative outside", lambda h: [hard("l", "../canary")], True),
    ("hardlink absolute host path", lambda h: [hard("l", str(h.canary))], True),
    ("hardlink through symlinked dir",
     lambda h: [sym("s", str(h.canary.parent)), hard("h", "s/canary")], True),
    ("whiteout through symlink", lambda h: [sym("s", str(h.outside)), f("s/.wh.victim")],
     False),
    ("opaque through symlink", lambda h: [sym("s", str(h.outside)), f("s/.wh..wh..opq")],
     False),
    ("symlink replaced by directory",
     lambda h: [sym("x", str(h.outside)), d("x"), f("x/new")], False),
    ("symlink replaced by file", lambda h: [sym("x", str(h.canary)), f("x", b"replaced")],
     False),
    ("hardlink to outward symlink, then a file",
     lambda h: [sym("s", str(h.canary)), hard("h", "s"), f("h", b"replaced")], False),
    ("symlink loop", lambda h: [sym("a", "b"), sym("b", "a"), f("a/x")], True),
    ("file over absolute symlink to a dir",
     lambda h: [sym("etc", str(h.outside)), f("etc/victim", b"evil")], False),
    ("dotdot whiteout", lambda h: [f(".wh..."), f("d/.wh...")], True),
    ("dotdot dir name (moby ApplyLayerInvalidFilenames)", lambda h: [d("../victimdir")], True),
]


@pytest.mark.parametrize("whiteouts", ["overlay", "delete"])
@pytest.mark.parametrize("name,make,fails", BREAKOUTS, ids=[c[0] for c in BREAKOUTS])
def test_breakouts(tmp_path: Path, name: str, make: Callable[[Host],
                   list[tuple[tarfile.TarInfo, bytes]]], fails: bool, whiteouts: str) -> None:
    host = Host(tmp_path)
    data = tarball(make(host))
    if fails:
        with pytest.raises((Breakout, InvalidArgument, OSError)):
            apply_layer(io.BytesIO(data), str(host.root), whiteouts)
    else:
        apply_layer(io.BytesIO(data), str(host.root), whiteouts)
    host.untouched()


def test_faithful_unpack(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    xattr, _ = f("etc/withxattr", b"x")
    xattr.pax_headers = {"SCHILY.xattr.user.hull": "yes",
                         "SCHILY.xattr.trusted.overlay.opaque": "y"}
    entries = [
        d("etc"), f("etc/hostname", b"box\n"),
        entry("bin/su", data=b"#!", mode=0o4755, uid=0, gid=0),
        entry("home/u/file", data=b"mine", mode=0o600, uid=1000, gid=1000, mtime=1234567890),
        sym("etc/link", "/etc/hostname"), hard("etc/hard", "etc/hostname"),
        entry("dev/null", tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=3),
        entry("dev/fifo", tarfile.FIFOTYPE, mode=0o600), (xattr, b"x"),
    ]
    raw = tarball(entries, pax=True)
    diff_id, size = apply_layer(io.BytesIO(gzip.compress(raw)), str(root))
    assert diff_id == "sha256:" + hashlib.sha256(raw).hexdigest() and size == len(raw)
    assert (root / "etc/hostname").read_text() == "box\n"
    assert os.stat(root / "bin/su").st_mode & 0o7777 == 0o4755
    st = os.stat(root / "home/u/file")
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777, int(st.st_mtime)) == \
        (1000, 1000, 0o600, 1234567890)
    assert os.readlink(root / "etc/link") == "/etc/hostname"
    assert os.stat(root / "etc/hard").st_ino == os.stat(root / "etc/hostname").st_ino
    assert os.stat(root / "dev/null").st_rdev == os.makedev(1, 3)
    assert stat.S_ISFIFO(os.stat(root / "dev/fifo").st_mode)
    assert os.getxattr(root / "etc/withxattr", "user.hull") == b"yes"
    assert "trusted.overlay.opaque" not in os.listxattr(root / "etc/withxattr")


def test_zstd_and_plain(tmp_path: Path) -> None:
    import zstandard
    raw = tarball([f("a", b"1")])
    for blob in (raw, zstandard.ZstdCompressor().compress(raw)):
        root = tmp_path / f"r{len(blob)}"
        root.mkdir()
        assert apply_layer(io.BytesIO(blob), str(root))[0] == \
            "sha256:" + hashlib.sha256(raw).hexdigest()
        assert (root / "a").read_text() == "1"


def test_whiteouts_overlay_and_delete(tmp_path: Path) -> None:
    layer = tarball([f("keep/.wh..wh..opq"), f("keep/new"), f(".wh.gone"), f("dir/.wh.x")])
    for mode in ("overlay", "delete"):
        root = tmp_path / mode
        (root / "keep").mkdir(parents=True)
        (root / "keep/old").write_text("lower")
        (root / "gone").write_text("lower")
        (root / "dir").mkdir()
        (root / "dir/x").write_text("lower")
        apply_layer(io.BytesIO(layer), str(root), mode)
        assert (root / "keep/new").exists()
        if mode == "overlay":
            assert os.getxattr(root / "keep", "trusted.overlay.opaque") == b"y"
            for wh in (root / "gone", root / "dir/x"):
                st = os.stat(wh, follow_symlinks=False)
                assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
        else:
            assert not (root / "keep/old").exists()
            assert not (root / "gone").exists() and not (root / "dir/x").exists()


def test_not_a_tar(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="not a valid tar"):
        apply_layer(io.BytesIO(b"garbage" * 200), str(tmp_path))
