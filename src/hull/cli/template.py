"""--format / -f for the Docker-compatible commands, on Go's text/template
(hull.cli.gotemplate) with Docker CLI's functions, in the two ways docker/cli applies a
format:

- render(): `docker inspect -f` (cli/command/inspect): the template exactly as given — no
  `\\t`/`\\n` replacement, no trimming — run on the object with missingkey=error (Docker
  falls back to the raw JSON map with that option when its typed struct lacks a field).
  A template that does not parse exits 64, one that fails to execute exits 1.
- print_rows(): listing commands (cli/command/formatter): "json" means `{{json .}}`, a
  leading "table" asks for a header line and tabwriter columns, spaces are trimmed and
  the two-character sequences `\\t` and `\\n` become a tab and a newline. Each row is a Go
  struct (a missing field is an error), the header line is the same template run over the
  column titles with Docker's header functions. Any template error exits 1.

Error messages are Docker's: "template parsing error: " and Go's text.
"""

from __future__ import annotations

from hull.cli.gotemplate import (
    BASIC_FUNCS,
    HEADER_FUNCS,
    ExecError,
    FormatParseError,
    ParseError,
    Struct,
    TypedNil,
    parse,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

    from hull.cli.gotemplate import Template

__all__ = ["Struct", "TypedNil", "listing_format", "print_rows", "render"]

_PARSED: dict[str, Template] = {}
_PREFIX = "template parsing error: "

# The Go type of each listing command's row, as Docker's error messages name it
# ("can't evaluate field X in type *formatter.ContainerContext"), recognised by a column
# only that command has; callers may pass type_name instead.
_ROW_TYPES = (("Command", "*formatter.ContainerContext"),
              ("CPUPerc", "*container.statsContext"),
              ("Repository", "*formatter.imageContext"),
              ("Mountpoint", "*formatter.volumeContext"))


def _parse(text: str) -> Template:
    """Parsed once per format: inspect and events run one template many times. The
    cache is bounded, as the service that runs commands stays up."""
    tmpl = _PARSED.get(text)
    if tmpl is None:
        if len(_PARSED) >= 64:
            _PARSED.clear()
        tmpl = _PARSED[text] = parse(text, BASIC_FUNCS)
    return tmpl


def _printable(s: str) -> str:
    """Bytes that are not UTF-8 (Go writes them raw) shown as U+FFFD."""
    if s.isascii():
        return s
    return s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def render(template: str, obj: Any, *, missingkey: str = "error",
           parse_error_prefix: str = _PREFIX) -> str:
    """The output of `docker inspect -f TEMPLATE` for one object (without the newline
    inspect adds). Raises FormatParseError (exit 64) or ExecError (exit 1).

    events uses parse_error_prefix="Error parsing format: " in docker/cli.
    """
    try:
        tmpl = _parse(template)
    except ParseError as e:
        raise FormatParseError(parse_error_prefix + str(e)) from None
    try:
        return _printable(tmpl.execute(obj, missingkey=missingkey))
    except ExecError as e:
        raise ExecError(_PREFIX + str(e)) from None


def listing_format(fmt: str, default: str | None = None) -> tuple[str, bool]:
    """Docker's Format.templateString(): (the template text, whether it is a table)."""
    if fmt == "table" and default is not None:
        fmt = default
    if fmt == "json":
        return "{{json .}}", False
    is_table = fmt.startswith("table")
    if fmt == "table":
        return "", True
    text = fmt[len("table"):] if is_table else fmt
    text = text.strip(" ").replace("\\t", "\t").replace("\\n", "\n")
    return text, is_table


def print_rows(fmt: str, rows: Sequence[Mapping[str, Any]], headers: Mapping[str, str],
               out: Any = None, *, type_name: str | None = None,
               default: str | None = None) -> None:
    """--format for a listing command: each row through the template, one per line; with
    `table ...` a header line (headers maps each field to its column title) first and the
    tab-separated cells aligned as Docker's tabwriter does. Nothing is written if any row
    fails (ExecError, exit 1; ParseError, exit 1, if the format does not parse).

    A row that is a Struct is used as it is; any other mapping becomes a Struct named
    type_name, the Go type Docker's errors name for a row (e.g.
    "*formatter.ContainerContext"; guessed from the headers if not given). default is the
    command's own table format, used for a bare `--format table`.
    """
    import sys

    from hull.cli.gotemplate.tabwriter import tabwrite
    out = out or sys.stdout
    text, is_table = listing_format(fmt, default)
    try:
        tmpl = _parse(text)
    except ParseError as e:
        raise ParseError(_PREFIX + str(e)) from None
    if type_name is None:
        type_name = next((t for field, t in _ROW_TYPES if field in headers),
                         "*formatter.Context")
    buf: list[str] = []
    for row in rows:
        data = row if isinstance(row, Struct) else Struct(row, type_name, json_sorted=True)
        error = tmpl.write(buf, data)
        if error is not None:
            raise ExecError(_PREFIX + str(error))
        buf.append("\n")
    if not is_table:
        out.write(_printable("".join(buf)))
        return
    header: list[str] = []
    tmpl.write(header, dict(headers), funcs=HEADER_FUNCS)   # Docker ignores its errors
    out.write(tabwrite(_printable("".join(header) + "\n" + "".join(buf))))
