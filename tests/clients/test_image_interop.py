"""Images move between hull and the engines people use: save/load both ways with a private
dockerd and podman, and through a real registry (hull push → podman/docker pull and run;
podman push and skopeo copy → hull pull with the same files as `podman export`)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.clients.conftest import Docker, Podman
from tests.registry import hull_env, run_registry

pytestmark = [pytest.mark.root, pytest.mark.clients]
HULL = str(Path(sys.executable).parent / "hull")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with run_registry(tmp_path_factory.mktemp("interop-registry")) as host:
        yield host


@pytest.fixture
def hull(tmp_path: Path, registry: str) -> Iterator[object]:
    env = hull_env(tmp_path, registry)
    root = tmp_path / "hull-root"

    def run(*args: str, check: bool = True, **kw: object) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([HULL, "--root", str(root), *args], text=True,
                              capture_output=True, env=env, timeout=300, **kw)  # type: ignore[call-overload]
        if check and proc.returncode != 0:
            raise AssertionError(f"hull {' '.join(args)}: {proc.stderr}")
        return proc  # type: ignore[no-any-return]
    run.root = root  # type: ignore[attr-defined]
    yield run


def tree_of_image(root: Path, name: str) -> dict[str, tuple[str, int, int, str]]:
    """path -> (kind, mode, size, link) of an image's filesystem, as hull unpacked it."""
    from hull.image.store import ImageStore
    from hull.linux.mounts import mount_all, unmount
    store = ImageStore(str(root))
    image = store.resolve(name)
    key = f"interop-view-{os.getpid()}"
    target = root / "view"
    target.mkdir(exist_ok=True)
    mount_all(store.snapshotter.view(key, store.top_snapshot(image)), str(target))
    try:
        out = {}
        for top, dirs, files in os.walk(target):
            for n in dirs + files:
                p = os.path.join(top, n)
                if os.path.relpath(p, target).startswith(SKIP):
                    continue
                st = os.lstat(p)
                kind = "d" if stat.S_ISDIR(st.st_mode) else "l" if stat.S_ISLNK(st.st_mode) \
                    else "f"
                out[os.path.relpath(p, target)] = (
                    kind, st.st_mode & 0o7777 if kind != "l" else 0,
                    st.st_size if kind == "f" else 0,
                    os.readlink(p) if kind == "l" else "")
        return out
    finally:
        unmount(str(target))
        store.snapshotter.remove(key)


SKIP = ("dev/", "proc/", "sys/", "etc/hosts", "etc/hostname", "etc/resolv.conf", "run/")


def tree_of_tar(path: Path) -> dict[str, tuple[str, int, int, str]]:
    """Like tree_of_image, for an exported container (its runtime-made files left out)."""
    out: dict[str, tuple[str, int, int, str]] = {}
    sizes: dict[str, int] = {}
    with tarfile.open(path) as tar:
        for m in tar:
            if m.islnk():   # a hard link: its size is its target's
                target = os.path.normpath(m.linkname.lstrip("./"))
                name = os.path.normpath(m.name.lstrip("./"))
                if not name.startswith(SKIP):
                    out[name] = ("f", m.mode & 0o7777, sizes.get(target, 0), "")
                continue
            if m.isfile():
                sizes[os.path.normpath(m.name.lstrip("./"))] = m.size
            name = os.path.normpath(m.name.lstrip("./")) if m.name not in (".", "./") else "."
            if name == "." or name.startswith(SKIP) or name in SKIP:
                continue
            kind = "d" if m.isdir() else "l" if m.issym() else "f"
            out[name] = (kind, m.mode & 0o7777 if kind != "l" else 0,
                         m.size if kind == "f" else 0, m.linkname if kind == "l" else "")
    return out


def test_hull_save_loads_into_docker_and_podman(hull, docker: Docker, podman: Podman,  # type: ignore[no-untyped-def]
                                                tmp_path: Path) -> None:
    hull("image", "bootstrap")
    hull("tag", "busybox", "hullbox:v1")
    archive = tmp_path / "hullbox.tar"
    hull("save", "-o", str(archive), "hullbox:v1")
    assert "Loaded image: hullbox:v1" in docker("load", "-i", str(archive)).stdout
    out = docker("run", "--rm", "--runtime", "runc", "--network", "none", "hullbox:v1",
                 "echo", "from-hull-in-docker").stdout
    assert out.strip() == "from-hull-in-docker"
    oci = tmp_path / "hullbox-oci.tar"
    hull("save", "--format", "oci-archive", "-o", str(oci), "hullbox:v1")
    podman("load", "-i", str(oci))
    out = podman("run", "--rm", "hullbox:v1", "echo", "from-hull-in-podman", check=False)
    assert "from-hull-in-podman" in out.stdout, out.stderr
    docker("rmi", "hullbox:v1", check=False)
    podman("rmi", "-f", "hullbox:v1", check=False)


def test_docker_and_podman_save_load_into_hull(hull, docker: Docker, podman: Podman,  # type: ignore[no-untyped-def]
                                               tmp_path: Path) -> None:
    archive = tmp_path / "from-docker.tar"
    docker("save", "-o", str(archive), "busybox:hull")
    assert "Loaded image: busybox:hull" in hull("load", "-i", str(archive)).stdout
    archive2 = tmp_path / "from-podman.tar"
    podman("save", "-o", str(archive2), "localhost/busybox:latest")
    assert "Loaded image: localhost/busybox:latest" in hull("load", "-i", str(archive2)).stdout
    tree = tree_of_image(hull.root, "localhost/busybox:latest")
    assert tree["bin/busybox"][0] == "f" and tree["bin/sh"] == ("l", 0, 0, "busybox")


def test_registry_both_ways(hull, podman: Podman, docker: Docker, registry: str,  # type: ignore[no-untyped-def]
                            tmp_path: Path) -> None:
    # hull → registry → podman and docker (127.0.0.0/8 is plain HTTP for both)
    hull("image", "bootstrap")
    hull("tag", "busybox", f"{registry}/interop/hullbox:v1")
    hull("push", f"{registry}/interop/hullbox:v1")
    podman("pull", "--tls-verify=false", f"{registry}/interop/hullbox:v1")
    out = podman("run", "--rm", f"{registry}/interop/hullbox:v1", "echo", "pulled-by-podman")
    assert out.stdout.strip() == "pulled-by-podman"
    docker("pull", f"{registry}/interop/hullbox:v1")
    out = docker("run", "--rm", "--runtime", "runc", "--network", "none",
                 f"{registry}/interop/hullbox:v1", "echo", "pulled-by-docker")
    assert out.stdout.strip() == "pulled-by-docker"
    docker("rmi", f"{registry}/interop/hullbox:v1")
    # podman → registry → hull, files identical to podman export
    podman("push", "--tls-verify=false", "localhost/busybox:latest",
           f"docker://{registry}/interop/podmanbox:v1")
    hull("pull", f"{registry}/interop/podmanbox:v1")
    podman("create", "--name", "exp", "localhost/busybox:latest", "true")
    exported = tmp_path / "export.tar"
    podman("export", "-o", str(exported), "exp")
    podman("rm", "exp")
    assert tree_of_image(hull.root, f"{registry}/interop/podmanbox:v1") == \
        tree_of_tar(exported)
    # skopeo → registry → hull (an OCI copy of hull's own push)
    subprocess.run(["skopeo", "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
                    f"docker://{registry}/interop/hullbox:v1",
                    f"docker://{registry}/interop/skopeobox:v1"], check=True,
                   capture_output=True)
    hull("pull", f"{registry}/interop/skopeobox:v1")
    assert tree_of_image(hull.root, f"{registry}/interop/skopeobox:v1") == \
        tree_of_image(hull.root, "busybox")
