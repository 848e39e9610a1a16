"""The errors a template can raise, each carrying Go's own message text.

Docker's CLI prints text/template's error strings unchanged (behind "template parsing
error: "), and scripts match on them, so the message is Go's, byte for byte. The exit codes
are Docker's (read from docker/cli): a template that does not parse or execute makes
`docker ps/images/volume ls/stats --format` and `docker inspect -f` (at execution) exit 1
— plain errors returned from the command — while `docker inspect`, `events`, `info` and
`version` wrap a *parse* failure in `cli.StatusError{StatusCode: 64}`.
"""

from __future__ import annotations

from hull.errors import ClientError


class TemplateError(ClientError):
    """A template failed; the message is Go's text/template message.

    Exit code 1, as docker's CLI gives for a template error it returns unwrapped.
    """

    exit_code = 1


class ParseError(TemplateError):
    """The template text does not parse (`template: :LINE: ...`)."""


class ExecError(TemplateError):
    """Execution failed (`template: :LINE:COL: executing "" at <...>: ...`)."""


class FormatParseError(ParseError):
    """A --format that does not parse, for the commands where Docker exits 64 for it
    (inspect, events, info, version: `cli.StatusError{StatusCode: 64}`)."""

    exit_code = 64


class FuncError(Exception):
    """Raised by a template function; execution stops with `error calling NAME: <msg>`
    (Go: the function's non-nil error result, or a recovered panic)."""
