"""A container's json-file log, rotated so that a runaway container cannot fill the disk.

Docker's json-file driver keeps one unbounded file unless told otherwise (moby#8911);
hull rotates by default, with the limits of Docker's `local` driver:

    <id>-json.log        the file being written
    <id>-json.log.1      the one before it            (renamed, never copied)
    …
    <id>-json.log.N-1    the oldest kept; max-file counts them all, N in total

A rotation is one rename per kept file, done by the engine service between two entries, so a
reader never sees half an entry. `logs` reads the rotated files oldest first, then the
live one; `logs -f` keeps its open file across a rotation, finishes it, then moves on.
"""

from __future__ import annotations

import os

from hull import fastjson

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

DEFAULT_MAX_SIZE = 20 << 20
DEFAULT_MAX_FILE = 5
DRIVERS = ("json-file", "none")


def options(host_config: dict[str, Any]) -> tuple[str, int, int]:
    """(driver, max-size in bytes or 0 for unbounded, max-file) from HostConfig.LogConfig."""
    log = host_config.get("LogConfig") or {}
    opts = log.get("Config") or {}
    if "max-size" in opts:
        from hull.engine.hostconfig import size
        max_size = -1 if opts["max-size"] == "-1" else (size(opts["max-size"], "max-size") or 0)
    else:
        max_size = DEFAULT_MAX_SIZE
    return (log.get("Type") or "json-file", max(max_size, 0),
            int(opts.get("max-file", DEFAULT_MAX_FILE)))


def parse_opts(driver: str | None, opts: list[str]) -> dict[str, Any]:
    """--log-driver/--log-opt as HostConfig.LogConfig, refusing what hull cannot honour."""
    from hull.engine.hostconfig import size
    from hull.errors import InvalidArgument
    driver = driver or "json-file"
    if driver not in DRIVERS:
        raise InvalidArgument(f"--log-driver {driver!r}: hull has the json-file and none "
                              "drivers")
    config: dict[str, str] = {}
    for item in opts:
        key, eq, value = item.partition("=")
        if not eq:
            raise InvalidArgument(f"--log-opt {item!r}: expected key=value")
        if key == "max-size":
            if value != "-1" and not (size(value, "--log-opt max-size") or 0) > 0:
                raise InvalidArgument(f"--log-opt max-size={value}: must be positive")
        elif key == "max-file":
            if not value.isdigit() or int(value) < 1:
                raise InvalidArgument(f"--log-opt max-file={value}: must be a positive "
                                      "integer")
        elif key not in ("compress", "labels", "env", "tag"):
            raise InvalidArgument(f"unknown log opt '{key}' for {driver} log driver")
        config[key] = value
    if "max-file" in config and config.get("max-size") == "-1":
        raise InvalidArgument("--log-opt max-file requires max-size to be set")
    return {"Type": driver, "Config": config}


class LogWriter:
    """Appends entries to the live file, rotating it before it would pass max_size."""

    def __init__(self, path: str, max_size: int, max_file: int, enabled: bool = True) -> None:
        self.path, self.max_size, self.max_file = path, max_size, max_file
        self.enabled = enabled
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640) \
            if enabled else -1
        self.size = os.fstat(self.fd).st_size if enabled else 0

    def write(self, stream: str, data: bytes, time: str) -> None:
        if not self.enabled:
            return
        for line in data.splitlines(keepends=True):
            entry = (fastjson.dumps({"log": line.decode(errors="replace"), "stream": stream,
                                     "time": time}) + "\n").encode()
            if self.max_size and self.size and self.size + len(entry) > self.max_size:
                self._rotate()
            os.write(self.fd, entry)
            self.size += len(entry)

    def _rotate(self) -> None:
        os.close(self.fd)
        if self.max_file <= 1:
            os.unlink(self.path)   # keep nothing old: start over
        else:
            for n in range(self.max_file - 1, 0, -1):
                older = f"{self.path}.{n - 1}" if n > 1 else self.path
                if os.path.exists(older):
                    os.replace(older, f"{self.path}.{n}")
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                          0o640)
        self.size = 0

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def files(path: str) -> list[str]:
    """The log's files, oldest first."""
    rotated = []
    n = 1
    while os.path.exists(f"{path}.{n}"):
        rotated.append(f"{path}.{n}")
        n += 1
    return [*reversed(rotated), path]


def read(path: str) -> Iterator[dict[str, Any]]:
    for name in files(path):
        try:
            with open(name, "rb") as f:
                for line in f:
                    if line.strip():
                        yield fastjson.loads(line)
        except FileNotFoundError:
            continue   # rotated away while we read: its entries are in the next file


class Follower:
    """Entries as they are appended, across rotations (logs -f)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.f: Any = None
        self.pending = b""

    def poll(self) -> list[dict[str, Any]]:
        """What was appended since the last call (an empty list when nothing was)."""
        if self.f is None:
            try:
                self.f = open(self.path, "rb")  # noqa: SIM115 (kept open across polls)
            except FileNotFoundError:
                return []
        out = self._read()
        try:
            rotated = os.stat(self.path).st_ino != os.fstat(self.f.fileno()).st_ino
        except FileNotFoundError:
            rotated = False
        if rotated:   # the file we hold was renamed: finish it, then read the new one
            out += self._read()
            self.f.close()
            self.f = None
            self.pending = b""
            out += self.poll()
        return out

    def _read(self) -> list[dict[str, Any]]:
        chunk = self.pending + self.f.read()
        complete, _, self.pending = chunk.rpartition(b"\n")
        return [fastjson.loads(line) for line in complete.splitlines() if line.strip()]

    def close(self) -> None:
        if self.f is not None:
            self.f.close()
