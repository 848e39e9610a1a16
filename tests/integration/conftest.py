"""The engine fixture: hull on a temporary --root, its containers in their own cgroup
parent, checked afterwards for leftover mounts and cgroups."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.conftest import HullCLI

Hull = HullCLI


@pytest.fixture
def hull(tmp_path: Path) -> Hull:
    parent = f"/hull-test/engine-{os.getpid()}-{tmp_path.name}"
    h = Hull(tmp_path / "root", env={**os.environ, "HULL_CGROUP_PARENT": parent})
    h("image", "bootstrap")
    yield h  # type: ignore[misc]
    ids = h("ps", "-aq", check=False).stdout.split()
    if ids:
        h("rm", "-f", *ids, check=False)
    h.stop_service()
    mounts = [line for line in Path("/proc/self/mounts").read_text().splitlines()
              if str(tmp_path) in line]
    assert not mounts, mounts
    cgroups = Path("/sys/fs/cgroup/memory") / parent.lstrip("/")
    assert not cgroups.exists() or not any(p.is_dir() for p in cgroups.iterdir()), \
        list(cgroups.iterdir())
    import time
    deadline = time.monotonic() + 3   # a step container's leaf in the controller-less
    for base in Path("/sys/fs/cgroup").iterdir():   # hierarchies can go a moment after
        while (base / parent.lstrip("/")).exists():   # its v1 ones (seen once with two
            try:                                      # build stages running at once)
                (base / parent.lstrip("/")).rmdir()
            except OSError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
