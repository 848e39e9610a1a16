"""What pull and push report while they work. The image code calls these hooks; the command
line decides how to show them (rich bars on a terminal, docker's plain lines otherwise)."""

from __future__ import annotations


class Progress:
    """Plain lines, as `docker pull` prints them when its output is not a terminal."""

    def __init__(self, write: object = print) -> None:
        self.write = write

    def line(self, text: str) -> None:
        self.write(text)  # type: ignore[operator]

    def start(self, layer: str, total: int) -> None:
        pass

    def advance(self, layer: str, amount: int) -> None:
        pass

    def done(self, layer: str, status: str) -> None:
        self.write(f"{layer}: {status}")  # type: ignore[operator]

    def close(self) -> None:
        pass


class Quiet(Progress):
    def __init__(self) -> None:
        super().__init__(lambda _: None)
