"""v1 freezer: FROZEN/THAWED, waiting until the kernel reports the state reached."""

from __future__ import annotations

import time

from hull.cgroups.files import read, write


def set_state(d: str, frozen: bool) -> None:
    want = "FROZEN" if frozen else "THAWED"
    for _ in range(2000):
        write(d, "freezer.state", want)
        if read(d, "freezer.state") == want:
            return
        time.sleep(0.001)
    raise TimeoutError(f"{d}: freezer did not reach {want}")


def is_frozen(d: str) -> bool:
    return read(d, "freezer.state") != "THAWED"
