"""Build the right driver for this host, and rebuild it from a container's saved state."""

from __future__ import annotations

from hull.cgroups.hierarchy import CGROUP_ROOT, detect_mode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hull.cgroups.driver import CgroupDriver


def new_driver(cgroups_path: str, container_id: str, systemd: bool = False,
               root: str = CGROUP_ROOT) -> CgroupDriver:
    if systemd:
        from hull.cgroups.hierarchy import resolve
        resolve(cgroups_path, container_id, "/", systemd=True)   # raises "not supported"
    if detect_mode(root) == "v2":
        from hull.cgroups.v2.driver import V2Driver, locate
        return V2Driver(locate(cgroups_path, container_id, root), root=root)
    from hull.cgroups.v1.driver import V1Driver
    from hull.cgroups.v1.driver import locate as locate_v1
    return V1Driver(locate_v1(cgroups_path, container_id))


def save(driver: CgroupDriver) -> dict[str, Any]:
    created = [str(p) for p in getattr(driver, "created", [])]
    return {"paths": {k: str(v) for k, v in driver.paths().items()}, "created": created}


def load(saved: dict[str, Any]) -> CgroupDriver:
    paths: dict[str, str] = dict(saved.get("paths", {}))
    created: list[str] = list(saved.get("created", []))
    if list(paths) == [""]:
        from hull.cgroups.v2.driver import V2Driver
        return V2Driver(paths[""], created)
    from hull.cgroups.v1.driver import V1Driver
    return V1Driver(paths, created)
