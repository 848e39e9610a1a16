"""One error vocabulary for all of hull, mapped once to exit codes at the command line.

Library code raises these with a one-line message that names the problem (the field, the
container, the path); the CLI prints the message and exits with the code Docker would use.
"""

from __future__ import annotations


class HullError(Exception):
    """Base of every error a user can cause or see; never shown with a traceback."""

    exit_code = 125


class InvalidArgument(HullError):
    """The request itself is wrong: a bad flag value, a malformed config field."""


class NotFound(HullError):
    """A named thing (container, bundle, image, file) does not exist."""

    exit_code = 1


class AlreadyExists(HullError):
    """A name or ID is taken."""


class FailedPrecondition(HullError):
    """The request is valid but the object is in the wrong state for it."""

    exit_code = 1


class ClientError(HullError):
    """Refused by the command line itself before the engine is asked ("the input device
    is not a TTY"): Docker's CLI prints these bare and exits 1."""

    exit_code = 1


class UsageError(ClientError):
    """A command given too few arguments, found after parsing (`exec CONTAINER` without a
    command): Docker's "requires at least N arguments" with the usage, exit 1."""


class FlagError(InvalidArgument):
    """A flag's value is malformed (`-m lots`): reported as Docker reports a flag it cannot
    parse, with the command's usage, exit 125."""


class Unavailable(HullError):
    """The host lacks what the request needs (a kernel feature, a controller, a tool)."""


class CannotInvoke(HullError):
    """The container's command exists but cannot be executed (Docker's 126)."""

    exit_code = 126


class CommandNotFound(HullError):
    """The container's command does not exist (Docker's 127)."""

    exit_code = 127
