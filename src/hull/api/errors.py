"""The API's errors: Docker's {"message": …} with its status codes, from hull's error
vocabulary (hull.errors) in one place."""

from __future__ import annotations

from hull.errors import (
    AlreadyExists,
    CannotInvoke,
    CommandNotFound,
    FailedPrecondition,
    HullError,
    InvalidArgument,
    NotFound,
)


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Hijacked(Exception):
    """The handler took the raw connection and served it to its end."""


class NotModified(Exception):
    """304: the container is already in the state asked for (start, stop)."""


def status_of(error: HullError) -> int:
    """Docker's errdefs: not found 404, conflict 409, invalid parameter 400; a process
    that cannot be started is 400 as dockerd says it ("executable file not found")."""
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, (AlreadyExists, FailedPrecondition)):
        return 409
    if isinstance(error, (InvalidArgument, CannotInvoke, CommandNotFound)):
        return 400
    return 500
