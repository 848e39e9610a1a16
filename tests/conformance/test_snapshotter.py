"""Every snapshotter passes the same suite (containerd's habit): layering, commit, views,
removal rules, usage, and a 120-layer chain that must still mount."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hull.errors import AlreadyExists, FailedPrecondition, NotFound
from hull.linux.mounts import Mount, mount_all, unmount
from hull.snapshot.native import NativeSnapshotter
from hull.snapshot.overlay import OverlaySnapshotter
from hull.snapshot.protocol import Snapshotter

pytestmark = pytest.mark.root


@pytest.fixture(params=["overlay", "native"])
def sn(request: pytest.FixtureRequest, tmp_path: Path) -> Snapshotter:
    cls = {"overlay": OverlaySnapshotter, "native": NativeSnapshotter}[request.param]
    snapshotter: Snapshotter = cls(str(tmp_path / "snapshots"))
    return snapshotter


class Mounted:
    def __init__(self, mounts: list[Mount], target: Path) -> None:
        self.mounts, self.target = mounts, target

    def __enter__(self) -> Path:
        self.target.mkdir(exist_ok=True)
        mount_all(self.mounts, str(self.target))
        return self.target

    def __exit__(self, *exc: object) -> None:
        unmount(str(self.target))


def layer(sn: Snapshotter, tmp: Path, name: str, parent: str | None,
          change: dict[str, str | None]) -> None:
    with Mounted(sn.prepare(f"{name}-active", parent), tmp / "m") as root:
        for path, content in change.items():
            if content is None:
                os.unlink(root / path)
            else:
                (root / path).parent.mkdir(parents=True, exist_ok=True)
                (root / path).write_text(content)
    sn.commit(name, f"{name}-active")


def test_layers_stack(sn: Snapshotter, tmp_path: Path) -> None:
    layer(sn, tmp_path, "base", None, {"a": "1", "dir/b": "2", "gone": "x"})
    layer(sn, tmp_path, "top", "base", {"a": "changed", "gone": None, "new": "3"})
    with Mounted(sn.view("v", "top"), tmp_path / "v") as root:
        assert (root / "a").read_text() == "changed"
        assert (root / "dir/b").read_text() == "2"
        assert (root / "new").read_text() == "3"
        assert not (root / "gone").exists()
        with pytest.raises(OSError):
            (root / "x").write_text("views are read-only")
    with Mounted(sn.view("v-base", "base"), tmp_path / "vb") as root:
        assert (root / "a").read_text() == "1" and (root / "gone").exists()
    kinds = {i.key: (i.kind, i.parent) for i in sn.walk()}
    assert kinds["base"] == ("committed", None) and kinds["top"] == ("committed", "base")
    assert kinds["v"] == ("view", "top")


def test_removal_rules(sn: Snapshotter, tmp_path: Path) -> None:
    layer(sn, tmp_path, "base", None, {"a": "1"})
    sn.prepare("work", "base")
    with pytest.raises(FailedPrecondition):
        sn.remove("base")                      # has a child
    with pytest.raises(FailedPrecondition):
        sn.prepare("x", "work")                # a parent must be committed
    with pytest.raises(AlreadyExists):
        sn.prepare("work", "base")
    with pytest.raises(FailedPrecondition):
        sn.commit("c", "base")                 # only active snapshots commit
    sn.remove("work")
    sn.remove("base")
    with pytest.raises(NotFound):
        sn.mounts("base")
    assert list(sn.walk()) == []


def test_usage(sn: Snapshotter, tmp_path: Path) -> None:
    layer(sn, tmp_path, "base", None, {"f": "x" * 10000, "d/g": "y" * 5000})
    usage = sn.usage("base")
    assert usage.size >= 15000 and usage.inodes >= 3


def test_120_layers_mount(sn: Snapshotter, tmp_path: Path) -> None:
    parent = None
    for i in range(120):
        layer(sn, tmp_path, f"l{i}", parent, {f"f{i}": str(i)})
        parent = f"l{i}"
    with Mounted(sn.prepare("c", parent), tmp_path / "c") as root:
        assert (root / "f0").read_text() == "0" and (root / "f119").read_text() == "119"
        (root / "written").write_text("rw")
    assert "written" in os.listdir(sn.upper_dir("c"))
