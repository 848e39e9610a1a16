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
from hull.build.layers import missing_targets, parent_times, remove_stubs, restore_times

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
        options.setdefault("id", os.path.basename(target))
        if not target and options.get("env"):
            return MountSpec(kind, "", options)   # env=NAME only: no file
        target = target or f"/run/secrets/{options.get('id')}"
    if not target:
        raise BuildError(f"mount type={kind} needs a target", line)
    if kind == "cache":
        options.setdefault("id", target)
        if options.get("sharing", "shared") not in ("shared", "private", "locked"):
            raise BuildError(f"unrecognized sharing {options['sharing']!r}", line)
    for name in ("mode", "uid", "gid"):
        number = options.get(name)
        if number is not None and not number.isdigit():
            raise BuildError(f"invalid {name} {number!r} for mount type={kind}", line)
    return MountSpec(kind, target, options)   # relative: under WORKDIR (the caller's)


class RunMounts:
    """The OCI mounts of one RUN, made and undone around it."""

    def __init__(self, build_root: str, cache_root: str, secrets: dict[str, bytes],
                 source_dir: Callable[[MountSpec, contextlib.ExitStack], str]) -> None:
        self.build_root = build_root   # this build's scratch directory
        self.cache_root = cache_root   # where cache mounts live on, build after build
        self.secrets = secrets
        self.source_dir = source_dir   # where a bind mount's tree is on the host (what
        self.stack = contextlib.ExitStack()   # it mounts goes with the stack)
        self.env: list[str] = []   # secrets given as environment variables (env=)

    def close(self) -> None:
        self.stack.close()

    def oci(self, mounts: list[MountSpec], volumes: list[str], rootfs: str
            ) -> list[dict[str, Any]]:
        made = [self._volume_copy(rootfs, v) for v in volumes]
        made += [getattr(self, "_" + m.kind)(m) for m in mounts]
        return [m for m in made if m]

    def _cache(self, m: MountSpec) -> dict[str, Any]:
        name = hashlib.sha256(m.options["id"].encode()).hexdigest()[:32]
        path = os.path.join(self.cache_root, name)
        if not os.path.isdir(path):   # made whole, then renamed: a concurrent maker's wins
            os.makedirs(self.cache_root, exist_ok=True)
            new = tempfile.mkdtemp(dir=self.cache_root, prefix=".new-")
            os.chmod(new, int(m.options.get("mode", "755"), 8))
            os.chown(new, int(m.options.get("uid", "0")), int(m.options.get("gid", "0")))
            try:
                os.rename(new, path)
            except OSError:
                os.rmdir(new)
        sharing = m.options.get("sharing", "shared")
        if sharing != "shared":   # locked: one RUN at a time; private: a RUN that finds
            lock = os.open(path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self.stack.callback(os.close, lock)   # it in use gets a fresh one of its own
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | (fcntl.LOCK_NB if sharing == "private"
                                                   else 0))
            except BlockingIOError:
                path = self._scratch()
        return _bind(path, m.target, readonly=_true(m.options.get("ro")))

    def _bind(self, m: MountSpec) -> dict[str, Any]:
        base = self.source_dir(m, self.stack)
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
        if m.options.get("env"):
            self.env.append(f"{m.options['env']}={self.secrets[sid].decode(errors='replace')}")
        if not m.target:
            return None
        scratch = self._scratch(secret=True)
        path = os.path.join(scratch, "secret")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, self.secrets[sid])
        finally:
            os.close(fd)
        os.chown(path, int(m.options.get("uid", "0")), int(m.options.get("gid", "0")))
        os.chmod(path, int(m.options.get("mode", "400"), 8))
        return _bind(path, m.target, readonly=True)

    def script(self, path: str, content: str) -> dict[str, Any]:
        """RUN <<EOF with a #! line: the heredoc as an executable file at path."""
        file = os.path.join(self._scratch(), "script")
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o755)
        try:
            os.write(fd, content.encode())
        finally:
            os.close(fd)
        return _bind(file, path, readonly=True)

    def _volume_copy(self, rootfs: str, volume: str) -> dict[str, Any] | None:
        """Docker's rule for VOLUME during a build: later RUNs see the directory, but what
        they change in it is not kept — they run on a copy (owners and modes kept, so a
        non-root USER may write there as in Docker)."""
        from hull.build.copying import copy_into
        from hull.linux import fs
        root = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            try:
                fd = fs.open_in_root(root, volume, os.O_PATH | os.O_DIRECTORY)
            except FileNotFoundError:   # not there yet: what RUN puts there is lost too
                empty = os.path.join(self._scratch(), "volume")
                os.mkdir(empty, 0o755)
                return _bind(empty, volume, readonly=False)
            except OSError:
                return None
            info = os.fstat(fd)
            os.close(fd)
        finally:
            os.close(root)
        copy = os.path.join(self._scratch(), "volume")
        os.mkdir(copy)
        copy_into(copy, rootfs, [volume.lstrip("/")], "/", dest_is_dir=True, owner=None,
                  mode=None, keep_owner=True)
        os.chown(copy, info.st_uid, info.st_gid)
        os.chmod(copy, info.st_mode & 0o7777)
        return _bind(copy, volume, readonly=False)

    def _scratch(self, secret: bool = False) -> str:
        """A directory for this RUN's mounts, removed after it; a secret's is on a tmpfs
        (/dev/shm) when the host has one, so it never reaches a disk."""
        base = self.build_root
        if secret and os.path.isdir("/dev/shm"):
            base = "/dev/shm"
        os.makedirs(base, exist_ok=True)
        path = tempfile.mkdtemp(dir=base, prefix="hull-build-")
        self.stack.callback(shutil.rmtree, path, True)
        return path


@contextlib.contextmanager
def filtered_copy(build_root: str, context: str, ignored: Callable[[str], bool]
                  ) -> Iterator[str]:
    """The context as a RUN bind mount sees it when .dockerignore drops files: a copy of
    what is not ignored (BuildKit mounts the context as it was sent, filtered)."""
    from hull.build.copying import copy_into
    os.makedirs(build_root, exist_ok=True)
    path = tempfile.mkdtemp(dir=build_root, prefix="context-")
    try:
        copy_into(path, context, [""], "/", dest_is_dir=True, owner=None, mode=None,
                  keep_owner=True, ignored=ignored)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _bind(source: str, target: str, readonly: bool) -> dict[str, Any]:
    return {"destination": target, "type": "bind", "source": source,
            "options": ["rbind", "ro" if readonly else "rw"]}


def _true(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1", "yes")


def run(runner: StepRunner, spec: StepSpec, output: Callable[[bytes], None]) -> int:
    """Run the step, then take the runtime's mount-point stubs back out of its rootfs."""
    targets = [*RUNTIME_TARGETS, *(m["destination"] for m in spec.mounts)]
    made = missing_targets(spec.rootfs, targets)
    times = parent_times(spec.rootfs, made)
    try:
        return runner.run(spec, output)
    finally:
        remove_stubs(spec.rootfs, made)
        restore_times(spec.rootfs, times)


@contextlib.contextmanager
def mounts_for(build_root: str, cache_root: str, secrets: dict[str, bytes],
               source_dir: Callable[[MountSpec, contextlib.ExitStack], str]
               ) -> Iterator[RunMounts]:
    made = RunMounts(build_root, cache_root, secrets, source_dir)
    try:
        yield made
    finally:
        made.close()
