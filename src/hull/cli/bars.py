"""Per-layer progress bars (rich) for pull and push when stdout is a terminal."""

from __future__ import annotations

import threading

from hull.image.progress import Progress


class Bars(Progress):
    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, TextColumn, TransferSpeedColumn
        from rich.progress import Progress as RichProgress
        self.console = Console()
        self.bars = RichProgress(TextColumn("{task.description}"), BarColumn(),
                                 DownloadColumn(), TransferSpeedColumn(),
                                 console=self.console, transient=False)
        self.tasks: dict[str, int] = {}
        self.lock = threading.Lock()   # layers arrive from the download threads
        self.started = False
        super().__init__(lambda text: self.console.print(text, highlight=False, markup=False))

    def _ensure(self) -> None:
        if not self.started:
            self.bars.start()
            self.started = True

    def start(self, layer: str, total: int) -> None:
        with self.lock:
            self._ensure()
            self.tasks[layer] = self.bars.add_task(f"{layer}: Downloading", total=total)

    def advance(self, layer: str, amount: int) -> None:
        with self.lock:
            if layer in self.tasks:
                self.bars.advance(self.tasks[layer], amount)  # type: ignore[arg-type]

    def done(self, layer: str, status: str) -> None:
        with self.lock:
            self._ensure()
            if layer in self.tasks:
                task = self.tasks[layer]
                self.bars.update(task, description=f"{layer}: {status}")  # type: ignore[arg-type]
            else:
                self.bars.add_task(f"{layer}: {status}", total=1, completed=1)

    def close(self) -> None:
        with self.lock:
            if self.started:
                self.bars.stop()
                self.started = False
