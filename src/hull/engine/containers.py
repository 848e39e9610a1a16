"""Containers as a docker user handles them: the lifecycle commands (kill, stop, wait, rm,
pause, rename, restart, logs, prune, inspect) on top of the engine's core (core.py). A
container runs under the engine service's supervision (hull.service), which the command
line hands in as a `Supervision`: start one there, wait for one to end."""

from __future__ import annotations

import contextlib
from typing import Protocol

from hull.engine import locks, status
from hull.engine.core import Engine
from hull.errors import FailedPrecondition, NotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from hull.engine.attach import Session
    from hull.engine.filters import Filters
    from hull.engine.store import Container


class Supervision(Protocol):
    """What the engine service does for a command (hull.service.supervision)."""

    def start(self, cid: str, attach: bool = False, stdin_fd: int | None = None,
              streams: list[str] | None = None, stdin: bool = False) -> Session: ...

    def attach(self, cid: str, stdin: bool, streams: list[str] | None = None,
               next_start: bool = False) -> Session: ...

    def exit_session(self, cid: str, next_start: bool = False) -> Session: ...

    def wait(self, cid: str, timeout: float | None = None) -> bool: ...


class ContainerService(Engine):
    """The engine a command works with: its core, and the lifecycle on top."""

    supervision: Supervision | None = None   # given by the command line (hull.service)

    def supervised(self) -> Supervision:
        if self.supervision is None:
            from hull.errors import HullError
            raise HullError("no engine service to supervise containers")
        return self.supervision

    def containers(self, all_: bool) -> list[Container]:
        out = self.store.all()
        return out if all_ else [c for c in out if c.state.get("Running")]

    @contextlib.contextmanager
    def locked(self, name: str) -> Iterator[Container]:
        """The container, refreshed, under its lock (locks.py): check-then-act in one step.
        A command that waited finds it as the one before it left it (or gone)."""
        c = self.store.get(name)

        def exists() -> bool:
            try:
                self.store.get(c.id)
                return True
            except NotFound:
                return False
        with locks.hold(self.store.dir(c.id), name, exists):
            try:
                current = self.store.get(c.id)
            except NotFound:
                raise NotFound(f"No such container: {name}") from None
            yield current

    def kill(self, name: str, sig: int) -> Container:
        with self.locked(name) as c:
            if not status.can_signal(c.status):
                raise FailedPrecondition(f"Container {c.short_id} is not running")
            self.runtime().kill(c.id, sig)
            self.event(c, "kill", signal=sig)
            return c

    def stop(self, name: str, timeout: int | None = None) -> Container:
        with self.locked(name) as c:
            return self._stop(c, timeout)

    def _stop(self, c: Container, timeout: int | None) -> Container:

        from hull.runtime.signals import parse_signal
        self.store.update_state(c.id, StoppedByUser=True)   # no restart policy applies now
        if not status.can_signal(c.status):
            if c.status is status.Status.RESTARTING:
                self.store.update_state(c.id, Status="exited", Restarting=False)
            return c
        if timeout is None:
            timeout = int(c.config.get("StopTimeout", 10))
        if c.status is status.Status.PAUSED:
            self._pause(c, False)
        sig = parse_signal(c.config.get("StopSignal") or "SIGTERM")
        try:
            self.runtime().kill(c.id, sig)
            self.event(c, "kill", signal=sig)
        except (NotFound, FailedPrecondition):
            pass
        if not self._ended_within(c.id, timeout):
            try:
                self.runtime().kill(c.id, 9, all_processes=True)
            except (NotFound, FailedPrecondition):
                pass
            self._ended_within(c.id, None)
        self.event(c, "stop")
        return c

    def _ended_within(self, cid: str, timeout: float | None) -> bool:
        """Whether the container has ended (its exit recorded) within timeout seconds."""
        if self.supervision is not None:
            return self.supervision.wait(cid, timeout)
        import time
        deadline = None if timeout is None else time.monotonic() + timeout
        while deadline is None or time.monotonic() < deadline:
            try:
                if not self.store.get(cid).state.get("Running"):
                    return True
            except NotFound:
                return True
            time.sleep(0.05)
        return False

    def wait(self, name: str, timeout: float | None = None) -> int:
        """Until the container has stopped (not merely restarting); its exit code."""
        import time
        c = self.store.get(name)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                c = self.store.get(c.id)
            except NotFound:
                return int(c.state.get("ExitCode", 0))   # --rm: gone after recording
            if status.has_ended(c.status):
                return int(c.state.get("ExitCode", 0))
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise FailedPrecondition(f"container {c.name} still running")
            if c.state.get("Running") and self.supervision is not None:
                self.supervision.wait(c.id, left)
            else:
                time.sleep(0.05)

    def remove(self, name: str, force: bool = False, volumes: bool = False) -> Container:
        """rm [-f] [-v]: -v also removes the container's anonymous volumes."""
        with self.locked(name) as c:
            if not status.can_remove(c.status, force=False):
                if not force:
                    word = "restarting" if c.status is status.Status.RESTARTING else \
                        "running"
                    raise FailedPrecondition(f"You cannot remove a {word} container {c.id}. "
                                             "Stop the container before attempting removal "
                                             "or force remove")
                self._stop(c, timeout=0)
            self._discard(self.store.get(c.id))
            if volumes:
                self._remove_anonymous_volumes(c)
            return c

    def pause(self, name: str, paused: bool) -> Container:
        with self.locked(name) as c:
            return self._pause(c, paused)

    def _pause(self, c: Container, paused: bool) -> Container:
        if not status.can_signal(c.status):
            raise FailedPrecondition(f"Container {c.id} is not running")
        if not (status.can_pause if paused else status.can_unpause)(c.status):
            raise FailedPrecondition(f"Container {c.id} is {'already' if paused else 'not'} "
                                     "paused")
        rt = self.runtime()
        if paused:
            rt.pause(c.id)
        else:
            rt.resume(c.id)
        self.store.update_state(c.id, Paused=paused, Status="paused" if paused else "running")
        self.event(c, "pause" if paused else "unpause")
        return c

    def rename(self, name: str, new: str) -> None:
        with self.locked(name) as c:
            self._rename(c, new)

    def _rename(self, c: Container, new: str) -> None:
        import sqlite3

        from hull.engine.create import check_name
        check_name(new)
        try:
            self.store.db.execute("UPDATE containers SET name = ? WHERE id = ?", (new, c.id))
        except sqlite3.IntegrityError:
            owner = self.store.get(new).id
            raise FailedPrecondition(
                f'Error when allocating new name: Conflict. The container name "/{new}" is '
                f'already in use by container "{owner}". You have to remove (or rename) that '
                "container to be able to reuse that name.") from None
        old, c.name = c.name, new
        self.event(c, "rename", oldName=f"/{old}")

    def restart(self, name: str, timeout: int | None = None) -> None:
        with self.locked(name) as c:
            self._stop(c, timeout)
            self.wait(c.id)
            self.start_supervised(c.id).close()
            self.event(c, "restart")

    def start_supervised(self, cid: str, attach: bool = False, stdin_fd: int | None = None,
                         streams: list[str] | None = None, stdin: bool = False) -> Session:
        """Start the container under the engine service (the caller holds its lock);
        the session once it runs (attached: its output follows), or its error raised."""
        from hull.errors import HullError
        self.store.update_state(cid, StoppedByUser=False)   # a user's start
        session = self.supervised().start(cid, attach=attach, stdin_fd=stdin_fd,
                                          streams=streams, stdin=stdin)
        if "started" not in session.first:
            session.close()
            error = HullError(str(session.first.get("error") or
                                  "the engine service did not start it"))
            error.exit_code = int(session.first.get("code", 125))
            raise error
        return session

    def follow_logs(self, name: str) -> Any:
        """Log entries as they are written, until the container has stopped (logs -f)."""
        import time

        from hull.engine.logfile import Follower
        c = self.store.get(name)
        follower = Follower(self._readable_log(c.id))
        try:
            while True:
                entries = follower.poll()
                yield from entries
                try:
                    running = self.store.get(c.id).state.get("Running")
                except NotFound:
                    running = False
                if not running and not entries:
                    return
                time.sleep(0.1)
        finally:
            follower.close()

    def logs(self, name: str) -> list[dict[str, Any]]:
        """Every entry still kept, across the rotated files, oldest first."""
        from hull.engine import logfile
        return list(logfile.read(self._readable_log(name)))

    def prune(self, filters: Filters | None = None) -> tuple[list[str], int]:
        """`container prune`: every container not running (filtered by until=, label=,
        label!=); returns their IDs and the bytes their rw layers held."""
        from hull.engine import humanize
        until = filters.until() if filters else None
        removed, space = [], 0
        for c in self.containers(all_=True):
            if not status.can_prune(c.status):
                continue
            if until is not None and humanize.parse_time(c.created) > until:
                continue
            labels = c.config.get("Labels")
            if filters and (not filters.labels("label", labels) or
                            not filters.not_labels(labels)):
                continue
            space += self.sizes(c)[0]
            self._discard(c)
            removed.append(c.id)
        return removed, space

    def inspect(self, name: str, size: bool = False) -> dict[str, Any]:
        from hull.engine.inspect import container_json
        return container_json(self, name, size)
