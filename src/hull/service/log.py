"""The service's own log, <state>/service.log: what it refused, what failed in a job, when
it started and left. Containers' output goes to their json logs, never here."""

from __future__ import annotations

import os
import time

_path = ""


def open_log(path: str) -> None:
    global _path
    _path = path


def log(text: str) -> None:
    if not _path:
        return
    try:
        with open(_path, "a") as f:
            f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {os.getpid()} {text.rstrip()}\n")
    except OSError:
        pass
