"""What the thin client and the engine service say to each other, on one Unix stream
connection per command:

    client                                           service
    connect <state>/hull.sock
    REQUEST, with stdin, stdout, stderr ───────────► (SO_PEERCRED: root only)
      attached as SCM_RIGHTS                         fork a worker: the command runs there,
                                                     on the client's own fds
    "signal N\\n" (SIGINT, SIGWINCH, …) ──────────►   kill(worker, N)
                                        ◄──────────  "exit N\\n" once the worker has ended
    exit N                                           (or "error TEXT\\n": refused)
    (EOF: the client was killed) ───────────────►    SIGKILL to the worker: the command
                                                     ends as it did in the client itself

A command asks for a container to be supervised (started, attached, waited for) on a
connection of its own, with a CALL instead (encode_call; supervisor.py answers).

REQUEST = MAGIC, a 4-byte big-endian length, then NUL-separated fields: the client's
version, its working directory, the number of arguments, the arguments, and its
environment as NAME=VALUE (neither can contain NUL on Linux). Standard library only, and
only what the client's hot path already has: this module is imported by both sides.
"""

from __future__ import annotations

MAGIC = b"HULL1\0"
CALL = b"HULLC1"           # a supervision call (supervision.py), not a command line
SOCKET = "hull.sock"       # in the root's state directory
PIDFILE = "service.pid"
LOCKFILE = "service.lock"
LOGFILE = "service.log"
MAX_REQUEST = 8 << 20      # argv + environment; far above ARG_MAX


def encode_request(version: str, cwd: str, argv: list[str], env: dict[str, str]) -> bytes:
    fields = [version, cwd, str(len(argv)), *argv, *(f"{k}={v}" for k, v in env.items())]
    payload = "\0".join(fields).encode("utf-8", "surrogateescape")
    return MAGIC + len(payload).to_bytes(4, "big") + payload


def build(version: str) -> str:
    """The version field of a request: the version, then this build's interpreter and
    source directory (a service of another version hands the root to this build)."""
    import os
    import sys
    src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return f"{version}\n{sys.executable}\n{src}"


def encode_call(fields: dict[str, object]) -> bytes:
    """A supervision call: CALL, a 4-byte big-endian length, then JSON ({"op": …})."""
    import json
    payload = json.dumps(fields).encode()
    return CALL + len(payload).to_bytes(4, "big") + payload


def decode_request(payload: bytes) -> tuple[str, str, list[str], dict[str, str]]:
    """(version, cwd, argv, env); ValueError when malformed."""
    fields = payload.decode("utf-8", "surrogateescape").split("\0")
    if len(fields) < 3 or not fields[2].isdigit():
        raise ValueError("malformed request")
    count = int(fields[2])
    argv = fields[3:3 + count]
    if len(argv) != count:
        raise ValueError("malformed request")
    env = {}
    for item in fields[3 + count:]:
        key, eq, value = item.partition("=")
        if eq:
            env[key] = value
    return fields[0], fields[1], argv, env


def state_dir(root: str, env: dict[str, str] | None = None) -> str:
    """Where a root's live state (and its service's socket) lives: HULL_STATE, /run/hull for
    the default root, else <root>/state — as the engine places it."""
    import os
    values: dict[str, str] = dict(os.environ) if env is None else env
    if values.get("HULL_STATE"):
        return values["HULL_STATE"]
    return "/run/hull" if root == "/var/lib/hull" else os.path.join(root, "state")


def root_of(argv: list[str], env: dict[str, str]) -> str:
    """The --root a command line names (or HULL_ROOT, or the default)."""
    for i, word in enumerate(argv):
        if word == "--root" and i + 1 < len(argv):
            return argv[i + 1]
        if word.startswith("--root="):
            return word[len("--root="):]
        if not word.startswith("-"):
            break   # the command: what follows is its own
    return env.get("HULL_ROOT") or "/var/lib/hull"
