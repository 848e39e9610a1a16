"""Image endpoints: list, inspect, history, pull (POST /images/create with fromImage) and
import (fromSrc), push, tag, delete, save (get), load, prune, search, commit, and the
distribution lookup. Pull, push and load answer with Docker's JSON progress lines; the
response starts with the first line, so an error found before it (no such image, a
registry refusing) still gets its status code."""

from __future__ import annotations

import time

from hull.api.errors import ApiError
from hull.api.http import as_file
from hull.api.system import filter_items
from hull.errors import HullError, NotFound
from hull.image.progress import Progress

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hull.api.context import Context
    from hull.api.http import Connection, Request, Stream


class LazyStream:
    """A JSON-lines response begun at its first line (errors before it keep a status)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.stream: Stream | None = None

    def json(self, value: Any) -> None:
        if self.stream is None:
            self.stream = self.conn.stream()
        self.stream.json(value)

    def fail(self, error: Exception) -> None:
        """An error: as the status when nothing was sent yet, else as the last line."""
        if self.stream is None:
            raise error
        message = str(error)
        self.stream.json({"errorDetail": {"message": message}, "error": message})

    def end(self) -> None:
        if self.stream is None:
            self.stream = self.conn.stream()
        self.stream.end()


class JsonProgress(Progress):
    """Pull/push/load progress as Docker's JSON lines."""

    def __init__(self, out: LazyStream) -> None:
        super().__init__(lambda text: out.json({"status": text}))
        self.out = out
        self.totals: dict[str, int] = {}
        self.current: dict[str, int] = {}
        self.last: dict[str, float] = {}

    def start(self, layer: str, total: int) -> None:
        self.totals[layer], self.current[layer] = total, 0

    def advance(self, layer: str, amount: int) -> None:
        self.current[layer] = self.current.get(layer, 0) + amount
        now = time.monotonic()
        if now - self.last.get(layer, 0.0) >= 0.1:   # as dockerd: a few lines a second
            self.last[layer] = now
            self.out.json({"status": "Downloading", "id": layer, "progressDetail": {
                "current": self.current[layer], "total": self.totals.get(layer, 0)}})

    def done(self, layer: str, status: str) -> None:
        self.out.json({"status": status, "progressDetail": {}, "id": layer})


def listing(ctx: Context, conn: Connection, req: Request) -> None:
    """GET /images/json: one entry per image (its tags and digests together)."""
    from hull.engine.filters import Filters
    from hull.engine.images import LIST_FILTERS
    items = filter_items(req)
    if req.arg("filter"):   # the old single reference filter
        items.append(f"reference={req.arg('filter')}")
    rows = ctx.images.rows(Filters(items, LIST_FILTERS))
    store = ctx.images.store
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        entry = out.get(r["ID"])
        if entry is None:
            digests = store.repo_digests_of(r["ID"])
            from hull.image.reference import parse
            entry = out[r["ID"]] = {
                "Id": r["ID"], "ParentId": "", "RepoTags": [],
                "RepoDigests": [parse(d, default_tag=None).familiar() for d in digests],
                "Created": int(r["Created"]), "Size": r["Size"], "SharedSize": -1,
                "VirtualSize": r["Size"], "Labels": r["Labels"] or None, "Containers": -1}
        if r["Repository"] != "<none>":
            entry["RepoTags"].append(f"{r['Repository']}:{r['Tag']}")
    conn.json(200, list(out.values()))


def inspect(ctx: Context, conn: Connection, req: Request) -> None:
    conn.json(200, ctx.images.inspect(req.params["name"]))


def history(ctx: Context, conn: Connection, req: Request) -> None:
    rows = ctx.images.history(req.params["name"])
    conn.json(200, [{"Id": r["ID"], "Created": int(r["Created"] or 0),
                     "CreatedBy": r["CreatedBy"], "Tags": r.get("Tags") or None,
                     "Size": r["Size"], "Comment": r["Comment"]} for r in rows])


def create(ctx: Context, conn: Connection, req: Request) -> None:
    """POST /images/create: pull fromImage[:tag], or import fromSrc (- : the body)."""
    out = LazyStream(conn)
    if req.arg("fromSrc") is not None:
        _import(ctx, req, out)
        return
    name = req.arg("fromImage") or ""
    if not name:
        raise ApiError(400, "either fromImage or fromSrc must be given")
    tag = req.arg("tag") or ""
    if tag and "@" not in name:
        name = f"{name}@{tag}" if tag.startswith("sha256:") else f"{name}:{tag}"
    from hull.image.reference import parse
    ref = parse(name)
    progress = JsonProgress(out)
    try:
        _, fresh = ctx.images.pull(name, req.arg("platform") or None, progress=progress)
    except HullError as e:
        if isinstance(e, NotFound) or "not found" in str(e) or "denied" in str(e):
            e = NotFound(f"pull access denied for {ref.familiar().rsplit(':', 1)[0]}, "
                         f"repository does not exist or may require 'docker login': {e}")
        out.fail(e)
        out.end()
        return
    out.json({"status": f"Status: {'Downloaded newer image' if fresh else 'Image is up to date'}"
              f" for {ref.familiar()}"})
    out.end()


def _import(ctx: Context, req: Request, out: LazyStream) -> None:
    source = req.arg("fromSrc")
    if source != "-":
        raise ApiError(400, "importing from a URL is not supported: send the tarball as the "
                       "request body (fromSrc=-)")
    repo, tag = req.arg("repo") or "", req.arg("tag") or ""
    name = f"{repo}:{tag}" if repo and tag else repo or None
    image = ctx.images.import_tarball(as_file(req.reader()), name, req.arg("message") or "",
                                      req.args("changes"))
    out.json({"status": image.id})
    out.end()


def push(ctx: Context, conn: Connection, req: Request) -> None:
    name = req.params["name"]
    tag = req.arg("tag")
    if tag:
        name = f"{name}:{tag}"
    from hull.image.reference import parse
    ref = parse(name)
    try:
        ctx.images.store.resolve(name)
    except NotFound:
        raise ApiError(404, f"An image does not exist locally with the tag: "
                       f"{ref.familiar().rsplit(':', 1)[0]}") from None
    out = LazyStream(conn)
    out.json({"status": f"The push refers to repository [{ref.name}]"})
    try:
        digest = ctx.images.push(name, progress=JsonProgress(out))
    except HullError as e:
        out.fail(e)
        out.end()
        return
    out.json({"progressDetail": {}, "aux": {"Tag": ref.tag or "latest", "Digest": digest,
                                             "Size": 0}})
    out.end()


def tag(ctx: Context, conn: Connection, req: Request) -> None:
    repo = req.arg("repo") or ""
    if not repo:
        raise ApiError(400, "repository name must have at least one component")
    target = f"{repo}:{req.arg('tag')}" if req.arg("tag") else repo
    ctx.images.tag(req.params["name"], target)
    conn.respond(201)


def delete(ctx: Context, conn: Connection, req: Request) -> None:
    lines = ctx.images.remove(req.params["name"], force=req.flag("force"))
    out = []
    for line in lines:
        kind, _, what = line.partition(": ")
        out.append({"Untagged" if kind == "Untagged" else "Deleted": what})
    conn.json(200, out)


def prune(ctx: Context, conn: Connection, req: Request) -> None:
    from hull.engine.filters import Filters
    from hull.engine.images import PRUNE_FILTERS
    lines, space = ctx.images.prune(False, Filters(filter_items(req), PRUNE_FILTERS))
    deleted = [{"Untagged" if k == "untagged" else "Deleted": v}
               for k, _, v in (line.partition(": ") for line in lines)]
    conn.json(200, {"ImagesDeleted": deleted or None, "SpaceReclaimed": space})


def get_one(ctx: Context, conn: Connection, req: Request) -> None:
    _save(ctx, conn, [req.params["name"]])


def get_many(ctx: Context, conn: Connection, req: Request) -> None:
    _save(ctx, conn, req.args("names"))


def _save(ctx: Context, conn: Connection, names: list[str]) -> None:
    from hull.api.containers import StreamWriter
    for name in names:
        ctx.images.store.resolve(name)   # a 404 before the tar starts
    stream = conn.stream(content_type="application/x-tar")
    ctx.images.save(names, as_file(StreamWriter(stream)), "docker-archive")
    stream.end()


def load(ctx: Context, conn: Connection, req: Request) -> None:
    import tarfile

    from hull.engine.copy import tar_error
    # as dockerd: 200 and the progress, a failure as the stream's last line (docker-py
    # raises ImageLoadError on it)
    stream = conn.stream()
    try:
        lines = ctx.images.load(as_file(req.reader()))
    except (tarfile.TarError, EOFError, HullError) as e:
        message = tar_error(e) if not isinstance(e, HullError) else str(e)
        stream.json({"errorDetail": {"message": message}, "error": message})
        stream.end()
        return
    for line in lines:
        stream.json({"stream": line + "\n"})
    stream.end()


def search(ctx: Context, conn: Connection, req: Request) -> None:
    """GET /images/search: the configured registry's catalog, filtered as docker's
    --filter is-official=, is-automated=, stars= (a registry has no stars: 0)."""
    from hull.engine.filters import Filters
    filters = Filters(filter_items(req), ("is-official", "is-automated", "stars"))
    found = ctx.images.search(req.arg("term") or "", req.integer("limit", 25) or 25)
    official, automated = filters.boolean("is-official"), filters.boolean("is-automated")
    stars = [int(v) for v in filters.get("stars") if v.isdigit()]
    conn.json(200, [r for r in found
                    if (official is None or r["is_official"] == official)
                    and (automated is None or r["is_automated"] == automated)
                    and all(r["star_count"] >= n for n in stars)])


def commit(ctx: Context, conn: Connection, req: Request) -> None:
    from hull.engine.filesystem import commit as commit_container
    name = req.arg("container") or ""
    if not name:
        raise ApiError(400, "missing container name or ID")
    body = req.json({}) or {}
    repo, tag_ = req.arg("repo") or "", req.arg("tag") or ""
    target = (f"{repo}:{tag_}" if tag_ else repo) or None
    changes = list(req.args("changes"))
    image_id = commit_container(ctx.containers, name, target, req.arg("comment") or "",
                                req.arg("author") or "", changes,
                                pause=req.flag("pause", True),
                                overrides=body if isinstance(body, dict) else None)
    conn.json(201, {"Id": image_id})


def distribution(ctx: Context, conn: Connection, req: Request) -> None:
    """GET /distribution/{name}/json: the registry's descriptor and platforms for name."""
    from hull.image.distribution import describe
    from hull.image.reference import parse
    from hull.registry.config import load
    conn.json(200, describe(parse(req.params["name"]), load()))
