"""One command, run in a process forked from the service: the client's stdin, stdout and
stderr become this process's, its environment and working directory ours, and then the
ordinary command line runs (hull.cli.main) with everything it needs already imported.

The service is single-threaded when it forks (DESIGN.md: nothing forks from a process with
threads), holds no database connection open, and the worker closes every fd of the
service's (other clients, containers' pipes) before anything else, so it starts clean."""

from __future__ import annotations

import os
import signal
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import NoReturn


def run(command: Callable[[list[str]], int], argv: list[str], env: dict[str, str], cwd: str,
        fds: list[int]) -> NoReturn:
    code = 125
    try:
        os.setsid()   # signals for the service's group are not the command's
        signal.set_wakeup_fd(-1)
        for target, fd in zip((0, 1, 2), fds, strict=True):
            os.dup2(fd, target)
        for fd in set(fds):
            if fd > 2:
                os.close(fd)
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD, signal.SIGQUIT,
                       signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.environ.clear()
        os.environ.update(env)
        _environment_changed()
        try:
            os.chdir(cwd)
        except OSError:
            os.chdir("/")
        _fresh_stdio()
        sys.argv = ["hull", *argv]
        try:
            code = command(argv)
        except SystemExit as e:   # argparse: usage errors and --help
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            if isinstance(e.code, str):
                print(e.code, file=sys.stderr)
        except KeyboardInterrupt:
            code = 130
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (BrokenPipeError, OSError):
            pass
    finally:
        os._exit(code)


def _fresh_stdio() -> None:
    """Python's sys.std* as it would make them for these fds (line-buffered on a terminal,
    block-buffered otherwise), not the service's /dev/null ones."""
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False,  # noqa: SIM115
                      buffering=1 if os.isatty(1) else -1)
    sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace",  # noqa: SIM115
                      closefd=False, buffering=1)


def _environment_changed() -> None:
    """The few module-level settings read from the environment at import (in the service,
    from the first client's) are read again for this command's."""
    from hull import trace
    from hull.linux import fs
    trace._ENABLED = "HULL_TRACE" in os.environ
    fs._have_openat2 = "HULL_NO_OPENAT2" not in os.environ
