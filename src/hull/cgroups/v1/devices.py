"""v1 devices: the allow/deny list, written in the order the config gives it."""

from __future__ import annotations

from hull.cgroups.files import write
from hull.cgroups.resources import DeviceRule


def apply(d: str, rules: list[DeviceRule]) -> None:
    for rule in rules:
        write(d, "devices.allow" if rule.allow else "devices.deny", rule.v1_line())
