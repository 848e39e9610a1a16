"""The image store and the image commands, on a temporary --root."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from tests.conftest import HullCLI

pytestmark = pytest.mark.root
Hull = HullCLI




@pytest.fixture
def hull(tmp_path: Path) -> Hull:
    return Hull(tmp_path / "hull-root")


def test_bootstrap_list_inspect_tag_rmi(hull: Hull) -> None:
    hull("image", "bootstrap")
    out = hull("images").stdout.splitlines()
    assert out[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert out[1].split()[:2] == ["busybox", "latest"]
    info = json.loads(hull("image", "inspect", "busybox").stdout)[0]
    assert info["RepoTags"] == ["busybox:latest"] and info["Config"]["Cmd"] == ["sh"]
    assert info["RootFS"]["Type"] == "layers" and len(info["RootFS"]["Layers"]) == 1
    assert info["GraphDriver"]["Name"] == "overlay2"
    upper = Path(info["GraphDriver"]["Data"]["UpperDir"])
    assert (upper / "bin/busybox").is_file() and os.readlink(upper / "bin/sh") == "busybox"
    short = info["Id"].split(":")[1][:12]
    assert hull("images", "-q").stdout.split() == [short]
    hull("tag", "busybox", "localhost:5000/me/box:v1")
    assert "localhost:5000/me/box" in hull("images").stdout
    proc = hull("rmi", short, check=False)        # two tags: by ID needs -f
    assert proc.returncode == 1 and "must be forced" in proc.stderr
    assert hull("rmi", "localhost:5000/me/box:v1").stdout.strip() == \
        "Untagged: localhost:5000/me/box:v1"
    lines = hull("rmi", "busybox").stdout.splitlines()
    # as Docker: the image, then each layer that went with it (by chain ID)
    assert lines == ["Untagged: busybox:latest", f"Deleted: {info['Id']}",
                     f"Deleted: {info['RootFS']['Layers'][0]}"]
    assert hull("images", "-q").stdout.strip() == ""
    # everything the image held is gone: blobs and unpacked layers
    assert os.listdir(hull.root / "content" / "blobs" / "sha256") == []
    assert not upper.exists()


def test_layers_are_shared_and_bootstrap_is_idempotent(hull: Hull) -> None:
    hull("image", "bootstrap")
    hull("image", "bootstrap", "busybox:again")
    ids = {json.loads(hull("image", "inspect", n).stdout)[0]["Id"]
           for n in ("busybox", "busybox:again")}
    assert len(ids) == 1
    snapshots = [p for p in (hull.root / "snapshots" / "overlay").iterdir() if p.is_dir()]
    assert len(snapshots) == 1


def test_missing_image_errors(hull: Hull) -> None:
    proc = hull("image", "inspect", "nope", check=False)
    assert proc.returncode == 1 and "No such image: nope" in proc.stderr
    proc = hull("rmi", "nope", check=False)
    assert proc.returncode == 1 and "No such image" in proc.stderr
    proc = hull("tag", "nope", "x", check=False)
    assert proc.returncode == 1
    proc = hull("images", "--filter", "bogus=1", check=False)
    assert proc.returncode == 1 and "Invalid filter 'bogus'" in proc.stderr   # Docker's
    proc = hull("frobnicate", check=False)
    assert proc.returncode == 1 and "unknown command" in proc.stderr   # Docker's exit code


def test_prune_dangling(hull: Hull) -> None:
    hull("image", "bootstrap")
    hull("image", "bootstrap", "busybox:two")
    assert "Total reclaimed space: 0B" in hull("image", "prune", "-f").stdout
    hull("rmi", "busybox:two")
    assert hull("images", "-q").stdout.strip()     # still tagged busybox:latest


def test_disk_full_during_unpack_leaves_nothing(tmp_path: Path) -> None:
    """On a 1.5 MiB filesystem the blobs fit but the unpacked layer does not."""
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1536k", "tmpfs", str(small)],
                   check=True)
    try:
        h = Hull(small / "root")
        proc = h("image", "bootstrap", check=False)
        assert proc.returncode == 125 and "No space left on device" in proc.stderr
        assert "Traceback" not in proc.stderr
        from hull.snapshot.overlay import OverlaySnapshotter
        sn = OverlaySnapshotter(str(small / "root/snapshots/overlay"))
        snapshots = list(sn.walk())
        sn.db.db.close()
        assert snapshots == []            # neither a committed layer nor a half extract
        assert h("images", "-q").stdout.strip() == ""
    finally:
        h.stop_service()   # it holds its lock file in there
        subprocess.run(["umount", str(small)], check=True)
