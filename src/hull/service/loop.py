"""The service's event loop: one thread, one selector, timers and child processes.

Everything the service does is a callback run from here: a readable socket, pipe, pty
master, /dev/fuse or seccomp notification fd; a writable attach client with output
waiting; a timer (health checks, restart backoff, the load-average sampler); a child that
ended (SIGCHLD, through the signal wakeup fd, then waitpid(-1, WNOHANG) until none is
left). Nothing blocks for long: slow work runs in forked jobs (jobs.py), and the loop
only moves bytes and bookkeeping. A single thread is what makes every fork safe
(DESIGN.md: nothing forks from a process with threads).
"""

from __future__ import annotations

import heapq
import itertools
import os
import selectors
import signal
import socket
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    FileLike = int | socket.socket


class Timer:
    """A callback due at a monotonic time; cancel() before it runs and it never does."""

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when, self.callback = when, callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Loop:
    def __init__(self) -> None:
        self.sel = selectors.DefaultSelector()
        self.readers: dict[int, Callable[[], None]] = {}
        self.writers: dict[int, Callable[[], None]] = {}
        self.objects: dict[int, FileLike] = {}
        self.timers: list[tuple[float, int, Timer]] = []
        self.order = itertools.count()
        self.children: dict[int, Callable[[int], None]] = {}   # pid -> on exit(status)
        self.orphan_exits: dict[int, tuple[int, float]] = {}   # reaped, nobody waited
        self.wake_r, self.wake_w = socket.socketpair()

    # ---- fds ------------------------------------------------------------------------------

    def add_reader(self, obj: FileLike, callback: Callable[[], None]) -> None:
        fd = _fileno(obj)
        self.readers[fd] = callback
        self._update(fd, obj)

    def remove_reader(self, obj: FileLike) -> None:
        fd = _fileno(obj)
        if self.readers.pop(fd, None) is not None:
            self._update(fd, obj)

    def add_writer(self, obj: FileLike, callback: Callable[[], None]) -> None:
        fd = _fileno(obj)
        self.writers[fd] = callback
        self._update(fd, obj)

    def remove_writer(self, obj: FileLike) -> None:
        fd = _fileno(obj)
        if self.writers.pop(fd, None) is not None:
            self._update(fd, obj)

    def forget(self, obj: FileLike) -> None:
        """Stop watching an fd altogether (before closing it)."""
        fd = _fileno(obj)
        self.readers.pop(fd, None)
        self.writers.pop(fd, None)
        self._update(fd, obj)

    def _update(self, fd: int, obj: FileLike) -> None:
        events = (selectors.EVENT_READ if fd in self.readers else 0) | \
            (selectors.EVENT_WRITE if fd in self.writers else 0)
        known = fd in self.objects
        if not events:
            if known:
                self.sel.unregister(fd)
                del self.objects[fd]
        elif known:
            self.sel.modify(fd, events)
        else:
            self.sel.register(fd, events)
            self.objects[fd] = obj

    # ---- timers ---------------------------------------------------------------------------

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        timer = Timer(time.monotonic() + delay, callback)
        heapq.heappush(self.timers, (timer.when, next(self.order), timer))
        return timer

    def _due(self) -> float | None:
        """Run the timers that are due; seconds until the next one (None: no timer)."""
        while self.timers:
            when, _, timer = self.timers[0]
            if timer.cancelled:
                heapq.heappop(self.timers)
                continue
            left = when - time.monotonic()
            if left > 0:
                return left
            heapq.heappop(self.timers)
            _guarded(timer.callback)
        return None

    def has_timers(self) -> bool:
        return any(not t.cancelled for _, _, t in self.timers)

    # ---- children -------------------------------------------------------------------------

    def watch_child(self, pid: int, on_exit: Callable[[int], None]) -> None:
        """on_exit(wait status) once pid has ended (now, if it was reaped already)."""
        early = self.orphan_exits.pop(pid, None)
        if early is not None:
            on_exit(early[0])
        else:
            self.children[pid] = on_exit

    def reap(self) -> None:
        """Every child that has ended: its watcher is told, or its status kept a while for
        a watcher to come (a container can end before its starter has reported it)."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            callback = self.children.pop(pid, None)
            if callback is not None:
                callback(status)
            else:
                self.orphan_exits[pid] = (status, time.monotonic())
        old = time.monotonic() - 300
        for pid in [p for p, (_, t) in self.orphan_exits.items() if t < old]:
            del self.orphan_exits[pid]

    def install_signals(self, on_term: Callable[[], None]) -> None:
        """SIGCHLD reaps, SIGTERM/SIGINT call on_term; both wake the selector."""
        for end in (self.wake_r, self.wake_w):
            end.setblocking(False)
        signal.set_wakeup_fd(self.wake_w.fileno(), warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda _s, _f: None)   # the wakeup fd does the work
        signal.signal(signal.SIGTERM, lambda _s, _f: on_term())
        signal.signal(signal.SIGINT, lambda _s, _f: on_term())
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        self.add_reader(self.wake_r, self._woken)

    def _woken(self) -> None:
        try:
            while self.wake_r.recv(512):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        self.reap()

    # ---- running --------------------------------------------------------------------------

    def run_once(self, timeout: float | None) -> None:
        due = self._due()
        if due is not None:
            timeout = due if timeout is None else min(timeout, due)
        for key, events in self.sel.select(timeout):
            fd = key.fd
            if events & selectors.EVENT_READ and fd in self.readers:
                _guarded(self.readers[fd])
            if events & selectors.EVENT_WRITE and fd in self.writers:
                _guarded(self.writers[fd])
        self._due()

    def fds(self) -> list[FileLike]:
        """Everything watched: what a forked job closes first."""
        return list(self.objects.values())


def _guarded(callback: Callable[[], None]) -> None:
    """Run a callback; a bug in one (an exception) is logged and the loop goes on — the
    other containers' supervision must not end with it."""
    try:
        callback()
    except Exception:
        import traceback

        from hull.service.log import log
        log(f"a callback failed:\n{traceback.format_exc()}")


def _fileno(obj: Any) -> int:
    return obj if isinstance(obj, int) else int(obj.fileno())
