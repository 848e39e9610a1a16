"""/containers/{id}/archive: HEAD (a path's stat), GET (the path as a tar), PUT (a tar
extracted into a directory) — what `docker cp` uses. The stat travels in the
X-Docker-Container-Path-Stat header: base64 of {name, size, mode, mtime, linkTarget},
mode in Go's os.FileMode bits (the client asks mode.IsDir())."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import stat
import time

from hull.api.errors import ApiError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from hull.api.context import Context
    from hull.api.http import Connection, Request

_GO_MODE = ((stat.S_ISDIR, 1 << 31), (stat.S_ISLNK, 1 << 27), (stat.S_ISBLK, 1 << 26),
            (stat.S_ISFIFO, 1 << 25), (stat.S_ISSOCK, 1 << 24))


def _go_mode(mode: int) -> int:
    out = mode & 0o777
    for test, bit in _GO_MODE:
        if test(mode):
            out |= bit
    if stat.S_ISCHR(mode):
        out |= (1 << 26) | (1 << 21)
    for flag, bit in ((stat.S_ISUID, 1 << 23), (stat.S_ISGID, 1 << 22),
                      (stat.S_ISVTX, 1 << 20)):
        if mode & flag:
            out |= bit
    return out


@contextlib.contextmanager
def _source(ctx: Context, req: Request) -> Iterator[Any]:
    from hull.engine import userns
    from hull.engine.copy import Source, container_side
    path = req.arg("path")
    if not path:
        raise ApiError(400, "path is required")
    service = ctx.containers
    c = service.store.get(req.params["id"])
    idmap = userns.of(c.host_config)
    with container_side(service, c) as side:
        source = Source(side, path if path.startswith("/") else "/" + path, False,
                        idmap.to_container if idmap is not None else None)
        try:
            yield source
        finally:
            source.close()


def _stat_header(source: Any) -> tuple[str, str]:
    st = source.stat
    link = ""
    if stat.S_ISLNK(st.st_mode):
        link = os.readlink(source.name, dir_fd=source.dir_fd)
    info = {"name": source.basename, "size": st.st_size, "mode": _go_mode(st.st_mode),
            "mtime": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(st.st_mtime)) + "Z",
            "linkTarget": link}
    return ("X-Docker-Container-Path-Stat",
            base64.b64encode(json.dumps(info).encode()).decode())


def head(ctx: Context, conn: Connection, req: Request) -> None:
    with _source(ctx, req) as source:
        conn.respond(200, b"", None, [_stat_header(source), ("Content-Length", "0")])


def get(ctx: Context, conn: Connection, req: Request) -> None:
    from hull.api.containers import StreamWriter
    with _source(ctx, req) as source:
        stream = conn.stream(content_type="application/x-tar", headers=[_stat_header(source)])
        source.archive(StreamWriter(stream), source.top_name)
        stream.end()


def put(ctx: Context, conn: Connection, req: Request) -> None:
    """PUT ?path=DIR: the body (a tar) extracted into DIR, which must exist; owners kept
    with copyUIDGID, else root's (the container's root when it is remapped)."""
    from hull.engine import userns
    from hull.engine.copy import container_side, destination, extract
    path = req.arg("path")
    if not path:
        raise ApiError(400, "path is required")
    service = ctx.containers
    c = service.store.get(req.params["id"])
    if c.host_config.get("ReadonlyRootfs"):
        raise ApiError(403, "container rootfs is marked read-only")
    idmap = userns.of(c.host_config)
    keep = req.flag("copyUIDGID")
    owner = None if keep else idmap.root if idmap is not None else (0, 0)
    ids = idmap.to_host if idmap is not None and keep else None
    with container_side(service, c) as side:
        dir_fd, _ = destination(side, path if path.startswith("/") else "/" + path, None, "")
        try:
            extract(req.reader(), dir_fd, owner, ids)  # type: ignore[arg-type]
        finally:
            os.close(dir_fd)
    conn.respond(200)
