"""The character-level pieces of BuildKit's Dockerfile parser, kept apart from the line
assembly in `parser.py` so each can be read (and tested) on its own.

Four small grammars live here, each copied in behaviour from BuildKit because users'
Dockerfiles depend on their exact quirks:

* **Builder flags** (`extract_flags`): after the keyword, words that start with `--` are
  the instruction's flags (`COPY --from=build --chmod=755 a b`). Quotes inside a flag are
  removed and the escape character escapes the next character (even inside single
  quotes); a bare `--` ends the flags. The first word not starting with `--` ends them
  too, and the rest of the line is returned untouched.
* **Words** (`split_words`): the argument splitter of ENV/LABEL/ARG. Words are separated
  by whitespace outside quotes, but quotes and escapes are *kept* in the word — the
  builder removes them later while expanding variables, as BuildKit's dispatcher does.
* **Heredoc markers** (`heredocs_in_line`, `parse_heredoc_word`): `<<EOF`, `<<-EOF`,
  `<<"EOF"`, `3<<EOF`. BuildKit finds them by running its shell lexer over the line with
  every variable unset and quotes/escapes kept raw, then lexing each `<<word` once with
  and once without raw quotes: a quote that disappears means part of the delimiter was
  quoted, so the body is not expanded. A small lexer with exactly that behaviour (and
  only that — no expansion) is here, so the parser does not depend on the builder's
  shell module.
* **Go's string quoting** (`go_quote`): `Node.dump()` prints values the way Go's
  `strconv.Quote` does, which the upstream `result` files were written with.

Whitespace follows Go's `unicode.IsSpace` (Python's `str.isspace` also counts the ASCII
separators U+001C–U+001F, which Go does not).
"""

from __future__ import annotations

import re
from typing import NamedTuple

#: Go's `[\t\v\f\r ]+`: the separator BuildKit splits keywords and plain argument lists on.
WHITESPACE = re.compile(r"[\t\v\f\r ]+")

_NOT_GO_SPACE = frozenset("\x1c\x1d\x1e\x1f")
_HEREDOC_WORD = re.compile(r"([0-9]*)<<(-?)[\t\n\f\r ]*([^<]*)")
_SHELL_ESCAPE = "\\"   # the heredoc scan always uses backslash, whatever `# escape=` says
_SPECIAL_PARAMS = frozenset("@*#?-$!0")


def is_space(ch: str) -> bool:
    """Go's `unicode.IsSpace` for one character."""
    return ch.isspace() and ch not in _NOT_GO_SPACE


def is_ascii_space(ch: str) -> bool:
    """Go's `unicode.IsSpace(rune(b))` on one byte, as BuildKit's byte-wise loops (flag
    extraction, the HEALTHCHECK type) use it: only ASCII whitespace can match there."""
    return ch in "\t\n\v\f\r "


def trim_space(text: str) -> str:
    """Go's `strings.TrimSpace`."""
    start, end = 0, len(text)
    while start < end and is_space(text[start]):
        start += 1
    while end > start and is_space(text[end - 1]):
        end -= 1
    return text[start:end]


def trim_left_space(text: str) -> str:
    """Go's `strings.TrimLeftFunc(s, unicode.IsSpace)`."""
    start = 0
    while start < len(text) and is_space(text[start]):
        start += 1
    return text[start:]


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
               "\t": "\\t", "\v": "\\v", "\\": "\\\\", '"': '\\"'}


def go_quote(text: str) -> str:
    """Go's `strconv.Quote`: printable characters as they are, the rest escaped.

    Python's `isprintable` and Go's `IsPrint` agree (letters, marks, numbers,
    punctuation, symbols and the ASCII space). Lone surrogates from a
    `surrogateescape`-decoded file stand for invalid UTF-8 bytes, which Go prints as
    `\\xNN`."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch.isprintable():
            out.append(ch)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


# --- words and flags --------------------------------------------------------------------

_SPACES, _WORD, _QUOTE = 0, 1, 2


def split_words(rest: str, escape: str) -> list[str]:
    """BuildKit's `parseWords`: whitespace-separated words, quotes and escapes kept.

    A quoted empty string (`""`) is still a word. Inside single quotes the escape
    character is literal; elsewhere it keeps the next character in the word together
    with itself. An escape at the very end of the text is dropped."""
    words: list[str] = []
    buf: list[str] = []
    phase = _SPACES
    quote = ""
    blank_ok = False
    i, n = 0, len(rest)
    while i < n:
        ch = rest[i]
        if phase == _SPACES:
            if is_space(ch):
                i += 1
                continue
            phase = _WORD
        if phase == _WORD:
            if is_space(ch):
                if blank_ok or buf:
                    words.append("".join(buf))
                buf, blank_ok, phase = [], False, _SPACES
                i += 1
                continue
            if ch in "'\"":
                quote, blank_ok, phase = ch, True, _QUOTE
            elif ch == escape:
                if i + 1 == n:
                    i += 1
                    continue
                buf.append(ch)
                i += 1
                ch = rest[i]
            buf.append(ch)
            i += 1
            continue
        # inside quotes
        if ch == quote:
            phase = _WORD
        elif ch == escape and quote != "'":
            if i + 1 == n:
                phase = _WORD
                i += 1
                continue
            buf.append(ch)
            i += 1
            ch = rest[i]
        buf.append(ch)
        i += 1
    if phase != _SPACES and (blank_ok or buf):
        words.append("".join(buf))
    return words


def extract_flags(line: str, escape: str) -> tuple[str, list[str]]:
    """BuildKit's `extractBuilderFlags`: the leading `--flag` words of an instruction's
    arguments (quotes removed, escapes applied) and the text after them.

    BuildKit walks this text byte by byte, so only ASCII whitespace separates flags."""
    flags: list[str] = []
    buf: list[str] = []
    phase = _SPACES
    quote = ""
    blank_ok = False
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if phase == _SPACES:
            if is_ascii_space(ch):
                i += 1
                continue
            if ch != "-" or i + 1 == n or line[i + 1] != "-":
                return line[i:], flags
            phase = _WORD
        if phase == _WORD:
            if is_ascii_space(ch):
                word = "".join(buf)
                phase = _SPACES
                if word == "--":
                    return line[i:], flags
                if blank_ok or word:
                    flags.append(word)
                buf, blank_ok = [], False
                i += 1
                continue
            if ch in "'\"":
                quote, blank_ok, phase = ch, True, _QUOTE
                i += 1
                continue
            if ch == escape:
                if i + 1 == n:
                    i += 1
                    continue
                i += 1
                ch = line[i]
            buf.append(ch)
            i += 1
            continue
        # inside quotes: the escape works even in single quotes here (unlike split_words)
        if ch == quote:
            phase = _WORD
            i += 1
            continue
        if ch == escape:
            if i + 1 == n:
                phase = _WORD
                i += 1
                continue
            i += 1
            ch = line[i]
        buf.append(ch)
        i += 1
    if phase != _SPACES:
        word = "".join(buf)
        if word != "--" and (blank_ok or word):
            flags.append(word)
    return "", flags


# --- heredoc markers --------------------------------------------------------------------

class HeredocLexError(ValueError):
    """The shell lexer could not read a heredoc word (an unterminated quote, `${`)."""


class HeredocWord(NamedTuple):
    """A `<<WORD` marker as found on an instruction line (its body comes later)."""

    name: str
    expand: bool
    chomp: bool
    fd: int


class _Words:
    """Collects whitespace-separated words as BuildKit's shell lexer does: characters
    produced by quotes or `<<` stick to the current word even when they are spaces.

    The character buffer is the scanner's, shared with the collectors of nested `${…}`
    scans and emptied when one starts — BuildKit's lexer does the same, which drops
    what came just before a `${…}` from its word (`<<${X:-y}` is no heredoc marker)."""

    def __init__(self, buf: list[str]) -> None:
        buf.clear()
        self.buf = buf
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if not is_space(ch):
            self.add_raw(ch)
        elif self.in_word and self.buf:
            self.words.append("".join(self.buf))
            self.buf.clear()
            self.in_word = False

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw(self, text: str) -> None:
        self.buf.append(text)
        self.in_word = True

    def result(self) -> list[str]:
        if self.buf:
            self.words.append("".join(self.buf))
            self.buf.clear()
            self.in_word = False
        return self.words


class _ShellScan:
    """The subset of BuildKit's shell lexer that heredoc detection runs: word splitting,
    quotes, escapes and `$`-references, with every variable unset and left as written."""

    def __init__(self, text: str, raw_quotes: bool, raw_escapes: bool) -> None:
        self.text = text
        self.pos = 0
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.word_buf: list[str] = []

    def peek(self) -> str | None:
        return self.text[self.pos] if self.pos < len(self.text) else None

    def next(self) -> str | None:
        ch = self.peek()
        if ch is not None:
            self.pos += 1
        return ch

    def words(self) -> list[str]:
        return self.until(None, self.raw_escapes)[1]

    def until(self, stop: str | None, raw_escapes: bool) -> tuple[str, list[str]]:
        saved, self.raw_escapes = self.raw_escapes, raw_escapes
        try:
            return self._until(stop)
        finally:
            self.raw_escapes = saved

    def _until(self, stop: str | None) -> tuple[str, list[str]]:
        result: list[str] = []
        words = _Words(self.word_buf)
        while (ch := self.peek()) is not None:
            if stop is not None and ch == stop:
                self.pos += 1
                return "".join(result), words.result()
            if ch in "$<'\"":
                part = {"$": self.dollar, "<": self.angle, "'": self.single_quoted,
                        '"': self.double_quoted}[ch]()
                result.append(part)
                if ch == "$":
                    words.add_string(part)
                else:
                    words.add_raw(part)
                continue
            self.pos += 1
            if ch == _SHELL_ESCAPE:
                if self.raw_escapes:
                    words.add_raw(ch)
                    result.append(ch)
                escaped = self.next()
                if escaped is None:
                    break
                ch = escaped
                words.add_raw(ch)
            else:
                words.add_char(ch)
            result.append(ch)
        if stop is not None:
            raise HeredocLexError(
                f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.result()

    def single_quoted(self) -> str:
        self.pos += 1
        out = ["'"] if self.raw_quotes else []
        while True:
            ch = self.next()
            if ch is None:
                raise HeredocLexError(
                    "unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                if self.raw_quotes:
                    out.append(ch)
                return "".join(out)
            out.append(ch)

    def double_quoted(self) -> str:
        self.pos += 1
        out = ['"'] if self.raw_quotes else []
        while True:
            ch = self.peek()
            if ch is None:
                raise HeredocLexError(
                    "unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self.pos += 1
                if self.raw_quotes:
                    out.append(ch)
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
                continue
            self.pos += 1
            if ch == _SHELL_ESCAPE:
                if self.raw_escapes:
                    out.append(ch)
                after = self.peek()
                if after is None:
                    continue
                if after in ('"', "$", _SHELL_ESCAPE):
                    ch = after
                    self.pos += 1
            out.append(ch)

    def angle(self) -> str:
        self.pos += 1
        if self.peek() != "<":
            return "<"
        self.pos += 1
        start = self.pos
        while self.peek() in ("\t", "\r", " "):
            self.pos += 1
        return "<<" + self.text[start:self.pos]

    def name(self) -> str:
        start = self.pos
        ch = self.peek()
        if ch is not None and ch.isdecimal():
            while (ch := self.peek()) is not None and ch.isdecimal():
                self.pos += 1
            return self.text[start:self.pos]
        if ch is not None and ch in _SPECIAL_PARAMS:
            self.pos += 1
            return ch
        while (ch := self.peek()) is not None and (ch.isalpha() or ch.isdecimal()
                                                   or ch == "_"):
            self.pos += 1
        return self.text[start:self.pos]

    def dollar(self) -> str:
        """A `$` reference with the variable unset: written back as it was."""
        self.pos += 1
        if self.peek() != "{":
            name = self.name()
            return "$" + name
        self.pos += 1
        ch = self.peek()
        if ch is None:
            raise HeredocLexError("syntax error: missing '}'")
        if ch in "{}:":
            raise HeredocLexError("syntax error: bad substitution")
        name = self.name()
        op = self.next()
        if op == "}":
            return "${" + name + "}"
        if op == "/":
            if self.peek() == "/":
                self.pos += 1
            pattern = self._operand("/", True, "syntax error: missing '/' in ${}")
            replacement = self._operand("}", True, "syntax error: missing '}'")
            return "${" + name + "/" + pattern + "/" + replacement + "}"
        mod = op or "\ufffd"
        null_is_unset = op == ":"
        if null_is_unset:
            op = self.next()
            mod += op or "\ufffd"
        elif op not in ("+", "-", "?", "#", "%"):
            raise HeredocLexError(f"unsupported modifier ({mod}) in substitution")
        raw = op in ("#", "%")
        if null_is_unset and raw:
            raise HeredocLexError(f"unsupported modifier ({mod}) in substitution")
        word = self._operand("}", raw, "syntax error: missing '}'")
        return "${" + name + mod + word + "}"

    def _operand(self, stop: str, raw_escapes: bool, at_eof: str) -> str:
        try:
            return self.until(stop, raw_escapes)[0]
        except HeredocLexError:
            if self.peek() is None:
                raise HeredocLexError(at_eof) from None
            raise


def _quote_count(word: str) -> int:
    return word.count("'") + word.count('"')


def parse_heredoc_word(word: str) -> HeredocWord | None:
    """BuildKit's `ParseHeredoc`: the marker a single word stands for, or None.

    Raises HeredocLexError when the delimiter cannot be lexed (`<<'EOF`)."""
    match = _HEREDOC_WORD.fullmatch(word)
    if match is None or not match[3]:
        return None
    fd = int(match[1]) if match[1] else 0
    rest = match[3]
    cooked = _ShellScan(rest, raw_quotes=False, raw_escapes=False).words()
    if len(cooked) != 1:
        return None
    raw = _ShellScan(rest, raw_quotes=True, raw_escapes=False).words()
    if len(raw) != len(cooked):
        raise HeredocLexError(
            f"internal lexing of heredoc produced inconsistent results: {rest}")
    expand = _quote_count(cooked[0]) == _quote_count(raw[0])
    return HeredocWord(cooked[0], expand, match[2] == "-", fd)


def heredocs_in_line(line: str) -> list[HeredocWord]:
    """The heredoc markers of an instruction line, in order (BuildKit's
    `heredocsFromLine`). A line the shell lexer cannot read has none."""
    try:
        words = _ShellScan(line, raw_quotes=True, raw_escapes=True).words()
    except HeredocLexError:
        return []
    found = []
    for word in words:
        heredoc = parse_heredoc_word(word)
        if heredoc is not None:
            found.append(heredoc)
    return found
