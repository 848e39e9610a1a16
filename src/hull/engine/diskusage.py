"""`system df`: what images, containers and volumes hold on disk, as Docker's daemon
answers GET /system/df. A layer shared by several images is counted once in the total
(each image's SharedSize says how much of it others share), a container's size is its
read-write layer, a volume's what its directory holds; "active" means used by a
container (images, volumes) or running (containers)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hull.engine.containers import ContainerService


def disk_usage(service: ContainerService) -> dict[str, Any]:
    from hull.engine import humanize
    from hull.engine.listing import summary
    from hull.engine.volumes import tree_size
    from hull.errors import NotFound
    from hull.image.manifest import chain_ids
    from hull.image.reference import parse
    store = service.images
    containers = service.containers(all_=True)
    users: dict[str, int] = {}
    for c in containers:
        users[c.image] = users.get(c.image, 0) + 1
    chains_of = {i.id: chain_ids(store.diff_ids(i)) for i in store.images()}
    holders: dict[str, int] = {}
    for chains in chains_of.values():
        for chain in chains:
            holders[chain] = holders.get(chain, 0) + 1
    layer_size: dict[str, int] = {}
    for chain in holders:
        try:
            layer_size[chain] = store.snapshotter.usage(chain).size
        except NotFound:
            layer_size[chain] = 0
    images = []
    for image in store.images():
        chains = chains_of[image.id]
        size = sum(layer_size[ch] for ch in chains)
        shared = sum(layer_size[ch] for ch in chains if holders[ch] > 1)
        config = store.config(image)
        images.append({"Id": image.id,
                       "RepoTags": [parse(t).familiar() for t in store.tags_of(image.id)],
                       "Created": int(humanize.parse_time(str(config.get("created", "")))),
                       "Size": size, "SharedSize": shared, "VirtualSize": size,
                       "Containers": users.get(image.id, 0)})
    volumes = []
    for v in service.volumes.all():
        refs = len(service.volume_users(v["Name"]))
        volumes.append({**v, "UsageData": {"Size": tree_size(v["Mountpoint"]),
                                           "RefCount": refs}})
    return {"LayersSize": sum(layer_size.values()), "Images": images,
            "Containers": [summary(service, c, size=True) for c in containers],
            "Volumes": volumes, "BuildCache": _build_cache(service)}


def _build_cache(service: ContainerService) -> list[dict[str, Any]]:
    from hull.engine.building import usage
    return usage(service)
