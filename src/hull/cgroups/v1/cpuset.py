"""v1 cpuset: cpus and mems, inherited from the parent when not given (the kernel leaves a
new cpuset empty, and an empty cpuset cannot hold a task)."""

from __future__ import annotations

import os

from hull.cgroups.files import read, write
from hull.cgroups.resources import Cpu


def inherit(d: str) -> None:
    for name in ("cpuset.cpus", "cpuset.mems"):
        if not read(d, name):
            write(d, name, read(os.path.dirname(d), name))


def apply(d: str, cpu: Cpu) -> None:
    if cpu.cpus is not None:
        write(d, "cpuset.cpus", cpu.cpus)
    if cpu.mems is not None:
        write(d, "cpuset.mems", cpu.mems)
