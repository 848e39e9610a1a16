"""Reading and writing cgroup control files with errors that name the file and value."""

from __future__ import annotations

import os

from hull.errors import InvalidArgument, Unavailable


def write(directory: str, name: str, value: str | int) -> None:
    path = f"{directory}/{name}"
    data = str(value).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise Unavailable(f"cgroup file {path} does not exist on this host "
                          "(controller or kernel feature missing)") from None
    try:
        os.write(fd, data)
    except OSError as e:
        raise InvalidArgument(f"cannot write {str(value)!r} to {path}: {e.strerror}") from None
    finally:
        os.close(fd)


def read(directory: str, name: str) -> str:
    with open(f"{directory}/{name}") as f:
        return f.read().strip()


def read_int(directory: str, name: str, default: int = 0) -> int:
    try:
        text = read(directory, name)
    except OSError:
        return default
    return -1 if text == "max" else int(text)


def read_keyed(directory: str, name: str) -> dict[str, int]:
    """A flat keyed file (memory.stat, cpu.stat, memory.events): "key value" per line."""
    out: dict[str, int] = {}
    try:
        text = read(directory, name)
    except OSError:
        return out
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            out[key] = int(value)
    return out


def read_pids(directory: str) -> list[int]:
    try:
        return [int(p) for p in read(directory, "cgroup.procs").split()]
    except FileNotFoundError:
        return []
