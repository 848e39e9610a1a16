"""A create killed midway (its engine service SIGKILLed) must leave nothing a later delete
cannot remove: the runtime records the directories the driver will make before it makes
them. Runs on this host's cgroup version (and again in the cgroup v2 VM)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hull.cgroups import manager

pytestmark = [pytest.mark.root, pytest.mark.cgroups]


@pytest.mark.parametrize("made", [0, 1, 2, 3])
def test_a_create_killed_after_some_directories_is_undone_by_the_saved_record(
        made: int) -> None:
    top = f"/hull-test/killed-{os.getpid()}-{made}"
    driver = manager.new_driver(f"{top}/parent/ctr", "ctr")
    driver.plan()
    saved = manager.save(driver)   # what the runtime writes before it makes anything
    planned = list(driver.created)
    assert planned and all(not os.path.exists(p) for p in planned)
    assert set(driver.paths().values()) <= set(planned)   # parents first, then the leaves
    for path in planned[:made]:    # ... then the kill, after `made` directories
        os.mkdir(path)
    manager.load(saved).destroy()
    assert [p for p in planned if os.path.exists(p)] == []


def test_the_plan_leaves_alone_what_existed_before() -> None:
    top = f"/hull-test/killed-{os.getpid()}-shared"
    first = manager.new_driver(f"{top}/parent/one", "one")
    first.create()
    second = manager.new_driver(f"{top}/parent/two", "two")
    second.plan()
    assert all(Path(p).name == "two" for p in second.created)   # the parents exist already
    second.create()
    manager.load(manager.save(second)).destroy()
    assert all(Path(p).is_dir() for p in first.paths().values())
    first.destroy()
    assert not any(Path(p).exists() for p in first.created)
