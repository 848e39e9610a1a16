"""Waiting for a foreground container process while passing the user's signals on to it."""

from __future__ import annotations

# _signal, not signal: the wrapper module imports enum, a measurable part of start-up
import _signal as signal  # type: ignore[import-not-found]
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
             signal.SIGUSR2, signal.SIGWINCH, signal.SIGCONT)


def wait_forwarding(pid: int) -> int:
    """Reap pid (our child, directly or as subreaper) and return its shell-style exit code;
    other reparented children are reaped on the way so no zombie is left."""
    def forward(sig: int, _frame: FrameType | None) -> None:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

    old = {s: signal.signal(s, forward) for s in FORWARDED}
    try:
        return reap(pid)
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def reap(pid: int) -> int:
    """Wait for pid (our child, directly or as subreaper), reaping other orphans on the way;
    its shell-style exit code (128+signal for a signal)."""
    while True:
        try:
            reaped, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 255
        if reaped == pid:
            code = os.waitstatus_to_exitcode(status)
            return 128 - code if code < 0 else code
