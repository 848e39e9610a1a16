"""v1 devices: the allow/deny list, written in the order the config gives it."""

from __future__ import annotations

from pathlib import Path

from hull.cgroups.files import write
from hull.cgroups.resources import DeviceRule


def apply(d: Path, rules: list[DeviceRule]) -> None:
    for rule in rules:
        write(d, "devices.allow" if rule.allow else "devices.deny", rule.v1_line())
