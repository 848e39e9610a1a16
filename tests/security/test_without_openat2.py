"""The path-escape tests again, on the by-hand resolution hull uses where the kernel has no
openat2 (before 5.6): HULL_NO_OPENAT2 makes hull, its service and hull-runtime take that
path. tests/unit/test_safejoin.py compares the two resolutions directly."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from tests.integration.test_cp import test_symlinks_never_reach_the_host  # noqa: F401
from tests.security.test_rootfs_tricks import (  # noqa: F401
    test_dev_null_symlink_in_image,
    test_image_volume_path_traversal,
    test_layer_breakouts_through_the_engine,
    test_mount_target_swapped_for_a_symlink_during_start,
    test_mount_target_symlink_in_image,
    test_proc_symlink_in_image,
)

pytestmark = pytest.mark.root


@pytest.fixture(autouse=True)
def _no_openat2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before the engine fixture reads the environment (autouse fixtures come first)."""
    monkeypatch.setenv("HULL_NO_OPENAT2", "1")


def test_the_switch_takes_the_fallback() -> None:
    out = subprocess.run([sys.executable, "-c", "from hull.linux import fs; "
                          "print(fs._have_openat2)"], capture_output=True, text=True,
                         env=dict(os.environ), check=True).stdout
    assert out.strip() == "False"
