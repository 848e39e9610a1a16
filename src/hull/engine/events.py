"""Container lifecycle events without a daemon: every hull process that changes a container
appends one JSON line to <root>/events.log, and `hull events` reads (and follows) it.

A line is Docker's event message: {"Type", "Action", "Actor": {"ID", "Attributes"},
"time", "timeNano"}. Appends of one line are atomic (O_APPEND, one write under
PIPE_BUF-sized lines), so concurrent writers never interleave. The file is rotated at
1 MiB to events.log.1, so the history is bounded as Docker's is (it keeps 256 in memory).
"""

from __future__ import annotations

import os
import time

from hull import fastjson

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from hull.engine.store import Container

MAX_SIZE = 1 << 20


def path(root: str) -> str:
    return os.path.join(root, "events.log")


def emit(root: str, c: Container, action: str, **attributes: Any) -> None:
    """Record one container event; never fails the operation that caused it."""
    now = time.time_ns()
    attrs = {"image": c.image_name, "name": c.name, **{k: str(v) for k, v in
                                                       attributes.items()}}
    for key, value in (c.config.get("Labels") or {}).items():
        attrs.setdefault(key, value)
    line = (fastjson.dumps({"status": action, "id": c.id, "from": c.image_name,
                            "Type": "container", "Action": action,
                            "Actor": {"ID": c.id, "Attributes": attrs}, "scope": "local",
                            "time": now // 10**9, "timeNano": now}) + "\n").encode()
    log = path(root)
    try:
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return
    try:
        info = os.fstat(fd)
        if info.st_size > MAX_SIZE and os.stat(log).st_ino == info.st_ino:
            os.replace(log, log + ".1")   # writers holding the old file finish in .1
        os.write(fd, line)
    except OSError:
        pass
    finally:
        os.close(fd)


def history(root: str) -> Iterator[dict[str, Any]]:
    for name in (path(root) + ".1", path(root)):
        try:
            with open(name, "rb") as f:
                for line in f:
                    if line.endswith(b"\n"):
                        yield fastjson.loads(line)
        except FileNotFoundError:
            continue


def follow(root: str, interval: float = 0.1) -> Iterator[dict[str, Any]]:
    """Events appended from now on (across a rotation), until the caller stops."""
    from hull.engine.logfile import Follower
    os.makedirs(root, exist_ok=True)
    if not os.path.exists(path(root)):
        os.close(os.open(path(root), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
    follower = Follower(path(root))
    follower.poll()   # skip what is already there
    try:
        while True:
            yield from follower.poll()
            time.sleep(interval)
    finally:
        follower.close()


def matches(event: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    """docker events --filter: values of one key are ORed, different keys ANDed."""
    actor = event.get("Actor") or {}
    attrs = actor.get("Attributes") or {}
    for key, values in filters.items():
        if key == "type":
            ok = event.get("Type") in values
        elif key == "event":
            ok = any(event.get("Action", "").split(":")[0] == v for v in values)
        elif key == "container":   # Docker's FuzzyMatch: the ID or name, or a prefix of it
            ok = any(actor.get("ID", "").startswith(v) or
                     str(attrs.get("name", "")).startswith(v) for v in values)
        elif key == "image":
            ok = attrs.get("image") in values
        elif key == "label":
            ok = any(attrs.get(k) == v if eq else k in attrs
                     for k, eq, v in (item.partition("=") for item in values))
        else:
            from hull.errors import InvalidArgument
            raise InvalidArgument(f"invalid filter '{key}'")
        if not ok:
            return False
    return True


def format_line(event: dict[str, Any]) -> str:
    """Docker's default one-line form."""
    nano = int(event.get("timeNano") or 0)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(nano // 10**9))
    offset = time.strftime("%z")
    attrs = (event.get("Actor") or {}).get("Attributes") or {}
    detail = ", ".join(f"{k}={v}" for k, v in sorted(attrs.items()))
    return (f"{stamp}.{nano % 10**9:09d}{offset[:3]}:{offset[3:]} {event.get('Type')} "
            f"{event.get('Action')} {(event.get('Actor') or {}).get('ID')} ({detail})")
