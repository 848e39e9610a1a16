"""Image operations as the docker command offers them: list, inspect, tag, remove, prune,
history, bootstrap the built-in image. Output shapes follow Docker's."""

from __future__ import annotations

from hull.engine import humanize
from hull.errors import FailedPrecondition, NotFound
from hull.image.reference import parse
from hull.image.store import Image, ImageStore

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any

    from hull.image.progress import Progress


class ImageService:
    def __init__(self, root: str) -> None:
        self.store = ImageStore(root)

    def rows(self, all_tags: bool = True, dangling: bool | None = None) -> list[dict[str, Any]]:
        """One row per (image, tag) as `docker images` lists them."""
        out = []
        for image in self.store.images():
            config = self.store.config(image)
            created = humanize.parse_time(str(config.get("created", "")))
            tags = self.store.tags_of(image.id)
            digests = self.store.repo_digests_of(image.id)
            if (dangling is True and tags) or (dangling is False and not tags):
                continue
            names = tags or ["<none>:<none>"]
            for name in names:
                repo, _, tag = name.rpartition(":") if name != "<none>:<none>" else \
                    ("<none>", "", "<none>")
                familiar = parse(repo, default_tag=None).familiar() if repo != "<none>" \
                    else repo
                digest = next((d.split("@", 1)[1] for d in digests
                               if d.split("@", 1)[0] == repo), "<none>")
                out.append({"Repository": familiar, "Tag": tag, "ID": image.id,
                            "Digest": digest, "Created": created, "Size": image.size})
        return out

    def inspect(self, name: str) -> dict[str, Any]:
        image = self.store.resolve(name)
        config = self.store.config(image)
        cfg = config.get("config") or {}
        return {
            "Id": image.id,
            "RepoTags": [parse(t).familiar() for t in self.store.tags_of(image.id)],
            "RepoDigests": [parse(d, default_tag=None).familiar()
                            for d in self.store.repo_digests_of(image.id)],
            "Parent": "", "Comment": "", "Created": config.get("created", ""),
            "Container": "", "ContainerConfig": {}, "DockerVersion": "",
            "Author": config.get("author", ""),
            "Config": {"Hostname": "", "Domainname": "", "User": cfg.get("User", ""),
                       "AttachStdin": False, "AttachStdout": False, "AttachStderr": False,
                       "Tty": False, "OpenStdin": False, "StdinOnce": False,
                       "Env": cfg.get("Env"), "Cmd": cfg.get("Cmd"), "Image": "",
                       "Volumes": cfg.get("Volumes"), "WorkingDir": cfg.get("WorkingDir", ""),
                       "Entrypoint": cfg.get("Entrypoint"), "OnBuild": cfg.get("OnBuild"),
                       "Labels": cfg.get("Labels"), "ExposedPorts": cfg.get("ExposedPorts"),
                       "StopSignal": cfg.get("StopSignal"),
                       "Healthcheck": cfg.get("Healthcheck")},
            "Architecture": config.get("architecture", ""),
            **({"Variant": config["variant"]} if config.get("variant") else {}),
            "Os": config.get("os", ""), "Size": image.size, "VirtualSize": image.size,
            "GraphDriver": {"Name": "overlay2", "Data": self._graph_data(image)},
            "RootFS": {"Type": "layers", "Layers": self.store.diff_ids(image)},
            "Metadata": {"LastTagTime": ""},
        }

    def _graph_data(self, image: Image) -> dict[str, str]:
        top = self.store.top_snapshot(image)
        if top is None:
            return {}
        sn = self.store.snapshotter
        dirs = []
        key: str | None = top
        while key is not None:
            dirs.append(sn.upper_dir(key))
            key = next((i.parent for i in sn.walk() if i.key == key), None)
        return {"LowerDir": ":".join(dirs[1:]), "UpperDir": dirs[0],
                "WorkDir": "", "MergedDir": ""} if len(dirs) > 1 else {"UpperDir": dirs[0]}

    def history(self, name: str) -> list[dict[str, Any]]:
        image = self.store.resolve(name)
        config = self.store.config(image)
        manifest = self.store.manifest_of(image)
        layers = iter(reversed(manifest.layers))
        rows: list[dict[str, Any]] = []
        for entry in reversed(config.get("history") or []):
            layer = None if entry.get("empty_layer") else next(layers, None)
            rows.append({"ID": image.id if not rows else "<missing>",
                         "Created": humanize.parse_time(str(entry.get("created", ""))),
                         "CreatedBy": entry.get("created_by", ""),
                         "Size": layer.size if layer else 0,
                         "Comment": entry.get("comment", "")})
        return rows

    def tag(self, source: str, target: str) -> None:
        image = self.store.resolve(source)
        self.store.tag(image.id, parse(target))

    def remove(self, name: str, force: bool = False) -> list[str]:
        """`docker rmi`: untag, and delete the image once no tag is left. Returns the
        Untagged:/Deleted: lines."""
        lines = []
        image = self.store.resolve(name)
        tags = self.store.tags_of(image.id)
        by_id = name.removeprefix("sha256:") in image.id
        if by_id and len(tags) > 1 and not force:
            raise FailedPrecondition(f"conflict: unable to delete {image.short_id} (must be "
                                     "forced) - image is referenced in multiple repositories")
        targets = tags if by_id or force else [str(parse(name))]
        for tag in targets:
            self.store.untag(parse(tag))
            lines.append(f"Untagged: {parse(tag).familiar()}")
        if not self.store.tags_of(image.id):
            for digest in self.store.repo_digests_of(image.id):
                lines.append(f"Untagged: {parse(digest, default_tag=None).familiar()}")
            self.store.delete(image.id)
            self.store.gc()
            self._sweep_remapped()
            lines.append(f"Deleted: {image.id}")
        return lines

    def prune(self, all_images: bool = False,
              keep: set[str] | frozenset[str] = frozenset()) -> tuple[list[str], int]:
        """Dangling images (or, with all_images, every image) not in keep (the images
        containers use)."""
        deleted = []
        reclaimed = 0
        for image in self.store.images():
            if image.id in keep or (self.store.tags_of(image.id) and not all_images):
                continue
            reclaimed += image.size
            self.store.delete(image.id)
            deleted.append(image.id)
        if deleted:
            self.store.gc()
            self._sweep_remapped()
        return deleted, reclaimed

    def _sweep_remapped(self) -> None:
        """Layers gone: their copies shifted for remapped containers go too."""
        import os
        copies = os.path.join(self.store.root, "remapped")
        if os.path.isdir(copies):
            from hull.engine.remapped_layers import sweep
            sweep(copies)

    def pull(self, name: str, platform: str | None = None,
             progress: Progress | None = None) -> tuple[Image, bool]:
        """Returns the image and whether anything new was stored."""
        from hull.image.distribution import pull
        from hull.image.manifest import parse_platform
        from hull.registry.config import load
        ref = parse(name)
        before = {i.id for i in self.store.images()}
        image = pull(self.store, ref, load(), parse_platform(platform), progress)
        return image, image.id not in before

    def push(self, name: str, progress: Progress | None = None) -> str:
        from hull.image.distribution import push
        from hull.registry.config import load
        image = self.store.resolve(name)
        ref = parse(name)
        if ref.digest:
            raise FailedPrecondition(f"push {name}: push a tag, not a digest")
        return push(self.store, image, ref, load(), progress)

    def save(self, names: list[str], out: IO[bytes], fmt: str) -> None:
        from hull.image.archive import save
        save(self.store, names, out, fmt)

    def load(self, src: IO[bytes], progress: Progress | None = None) -> list[str]:
        from hull.image.archive import load
        return load(self.store, src, progress)

    def import_tarball(self, src: IO[bytes], name: str | None, message: str,
                       changes: list[str]) -> Image:
        from hull.image.archive import import_tarball
        return import_tarball(self.store, src, parse(name) if name else None, message,
                              _changes(changes))

    def disk_usage(self) -> list[dict[str, Any]]:
        images = self.store.images()
        total = sum(i.size for i in images)
        dangling = sum(i.size for i in images if not self.store.tags_of(i.id))
        return [{"Type": "Images", "Total": len(images), "Active": 0, "Size": total,
                 "Reclaimable": total, "Dangling": dangling},
                {"Type": "Containers", "Total": 0, "Active": 0, "Size": 0, "Reclaimable": 0},
                {"Type": "Local Volumes", "Total": 0, "Active": 0, "Size": 0,
                 "Reclaimable": 0},
                {"Type": "Build Cache", "Total": 0, "Active": 0, "Size": 0,
                 "Reclaimable": 0}]

    def bootstrap(self, name: str) -> Image:
        if parse(name).repository != "library/busybox":
            raise NotFound(f"image bootstrap: only busybox can be built in, not {name!r}")
        from hull.image.bootstrap import bootstrap_busybox
        return bootstrap_busybox(self.store, name)


def _healthcheck(rest: str, change: str) -> dict[str, Any]:
    """HEALTHCHECK [--interval=D] [--timeout=D] [--start-period=D] [--retries=N] CMD …, or
    HEALTHCHECK NONE, as Config.Healthcheck."""
    import json

    from hull.engine.health import duration
    from hull.errors import InvalidArgument
    if rest.upper() == "NONE":
        return {"Test": ["NONE"]}
    check: dict[str, Any] = {}
    while rest.startswith("--"):
        option, _, rest = rest.partition(" ")
        key, eq, value = option[2:].partition("=")
        keys = {"interval": "Interval", "timeout": "Timeout", "start-period": "StartPeriod"}
        if key in keys and eq:
            check[keys[key]] = duration(value, f"HEALTHCHECK --{key}")
        elif key == "retries" and eq and value.isdigit():
            check["Retries"] = int(value)
        else:
            raise InvalidArgument(f"--change {change!r}: unknown HEALTHCHECK option {option}")
        rest = rest.strip()
    word, _, command = rest.partition(" ")
    if word.upper() != "CMD" or not command.strip():
        raise InvalidArgument(f"--change {change!r}: HEALTHCHECK needs CMD and a command")
    command = command.strip()
    check["Test"] = ["CMD", *json.loads(command)] if command.startswith("[") else \
        ["CMD-SHELL", command]
    return check


def _changes(changes: list[str], base: dict[str, Any] | None = None) -> dict[str, Any]:
    """`import --change`: the Dockerfile instructions that only set config (CMD, ENV,
    ENTRYPOINT, WORKDIR, USER, EXPOSE, LABEL, HEALTHCHECK…), in their JSON or shell
    forms."""
    import json
    import shlex

    from hull.errors import InvalidArgument
    config: dict[str, Any] = {k: (list(v) if isinstance(v, list) else dict(v)
                                  if isinstance(v, dict) else v)
                              for k, v in (base or {}).items()}
    for change in changes:
        word, _, rest = change.strip().partition(" ")
        word, rest = word.upper(), rest.strip()

        def as_list(text: str) -> list[str]:
            if text.startswith("["):
                value = json.loads(text)
                return [str(v) for v in value]
            return ["/bin/sh", "-c", text]
        if word == "CMD":
            config["Cmd"] = as_list(rest)
        elif word == "ENTRYPOINT":
            config["Entrypoint"] = as_list(rest)
        elif word == "ENV":
            key, eq, value = rest.partition("=")
            if not eq:
                key, _, value = rest.partition(" ")
            env = [e for e in config.get("Env") or [] if e.partition("=")[0] != key]
            config["Env"] = [*env, f"{key}={value.strip()}"]
        elif word == "WORKDIR":
            config["WorkingDir"] = rest
        elif word == "USER":
            config["User"] = rest
        elif word == "STOPSIGNAL":
            config["StopSignal"] = rest
        elif word == "VOLUME":
            paths = json.loads(rest) if rest.startswith("[") else rest.split()
            for volume in paths:
                config.setdefault("Volumes", {})[volume] = {}
        elif word == "EXPOSE":
            for port in rest.split():
                config.setdefault("ExposedPorts", {})[
                    port if "/" in port else f"{port}/tcp"] = {}
        elif word == "LABEL":
            for item in shlex.split(rest):
                key, _, value = item.partition("=")
                config.setdefault("Labels", {})[key] = value
        elif word == "HEALTHCHECK":
            config["Healthcheck"] = _healthcheck(rest, change)
        else:
            raise InvalidArgument(f"--change {change!r}: {word} is not one of CMD, ENTRYPOINT, "
                                  "ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER, "
                                  "VOLUME, WORKDIR" if word != "ONBUILD" else
                                  f"--change {change!r}: ONBUILD is not supported")
    return config
