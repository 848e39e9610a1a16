"""`hull`, the thin client: it runs no command itself. It connects to the engine service of
its root (starting one if none answers), hands over the command line, its environment, its
working directory and its own stdin, stdout and stderr (SCM_RIGHTS), forwards the signals
it gets (Ctrl-C, window changes, …) and exits with the code the service sends back.

Start-up cost is the point: this module imports nothing but builtins and hull.service
.protocol, and the launcher runs it with `python -I -S`, so a command costs one small
interpreter and one round trip; the work happens in a process forked from the service,
where everything is already imported. HULL_SERVICE=0 runs the command in this process
instead (the old way; also what happens when the service cannot be started).
"""

from __future__ import annotations

import _socket
import os
import sys

from hull.service import protocol
from hull.service.connect import connect, start_and_connect

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn

FORWARDED = (1, 2, 3, 10, 12, 15, 28)   # HUP INT QUIT USR1 USR2 TERM WINCH
RETRY = -1


def main() -> NoReturn:
    argv = sys.argv[1:]
    env = dict(os.environ)
    if env.get("HULL_SERVICE") == "0" or _command(argv)[:2] == ["system", "service"]:
        _in_process()   # asked to, or this command is the service itself
    root = os.path.abspath(protocol.root_of(argv, env))
    state = os.path.abspath(protocol.state_dir(root, env))
    from hull import __version__
    request = protocol.encode_request(protocol.build(__version__), _cwd(), argv, env)
    for _ in range(3):   # a service of another version hands over: ask its successor
        conn = connect(state) or start_and_connect(root, state, env)
        if conn is None:
            _in_process()   # no service can run here: do the work ourselves
        try:
            conn.sendmsg([request], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, _stdio())])
        except (BrokenPipeError, ConnectionResetError):
            pass   # refused before it read the request (not root): its answer is still there
        _forward_signals(conn)
        code = _wait_for_exit(conn)
        if code != RETRY:
            os._exit(code)
        conn.close()
    os.write(2, b"hull: the engine service would not take the command\n")
    os._exit(125)


def _command(argv: list[str]) -> list[str]:
    """The command words, after the global options (--root R, --debug, -D)."""
    words: list[str] = []
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word == "--root":
            skip = True
        elif word.startswith("-") and not words:
            continue
        else:
            words.append(word)
    return words


def _stdio() -> bytes:
    """fds 0, 1, 2 as SCM_RIGHTS data; one that is closed goes as /dev/null."""
    out = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            fd = os.open(os.devnull, os.O_RDWR)
        out.append(fd.to_bytes(4, sys.byteorder, signed=True))
    return b"".join(out)


def _cwd() -> str:
    try:
        return os.getcwd()
    except OSError:
        return "/"


def _forward_signals(conn: _socket.socket) -> None:
    import signal

    def forward(signum: int, _frame: object) -> None:
        try:
            conn.sendall(f"signal {signum}\n".encode())
        except OSError:
            pass
    for signum in FORWARDED:
        signal.signal(signum, forward)


def _wait_for_exit(conn: _socket.socket) -> int:
    """The service's answer: "exit N" (or "error TEXT"); a service that goes away without
    one is an engine failure (125)."""
    buf = b""
    while True:
        try:
            chunk = conn.recv(4096)
        except InterruptedError:
            continue
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            os.write(2, b"hull: the engine service went away before the command ended\n")
            return 125
        buf += chunk
        while b"\n" in buf:
            line, _, buf = buf.partition(b"\n")
            word, _, rest = line.decode(errors="replace").partition(" ")
            if word == "exit":
                return int(rest)
            if word == "retry":
                return RETRY
            if word == "error":
                os.write(2, f"hull: {rest}\n".encode())
                return 125


def _in_process() -> NoReturn:
    """The command in this process: a fresh interpreter with site-packages (this one runs
    without them, and the command may need httpx or zstandard)."""
    src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(protocol.__file__))))
    os.execv(sys.executable, [sys.executable, "-I", "-c",
                              f"import sys; sys.path.insert(0, {src!r}); "
                              "from hull.cli.main import entry; entry()", *sys.argv[1:]])
