"""A container's status as Docker names it, and which lifecycle steps it allows — the
rules the lifecycle (containers.py) checks under the container's lock, in one place, as
the runtime's Status does for the OCI states.

The record keeps Docker's State fields (Status, Running, Paused, Restarting); `of` reads
the status from them, and the `can_*` functions answer for a status."""

from __future__ import annotations

import enum

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Status(enum.StrEnum):
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    RESTARTING = "restarting"
    REMOVING = "removing"
    EXITED = "exited"
    DEAD = "dead"


LIVE = frozenset({Status.RUNNING, Status.PAUSED})   # a process runs (paused or not)


def of(state: dict[str, Any]) -> Status:
    """The status a record's State says (its flags win over a stale Status word)."""
    if state.get("Running"):
        return Status.PAUSED if state.get("Paused") else Status.RUNNING
    if state.get("Restarting"):
        return Status.RESTARTING
    try:
        word = Status(state.get("Status") or "created")
    except ValueError:
        return Status.DEAD
    return Status.EXITED if word in LIVE else word


def can_signal(status: Status) -> bool:
    """kill, and the first step of stop: a process must be there."""
    return status in LIVE


def can_pause(status: Status) -> bool:
    return status is Status.RUNNING


def can_unpause(status: Status) -> bool:
    return status is Status.PAUSED


def can_remove(status: Status, force: bool) -> bool:
    """rm: a live container, or one about to run again (dockerd counts a restarting
    container as running), only with -f (which stops it first)."""
    return force or (status not in LIVE and status is not Status.RESTARTING)


def can_prune(status: Status) -> bool:
    """container prune: neither running nor about to run again."""
    return status not in LIVE and status is not Status.RESTARTING


def has_ended(status: Status) -> bool:
    """wait: ended (or never started), and not about to run again."""
    return status in (Status.EXITED, Status.CREATED, Status.DEAD)
