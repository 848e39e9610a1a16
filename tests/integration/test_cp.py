"""`hull cp` in both directions, with tar streams, by Docker's rules — and never through a
container's symlinks onto the host, running or stopped."""

from __future__ import annotations

import io
import os
import secrets
import subprocess
import tarfile
from pathlib import Path

import pytest
from tests.conftest import HULL, HullCLI, one_problem

pytestmark = pytest.mark.root
Hull = HullCLI


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a").write_text("hello\n")
    (src / "sub" / "b").write_text("b\n")
    os.link(src / "a", src / "hard")
    (src / "link").symlink_to("/etc/shadow")
    os.chown(src / "a", 1234, 5678)
    return src


def sh(hull: Hull, name: str, script: str) -> str:
    return hull("exec", name, "sh", "-c", script).stdout


def test_host_to_container_rules(hull: Hull, tree: Path) -> None:
    hull("run", "-d", "--name", "c", "busybox", "sleep", "300")
    hull("cp", str(tree), "c:/tmp")                  # existing dir: copied under its name
    hull("cp", f"{tree}/.", "c:/new")                # missing: made with SRC's contents
    hull("cp", f"{tree}/.", "c:/tmp")                # SRC/. into an existing dir: contents
    hull("cp", str(tree / "a"), "c:/renamed")        # file to a new name
    hull("cp", str(tree / "sub" / "b"), "c:/renamed")   # file over a file
    hull("cp", "-a", str(tree / "a"), "c:/kept")
    out = sh(hull, "c", "cat /tmp/src/a /new/sub/b /tmp/a /renamed; "
                        "stat -c '%u:%g %h' /tmp/src/a /kept; readlink /new/link")
    assert out.split() == ["hello", "b", "hello", "b", "0:0", "2", "1234:5678", "1",
                           "/etc/shadow"]


def test_container_to_host_and_streams(hull: Hull, tmp_path: Path) -> None:
    hull("run", "-d", "--name", "c", "busybox", "sh", "-c",
         "mkdir -p /data/d && echo one > /data/d/f && ln -s /etc/passwd /data/l; sleep 300")
    hull("exec", "c", "sh", "-c", "while [ ! -e /data/l ]; do usleep 10000; done")
    hull("cp", "c:/data/d", str(tmp_path / "out"))
    assert (tmp_path / "out" / "f").read_text() == "one\n"
    hull("cp", "c:/data/d/f", str(tmp_path))
    assert (tmp_path / "f").read_text() == "one\n"
    hull("cp", "c:/data/l", str(tmp_path / "l"))                   # the link itself
    assert os.readlink(tmp_path / "l") == "/etc/passwd"
    hull("cp", "-L", "c:/data/l", str(tmp_path / "followed"))      # the container's file
    assert (tmp_path / "followed").read_text().startswith("root:x:0:0")
    tar = subprocess.run([HULL, "--root", str(hull.root), "cp", "c:/data", "-"],
                         capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        names = t.getnames()
    assert sorted(names) == ["data", "data/d", "data/d/f", "data/l"]
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as t:
        entry = tarfile.TarInfo("from-stdin/x")
        entry.size = 3
        t.addfile(entry, io.BytesIO(b"xyz"))
    hull_cp = subprocess.run([HULL, "--root", str(hull.root), "cp", "-", "c:/tmp"],
                             input=archive.getvalue(), capture_output=True)
    assert hull_cp.returncode == 0, hull_cp.stderr
    assert sh(hull, "c", "cat /tmp/from-stdin/x") == "xyz"


def test_stopped_container_and_volumes(hull: Hull, tree: Path, tmp_path: Path) -> None:
    hull("create", "--name", "c", "-v", "vol:/vol", "busybox", "sh", "-c",
         "cat /copied/a /vol/src/sub/b")
    hull("cp", str(tree), "c:/copied")
    hull("cp", str(tree), "c:/vol")                  # lands in the volume's directory
    volume = Path(hull("volume", "inspect", "-f", "{{.Mountpoint}}", "vol").stdout.strip())
    assert (volume / "src" / "sub" / "b").read_text() == "b\n"
    assert hull("start", "-a", "c").stdout == "hello\nb\n"
    hull("cp", "c:/vol/src/a", str(tmp_path / "back"))
    assert (tmp_path / "back").read_text() == "hello\n"
    hull("rm", "c")
    hull("volume", "rm", "vol")
    assert not [m for m in Path("/proc/self/mounts").read_text().splitlines()
                if str(hull.root) in m]


@pytest.mark.parametrize("running", [True, False], ids=["running", "stopped"])
def test_symlinks_never_reach_the_host(hull: Hull, tmp_path: Path, running: bool) -> None:
    canary = tmp_path / f"canary-{secrets.token_hex(4)}"
    canary.mkdir()
    (canary / "secret").write_text("host secret\n")
    script = (f"ln -s / /escape; ln -s {canary} /to-canary; "
              f"ln -s {canary}/secret /secret-link")
    if running:
        hull("run", "-d", "--name", "c", "busybox", "sh", "-c", script + "; sleep 300")
        hull("exec", "c", "sh", "-c", "while [ ! -e /escape ]; do usleep 10000; done")
    else:
        hull("run", "--name", "c", "busybox", "sh", "-c", script)
    src = tmp_path / "payload"
    src.write_text("payload\n")
    # writes through a container symlink land in the container, or fail
    hull("cp", str(src), f"c:/escape{canary}/secret", check=False)
    hull("cp", str(src), "c:/to-canary/planted", check=False)
    assert sorted(p.name for p in canary.iterdir()) == ["secret"]
    assert (canary / "secret").read_text() == "host secret\n"
    # reads: -L follows a link inside the container, where the host file does not exist
    proc = hull("cp", "-L", "c:/secret-link", str(tmp_path / "stolen"), check=False)
    assert proc.returncode == 1 and "Could not find the file" in proc.stderr
    proc = hull("cp", f"c:/escape{canary}/secret", str(tmp_path / "stolen"), check=False)
    assert proc.returncode == 1
    assert not (tmp_path / "stolen").exists()


def test_bad_input(hull: Hull, tree: Path, tmp_path: Path) -> None:
    hull("create", "--name", "c", "busybox", "true")
    for args, message in (
            (["c:/nope", str(tmp_path / "x")], "Could not find the file /nope in container c"),
            ([str(tmp_path / "nope"), "c:/tmp"], "no such file or directory"),
            ([str(tree), "c:/etc/passwd"], "cannot copy a directory to a file"),
            ([str(tree / "a"), "c:/missing/dir/"], "destination directory /missing/dir/ must"),
            ([str(tree / "a"), "c:/missing/file"], "Could not find the file /missing in"),
            ([str(tree), str(tmp_path / "y")], "must specify at least one container"),
            (["nosuch:/etc", str(tmp_path / "z")], "No such container: nosuch")):
        proc = hull("cp", *args, check=False)
        assert proc.returncode == 1, (args, proc)
        assert message in proc.stderr and one_problem(proc.stderr), proc
    assert not (tmp_path / "x").exists() and not (tmp_path / "z").exists()
    assert hull("diff", "c").stdout == ""
