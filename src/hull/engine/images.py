"""Image operations as the docker command offers them: list, inspect, tag, remove, prune,
history, bootstrap the built-in image. Output shapes follow Docker's."""

from __future__ import annotations

from hull.engine import humanize
from hull.errors import FailedPrecondition, InvalidArgument, NotFound
from hull.image.reference import parse
from hull.image.store import Image, ImageStore

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any

    from hull.engine.filters import Filters
    from hull.engine.store import Container
    from hull.image.progress import Progress


class ImageService:
    def __init__(self, root: str) -> None:
        self.store = ImageStore(root)

    def rows(self, filters: Filters | None = None) -> list[dict[str, Any]]:
        """One row per (image, name) as `docker images` lists them, newest first, with
        Docker's filters: dangling=, label=, before=/since= (an image), until=, and
        reference= (a glob over the familiar name, with or without its tag)."""
        import fnmatch
        filters = filters or _filters_for_images()
        dangling = filters.boolean("dangling")
        before = self._created_of(filters.get("before"))
        since = self._created_of(filters.get("since"))
        until = filters.until()
        patterns = filters.get("reference")
        out: list[dict[str, Any]] = []
        for image in self.store.images():
            config = self.store.config(image)
            created = humanize.parse_time(str(config.get("created", "")))
            tags = self.store.tags_of(image.id)
            if (dangling is True and tags) or (dangling is False and not tags):
                continue
            if (before is not None and created >= before) or \
                    (since is not None and created <= since) or \
                    (until is not None and created > until):
                continue
            if not filters.labels("label", (config.get("config") or {}).get("Labels")):
                continue
            digests = self.store.repo_digests_of(image.id)
            names = tags or ([] if patterns else ["<none>:<none>"])
            for name in names:
                repo, _, tag = name.rpartition(":") if name != "<none>:<none>" else \
                    ("<none>", "", "<none>")
                familiar = parse(repo, default_tag=None).familiar() if repo != "<none>" \
                    else repo
                if patterns and not any(fnmatch.fnmatchcase(f"{familiar}:{tag}", p) or
                                        fnmatch.fnmatchcase(familiar, p) for p in patterns):
                    continue
                digest = next((d.split("@", 1)[1] for d in digests
                               if d.split("@", 1)[0] == repo), "<none>")
                out.append({"Repository": familiar, "Tag": tag, "ID": image.id,
                            "Digest": digest, "Created": created, "Size": image.size,
                            "Labels": (config.get("config") or {}).get("Labels") or {}})
        out.sort(key=lambda r: float(r["Created"]), reverse=True)
        return out

    def _created_of(self, names: list[str]) -> float | None:
        """before=/since=IMAGE: that image's creation time (a missing one is an error)."""
        when = None
        for name in names:
            when = humanize.parse_time(str(self.store.config(self.store.resolve(name))
                                           .get("created", "")))
        return when

    def inspect(self, name: str) -> dict[str, Any]:
        image = self.store.resolve(name)
        config = self.store.config(image)
        cfg = config.get("config") or {}
        return {
            "Id": image.id,
            "RepoTags": [parse(t).familiar() for t in self.store.tags_of(image.id)],
            "RepoDigests": [parse(d, default_tag=None).familiar()
                            for d in self.store.repo_digests_of(image.id)],
            "Parent": self.store.parent_of(image.id), "Comment": config.get("comment", ""),
            "Created": config.get("created") or "0001-01-01T00:00:00Z",
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
                       "Healthcheck": cfg.get("Healthcheck"),
                       **({"Shell": cfg["Shell"]} if cfg.get("Shell") else {})},
            "Architecture": config.get("architecture", ""),
            **({"Variant": config["variant"]} if config.get("variant") else {}),
            "Os": config.get("os", ""), "Size": image.size, "VirtualSize": image.size,
            "GraphDriver": {"Name": "overlay2", "Data": self._graph_data(image)},
            "RootFS": {"Type": "layers", "Layers": self.store.diff_ids(image)},
            "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},   # Go's zero time
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
        from hull.image.manifest import chain_ids
        image = self.store.resolve(name)
        config = self.store.config(image)
        layers = iter(reversed(chain_ids(self.store.diff_ids(image))))
        rows: list[dict[str, Any]] = []
        for entry in reversed(config.get("history") or []):
            chain = None if entry.get("empty_layer") else next(layers, None)
            rows.append({"ID": image.id if not rows else "<missing>",
                         "Created": humanize.parse_time(str(entry.get("created", ""))),
                         "CreatedBy": entry.get("created_by", ""),
                         "Size": self._layer_size(chain),
                         "Comment": entry.get("comment", "")})
        return rows

    def _layer_size(self, chain: str | None) -> int:
        """A layer's unpacked size, as Docker's history shows it (not the download's)."""
        if chain is None:
            return 0
        try:
            return self.store.snapshotter.usage(chain).size
        except NotFound:
            return 0

    def tag(self, source: str, target: str) -> None:
        image = self.store.resolve(source)
        self.store.tag(image.id, parse(target))

    def users(self, image_id: str) -> list[Container]:
        """The containers made from this image, running or not, newest first."""
        from hull.engine.store import ContainerStore
        return [c for c in ContainerStore(self.store.root).all() if c.image == image_id]

    def remove(self, name: str, force: bool = False) -> list[str]:
        """`docker rmi`, with Docker's conflicts: a name is untagged (refused without -f
        when it is the image's last name and a container uses the image); the image goes
        once no name is left — never while a running container uses it (then -f leaves it
        untagged, its layers in use), and not while a stopped one does unless forced.
        Returns the Untagged:/Deleted: lines."""
        try:
            image = self.store.resolve(name)
        except NotFound:
            raise NotFound(f"No such image: {_familiar(name)}") from None
        lines: list[str] = []
        refs = self.store.tags_of(image.id) + self.store.repo_digests_of(image.id)
        single = _single_repository(refs)
        by_id = _is_id_prefix(image.id, name)
        quiet = False
        if not by_id:
            users = self.users(image.id)
            if not force and single and users:
                raise FailedPrecondition(
                    f'conflict: unable to remove repository reference "{name}" (must force) '
                    f"- container {users[0].short_id} is using its referenced image "
                    f"{image.short_id}")
            ref = parse(name)
            if ref.digest:
                self.store.untag_digest(str(ref))
            else:
                self.store.untag(ref)
            lines.append(f"Untagged: {ref.familiar()}")
            remaining = self.store.tags_of(image.id)
            if not any(parse(t).name == ref.name for t in remaining):
                for digest in self.store.repo_digests_of(image.id):
                    if parse(digest, default_tag=None).name == ref.name:
                        self.store.untag_digest(digest)
                        lines.append(f"Untagged: {parse(digest, default_tag=None).familiar()}")
            if self.store.tags_of(image.id) or self.store.repo_digests_of(image.id):
                return lines
            quiet = True
        elif single:
            conflict = self._conflict(image, hard_only=force, references=False)
            if conflict:
                raise FailedPrecondition(conflict[0])
            for ref_name in refs:
                ref = parse(ref_name, default_tag=None)
                if ref.tag:
                    self.store.untag(ref)
                else:
                    self.store.untag_digest(ref_name)
                lines.append(f"Untagged: {ref.familiar()}")
        conflict = self._conflict(image, hard_only=force, references=True)
        if conflict:
            message, used = conflict
            if quiet and (used or self.store.tags_of(image.id)):
                return lines   # untagged; the image itself stays while a container uses it
            raise FailedPrecondition(message)
        for ref_name in self.store.tags_of(image.id) + self.store.repo_digests_of(image.id):
            lines.append(f"Untagged: {parse(ref_name, default_tag=None).familiar()}")
        self.store.delete(image.id)
        lines.append(f"Deleted: {image.id}")
        lines += [f"Deleted: {chain}" for chain, _ in self.store.gc()]   # its layers
        self._sweep_remapped()
        return lines

    def _conflict(self, image: Image, hard_only: bool, references: bool
                  ) -> tuple[str, bool] | None:
        """Docker's checkImageDeleteConflict: (message, whether a container is the cause)
        or None. Hard conflicts (a running container) cannot be forced; soft ones (other
        names, a stopped container) can."""
        users = self.users(image.id)
        running = next((c for c in users if c.state.get("Running")), None)

        def refuse(why: str, hard: bool) -> str:
            how = "cannot be forced" if hard else "must be forced"
            return f"conflict: unable to delete {image.short_id} ({how}) - {why}"
        if running is not None:
            return refuse(f"image is being used by running container {running.short_id}",
                          True), True
        if hard_only:
            return None
        if references and (self.store.tags_of(image.id) or
                           self.store.repo_digests_of(image.id)):
            return refuse("image is referenced in multiple repositories", False), False
        if users:
            return refuse(f"image is being used by stopped container {users[0].short_id}",
                          False), True
        return None

    def prune(self, all_images: bool = False, filters: Filters | None = None
              ) -> tuple[list[str], int]:
        """`docker image prune [-a]`: dangling images (with all_images, every image
        without a container), filtered by until= and label=/label!=. An image any
        container uses stays, as Docker's own rmi without force refuses it. Returns the
        untagged:/deleted: lines and the bytes reclaimed."""
        from hull.engine.filters import Filters as _Filters
        filters = filters or _Filters([], PRUNE_FILTERS)
        dangling = filters.boolean("dangling")
        if dangling is not None:
            all_images = not dangling
        until = filters.until()
        in_use = {c.image for c in self._all_containers()}
        lines: list[str] = []
        reclaimed = 0
        for image in self.store.images():
            tags = self.store.tags_of(image.id)
            if image.id in in_use or (tags and not all_images):
                continue
            config = self.store.config(image)
            created = humanize.parse_time(str(config.get("created", "")))
            if until is not None and created > until:
                continue
            labels = (config.get("config") or {}).get("Labels")
            if not filters.labels("label", labels) or not filters.not_labels(labels):
                continue
            for ref_name in tags + self.store.repo_digests_of(image.id):
                lines.append(f"untagged: {parse(ref_name, default_tag=None).familiar()}")
            self.store.delete(image.id)
            lines.append(f"deleted: {image.id}")
            for chain, size in self.store.gc():   # the layers no other image stands on
                lines.append(f"deleted: {chain}")
                reclaimed += size
        if lines:
            self._sweep_remapped()
        return lines, reclaimed

    def _all_containers(self) -> list[Container]:
        from hull.engine.store import ContainerStore
        return ContainerStore(self.store.root).all()

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

    def search(self, term: str, limit: int = 25) -> list[dict[str, Any]]:
        from hull.image.distribution import search
        from hull.registry.config import load
        if not term:
            raise InvalidArgument("a search term is required")
        return search(term, limit, load())

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

    def bootstrap(self, name: str) -> Image:
        if parse(name).repository != "library/busybox":
            raise NotFound(f"image bootstrap: only busybox can be built in, not {name!r}")
        from hull.image.bootstrap import bootstrap_busybox
        return bootstrap_busybox(self.store, name)


PRUNE_FILTERS = ("dangling", "label", "label!", "until")
LIST_FILTERS = ("before", "dangling", "label", "reference", "since", "until")


def _filters_for_images() -> Filters:
    from hull.engine.filters import Filters as _Filters
    return _Filters([], LIST_FILTERS)


def _familiar(name: str) -> str:
    """A name as Docker echoes it in "No such image": normalized, tag added."""
    try:
        return parse(name).familiar()
    except InvalidArgument:
        return name


def _is_id_prefix(image_id: str, name: str) -> bool:
    return image_id.removeprefix("sha256:").startswith(name.removeprefix("sha256:"))


def _single_repository(refs: list[str]) -> bool:
    """Docker's isSingleReference: every name in one repository, at most one tag."""
    parsed = [parse(r, default_tag=None) for r in refs]
    return len({r.name for r in parsed}) <= 1 and sum(1 for r in parsed if r.tag) <= 1


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
