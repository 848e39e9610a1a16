"""A realistic image (Debian minbase in four layers with whiteouts) through hull: load,
unpack, push, pull; the unpacked tree is the one podman exports for the same archive."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.clients.conftest import Podman
from tests.clients.test_image_interop import tree_of_image, tree_of_tar
from tests.images import cached_archive
from tests.registry import hull_env, run_registry

pytestmark = [pytest.mark.root, pytest.mark.clients]
HULL = str(Path(sys.executable).parent / "hull")
TAG = "hull-test/debian:multilayer"


def hull(root: Path, env: dict[str, str], *args: str) -> str:
    proc = subprocess.run([HULL, "--root", str(root), *args], text=True, capture_output=True,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_multilayer_image_round_trip(tmp_path: Path, podman: Podman) -> None:
    archive = cached_archive()
    with run_registry(tmp_path / "registry") as registry:
        env = hull_env(tmp_path, registry)
        root = tmp_path / "hull"
        assert f"Loaded image: {TAG}" in hull(root, env, "load", "-i", str(archive))
        info = json.loads(hull(root, env, "image", "inspect", TAG))[0]
        assert len(info["RootFS"]["Layers"]) == 4
        tree = tree_of_image(root, TAG)
        assert "etc/hull-test" in tree and "usr/bin/bash" in tree
        assert "usr/share/doc" not in tree and "etc/motd" not in tree
        # the same archive through podman, exported as a container's filesystem
        podman("load", "-i", str(archive))
        podman("create", "--name", "ml", f"localhost/{TAG}", "true")
        exported = tmp_path / "ml.tar"
        podman("export", "-o", str(exported), "ml")
        podman("rm", "ml")
        podman("rmi", "-f", f"localhost/{TAG}")
        assert tree == tree_of_tar(exported)
        # registry round trip into a fresh store
        target = f"{registry}/hull-test/debian:multilayer"
        hull(root, env, "tag", TAG, target)
        hull(root, env, "push", target)
        fresh = tmp_path / "fresh"
        hull(fresh, env, "pull", target)
        again = json.loads(hull(fresh, env, "image", "inspect", target))[0]
        assert again["RootFS"] == info["RootFS"] and again["Id"] == info["Id"]
