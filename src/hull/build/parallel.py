"""Independent stages built at the same time, each in a process of its own.

Stages the target needs are grouped in waves: a wave holds every stage whose dependencies
(FROM, COPY --from, RUN --mount from=) are built. A wave of one is built in the build's own
process; a larger one forks a child per stage — processes, not threads: a RUN step forks the
container's init, and nothing forks from a process with threads (DESIGN.md). Each child
opens its own database connections (a SQLite connection must not cross a fork), builds its
stage, and sends its progress events and finally its stage's state over a pipe as JSON
lines; the parent renumbers the events into the build's one sequence of steps. A failure in
one stage cancels the others (SIGINT: each cleans up its step as on Ctrl-C), as BuildKit
cancels the rest of a solve.

    parent ──fork──► child(stage a) ──events, result──┐
           ──fork──► child(stage b) ──events, result──┤ selectors ─► Progress, built[]
"""

from __future__ import annotations

import base64
import json
import os
import selectors
import signal

from hull.build.errors import BuildError
from hull.build.state import State

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hull.build.builder import Builder


def waves(order: list[int], deps: dict[int, list[int]]) -> list[list[int]]:
    """The stages in order of need, grouped: each group depends only on earlier groups."""
    done: set[int] = set()
    out: list[list[int]] = []
    pending = list(order)
    while pending:
        ready = [i for i in pending if all(d in done for d in deps[i])]
        out.append(ready)
        done.update(ready)
        pending = [i for i in pending if i not in done]
    return out


class PipeProgress:
    """A child's Progress: every call one JSON line to the parent."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def send(self, **event: Any) -> None:
        data = (json.dumps(event) + "\n").encode()
        while data:
            data = data[os.write(self.fd, data):]

    def start(self, vertex: int, name: str) -> None:
        self.send(op="start", v=vertex, text=name)

    def note(self, vertex: int, text: str) -> None:
        self.send(op="note", v=vertex, text=text)

    def log(self, vertex: int, data: bytes) -> None:
        self.send(op="log", v=vertex, data=base64.b64encode(data).decode())

    def cached(self, vertex: int) -> None:
        self.send(op="cached", v=vertex)

    def done(self, vertex: int) -> None:
        self.send(op="done", v=vertex)

    def error(self, vertex: int, text: str) -> None:
        self.send(op="error", v=vertex, text=text)

    def warn(self, text: str) -> None:
        self.send(op="warn", text=text)

    def close(self) -> None:
        pass


def build_wave(builder: Builder, stages: list[int]) -> None:
    """Build these independent stages at once; their states land in builder.built."""
    children: dict[int, _Child] = {}
    try:
        for index in stages:
            child = _fork(builder, index)
            children[child.fd] = child
        _collect(builder, children)
    except BaseException:
        for child in children.values():
            child.cancel()
        for child in children.values():
            child.reap()
        raise
    failed = [c for c in children.values() if c.error is not None]
    if failed:
        e = failed[0].error
        assert e is not None
        raise BuildError(str(e.get("message")), int(e.get("line") or 0))
    for child in children.values():
        builder.built[child.index] = child.state()
        builder.used_args.update(child.used)


class _Child:
    def __init__(self, pid: int, fd: int, index: int) -> None:
        self.pid, self.fd, self.index = pid, fd, index
        self.vertices: dict[int, int] = {}   # the child's numbers -> the build's
        self.buffer = b""
        self.result: dict[str, Any] | None = None
        self.error: dict[str, Any] | None = None
        self.used: list[str] = []
        self.reaped = False

    def state(self) -> State:
        if self.result is None:
            raise BuildError(f"stage {self.index} ended without a result (killed?)")
        return State.from_json(self.result)

    def cancel(self) -> None:
        if not self.reaped:
            try:
                os.kill(self.pid, signal.SIGINT)
            except ProcessLookupError:
                pass

    def reap(self) -> None:
        if not self.reaped:
            os.waitpid(self.pid, 0)
            self.reaped = True
            os.close(self.fd)


def _fork(builder: Builder, index: int) -> _Child:
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:   # the child: its own connections, its stage, its result
        os.close(read_end)
        code = 1
        out = PipeProgress(write_end)
        try:
            builder.reopen_after_fork(out)
            state = builder.build_stage(index)
            out.send(op="result", state=state.to_json(), used=sorted(builder.used_args))
            code = 0
        except BuildError as e:
            out.send(op="failed", message=e.message, line=e.line)
        except KeyboardInterrupt:
            code = 130
        except BaseException as e:   # a bug: named, not a traceback in the middle
            out.send(op="failed", message=f"internal error: {type(e).__name__}: {e}", line=0)
        finally:
            os._exit(code)
    os.close(write_end)
    return _Child(pid, read_end, index)


def _collect(builder: Builder, children: dict[int, _Child]) -> None:
    """Relay every child's events until all have finished; on the first failure the
    others are cancelled."""
    with selectors.DefaultSelector() as sel:
        for fd in children:
            sel.register(fd, selectors.EVENT_READ)
        open_fds = set(children)
        while open_fds:
            for key, _ in sel.select():
                child = children[int(key.fd)]
                data = os.read(child.fd, 65536)
                if not data:
                    sel.unregister(child.fd)
                    open_fds.discard(child.fd)
                    child.reap()
                    continue
                child.buffer += data
                *lines, child.buffer = child.buffer.split(b"\n")
                for line in lines:
                    _relay(builder, child, json.loads(line))
                if child.error is not None:
                    for other in children.values():
                        if other is not child:
                            other.cancel()


def _relay(builder: Builder, child: _Child, event: dict[str, Any]) -> None:
    op = event["op"]
    progress = builder.progress
    if op == "result":
        child.result, child.used = event["state"], event["used"]
    elif op == "failed":
        child.error = event
    elif op == "warn":
        progress.warn(event["text"])
    elif op == "start":
        child.vertices[event["v"]] = builder.next_vertex(event["text"])
    else:
        vertex = child.vertices.get(event["v"], 0)
        if op == "note":
            progress.note(vertex, event["text"])
        elif op == "log":
            progress.log(vertex, base64.b64decode(event["data"]))
        elif op == "cached":
            progress.cached(vertex)
        elif op == "done":
            progress.done(vertex)
        elif op == "error":
            progress.error(vertex, event["text"])
