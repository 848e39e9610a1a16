"""How a build reports its steps. The builder numbers the vertices as BuildKit does (#1,
#2, …) and calls these; the plain form writes BuildKit's `--progress plain` lines, the
terminal form (hull.cli) draws a live view from the same calls."""

from __future__ import annotations

import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Protocol
else:
    Protocol = object


class Progress(Protocol):
    def start(self, vertex: int, name: str) -> None: ...
    def note(self, vertex: int, text: str) -> None: ...        # e.g. why a step missed
    def log(self, vertex: int, data: bytes) -> None: ...       # a running step's output
    def cached(self, vertex: int) -> None: ...
    def done(self, vertex: int) -> None: ...
    def error(self, vertex: int, text: str) -> None: ...
    def warn(self, text: str) -> None: ...
    def close(self) -> None: ...


class PlainProgress:
    """BuildKit's plain lines: `#N name`, `#N 0.123 output`, `#N DONE 0.4s`, `#N CACHED`;
    quiet drops everything but warnings and errors."""

    def __init__(self, out: IO[str], quiet: bool = False) -> None:
        self.out = out
        self.quiet = quiet
        self.started: dict[int, float] = {}
        self.partial: dict[int, bytes] = {}

    def _print(self, text: str) -> None:
        if not self.quiet:
            self.out.write(text + "\n")
            self.out.flush()

    def start(self, vertex: int, name: str) -> None:
        self.started[vertex] = time.monotonic()
        self._print(f"#{vertex} {name}")

    def note(self, vertex: int, text: str) -> None:
        self._print(f"#{vertex} {text}")

    def log(self, vertex: int, data: bytes) -> None:
        data = self.partial.pop(vertex, b"") + data
        *lines, rest = data.split(b"\n")
        if rest:
            self.partial[vertex] = rest
        elapsed = time.monotonic() - self.started.get(vertex, time.monotonic())
        for line in lines:
            self._print(f"#{vertex} {elapsed:.3f} {line.decode(errors='replace')}")

    def _flush(self, vertex: int) -> None:
        rest = self.partial.pop(vertex, b"")
        if rest:
            elapsed = time.monotonic() - self.started.get(vertex, time.monotonic())
            self._print(f"#{vertex} {elapsed:.3f} {rest.decode(errors='replace')}")

    def cached(self, vertex: int) -> None:
        self._print(f"#{vertex} CACHED")
        self._print("")

    def done(self, vertex: int) -> None:
        self._flush(vertex)
        elapsed = time.monotonic() - self.started.get(vertex, time.monotonic())
        self._print(f"#{vertex} DONE {elapsed:.1f}s")
        self._print("")

    def error(self, vertex: int, text: str) -> None:
        self._flush(vertex)
        self.out.write(f"#{vertex} ERROR: {text}\n")
        self.out.flush()

    def warn(self, text: str) -> None:
        self.out.write(f"[Warning] {text}\n" if self.quiet else f"WARNING: {text}\n")
        self.out.flush()

    def close(self) -> None:
        self.out.flush()
