"""`hull build` with images that are not here yet: `COPY --from=IMAGE` and `FROM IMAGE` pull
them from a registry (Debian's docker-registry on 127.0.0.1, docker.io mirror-only)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import HullCLI as Hull
from tests.registry import hull_env, run_registry

pytestmark = pytest.mark.root


@pytest.fixture
def roots(tmp_path: Path) -> Iterator[tuple[Hull, Hull, str]]:
    with run_registry(tmp_path / "registry") as host:
        env = {**hull_env(tmp_path, host),
               "HULL_CGROUP_PARENT": f"/hull-test/build-registry-{os.getpid()}"}
        source, fresh = Hull(tmp_path / "source", env), Hull(tmp_path / "fresh", env)
        try:
            yield source, fresh, host
        finally:
            for h in (source, fresh):
                h.stop_service()
    mounts = [m for m in Path("/proc/self/mounts").read_text().splitlines()
              if str(tmp_path) in m]
    assert not mounts
    for base in Path("/sys/fs/cgroup").iterdir():   # the RUN steps' parent, empty now
        parent = base / env["HULL_CGROUP_PARENT"].lstrip("/")
        if parent.is_dir():
            parent.rmdir()


def test_copy_from_and_from_pull_what_is_missing(roots: tuple[Hull, Hull, str],
                                                 tmp_path: Path) -> None:
    source, fresh, host = roots
    source("image", "bootstrap")
    tool = f"{host}/lib/tool:1"
    (tmp_path / "tool").mkdir()
    (tmp_path / "tool" / "Dockerfile").write_text("FROM busybox\n"
                                                  "RUN echo from-registry > /marker\n")
    source("build", "-t", tool, str(tmp_path / "tool"))
    source("push", tool)
    fresh("image", "bootstrap")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text(f"FROM busybox\nCOPY --from={tool} /marker /m\n")
    fresh("build", "-t", "app:1", str(tmp_path / "app"))
    assert fresh("run", "--rm", "app:1", "cat", "/m").stdout == "from-registry\n"
    assert tool in fresh("images", "--format", "{{.Repository}}:{{.Tag}}").stdout
    (tmp_path / "child").mkdir()
    (tmp_path / "child" / "Dockerfile").write_text(f"FROM {tool}\nRUN cat /marker > /again\n")
    fresh("rmi", "-f", tool)
    fresh("build", "--pull", "-t", "child:1", str(tmp_path / "child"))
    assert fresh("run", "--rm", "child:1", "cat", "/again").stdout == "from-registry\n"
