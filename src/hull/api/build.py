"""POST /build, the classic protocol: the context as a tar body (gzip, bzip2, xz or
plain), options in the query, and JSON lines back — {"stream": text} for the progress
(BuildKit's plain lines, from hull's builder), {"aux": {"ID": image}} and "Successfully
built/tagged" at the end (docker-py and the docker command read either), or
{"errorDetail", "error"} when the build fails. POST /build/prune clears the cache."""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from typing import cast

from hull.api.errors import ApiError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any

    from hull.api.context import Context
    from hull.api.http import Connection, Request, Stream
    from hull.build.options import BuildOptions


class _StreamLines(io.TextIOBase):
    """The builder's plain progress, written into {"stream": …} lines."""

    def __init__(self, stream: Stream) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        if text:
            self.stream.json({"stream": text})
        return len(text)

    def flush(self) -> None:
        pass


def build(ctx: Context, conn: Connection, req: Request) -> None:
    from hull.build.errors import BuildError
    from hull.build.progress import PlainProgress
    from hull.engine.building import build as run_build
    if req.arg("remote"):
        raise ApiError(400, "remote build contexts (git, URL) are not offered: send the "
                       "context as the request body")
    tmp = tempfile.mkdtemp(prefix="hull-api-context-")
    try:
        _unpack(req, tmp)
        opts = _options(req, tmp)
        stream = conn.stream()
        progress = PlainProgress(cast("IO[str]", _StreamLines(stream)), quiet=req.flag("q"))
        try:
            result = run_build(ctx.containers, opts, progress)
        except BuildError as e:
            progress.close()
            message = f"failed to solve: {e.message}"
            stream.json({"errorDetail": {"message": message, "code": e.exit_code},
                         "error": message})
            stream.end()
            return
        progress.close()
        stream.json({"aux": {"ID": result.image_id}})
        stream.json({"stream": f"Successfully built {result.image_id.split(':', 1)[-1][:12]}\n"})
        for tag in opts.tags:
            stream.json({"stream": f"Successfully tagged {tag}\n"})
        stream.end()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _unpack(req: Request, into: str) -> None:
    """The context tar, extracted with the layer applier: no entry lands outside."""
    import tarfile

    from hull.engine.copy import tar_error
    from hull.image.layer import Applier
    applier = Applier(into, whiteouts="none", owner=(os.getuid(), os.getgid()))
    try:
        with tarfile.open(fileobj=req.reader(), mode="r|*") as tar:
            applier.apply(tar)
    except (tarfile.TarError, EOFError) as e:
        raise ApiError(400, tar_error(e)) from None
    finally:
        applier.close()


def _json_arg(req: Request, name: str, kind: type) -> Any:
    value = req.json_arg(name)
    if value is None:
        return kind()
    if not isinstance(value, kind):
        raise ApiError(400, f"invalid {name}: expected a JSON {kind.__name__}")
    return value


def _options(req: Request, context: str) -> BuildOptions:
    from hull.build.options import BuildOptions
    from hull.engine import hostconfig
    from hull.image.manifest import host_platform
    from hull.image.reference import parse
    name = req.arg("dockerfile") or "Dockerfile"
    path = os.path.normpath(os.path.join(context, name))
    if not path.startswith(context + "/"):
        raise ApiError(400, f"the Dockerfile {name!r} must be inside the context")
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            dockerfile = f.read()
    except OSError:
        raise ApiError(400, f"Cannot locate specified Dockerfile: {name}") from None
    if not dockerfile:   # refused before the progress stream starts, as dockerd does
        raise ApiError(400, f"the Dockerfile ({name}) cannot be empty")
    tags = req.args("t")
    for tag in tags:
        parse(tag)
    build_args = {str(k): str(v) for k, v in _json_arg(req, "buildargs", dict).items()
                  if v is not None}
    network = req.arg("networkmode") or "default"
    if network not in ("default", "none", "host", "bridge"):
        raise ApiError(400, f"network mode {network!r} not supported by the builder")
    platform = host_platform()
    wanted = req.arg("platform")
    mine = f"{platform['os']}/{platform['architecture']}"
    if wanted and wanted not in (mine, platform["architecture"]) and \
            not wanted.startswith(mine + "/"):
        raise ApiError(400, f"hull builds for this machine's platform only ({mine})")
    # each extrahosts parameter is a host:ip (docker-py repeats it; dockerd reads them all)
    hosts = [h for value in req.args("extrahosts") for h in value.split(",") if h]
    return BuildOptions(
        dockerfile=dockerfile, dockerfile_name=os.path.relpath(path, context),
        context_dir=context, tags=tags, build_args=build_args,
        target=req.arg("target") or "", no_cache=req.flag("nocache"), pull=req.flag("pull"),
        labels={str(k): str(v) for k, v in _json_arg(req, "labels", dict).items()},
        network="default" if network == "bridge" else network, add_hosts=hosts,
        shm_size=req.integer("shmsize", 0) or 0,
        ulimits=[hostconfig.ulimit(f"{u.get('Name')}={u.get('Soft')}:{u.get('Hard')}")
                 for u in _json_arg(req, "ulimits", list)],
        platform=platform, cache_from=[str(c) for c in _json_arg(req, "cachefrom", list)],
        cgroup_parent=os.environ.get("HULL_CGROUP_PARENT", "/hull"))


def prune(ctx: Context, conn: Connection, req: Request) -> None:
    from hull.api.system import filter_items
    from hull.engine.building import prune as prune_cache
    from hull.engine.filters import timestamp
    until = None
    for item in filter_items(req):
        key, _, value = item.partition("=")
        if key == "until":
            until = timestamp(value)
    _count, space = prune_cache(ctx.containers, req.flag("all"), until)
    conn.json(200, {"CachesDeleted": None, "SpaceReclaimed": space})
