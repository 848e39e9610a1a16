"""Pull and push against a real registry on 127.0.0.1: mirrors, resumable and verified
downloads, cross-repository mounts, chunked uploads, basic auth with login/logout."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import HullCLI
from tests.registry import hull_env, run_registry

pytestmark = pytest.mark.root
Hull = HullCLI




REGISTRY_DIRS: dict[str, Path] = {}


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("registry")
    with run_registry(workdir) as host:
        REGISTRY_DIRS[host] = workdir / "data"
        yield host


@pytest.fixture
def env(tmp_path: Path, registry: str) -> dict[str, str]:
    return hull_env(tmp_path, registry)


@pytest.fixture
def pushed(tmp_path: Path, env: dict[str, str], registry: str) -> Hull:
    """A store that built busybox and pushed it as library/busybox:latest."""
    h = Hull(tmp_path / "source", env)
    h("image", "bootstrap")
    h("tag", "busybox", f"{registry}/library/busybox:latest")
    h("push", f"{registry}/library/busybox:latest")
    return h


def test_push_then_pull_through_the_docker_io_mirror(tmp_path: Path, env: dict[str, str],
                                                     pushed: Hull) -> None:
    h = Hull(tmp_path / "fresh", env)
    out = h("pull", "busybox").stdout.splitlines()
    assert out[0] == "Using default tag: latest"
    assert "Pull complete" in "\n".join(out)
    assert out[-2] == "Status: Downloaded newer image for busybox:latest"
    assert out[-1] == "docker.io/library/busybox:latest"
    src = json.loads(pushed("image", "inspect", "busybox").stdout)[0]
    dst = json.loads(h("image", "inspect", "busybox").stdout)[0]
    assert src["Id"] == dst["Id"] and src["RootFS"] == dst["RootFS"]
    assert dst["RepoDigests"][0].startswith("busybox@sha256:")
    assert "Image is up to date" in h("pull", "busybox").stdout


def test_second_push_mounts_and_skips(pushed: Hull, registry: str) -> None:
    pushed("tag", "busybox", f"{registry}/team/box:v1")
    out = pushed("push", f"{registry}/team/box:v1").stdout
    assert "Mounted from library/busybox" in out
    assert "Layer already exists" in pushed("push", f"{registry}/team/box:v1").stdout


def test_chunked_upload(tmp_path: Path, env: dict[str, str], registry: str) -> None:
    from hull.image.distribution import push
    from hull.image.reference import parse
    from hull.image.store import ImageStore
    from hull.registry.config import RegistryConfig
    h = Hull(tmp_path / "chunky", env)
    h("image", "bootstrap")
    store = ImageStore(str(h.root))
    image = store.resolve("busybox")
    from hull.image.progress import Progress
    lines: list[str] = []
    push(store, image, parse(f"{registry}/chunked/box:v1"), RegistryConfig(),
         Progress(lines.append), chunked_above=0)
    assert any("Pushed" in line for line in lines)
    fresh = Hull(tmp_path / "chunky-pull", env)
    fresh("pull", f"{registry}/chunked/box:v1")
    assert json.loads(fresh("image", "inspect", f"{registry}/chunked/box:v1").stdout)[0][
        "Id"] == image.id


def test_interrupted_download_resumes(tmp_path: Path, env: dict[str, str], pushed: Hull,
                                      registry: str) -> None:
    from hull.image.store import ImageStore
    info = json.loads(pushed("image", "inspect", "busybox").stdout)[0]
    src = ImageStore(str(pushed.root))
    layer = src.manifest_of(src.resolve("busybox")).layers[0]
    data = src.content.read(layer.digest)
    dst = ImageStore(str(tmp_path / "resume"))
    w = dst.content.writer(layer.digest.replace(":", "-"))
    w.write(data[: len(data) // 2])      # what a killed pull left behind
    w.close()
    Hull(tmp_path / "resume", env)("pull", "busybox")
    assert dst.content.read(layer.digest) == data
    assert json.loads(Hull(tmp_path / "resume", env)("image", "inspect", "busybox").stdout)[0][
        "Id"] == info["Id"]


def test_corrupt_blob_is_refused_and_nothing_stored(tmp_path: Path, env: dict[str, str],
                                                    pushed: Hull, registry: str) -> None:
    from hull.image.store import ImageStore
    src = ImageStore(str(pushed.root))
    layer = src.manifest_of(src.resolve("busybox")).layers[0]
    hexpart = layer.digest.split(":")[1]
    blobs = REGISTRY_DIRS[registry] / "docker/registry/v2/blobs/sha256"
    blob = blobs / hexpart[:2] / hexpart / "data"
    original = blob.read_bytes()
    blob.write_bytes(original[:-10] + b"corrupted!")
    try:
        h = Hull(tmp_path / "victim", env)
        proc = h("pull", "busybox", check=False)
        assert proc.returncode != 0 and layer.digest in proc.stderr
        assert not ImageStore(str(h.root)).content.exists(layer.digest)
        assert h("images", "-q").stdout.strip() == ""
    finally:
        blob.write_bytes(original)


def test_missing_image_and_bad_references(tmp_path: Path, env: dict[str, str],
                                          registry: str) -> None:
    h = Hull(tmp_path / "x", env)
    proc = h("pull", "doesnotexist", check=False)
    assert proc.returncode == 1 and "doesnotexist" in proc.stderr
    proc = h("pull", "Bad:Ref", check=False)   # refused by the client itself, as Docker's
    assert proc.returncode == 1 and proc.stderr.startswith(
        "invalid reference format: repository name (library/Bad) must be lowercase")


def test_basic_auth_login_push_pull_logout(tmp_path: Path) -> None:
    with run_registry(tmp_path / "authreg", {"alice": "s3cret"}) as host:
        env = hull_env(tmp_path, None)
        h = Hull(tmp_path / "root", env)
        h("image", "bootstrap")
        h("tag", "busybox", f"{host}/alice/box:v1")
        proc = h("push", f"{host}/alice/box:v1", check=False)
        assert proc.returncode != 0 and "unauthorized" in proc.stderr and "login" in proc.stderr
        proc = h("login", "-u", "alice", "--password-stdin", host, input="wrong\n",
                 check=False)
        assert proc.returncode != 0
        assert h("login", "-u", "alice", "--password-stdin", host,
                 input="s3cret\n").stdout.strip() == "Login Succeeded"
        stored = json.loads((tmp_path / "docker-config/config.json").read_text())
        assert host in stored["auths"]
        h("push", f"{host}/alice/box:v1")
        fresh = Hull(tmp_path / "root2", env)
        fresh("pull", f"{host}/alice/box:v1")
        assert "Removing login credentials" in h("logout", host).stdout
        proc = Hull(tmp_path / "root3", env)("pull", f"{host}/alice/box:v1", check=False)
        assert proc.returncode != 0 and "unauthorized" in proc.stderr
        assert os.path.exists(tmp_path / "docker-config/config.json")
