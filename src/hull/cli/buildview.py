"""The terminal view of a build: every step with its state and time, and the last lines of
the running step's output under it — drawn live with rich, and left on the screen as the
build's record when it ends (BuildKit's tty view hides RUN output once a step is done,
moby/buildkit#1556; this one keeps the tail of a failed step's output in view)."""

from __future__ import annotations

import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO

    from rich.console import RenderableType

TAIL = 6


class LiveProgress:
    def __init__(self, out: IO[str]) -> None:
        from rich.console import Console
        from rich.live import Live
        self.console = Console(file=out, highlight=False)
        self.steps: dict[int, list[object]] = {}   # vertex -> [name, state, start, end]
        self.tails: dict[int, list[str]] = {}
        self.notes: dict[int, str] = {}
        self.partial: dict[int, bytes] = {}
        # redrawn on each event, never by rich's refresh thread: a RUN step forks the
        # container's init, and nothing forks from a process with threads (DESIGN.md)
        self.live = Live(self._render(), console=self.console, auto_refresh=False,
                         transient=False)
        self.live.start()

    def _render(self) -> RenderableType:
        from rich.table import Table
        from rich.text import Text
        grid = Table.grid(padding=(0, 1))
        grid.add_column(width=2)
        grid.add_column(ratio=1)
        grid.add_column(justify="right")
        now = time.monotonic()
        for vertex, (name, state, start, end) in self.steps.items():
            elapsed = float(end or now) - float(start)   # type: ignore[arg-type]
            mark = {"running": "[yellow]…", "done": "[green]✔", "cached": "[cyan]✔",
                    "error": "[red]✘"}[str(state)]
            suffix = " [cyan]CACHED" if state == "cached" else ""
            grid.add_row(mark, Text.from_markup(f"[bold]#{vertex}[/] ") + Text(str(name)) +
                         Text.from_markup(suffix), f"{elapsed:.1f}s")
            if state in ("running", "error"):
                if vertex in self.notes:
                    grid.add_row("", Text(self.notes[vertex], style="dim"), "")
                for line in self.tails.get(vertex, []):
                    grid.add_row("", Text("  " + line, style="dim"), "")
        return grid

    def _refresh(self) -> None:
        self.live.update(self._render(), refresh=True)

    def start(self, vertex: int, name: str) -> None:
        self.steps[vertex] = [name, "running", time.monotonic(), 0.0]
        self._refresh()

    def note(self, vertex: int, text: str) -> None:
        self.notes[vertex] = text
        self._refresh()

    def log(self, vertex: int, data: bytes) -> None:
        data = self.partial.pop(vertex, b"") + data
        *lines, rest = data.split(b"\n")
        if rest:
            self.partial[vertex] = rest
        tail = self.tails.setdefault(vertex, [])
        tail.extend(line.decode(errors="replace") for line in lines)
        del tail[:-TAIL]
        self._refresh()

    def _end(self, vertex: int, state: str) -> None:
        step = self.steps.get(vertex)
        if step is not None:
            step[1], step[3] = state, time.monotonic()
        self._refresh()

    def cached(self, vertex: int) -> None:
        self._end(vertex, "cached")

    def done(self, vertex: int) -> None:
        self._end(vertex, "done")

    def error(self, vertex: int, text: str) -> None:
        rest = self.partial.pop(vertex, b"")
        if rest:
            self.tails.setdefault(vertex, []).append(rest.decode(errors="replace"))
        self.notes[vertex] = text
        self._end(vertex, "error")

    def warn(self, text: str) -> None:
        self.console.print(f"[yellow]WARNING:[/] {text}", markup=True)

    def close(self) -> None:
        self.live.stop()
