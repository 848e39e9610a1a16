"""User-namespace remapping: container root is an unprivileged host uid from a subordinate
range, the image's layers are made its own (idmapped mounts, or shifted copies made once),
and whatever hull reads out of the container (commit, cp, export) carries container ids.

The engine's root is under a world-walkable directory here: the container's root is an
ordinary host uid and must be able to reach its rootfs (as with Docker's data-root)."""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import HullCLI, one_problem

pytestmark = pytest.mark.root

BASE = 100000


@pytest.fixture
def area() -> Iterator[Path]:
    top = Path(tempfile.mkdtemp(prefix="hull-userns-"))
    top.chmod(0o755)
    (top / "subuid").write_text(f"someone:{BASE}:65536\n")
    (top / "subgid").write_text(f"someone:{BASE}:65536\n")
    yield top
    if (top / "root").exists():   # the engine's service first: its state lives here
        HullCLI(top / "root").stop_service()
    mounts = [line for line in Path("/proc/self/mounts").read_text().splitlines()
              if str(top) in line]
    shutil.rmtree(top, ignore_errors=True)
    assert not mounts, mounts


def engine(area: Path, **env: str) -> HullCLI:
    parent = f"/hull-test/userns-{os.getpid()}"
    h = HullCLI(area / "root", env={**os.environ, "HULL_CGROUP_PARENT": parent,
                                    "HULL_SUBUID": str(area / "subuid"),
                                    "HULL_SUBGID": str(area / "subgid"), **env})
    h("image", "bootstrap")
    return h


@pytest.fixture
def hull(area: Path) -> Iterator[HullCLI]:
    h = engine(area)
    yield h
    ids = h("ps", "-aq", check=False).stdout.split()
    if ids:
        h("rm", "-f", *ids, check=False)


def _upper(hull: HullCLI, name: str) -> Path:
    return Path(hull("inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", name).stdout.strip())


def _remapped_checks(hull: HullCLI, area: Path, flags: list[str]) -> None:
    secret = area / "host-secret"
    secret.write_text("host only\n")
    secret.chmod(0o600)
    hull("run", "-d", "--name", "r", *flags, "-v", f"{secret}:/secret", "busybox", "sh",
         "-c", "touch /made-here; sleep 60")
    inside = hull("exec", "r", "sh", "-c",
                  "cat /proc/self/uid_map; id -u; stat -c %u:%g /bin/busybox /etc/hosts; "
                  "cat /secret; echo 127.0.0.2 x >> /etc/hosts && echo hosts-ok",
                  check=False)
    lines = inside.stdout.split("\n")
    assert lines[0].split() == ["0", str(BASE), "65536"]
    assert lines[1] == "0"
    assert lines[2:4] == ["0:0", "0:0"]   # the image's files are root's inside, not nobody's
    assert "host only" not in inside.stdout and "Permission denied" in inside.stderr
    assert "hosts-ok" in inside.stdout
    pid = hull("inspect", "-f", "{{.State.Pid}}", "r").stdout.strip()
    assert os.stat(f"/proc/{pid}").st_uid == BASE   # an unprivileged uid on the host
    made = _upper(hull, "r") / "made-here"
    assert (made.stat().st_uid, made.stat().st_gid) == (BASE, BASE)
    hull("rm", "-f", "r")


def test_remapped_with_idmapped_layers(hull: HullCLI, area: Path) -> None:
    _remapped_checks(hull, area, ["--userns", "remap:someone"])
    assert not (area / "root" / "remapped").exists()   # nothing copied
    # the rw layer on its own size-limited filesystem is the container's root's too
    out = hull("run", "--rm", "--userns", "remap:someone", "--storage-opt", "size=20m",
               "busybox", "sh", "-c", "touch /x && echo wrote").stdout
    assert out == "wrote\n"


def test_remapped_with_shifted_copies(area: Path) -> None:
    """Where idmapped mounts are missing (forced here): each layer is copied once per
    mapping with its owners shifted, reused by the next container, swept with the image."""
    hull = engine(area, HULL_IDMAP="copy")
    try:
        _remapped_checks(hull, area, ["--userns", "remap:someone"])
        copies = area / "root" / "remapped"
        made = sorted(p for p in copies.rglob("*") if p.is_dir() and p.parent.parent == copies)
        assert len(made) == 1   # the image's layer; the container's init layer was swept
        before = made[0].stat().st_ino
        hull("run", "--rm", "--userns", "remap:someone", "busybox", "true")
        assert made[0].stat().st_ino == before   # reused, not made again
        assert os.stat(made[0] / "bin" / "busybox").st_uid == BASE
        hull("rmi", "busybox")
        assert not made[0].exists()
    finally:
        ids = hull("ps", "-aq", check=False).stdout.split()
        if ids:
            hull("rm", "-f", *ids, check=False)


def test_what_comes_out_carries_container_ids(hull: HullCLI, area: Path,
                                              tmp_path: Path) -> None:
    hull("run", "-d", "--name", "r", "--userns", "remap:someone", "busybox", "sh", "-c",
         "echo data > /f; chown 1000:1000 /f; sleep 60")
    hull("exec", "r", "true")
    hull("commit", "r", "remapped/snap")
    out = hull("run", "--rm", "--userns", "host", "remapped/snap", "stat", "-c", "%u:%g",
               "/f").stdout.strip()
    assert out == "1000:1000"
    hull("cp", "-a", "r:/f", str(tmp_path / "f"))
    assert (os.stat(tmp_path / "f").st_uid, os.stat(tmp_path / "f").st_gid) == (1000, 1000)
    (tmp_path / "in").write_text("in\n")
    hull("cp", str(tmp_path / "in"), "r:/in")
    assert hull("exec", "r", "stat", "-c", "%u:%g", "/in").stdout.strip() == "0:0"
    assert os.stat(_upper(hull, "r") / "in").st_uid == BASE
    hull("export", "-o", str(tmp_path / "out.tar"), "r")
    with tarfile.open(tmp_path / "out.tar") as tar:
        assert (tar.getmember("f").uid, tar.getmember("in").uid) == (1000, 0)
        assert tar.getmember("bin/busybox").uid == 0


def test_configured_default_and_the_host_exception(area: Path) -> None:
    """A configured default ("default": hull's own range, added to the subuid files as
    Docker adds dockremap's) applies to every container; --userns host opts one out."""
    config = area / "engine.json"
    config.write_text(json.dumps({"userns-remap": "default"}))
    hull = engine(area, HULL_ENGINE_CONFIG=str(config))
    remapped = hull("run", "--rm", "busybox", "cat", "/proc/self/uid_map").stdout.split()
    start = next(int(line.split(":")[1]) for line in (area / "subuid").read_text().split()
                 if line.startswith("hull-remap:"))
    assert start >= BASE + 65536   # past the ranges already given out
    assert remapped == ["0", str(start), "65536"]
    assert "hull-remap:" in (area / "subgid").read_text()
    host = hull("run", "--rm", "--userns", "host", "busybox", "cat",
                "/proc/self/uid_map").stdout.split()
    assert host == ["0", "0", "4294967295"]


@pytest.mark.parametrize("flags,message", [
    (["--userns", "remap:nobody-has-this"], "no subordinate uid range"),
    (["--userns", "remap:small"], "needs at least 65536"),
    (["--userns", "sideways"], "invalid --userns"),
    (["--userns", "remap:someone", "--privileged"], "--privileged cannot be used"),
    (["--userns", "remap:someone", "--pid", "host"], "--pid host cannot be used"),
])
def test_bad_input(hull: HullCLI, area: Path, flags: list[str], message: str) -> None:
    (area / "subuid").write_text(f"someone:{BASE}:65536\nsmall:300000:1000\n")
    (area / "subgid").write_text(f"someone:{BASE}:65536\nsmall:300000:1000\n")
    proc = hull("run", "--name", "bad", *flags, "busybox", "true", check=False)
    assert proc.returncode == 125 and message in proc.stderr, proc
    assert one_problem(proc.stderr)
    assert hull("ps", "-aq").stdout == ""


def test_malformed_engine_config(area: Path) -> None:
    config = area / "engine.json"
    config.write_text("{")
    hull = engine(area, HULL_ENGINE_CONFIG=str(config))
    proc = hull("run", "--rm", "busybox", "true", check=False)
    assert proc.returncode == 125 and "engine.json" in proc.stderr
    assert hull("ps", "-aq").stdout == ""
