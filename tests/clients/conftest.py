"""Real clients driving hull-runtime: Podman, a private dockerd, a private containerd.

Each gets its own root, state, socket and pidfile under a temporary directory; daemons are
stopped by PID. Nothing on the host's own podman/docker/containerd state is touched. The
image they run is a busybox tree from Debian's busybox-static, imported locally, so no
registry is contacted.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import HULL_RUNTIME, REPO

CGROUP_ROOT = Path("/sys/fs/cgroup")
DOCKER_CGROUP_PARENT = "/hull-test-docker"


def _need(binary: str) -> None:
    if shutil.which(binary) is None:
        pytest.skip(f"{binary} is not installed (scripts/install installs it)")


def _top_cgroups() -> set[Path]:
    out: set[Path] = set()
    for base in CGROUP_ROOT.iterdir():
        if base.is_dir():
            out |= {p for p in base.iterdir() if p.is_dir()}
    return out


def _remove_cgroup_tree(path: Path) -> None:
    for sub in sorted((p for p in path.rglob("*") if p.is_dir()),
                      key=lambda p: len(p.parts), reverse=True):
        try:
            sub.rmdir()
        except OSError:
            pass
    try:
        path.rmdir()
    except OSError:
        pass


def _unmount_under(prefix: Path) -> None:
    for _ in range(3):
        targets = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()
                   if line.split()[1].startswith(str(prefix))]
        if not targets:
            return
        for target in sorted(targets, key=len, reverse=True):
            subprocess.run(["umount", "-l", target], check=False, capture_output=True)


@pytest.fixture(scope="session")
def client_area() -> Iterator[Path]:
    """A world-walkable temporary directory for the clients' roots; afterwards every mount
    under it is unmounted and every cgroup the clients created is removed."""
    before = _top_cgroups()
    area = Path(tempfile.mkdtemp(prefix="hull-test-clients-"))
    area.chmod(0o755)
    yield area
    _unmount_under(area)
    shutil.rmtree(area, ignore_errors=True)
    for path in _top_cgroups() - before:
        _remove_cgroup_tree(path)


@pytest.fixture(scope="session")
def busybox_tar(client_area: Path) -> Path:
    _need("busybox")
    rootfs = client_area / "busybox-rootfs"
    subprocess.run([str(REPO / "scripts" / "busybox-rootfs"), str(rootfs)], check=True)
    tar = client_area / "busybox.tar"
    subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tar), "."], check=True)
    return tar


def _wait_for(path: Path, proc: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start: {log.read_text()[-2000:]}")
        time.sleep(0.1)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    # dockerd's --cgroup-parent (ours) outlives it: remove it wherever it was made
    for base in CGROUP_ROOT.iterdir():
        parent = base / DOCKER_CGROUP_PARENT.lstrip("/")
        if parent.is_dir():
            _remove_cgroup_tree(parent)


class Client:
    """A client command line (podman, docker, ctr) aimed at its private state."""

    env: dict[str, str] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def __call__(self, *args: str, check: bool = True,
                 timeout: float = 120) -> subprocess.CompletedProcess[str]:
        cmd = self.command()
        proc = subprocess.run([*cmd, *args], env=self.env, text=True, capture_output=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise AssertionError(f"{cmd[0]} {' '.join(args)}: {proc.returncode}: "
                                 f"{proc.stderr}")
        return proc


class Podman(Client):
    def __init__(self, area: Path) -> None:
        self.dir = area / "podman"
        self.dir.mkdir()
        (self.dir / "containers.conf").write_text(
            "[containers]\n"
            "default_ulimits = []\n"      # raising NOFILE needs CAP_SYS_RESOURCE here
            'netns = "none"\n'
            "[engine]\n"
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "file"\n'
            f'[engine.runtimes]\nhull = ["{HULL_RUNTIME}"]\n')
        (self.dir / "storage.conf").write_text(
            f'[storage]\ndriver = "overlay"\ngraphroot = "{self.dir}/root"\n'
            f'runroot = "{self.dir}/run"\n')
        self.env = {**os.environ, "CONTAINERS_CONF": str(self.dir / "containers.conf"),
                    "CONTAINERS_STORAGE_CONF": str(self.dir / "storage.conf"),
                    "CONTAINERS_REGISTRIES_CONF": str(self.dir / "registries.conf")}
        (self.dir / "registries.conf").write_text("unqualified-search-registries = []\n")

    def command(self) -> list[str]:
        return ["podman", "--root", f"{self.dir}/root", "--runroot", f"{self.dir}/run",
                "--tmpdir", f"{self.dir}/tmp", "--runtime", "hull"]


@pytest.fixture(scope="session")
def podman(client_area: Path, busybox_tar: Path) -> Iterator[Podman]:
    _need("podman")
    pm = Podman(client_area)
    pm("import", str(busybox_tar), "localhost/busybox:latest")
    yield pm
    pm("rm", "-af", "-t", "0", check=False)
    pm("rmi", "-af", check=False)


class Docker(Client):
    def __init__(self, area: Path) -> None:
        self.dir = area / "docker"
        self.dir.mkdir()
        self.sock = self.dir / "docker.sock"
        self.log = self.dir / "dockerd.log"
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                ["dockerd", "--data-root", f"{self.dir}/data", "--exec-root",
                 f"{self.dir}/exec", "--host", f"unix://{self.sock}", "--pidfile",
                 f"{self.dir}/docker.pid", "--bridge=none", "--iptables=false",
                 "--ip6tables=false", "--containerd-namespace", "hull-test",
                 "--containerd-plugins-namespace", "hull-test-plugins",
                 "--cgroup-parent", DOCKER_CGROUP_PARENT,
                 "--add-runtime", f"hull={HULL_RUNTIME}"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        _wait_for(self.sock, self.proc, "dockerd", self.log)

    def command(self) -> list[str]:
        return ["docker", "-H", f"unix://{self.sock}"]


@pytest.fixture(scope="session")
def docker(client_area: Path, busybox_tar: Path) -> Iterator[Docker]:
    _need("dockerd")
    dk = Docker(client_area)
    try:
        dk("import", str(busybox_tar), "busybox:hull")
        yield dk
        ids = dk("ps", "-aq").stdout.split()
        if ids:
            dk("rm", "-f", *ids, check=False)
    finally:
        _stop(dk.proc)


class Containerd(Client):
    def __init__(self, area: Path) -> None:
        self.dir = area / "containerd"
        self.dir.mkdir()
        self.sock = self.dir / "containerd.sock"
        config = self.dir / "config.toml"
        config.write_text(f'version = 2\nroot = "{self.dir}/root"\nstate = "{self.dir}/state"\n'
                          f'[grpc]\n  address = "{self.sock}"\n'
                          '[plugins."io.containerd.grpc.v1.cri"]\n  disable = true\n')
        self.log = self.dir / "containerd.log"
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(["containerd", "--config", str(config)], stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        _wait_for(self.sock, self.proc, "containerd", self.log)

    def command(self) -> list[str]:
        return ["ctr", "--address", str(self.sock), "-n", "hull-test"]


@pytest.fixture(scope="session")
def containerd(client_area: Path, docker: Docker) -> Iterator[Containerd]:
    _need("containerd")
    ct = Containerd(client_area)
    try:
        archive = client_area / "busybox-image.tar"
        docker("save", "-o", str(archive), "busybox:hull")
        ct("images", "import", str(archive))
        yield ct
    finally:
        _stop(ct.proc)
