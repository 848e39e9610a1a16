"""One lock per container, so that what a command checks and then does to a container is
one step whatever other commands do to it meanwhile: of twenty `start`s at once one starts
it and the others find it running; of twenty `rm -f`s one removes it and the others find it
gone — Docker's daemon holds a per-container lock the same way.

The lock is a POSIX record lock (fcntl F_SETLKW) on <container dir>/lock. Such a lock
belongs to the process, so a process forked while it is held does not inherit it (a flock
would stay held by the child for the container's whole life). Its one trap — closing any fd
of the file releases it — is why a process keeps one fd per container here, shared by
nested holders (`rm` stops the container under the same lock).
"""

from __future__ import annotations

import contextlib
import fcntl
import os

from hull.errors import NotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

LOCKFILE = "lock"

# per process, as the locks themselves are: container directory -> [fd, depth]
_held: dict[str, list[int]] = {}


def create(directory: str) -> None:
    """The lock file of a new container (made with its directory)."""
    os.close(os.open(os.path.join(directory, LOCKFILE),
                     os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))


def _open(directory: str, name: str, exists: Callable[[], bool]) -> int:
    path = os.path.join(directory, LOCKFILE)
    try:
        return os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        pass
    if not exists():
        raise NotFound(f"No such container: {name}")
    try:
        create(directory)
    except FileExistsError:
        pass
    except (FileNotFoundError, NotADirectoryError):
        raise NotFound(f"No such container: {name}") from None
    return os.open(path, os.O_RDWR | os.O_CLOEXEC)


@contextlib.contextmanager
def hold(directory: str, name: str, exists: Callable[[], bool]) -> Iterator[None]:
    """Hold the lock of the container whose directory this is (waiting for it); NotFound
    when the container is removed before or while waiting. exists() says whether its
    record is still there: a container made before locks were has its lock file made now,
    but never one being removed."""
    entry = _held.get(directory)
    if entry is not None:
        entry[1] += 1
        try:
            yield
        finally:
            entry[1] -= 1
        return
    fd = _open(directory, name, exists)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX)
        if os.fstat(fd).st_nlink == 0:   # removed while we waited
            raise NotFound(f"No such container: {name}")
        _held[directory] = [fd, 1]
        try:
            yield
        finally:
            del _held[directory]
    finally:
        os.close(fd)   # releases the lock
