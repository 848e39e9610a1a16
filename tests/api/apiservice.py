"""The `api` fixture: hull's Docker Engine API on a private root and socket
(`hull system service --socket`), and the real clients that talk to it — the docker
command (the machine's current static build and Debian's 20.10), docker-py, and
docker-compose. Afterwards every container is removed, the command and the root's service
are stopped by pid, and nothing may be left: no mount under the test directory, no
cgroup under the fixture's parent."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import HULL, HullCLI

DOCKER_CLIS = {"docker28": "/usr/local/bin/docker", "docker20": "/usr/bin/docker"}


def docker_cli(name: str) -> str:
    path = DOCKER_CLIS[name]
    if not os.access(path, os.X_OK):
        pytest.skip(f"{path} is not on this machine (the docker.io package gives "
                    "/usr/bin/docker; the current static build is optional)")
    return path


class Api:
    def __init__(self, root: Path, sock: Path, env: dict[str, str], proc: subprocess.Popen[bytes],
                 parent: str) -> None:
        self.root, self.sock, self.env, self.proc = root, sock, env, proc
        self.parent = parent
        self.hull = HullCLI(root, env)
        self.url = f"unix://{sock}"

    def docker(self, *args: str, cli: str = "docker28", check: bool = True,
               input: str | None = None, timeout: float = 120,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """The docker command against hull's socket (its own config directory)."""
        proc = subprocess.run([docker_cli(cli), "-H", self.url, *args], text=True,
                              capture_output=True, input=input, timeout=timeout,
                              stdin=None if input is not None else subprocess.DEVNULL,
                              env={**self.client_env(), **(env or {})})
        if check and proc.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)}: {proc.returncode}: {proc.stderr}")
        return proc

    def client_env(self) -> dict[str, str]:
        config = self.root.parent / "docker-config"
        config.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        return {**env, "DOCKER_CONFIG": str(config), "DOCKER_HOST": self.url}

    def client(self, version: str = "auto") -> object:
        import docker
        return docker.DockerClient(base_url=self.url, version=version, timeout=120)

    def raw(self, request: bytes, timeout: float = 10) -> bytes:
        """One raw HTTP exchange on a new connection: everything until it closes."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(timeout)
            s.connect(str(self.sock))
            s.sendall(request)
            out = b""
            while True:
                try:
                    data = s.recv(65536)
                except TimeoutError:
                    break
                if not data:
                    break
                out += data
            return out


def start(root: Path, sock: Path, env: dict[str, str], *extra: str
          ) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([HULL, "--root", str(root), "system", "service", "--socket",
                             f"unix://{sock}", *extra], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_for_ping(sock, proc)
    return proc


def wait_for_ping(sock: Path, proc: subprocess.Popen[bytes] | None = None,
                  timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"system service ended: {proc.stderr.read().decode()}"  # type: ignore[union-attr]
                               if proc.stderr else "system service ended")
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(2)
                s.connect(str(sock))
                s.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"no API on {sock}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stderr is not None:
        proc.stderr.close()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    parent = f"/hull-test/api-{os.getpid()}-{tmp_path.name}"
    env = {**os.environ, "HULL_CGROUP_PARENT": parent}
    env.pop("HULL_STATE", None)
    root = tmp_path / "root"
    hull = HullCLI(root, env)
    hull("image", "bootstrap")
    sock = tmp_path / "api.sock"
    proc = start(root, sock, env)
    a = Api(root, sock, env, proc, parent)
    try:
        yield a
    finally:
        ids = hull("ps", "-aq", check=False).stdout.split()
        if ids:
            hull("rm", "-f", *ids, check=False)
        stop(proc)
        hull.stop_service()
        assert not sock.exists(), "the API socket outlived its command"
        mounts = [line for line in Path("/proc/self/mounts").read_text().splitlines()
                  if str(tmp_path) in line]
        assert not mounts, mounts
        deadline = time.monotonic() + 3
        for base in Path("/sys/fs/cgroup").iterdir():
            while (base / parent.lstrip("/")).exists():
                try:
                    (base / parent.lstrip("/")).rmdir()
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        shutil.rmtree(tmp_path / "docker-config", ignore_errors=True)
