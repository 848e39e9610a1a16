"""The Dockerfile parser: text to a list of instruction nodes, as BuildKit's
`frontend/dockerfile/parser` makes them (its test data passes unchanged).

The grammar, line by line:

* **Parser directives** (`# syntax=…`, `# escape=…`, `# check=…`) are recognised only in
  the comment lines at the very top; the first line that is not such a directive (an
  instruction, an empty line, any other comment) ends them. A directive may appear once.
  `# escape=`` ` switches the escape character from `\\` to a backtick (for Windows
  paths), which changes line continuation and the word splitting of every instruction.
* **Logical lines**: a line whose last non-blank character is the escape character
  continues on the next. Comment lines and blank lines inside a continuation are
  dropped (blank ones draw the "empty continuation line" warning BuildKit gives);
  continuation lines keep their leading whitespace, so `RUN a \\` + `  b` is
  `RUN a   b`. Trailing CR (CRLF files) and a leading byte-order mark are ignored.
* **Instruction**: the first word is the keyword (any case); then `--flag` words; then the
  arguments, which each keyword reads its own way (`line_parsers.go`): a JSON array or
  the raw rest (RUN, CMD, ENTRYPOINT, SHELL), a JSON array or whitespace-separated words
  (ADD, COPY, VOLUME), `key value` / `key=value…` triples (ENV, LABEL), words (ARG), a
  type then a command (HEALTHCHECK), a whole nested instruction (ONBUILD), or the raw
  rest as one value (USER, WORKDIR, …). Unknown keywords parse (with no arguments) and
  are refused later, by `instructions.parse_instruction`, as BuildKit does.
* **Heredocs**: on RUN, COPY and ADD in shell form (also behind ONBUILD) each `<<WORD`
  marker takes the following lines up to a line equal to `WORD` as its body; `<<-WORD`
  strips leading tabs from the body and the terminator line, and quoting any part of
  the word turns off variable expansion in the body.

Nothing is expanded here: values stay as written (quotes included where BuildKit keeps
them), for the builder to expand with the shell lexer once it knows the build args.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from hull.build.errors import DockerfileSyntaxError
from hull.build.frontend.parser_lex import (
    WHITESPACE,
    HeredocLexError,
    extract_flags,
    go_quote,
    heredocs_in_line,
    is_ascii_space,
    split_words,
    trim_left_space,
    trim_space,
)

DEFAULT_ESCAPE = "\\"

_DIRECTIVE = re.compile(r"([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*")
_DIRECTIVE_KEYS = frozenset({"syntax", "escape", "check"})
_HEREDOC_KEYWORDS = frozenset({"add", "copy", "run"})
_LEADING_TABS = re.compile(r"^\t+", re.MULTILINE)


@dataclass(frozen=True)
class Heredoc:
    """A heredoc body attached to an instruction.

    `content` keeps the body's line endings, the last one included, as BuildKit
    does; with `chomp` (`<<-`) the leading tabs are already stripped from it.
    `raw_content` is the body as written, tabs and all (BuildKit writes it back that
    way in an ONBUILD trigger's text); it takes no part in comparisons."""

    name: str
    content: str
    expand: bool
    chomp: bool
    fd: int = 0   # `3<<EOF`: the descriptor the body is meant for (0 when not given)
    raw_content: str | None = field(default=None, compare=False, repr=False)

    @property
    def written(self) -> str:
        """The body as it stood in the Dockerfile."""
        return self.content if self.raw_content is None else self.raw_content


@dataclass
class Node:
    """One instruction, shaped like BuildKit's `parser.Node`.

    `next` is BuildKit's chain of value nodes flattened to strings (for ENV and LABEL:
    name, value, delimiter triples; for HEALTHCHECK: the type first). ONBUILD keeps the
    instruction it wraps in `inner` instead. `keyword` is the keyword as written (errors
    quote it that way); `comments` are the comment lines right above."""

    value: str
    next: list[str]
    json: bool
    flags: list[str]
    heredocs: list[Heredoc]
    original: str
    start_line: int
    end_line: int
    inner: Node | None = None
    keyword: str = ""
    comments: list[str] = field(default_factory=list)

    def dump(self) -> str:
        """BuildKit's `Node.Dump()` of this instruction as one line of a `result` file:
        `(keyword ["--flag"] "value" …)`, values quoted the way Go quotes strings."""
        parts = [self.value.lower()]
        if self.flags:
            parts.append("[" + " ".join(go_quote(flag) for flag in self.flags) + "]")
        parts.extend(go_quote(value) for value in self.next)
        if self.inner is not None:
            parts.append(self.inner.dump())
        return "(" + trim_space(" ".join(parts)) + ")"


@dataclass
class Parsed:
    """A parsed Dockerfile: its instructions, the parser directives it started with, the
    escape character in force, and the parser's warnings."""

    nodes: list[Node]
    directives: dict[str, str]
    escape: str
    warnings: list[str]

    def dump(self) -> str:
        """All nodes, one `dump()` per line: the format of BuildKit's `result` files
        (without their final newline)."""
        return "\n".join(node.dump() for node in self.nodes)


class _ParseError(ValueError):
    """An argument-level error; `parse` adds the lines of the instruction."""


class _Directives:
    """The parser-directive reader: it looks at every line until the first one that is
    not a directive, then stops for good."""

    def __init__(self) -> None:
        self.done = False
        self.seen: dict[str, str] = {}
        self.escape = DEFAULT_ESCAPE

    def feed(self, line: str) -> bool:
        """Read a line (newline and leading whitespace already stripped); True when it
        was a directive. Raises _ParseError on a repeated directive or a bad escape."""
        if self.done:
            return False
        if not line.startswith("#"):
            self.done = True
            return False
        match = _DIRECTIVE.fullmatch(trim_left_space(line[1:]))
        key = match[1].lower() if match else ""
        if match is None or key not in _DIRECTIVE_KEYS:
            self.done = True
            return False
        if key in self.seen:
            raise _ParseError(f"only one {key} parser directive can be used")
        value = match[2]
        if key == "escape":
            if value not in ("`", "\\"):
                raise _ParseError(f"invalid escape token '{value}' does not match ` or \\")
            self.escape = value
        self.seen[key] = value
        return True


def _is_comment(line: str) -> bool:
    return trim_left_space(line).startswith("#")


def _trim_newline(line: str) -> str:
    return line.rstrip("\r\n")


def _continuation(escape: str) -> re.Pattern[str]:
    """A line ending in the escape character (optionally followed by blanks) continues;
    an escaped escape character does not, unless it stands alone on its line."""
    esc = re.escape(escape)
    return re.compile(rf"([^{esc}]){esc}[ \t]*\Z|\A{esc}[ \t]*\Z")


def _split_lines(text: str) -> list[str]:
    """Lines with their endings kept, split on LF only (CR stays with its line)."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


# --- argument readers (BuildKit's line_parsers.go) ------------------------------------

_Args = tuple[list[str], bool, "Node | None"]


def _json_array(rest: str) -> list[str] | None:
    """The strings of a JSON array, or None when `rest` is not one. An array holding
    anything but strings is an error, not a fallback to the shell form."""
    rest = trim_left_space(rest)
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest, parse_constant=_reject_constant)
    except ValueError:
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(item, str) for item in value):
        raise _ParseError(
            "when using JSON array syntax, arrays must be comprised of strings only")
    return value


def _reject_constant(name: str) -> object:
    raise ValueError(name)  # NaN/Infinity are not JSON to Go either


def _whitespace_list(rest: str) -> list[str]:
    return WHITESPACE.split(rest) if rest else []


def _read_json_or_raw(rest: str, escape: str) -> _Args:
    if not rest:
        return [], False, None
    array = _json_array(rest)
    if array is not None:
        return array, True, None
    return [rest], False, None


def _read_json_or_words(rest: str, escape: str) -> _Args:
    array = _json_array(rest)
    if array is not None:
        return array, True, None
    return _whitespace_list(rest), False, None


def _read_words(rest: str, escape: str) -> _Args:
    return _whitespace_list(rest), False, None


def _read_raw(rest: str, escape: str) -> _Args:
    return ([rest] if rest else []), False, None


def _read_arg(rest: str, escape: str) -> _Args:
    return split_words(rest, escape), False, None


def _name_values(rest: str, escape: str, keyword: str) -> list[str]:
    """ENV/LABEL: `name value` (the rest of the line is the value, delimiter "") or
    `name=value …` (each word split at its first `=`, delimiter "=")."""
    words = split_words(rest, escape)
    if not words:
        return []
    if "=" not in words[0]:
        parts = WHITESPACE.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise _ParseError(f"{keyword} must have two arguments")
        return [parts[0], parts[1], ""]
    triples: list[str] = []
    for word in words:
        if "=" not in word:
            raise _ParseError(f"Syntax error - can't find = in {go_quote(word)}. "
                              "Must be of the form: name=value")
        name, value = word.split("=", 1)
        triples += [name, value, "="]
    return triples


def _read_env(rest: str, escape: str) -> _Args:
    return _name_values(rest, escape, "ENV"), False, None


def _read_label(rest: str, escape: str) -> _Args:
    return _name_values(rest, escape, "LABEL"), False, None


def _read_healthcheck(rest: str, escape: str) -> _Args:
    sep = 0
    while sep < len(rest) and not is_ascii_space(rest[sep]):
        sep += 1
    if sep == 0:
        return [], False, None
    start = sep
    while start < len(rest) and is_ascii_space(rest[start]):
        start += 1
    values, is_json, _ = _read_json_or_raw(rest[start:], escape)
    return [rest[:sep], *values], is_json, None


def _read_onbuild(rest: str, escape: str) -> _Args:
    if not rest:
        return [], False, None
    return [], False, _node_from_line(rest, escape)


_READERS: dict[str, Callable[[str, str], _Args]] = {
    "add": _read_json_or_words,
    "arg": _read_arg,
    "cmd": _read_json_or_raw,
    "copy": _read_json_or_words,
    "entrypoint": _read_json_or_raw,
    "env": _read_env,
    "expose": _read_words,
    "from": _read_words,
    "healthcheck": _read_healthcheck,
    "label": _read_label,
    "maintainer": _read_raw,
    "onbuild": _read_onbuild,
    "run": _read_json_or_raw,
    "shell": _read_json_or_raw,
    "stopsignal": _read_raw,
    "user": _read_raw,
    "volume": _read_json_or_words,
    "workdir": _read_raw,
}


def _node_from_line(line: str, escape: str) -> Node:
    """One logical line to a node (lines are filled in by the caller)."""
    parts = WHITESPACE.split(trim_space(line), maxsplit=1)
    keyword = parts[0]
    flags: list[str] = []
    rest = ""
    if len(parts) == 2:
        rest, flags = extract_flags(parts[1], escape)
    rest = trim_space(rest)
    reader = _READERS.get(keyword.lower())
    if reader is None:
        # BuildKit keeps unknown instructions (with one empty value) and lets the
        # instruction layer name them in its error.
        values, is_json, inner = [""], False, None
    else:
        values, is_json, inner = reader(rest, escape)
    return Node(value=keyword.lower(), next=values, json=is_json, flags=flags, heredocs=[],
                original=line, start_line=0, end_line=0, inner=inner, keyword=keyword)


def _takes_heredocs(node: Node) -> bool:
    target = node.inner if node.value == "onbuild" and node.inner is not None else node
    return target.value in _HEREDOC_KEYWORDS and not target.json


def chomp(content: str) -> str:
    """Strip the leading tabs of every line (what `<<-` asks for)."""
    return _LEADING_TABS.sub("", content)


def _raise(message: str, start: int, end: int = 0) -> DockerfileSyntaxError:
    return DockerfileSyntaxError(message, line=start, end_line=max(end, start))


def parse(text: str) -> Parsed:
    """Parse a Dockerfile's text. Raises DockerfileSyntaxError naming the line."""
    lines = _split_lines(text)
    directives = _Directives()
    continuation = _continuation(DEFAULT_ESCAPE)
    nodes: list[Node] = []
    warnings: list[str] = []
    comments: list[str] = []
    index = 0   # next line to read; also the 1-based number of the last line read

    def process(raw: str, strip_left: bool) -> tuple[str, bool]:
        token = _trim_newline(raw)
        if strip_left:
            token = trim_left_space(token)
        try:
            is_directive = directives.feed(token)
        except _ParseError as exc:
            raise _raise(str(exc), index) from None
        return ("" if _is_comment(token) else token), is_directive

    def trim_continuation(line: str) -> tuple[str, bool]:
        if continuation.search(line):
            return continuation.sub(r"\1", line, count=1), False
        return line, True

    while index < len(lines):
        raw = lines[index]
        if index == 0:
            raw = raw.removeprefix("\ufeff")
        if _is_comment(raw):
            comment = trim_space(trim_left_space(raw)[1:])
            comments = [*comments, comment] if comment else []
        index += 1
        line, is_directive = process(raw, True)
        if is_directive:
            comments = comments[:-1]
            continuation = _continuation(directives.escape)
        start = index
        line, at_end = trim_continuation(line)
        if at_end and not line:
            continue
        buf = [line]
        empty_continuation = False
        while not at_end and index < len(lines):
            raw = lines[index]
            index += 1
            line, _ = process(raw, False)
            if _is_comment(raw):
                continue
            if not trim_left_space(line):
                empty_continuation = True
                continue
            line, at_end = trim_continuation(line)
            buf.append(line)
        logical = "".join(buf)
        if empty_continuation:
            warnings.append("Empty continuation line found in: " + logical)
        try:
            node = _node_from_line(logical, directives.escape)
        except _ParseError as exc:
            raise _raise(str(exc), start, index) from None
        node.comments = comments
        if _takes_heredocs(node) and "<<" in logical:
            index = _read_heredocs(node, logical, lines, index, start)
        node.start_line, node.end_line = start, index
        if node.inner is not None:
            node.inner.start_line, node.inner.end_line = start, index
            node.inner.heredocs = node.heredocs
        nodes.append(node)
        comments = []

    if not nodes:
        raise _raise("file with no instructions", max(index, 1))
    return Parsed(nodes=nodes, directives=dict(directives.seen),
                  escape=directives.escape, warnings=warnings)


def _read_heredocs(node: Node, logical: str, lines: list[str], index: int,
                   start: int) -> int:
    """Attach the bodies of the heredocs announced on `logical`, read from `lines`
    starting at `index`; returns the index after the last terminator."""
    try:
        markers = heredocs_in_line(logical)
    except HeredocLexError as exc:
        raise _raise(str(exc), start, index) from None
    for marker in markers:
        body: list[str] = []
        terminated = False
        while index < len(lines):
            raw = lines[index]
            index += 1
            candidate = _trim_newline(raw)
            if marker.chomp:
                candidate = candidate.lstrip("\t")
            if candidate == marker.name:
                terminated = True
                break
            body.append(raw)
        if not terminated:
            raise _raise("unterminated heredoc", start, index)
        content = "".join(body)
        node.heredocs.append(Heredoc(name=marker.name,
                                     content=chomp(content) if marker.chomp else content,
                                     expand=marker.expand, chomp=marker.chomp,
                                     fd=marker.fd, raw_content=content))
    return index
