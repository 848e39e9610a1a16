"""RUN: the instruction's process in a container on the step's rootfs, with BuildKit's
`--mount` types — cache (a directory that outlives builds, keyed by its id), bind (read-only
from the context, a stage or an image; rw writes are discarded), tmpfs, and secret (a file
at /run/secrets/ID that never enters a layer or the cache key) — and Docker's VOLUME rule:
what a RUN writes inside a declared volume is discarded (it ran on a throwaway copy).

Mount points the runtime had to create (the network's /etc files, a mount's target) are
removed again before the layer is read."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field

from hull.build.errors import BuildError
from hull.build.layers import missing_targets, remove_stubs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

    from hull.build.steps import StepRunner, StepSpec

# where the runtime puts mount points of its own, which an image may lack
RUNTIME_TARGETS = ("/proc", "/dev", "/sys", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf")


@dataclass
class MountSpec:
    kind: str                  # cache | bind | tmpfs | secret
    target: str
    options: dict[str, str] = field(default_factory=dict)

    def key(self) -> dict[str, str]:
        """What of it goes into the step's cache key (never a secret's content)."""
        return {"type": self.kind, "target": self.target,
                **{k: v for k, v in self.options.items() if k not in ("required",)}}


def parse_mount(text: str, line: int) -> MountSpec:
    """`--mount=type=cache,target=/root/.cache,sharing=locked` as BuildKit reads it."""
    options: dict[str, str] = {}
    for item in [i for i in text.split(",") if i]:
        key, eq, value = item.partition("=")
        key = key.strip().lower()
        if not eq:
            if key in ("ro", "readonly", "rw", "readwrite", "required"):
                value = "true"
            else:
                raise BuildError(f"unexpected key '{key}' in '{item}'", line)
        options[{"readonly": "ro", "readwrite": "rw", "dst": "target",
                  "destination": "target", "src": "source"}.get(key, key)] = value
    kind = options.pop("type", "bind")
    if kind not in ("cache", "bind", "tmpfs", "secret"):
        raise BuildError(f"unsupported mount type {kind!r}" +
                         (" (ssh agent forwarding is not offered)" if kind == "ssh" else ""),
                         line)
    target = options.pop("target", "")
    if kind == "secret":
        if not options.get("id") and not target:
            raise BuildError("secret mount needs an id or a target", line)
        target = target or f"/run/secrets/{options.get('id')}"
        options.setdefault("id", os.path.basename(target))
    if not target:
        raise BuildError(f"mount type={kind} needs a target", line)
    if kind == "cache":
        options.setdefault("id", target)
        if options.get("sharing", "shared") not in ("shared", "private", "locked"):
            raise BuildError(f"unrecognized sharing {options['sharing']!r}", line)
    if not target.startswith("/"):
        target = "/" + target   # relative to the workdir is resolved by the caller
    return MountSpec(kind, target, options)


class RunMounts:
    """The OCI mounts of one RUN, made and undone around it."""

    def __init__(self, build_root: str, secrets: dict[str, bytes],
                 source_dir: Callable[[MountSpec], str]) -> None:
        self.build_root = build_root
        self.secrets = secrets
        self.source_dir = source_dir   # where a bind mount's from= tree is on the host
        self.stack = contextlib.ExitStack()

    def close(self) -> None:
        self.stack.close()

    def oci(self, mounts: list[MountSpec], volumes: list[str], rootfs: str
            ) -> list[dict[str, Any]]:
        made = [self._volume_copy(rootfs, v) for v in volumes]
        made += [getattr(self, "_" + m.kind)(m) for m in mounts]
        return [m for m in made if m]

    def _cache(self, m: MountSpec) -> dict[str, Any]:
        name = hashlib.sha256(m.options["id"].encode()).hexdigest()[:32]
        path = os.path.join(self.build_root, "cache-mounts", name)
        if not os.path.isdir(path):
            os.makedirs(path + ".new", exist_ok=True)
            os.chmod(path + ".new", int(m.options.get("mode", "755"), 8))
            os.chown(path + ".new", int(m.options.get("uid", "0")),
                     int(m.options.get("gid", "0")))
            with contextlib.suppress(OSError):
                os.rename(path + ".new", path)
        if m.options.get("sharing") == "locked":   # one build at a time uses it
            lock = os.open(path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self.stack.callback(os.close, lock)
            fcntl.flock(lock, fcntl.LOCK_EX)
        return _bind(path, m.target, readonly=_true(m.options.get("ro")))

    def _bind(self, m: MountSpec) -> dict[str, Any]:
        base = self.source_dir(m)
        rel = os.path.normpath("/" + m.options.get("source", "")).lstrip("/")
        source = os.path.realpath(os.path.join(base, rel))
        real_base = os.path.realpath(base)
        if source != real_base and not source.startswith(real_base + "/"):
            raise BuildError(f"mount source {m.options.get('source')!r} leaves its tree")
        if not os.path.lexists(source):
            raise BuildError(f'failed to compute cache key: "/{rel}": not found')
        if _true(m.options.get("rw")):   # writes go to a copy that is thrown away
            scratch = self._scratch()
            copy = os.path.join(scratch, "data")
            if os.path.isdir(source):
                shutil.copytree(source, copy, symlinks=True)
            else:
                shutil.copy2(source, copy)
            source = copy
        return _bind(source, m.target, readonly=not _true(m.options.get("rw")))

    def _tmpfs(self, m: MountSpec) -> dict[str, Any]:
        opts = ["nosuid", "nodev"]
        if m.options.get("size"):
            opts.append(f"size={m.options['size']}")
        return {"destination": m.target, "type": "tmpfs", "source": "tmpfs",
                "options": opts}

    def _secret(self, m: MountSpec) -> dict[str, Any] | None:
        sid = m.options["id"]
        if sid not in self.secrets:
            if _true(m.options.get("required")):
                raise BuildError(f"secret {sid} not found")
            return None
        scratch = self._scratch()
        path = os.path.join(scratch, "secret")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, self.secrets[sid])
        finally:
            os.close(fd)
        os.chown(path, int(m.options.get("uid", "0")), int(m.options.get("gid", "0")))
        os.chmod(path, int(m.options.get("mode", "400"), 8))
        return _bind(path, m.target, readonly=True)

    def _volume_copy(self, rootfs: str, volume: str) -> dict[str, Any] | None:
        """Docker's rule for VOLUME during a build: later RUNs see the directory, but what
        they change in it is not kept — they run on a copy."""
        from hull.linux import fs
        root = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            try:
                fd = fs.open_in_root(root, volume, os.O_RDONLY | os.O_DIRECTORY)
            except OSError:
                return None
            try:
                copy = os.path.join(self._scratch(), "volume")
                shutil.copytree(fs.fd_path(fd), copy, symlinks=True)
            finally:
                os.close(fd)
        finally:
            os.close(root)
        return _bind(copy, volume, readonly=False)

    def _scratch(self) -> str:
        base = os.path.join(self.build_root, "tmp")
        os.makedirs(base, exist_ok=True)
        path = tempfile.mkdtemp(dir=base)
        self.stack.callback(shutil.rmtree, path, True)
        return path


def _bind(source: str, target: str, readonly: bool) -> dict[str, Any]:
    return {"destination": target, "type": "bind", "source": source,
            "options": ["rbind", "ro" if readonly else "rw"]}


def _true(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1", "yes")


def run(runner: StepRunner, spec: StepSpec, output: Callable[[bytes], None]) -> int:
    """Run the step, then take the runtime's mount-point stubs back out of its rootfs."""
    targets = [*RUNTIME_TARGETS, *(m["destination"] for m in spec.mounts)]
    made = missing_targets(spec.rootfs, targets)
    try:
        return runner.run(spec, output)
    finally:
        remove_stubs(spec.rootfs, made)


@contextlib.contextmanager
def mounts_for(build_root: str, secrets: dict[str, bytes],
               source_dir: Callable[[MountSpec], str]) -> Iterator[RunMounts]:
    made = RunMounts(build_root, secrets, source_dir)
    try:
        yield made
    finally:
        made.close()
