"""`build` as the engine offers it: the builder (hull.build) with the engine's step runner
for RUN, images resolved from the store or pulled, the context read straight from its
directory with the root's hash index, and the build cache's pruning and accounting."""

from __future__ import annotations

import os

from hull.errors import NotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from hull.build.builder import Result
    from hull.build.context import Context
    from hull.build.options import BuildOptions
    from hull.build.progress import Progress
    from hull.engine.core import Engine
    from hull.image.store import Image


def build(engine: Engine, opts: BuildOptions, progress: Progress) -> Result:
    from hull.build.builder import Builder
    from hull.engine.buildsteps import EngineStepRunner
    os.makedirs(os.path.join(engine.root, "build"), exist_ok=True)
    _sweep(engine)
    context = _context(engine, opts)

    def reopen() -> tuple[Any, Any, Any, Any]:
        """For a stage built in a forked child: an engine (and so databases) of its own."""
        from hull.engine.core import Engine
        fresh = Engine(engine.root, engine.state_dir)
        return fresh.images, EngineStepRunner(fresh), _context(fresh, opts), _resolver(fresh)

    try:
        return Builder(engine.images, EngineStepRunner(engine), progress, _resolver(engine),
                       context, reopen).build(opts)
    finally:
        if context is not None:
            context.close()


def _context(engine: Engine, opts: BuildOptions) -> Context | None:
    """The context directory with its .dockerignore and the root's hash index."""
    if opts.context_dir is None:
        return None
    from hull.build.context import Context
    return Context(opts.context_dir, opts.dockerfile_name,
                   os.path.join(engine.root, "build", "context-index.db"))


def _resolver(engine: Engine) -> Callable[[str, bool], Image]:
    """FROM and COPY --from images: from the store, else (or with --pull) pulled."""
    def resolve_image(name: str, pull: bool) -> Image:
        if not pull:
            try:
                return engine.images.resolve(name)
            except NotFound:
                pass
        from hull.engine.images import ImageService
        service = ImageService(engine.root)
        try:
            from hull.image.manifest import host_platform
            p = host_platform()
            image, _ = service.pull(name, platform=f"{p['os']}/{p['architecture']}")
        finally:
            service.store.close()
        return engine.images.get(image.id)

    return resolve_image


def _sweep(engine: Engine) -> None:
    """What builds killed hard (SIGKILL, a crash) left, once their process is gone — each
    thing is named with its build's pid: scratch directories (build/tmp/PID-…), step
    containers (runtime state, cgroup, address: build-PID-…), mounts and snapshots of steps
    (build-PID-…), and running-build leases."""
    import shutil
    tmp = os.path.join(engine.root, "build", "tmp")
    dead = [name for name in (os.listdir(tmp) if os.path.isdir(tmp) else [])
            if not _alive(name.partition("-")[0])]
    for name in dead:
        shutil.rmtree(os.path.join(tmp, name), ignore_errors=True)
    _sweep_steps(engine)
    owners = [row[0] for row in engine.images.db.execute(
        "SELECT DISTINCT owner FROM leases WHERE owner LIKE 'build-running:%'")]
    engine.images.release([o for o in owners
                           if not _alive(o.partition(":")[2].partition("-")[0])])


def _of_dead_build(name: str) -> bool:
    return name.startswith("build-") and not _alive(name.split("-")[1])


def _sweep_steps(engine: Engine) -> None:
    import shutil

    from hull.errors import FailedPrecondition
    from hull.linux.mounts import unmount
    rt = engine.runtime()
    for st in rt.containers():
        if _of_dead_build(st.id):
            from hull.engine import networking
            try:
                rt.delete(st.id, force=True)
            except NotFound:
                pass
            networking.release(engine, st.id)
            shutil.rmtree(engine.store.dir(st.id), ignore_errors=True)
    mounts = os.path.join(engine.root, "build", "mounts")
    for name in os.listdir(mounts) if os.path.isdir(mounts) else []:
        if _of_dead_build(name):
            path = os.path.join(mounts, name)
            try:
                unmount(path)
            except OSError:
                pass
            try:
                os.rmdir(path)
            except OSError:
                pass
    sn = engine.images.snapshotter
    for info in list(sn.walk()):
        if info.kind != "committed" and _of_dead_build(info.key):
            try:
                sn.remove(info.key)
            except (NotFound, FailedPrecondition):
                pass


def _alive(pid: str) -> bool:
    """Whether the build process pid still runs (a zombie — killed, not yet reaped by the
    service — does not)."""
    if not pid.isdigit():
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def prune(engine: Engine, everything: bool, until: float | None) -> tuple[int, int]:
    """`builder prune`: drop cache entries and the layers only they held — with -a all of
    them (and the RUN cache mounts), else the dangling ones: those whose layer no image
    has; --filter until= keeps what was used since."""
    from hull.build.cache import BuildCache
    from hull.image.manifest import chain_ids
    in_images: set[str] = set()
    if not everything:
        for image in engine.images.images():
            in_images |= set(chain_ids(engine.images.diff_ids(image)))
    count, freed = BuildCache(engine.images).prune(until, in_images)
    if everything:
        import shutil
        mounts = os.path.join(engine.root, "build", "cache-mounts")
        if os.path.isdir(mounts):
            from hull.engine.volumes import tree_size
            freed += tree_size(mounts)
            shutil.rmtree(mounts, ignore_errors=True)
    return count, freed


def usage(engine: Engine) -> list[dict[str, Any]]:
    from hull.build.cache import BuildCache
    return list(BuildCache(engine.images).usage())


def export_rootfs(engine: Engine, chain: str | None, kind: str, dest: str) -> None:
    """build --output: the final filesystem as a directory (type=local) or a tar (type=tar,
    "-" for stdout), read from a read-only view of the image's layers."""
    import sys
    import tarfile

    from hull.build.layers import view
    with view(engine.images, chain) as target:
        if kind == "local":   # written inside dest only: links already there are not
            os.makedirs(dest, exist_ok=True)   # followed out of it
            from hull.build.copying import copy_into
            copy_into(dest, target, [""], "/", dest_is_dir=True, owner=None, mode=None,
                      keep_owner=True)
            return
        out = sys.stdout.buffer if dest == "-" else open(dest, "wb")  # noqa: SIM115
        try:
            with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for name in sorted(os.listdir(target)):
                    tar.add(os.path.join(target, name), arcname=name)
        finally:
            if out is not sys.stdout.buffer:
                out.close()
