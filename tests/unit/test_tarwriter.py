"""The lean layer tar writer: what it writes is read back the same by Python's tarfile and
by GNU tar — long and non-ASCII names and links (PAX), hard links, devices excluded only by
type, whiteouts, whole-second mtimes."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

from hull.image.tarwriter import TarWriter


def _write(tmp_path: Path) -> bytes:
    root = tmp_path / "tree"
    long_dir = root / ("d" * 120) / ("e" * 60)
    long_dir.mkdir(parents=True)
    (long_dir / "file").write_text("long path\n")
    (root / "ünïcode.txt").write_text("utf-8 name\n")
    (root / "big").write_bytes(b"x" * 1000)
    os.link(root / "big", root / "big-link")
    (root / "sym").symlink_to("t" * 150)
    os.utime(root / "big", (1_700_000_000.75, 1_700_000_000.75))
    out = io.BytesIO()
    tar = TarWriter(out)
    links: dict[tuple[int, int], str] = {}
    for top, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(dirs) + sorted(files):
            path = os.path.join(top, name)
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            if os.path.islink(path):
                tar.add(rel, st, link=os.readlink(path))
            elif os.path.isfile(path):
                first = links.setdefault((st.st_dev, st.st_ino), rel)
                if first != rel:
                    tar.add(rel, st, hardlink=first)
                    continue
                fd = os.open(path, os.O_RDONLY)
                try:
                    tar.add(rel, st, data_fd=fd)
                finally:
                    os.close(fd)
            else:
                tar.add(rel, st)
    tar.add_empty_file(".wh.gone")
    tar.close()
    return out.getvalue()


def test_python_tarfile_reads_it_back(tmp_path: Path) -> None:
    data = _write(tmp_path)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: m for m in tar}
        long_name = "d" * 120 + "/" + "e" * 60 + "/file"
        assert tar.extractfile(members[long_name]).read() == b"long path\n"  # type: ignore[union-attr]
        assert tar.extractfile(members["ünïcode.txt"]).read() == b"utf-8 name\n"  # type: ignore[union-attr]
        assert members["sym"].issym() and members["sym"].linkname == "t" * 150
        assert members["big-link"].islnk() and members["big-link"].linkname == "big"
        assert members["big"].mtime == 1_700_000_000 and members["big"].size == 1000
        assert members[".wh.gone"].isfile() and members[".wh.gone"].size == 0
        assert members["d" * 120].isdir()


def test_gnu_tar_lists_it(tmp_path: Path) -> None:
    archive = tmp_path / "out.tar"
    archive.write_bytes(_write(tmp_path))
    listed = subprocess.run(["tar", "-tf", str(archive)], capture_output=True, text=True,
                            check=True).stdout.splitlines()
    assert "ünïcode.txt" in listed and "big-link" in listed
    assert "d" * 120 + "/" + "e" * 60 + "/file" in listed
