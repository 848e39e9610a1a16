"""A real registry (Debian's docker-registry) on 127.0.0.1 for tests, with its own storage,
optionally behind htpasswd basic auth; stopped by PID. Nothing here reaches beyond
127.0.0.1: hull's registry config maps docker.io to this registry as a mirror."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def run_registry(workdir: Path, users: dict[str, str] | None = None) -> Iterator[str]:
    if shutil.which("docker-registry") is None:
        pytest.skip("docker-registry is not installed (scripts/install installs it)")
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    config = [
        "version: 0.1", "log:", "  level: error", "storage:", "  filesystem:",
        f"    rootdirectory: {workdir / 'data'}", "  delete:", "    enabled: true",
        "http:", f"  addr: 127.0.0.1:{port}",
    ]
    if users:
        htpasswd = workdir / "htpasswd"
        lines = [subprocess.run(["htpasswd", "-Bbn", u, p], capture_output=True, text=True,
                                check=True).stdout.strip() for u, p in users.items()]
        htpasswd.write_text("\n".join(lines) + "\n")
        config += ["auth:", "  htpasswd:", "    realm: hull-test", f"    path: {htpasswd}"]
    (workdir / "config.yml").write_text("\n".join(config) + "\n")
    log = open(workdir / "registry.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(["docker-registry", "serve", str(workdir / "config.yml")],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    host = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://{host}/v2/", timeout=1)
                break
            except urllib.error.HTTPError:
                break   # 401 from an auth registry: it is up
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("registry did not start: " +
                                       (workdir / "registry.log").read_text()) from None
                time.sleep(0.1)
        yield host
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def hull_env(tmp: Path, mirror_host: str | None) -> dict[str, str]:
    """Environment for hull commands: docker.io mirrored to the local registry, private
    credentials file."""
    import os
    config = tmp / "registries.json"
    # docker.io is mirror-only: no test can ever reach (or even resolve) the real one
    config.write_text(json.dumps({"mirrors": {"docker.io": [f"http://{mirror_host}"]}
                                  if mirror_host else {}, "mirror_only": ["docker.io"]}))
    (tmp / "docker-config").mkdir(exist_ok=True)
    return {**os.environ, "HULL_REGISTRIES_CONFIG": str(config),
            "DOCKER_CONFIG": str(tmp / "docker-config")}
