"""The builder's errors: each names where in the Dockerfile it happened, as BuildKit's
do ("Dockerfile:3" and the column when it is known). A build fails with exit code 1, as
`docker build` does, whatever the cause."""

from __future__ import annotations

from hull.errors import HullError


class BuildError(HullError):
    """A build that cannot go on: bad Dockerfile, missing source, failing step."""

    exit_code = 1

    def __init__(self, message: str, line: int = 0, column: int = 0,
                 end_line: int = 0) -> None:
        self.message = message
        self.line = line
        self.column = column
        self.end_line = end_line or line
        super().__init__(self._text())

    def _text(self) -> str:
        if not self.line:
            return self.message
        where = f"line {self.line}" + (f":{self.column}" if self.column else "")
        return f"dockerfile parse error on {where}: {self.message}"


class DockerfileSyntaxError(BuildError):
    """The Dockerfile cannot be parsed (or an instruction's arguments are malformed)."""
