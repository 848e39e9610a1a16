"""Variable expansion in Dockerfile instruction arguments, by BuildKit's rules.

`docker build` is BuildKit, so a Dockerfile means what BuildKit's shell lexer
(moby/buildkit frontend/dockerfile/shell) makes of it. This module reproduces that
lexer's observable behaviour — results, word splits, error texts — rather than a POSIX
shell's, because a Dockerfile that builds under Docker must build the same way here,
quirks included. The rules:

* Quotes. Text in '...' is literal. In "...", `$` still expands and the escape
  character only escapes `"`, `$` and itself (any other escape stays as written). The
  quotes themselves are removed (unless `raw_quotes`).
* Escapes. Outside quotes the escape character (`\\`, or the backtick chosen by the
  `# escape=` directive) makes the next character literal and disappears; at the very end
  of the word it is dropped.
* Parameters. `$name` and `${name}`, where a name is letters, digits and `_`, or a
  run of digits (a positional parameter), or one of the special parameters `@*#?-$!0`.
  Those are never set in a build, so they expand to nothing unless the environment
  happens to define them. A `$` not followed by a name stays a `$`.
* Modifiers. `${v:-w}` / `${v-w}` (default when unset-or-empty / unset), `${v:+w}` /
  `${v+w}` (alternative), `${v:?m}` / `${v?m}` (fail with "v: m"), `${v#p}` `${v##p}`
  `${v%p}` `${v%%p}` (trim the shortest/longest matching prefix/suffix) and `${v/p/r}`
  `${v//p/r}` (replace the first/every match). Patterns know `*` and `?` only; `\\`
  escapes `*`, `?`, `\\`, `}` and `/`. The word after a modifier is itself expanded.
  Anything else (`${v:=w}`, `${v:#p}`, `${}`, `${.}`) is an error.
* Words. `process_words` splits the expanded text on white space, except white space
  that came from quotes, escapes or a `<<` heredoc marker.

Two BuildKit quirks are reproduced on purpose, because matching Docker's output matters
more than being right: the word splitter's buffer is shared with nested `${v:-w}`
expansions, so `ab${x:-y}c` splits into ["yc"] (the result string is still "abyc");
and with `skip_unset_env`, `${v//p/r}` is re-emitted as `${v/p/r}`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from hull.build.errors import DockerfileSyntaxError

__all__ = ["Expansion", "Lexer", "ShellError"]

_EOF = ""  # what the cursor reports past the last character
_GO_BAD_RUNE = "\ufffd"  # how Go prints its EOF rune in an error message
_SPECIAL_PARAMS = frozenset("@*#?-$!0")
_MODIFIERS = frozenset("+-?#%")
_HEREDOC_BLANKS = frozenset("\t\r ")
# Go's unicode.IsSpace (the White_Space property), which differs from str.isspace():
# Python also counts U+001C..U+001F as space, Go does not.
_GO_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
               "\t": "\\t", "\v": "\\v", '"': '\\"', "\\": "\\\\"}


class ShellError(DockerfileSyntaxError):
    """A word the lexer cannot expand: unmatched quote, bad `${...}`, `${v?msg}` firing.

    The message is BuildKit's (`failed to process "<word>": <reason>`) so that users see
    what Docker would show; `word` and `reason` are kept apart for callers that re-word
    it or attach a Dockerfile line.
    """

    word: str = ""
    reason: str = ""


class _Fail(Exception):
    """Raised deep inside a nested expansion; `Lexer.expand` turns it into ShellError once,
    because BuildKit wraps the reason with the whole word only at the top."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Expansion:
    """Everything one pass over a word yields, so a caller needing both the string and
    the words (or the variables used) does not expand twice."""

    result: str
    """The word as one string: ProcessWord's answer."""
    words: list[str]
    """The word split after expansion: ProcessWords' answer."""
    matched: frozenset[str]
    """Variables the word looked up that were set (even to ""): the build args it used."""
    unmatched: frozenset[str]
    """Variables it looked up that were not set: fuel for the UndefinedVar warning."""


class Lexer:
    """Expands Dockerfile words. Stateless between calls, so one instance may be shared
    (BuildKit's is not safe for concurrent use; this one keeps per-call state apart).

    `escape` is the Dockerfile's escape character. The keyword options are BuildKit's
    switches for its internal uses: `raw_quotes` keeps quote characters in the result
    (heredoc detection, RUN's display name), `raw_escapes` keeps escape characters,
    `skip_process_quotes` treats quotes as ordinary characters (heredoc bodies), and
    `skip_unset_env` leaves references to unset variables as written.
    """

    def __init__(self, escape: str = "\\", *, raw_quotes: bool = False,
                 raw_escapes: bool = False, skip_process_quotes: bool = False,
                 skip_unset_env: bool = False) -> None:
        if len(escape) != 1:
            raise ValueError(f"escape must be one character, not {escape!r}")
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_process_quotes = skip_process_quotes
        self.skip_unset_env = skip_unset_env

    def expand(self, word: str, env: Mapping[str, str]) -> Expansion:
        """Expand `word` once and report everything; the other methods are views of this.

        Raises ShellError with BuildKit's message when the word is malformed.
        """
        run = _Run(self, word, env)
        try:
            result, words = run.until(_EOF, self.raw_escapes)
        except _Fail as fail:
            error = ShellError(f"failed to process {_go_quote(word)}: {fail.reason}")
            error.word, error.reason = word, fail.reason
            raise error from None
        return Expansion(result, words, frozenset(run.matched), frozenset(run.unmatched))

    def process_word(self, word: str, env: Mapping[str, str]) -> str:
        """One value with quotes removed, escapes applied and variables expanded (the
        arguments of ENV, LABEL, WORKDIR, COPY, USER, FROM ...)."""
        return self.expand(word, env).result

    def process_words(self, word: str, env: Mapping[str, str]) -> list[str]:
        """The value split into words after expansion, as BuildKit does for EXPOSE (and
        for finding heredoc markers): `$v` holding spaces yields several words, quoted
        or escaped spaces do not split."""
        return self.expand(word, env).words

    def process_word_with_matches(self, word: str,
                                  env: Mapping[str, str]) -> tuple[str, set[str]]:
        """The expanded value and the names it referenced that were set in `env`: which
        build args a step consumed, for its cache key and the unused-arg warning."""
        expansion = self.expand(word, env)
        return expansion.result, set(expansion.matched)

    def expand_heredoc(self, content: str, env: Mapping[str, str]) -> tuple[str, set[str]]:
        """A COPY/ADD heredoc body whose delimiter was not quoted: variables expand and
        escapes apply, but quotes are kept as written, since the body is file content
        and not a shell word. Like BuildKit, the escape character here is always `\\`,
        whatever the Dockerfile's escape directive says. Returns the body and the set
        variables it used."""
        expansion = Lexer("\\", skip_process_quotes=True).expand(content, env)
        return expansion.result, set(expansion.matched)


class _Words:
    """Splits expanded text into words as it is produced. Characters from `$` expansions
    and plain text split on white space; quoted or escaped ones never do."""

    def __init__(self, buffer: list[str]) -> None:
        self.buffer = buffer  # shared with nested expansions, as in BuildKit (see module doc)
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if ch not in _GO_SPACE:
            self.add_raw(ch)
        elif self.in_word and self.buffer:
            self._flush()

    def add_text(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw(self, text: str) -> None:
        if text:
            self.buffer.append(text)
        self.in_word = True

    def _flush(self) -> None:
        self.words.append("".join(self.buffer))
        self.buffer.clear()
        self.in_word = False

    def finish(self) -> list[str]:
        if self.buffer:
            self._flush()
        return self.words


class _Run:
    """The state of one expansion: a cursor over the word, the environment, what was
    looked up, and whether escapes are currently kept (patterns keep theirs)."""

    def __init__(self, lexer: Lexer, word: str, env: Mapping[str, str]) -> None:
        # Go's text/scanner silently skips a byte-order mark at the start of its input.
        self.text = word[1:] if word.startswith("\ufeff") else word
        self.pos = 0
        self.env = env
        self.escape = lexer.escape
        self.raw_quotes = lexer.raw_quotes
        self.raw_escapes = lexer.raw_escapes
        self.quotes = not lexer.skip_process_quotes
        self.skip_unset = lexer.skip_unset_env
        self.words_buffer: list[str] = []
        self.matched: set[str] = set()
        self.unmatched: set[str] = set()

    # -- cursor -------------------------------------------------------------------------

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else _EOF

    def next(self) -> str:
        ch = self.peek()
        if ch:
            self.pos += 1
        return ch

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    # -- text ---------------------------------------------------------------------------

    def until(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        """Expand up to (and consuming) `stop`, or to the end when `stop` is _EOF.
        Used for the whole word and, recursively, for the word inside `${v:-...}`."""
        saved, self.raw_escapes = self.raw_escapes, raw_escapes
        try:
            return self._until(stop)
        finally:
            self.raw_escapes = saved

    def _until(self, stop: str) -> tuple[str, list[str]]:
        out: list[str] = []
        self.words_buffer.clear()
        words = _Words(self.words_buffer)
        while not self.at_end():
            ch = self.peek()
            if stop and ch == stop:
                self.next()
                return "".join(out), words.finish()
            if ch == "$":
                text = self.dollar()
                out.append(text)
                words.add_text(text)
                continue
            if ch == "<":
                text = self.heredoc_marker()
            elif self.quotes and ch == "'":
                text = self.single_quoted()
            elif self.quotes and ch == '"':
                text = self.double_quoted()
            else:
                self.next()
                if ch == self.escape:
                    if self.raw_escapes:
                        words.add_raw(ch)
                        out.append(ch)
                    ch = self.next()
                    if ch == _EOF:
                        break  # a trailing escape is dropped
                    words.add_raw(ch)
                else:
                    words.add_char(ch)
                out.append(ch)
                continue
            out.append(text)
            words.add_raw(text)
        if stop:
            raise _Fail(f"unexpected end of statement while looking for matching {stop}")
        return "".join(out), words.finish()

    def single_quoted(self) -> str:
        """'...': everything literal up to the next single quote, which cannot be escaped."""
        self.next()
        end = self.text.find("'", self.pos)
        if end < 0:
            self.pos = len(self.text)
            raise _Fail("unexpected end of statement while looking for matching single-quote")
        body, self.pos = self.text[self.pos:end], end + 1
        return f"'{body}'" if self.raw_quotes else body

    def double_quoted(self) -> str:
        """"...": `$` expands; the escape character escapes only `"`, `$` and itself."""
        quote = self.next()
        out = [quote] if self.raw_quotes else []
        while True:
            ch = self.peek()
            if ch == _EOF:
                raise _Fail("unexpected end of statement while looking for matching "
                            "double-quote")
            if ch == '"':
                self.next()
                if self.raw_quotes:
                    out.append(ch)
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
                continue
            self.next()
            if ch == self.escape:
                if self.raw_escapes:
                    out.append(ch)
                following = self.peek()
                if following == _EOF:
                    continue  # the missing quote is reported on the next turn
                if following in ('"', "$", self.escape):
                    ch = self.next()
            out.append(ch)

    def heredoc_marker(self) -> str:
        """`<<` and the blanks after it stay glued to the delimiter word, so that the
        parser's ProcessWords call sees `<< EOF` as one heredoc marker."""
        self.next()
        if self.peek() != "<":
            return "<"
        self.next()
        start = self.pos
        while self.peek() in _HEREDOC_BLANKS:
            self.next()
        return "<<" + self.text[start:self.pos]

    # -- parameters ---------------------------------------------------------------------

    def lookup(self, name: str) -> str | None:
        if name in self.env:
            self.matched.add(name)
            return self.env[name]
        self.unmatched.add(name)
        return None

    def name(self) -> str:
        """A parameter name: a run of digits, one special character, or letters, digits
        and underscores. Empty when none follows (the `$` is then literal)."""
        start = self.pos
        ch = self.peek()
        if ch.isdecimal():
            while self.peek().isdecimal():
                self.next()
            return self.text[start:self.pos]
        if ch in _SPECIAL_PARAMS:
            return self.next()
        while (ch := self.peek()) and (ch.isalpha() or ch.isdecimal() or ch == "_"):
            self.next()
        return self.text[start:self.pos]

    def dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            value = self.lookup(name)
            if value is None:
                return "$" + name if self.skip_unset else ""
            return value
        self.next()
        first = self.peek()
        if first == _EOF:
            raise _Fail("syntax error: missing '}'")
        if first in ("{", "}", ":"):
            raise _Fail("syntax error: bad substitution")
        name = self.name()
        op = self.next()
        op_text = op or _GO_BAD_RUNE
        if op == "}":
            value = self.lookup(name)
            if value is None:
                return "${" + name + "}" if self.skip_unset else ""
            return value
        if op == "/":
            return self.replace(name)
        colon = op == ":"
        if colon:
            op = self.next()
            op_text += op or _GO_BAD_RUNE
        elif op not in _MODIFIERS:
            raise _Fail(f"unsupported modifier ({op_text}) in substitution")
        return self.modified(name, op, op_text, colon)

    def modified(self, name: str, op: str, op_text: str, colon: bool) -> str:
        """${name<op>word} for the operators -, +, ?, #, % (with or without `:`)."""
        trim = op in ("#", "%")
        if colon and trim:
            raise _Fail(f"unsupported modifier ({op_text}) in substitution")
        word = self.nested("}", trim, "syntax error: missing '}'")
        value = self.lookup(name)
        if value is None and self.skip_unset:
            return "${" + name + op_text + word + "}"
        missing = value is None or (colon and value == "")
        if op == "-":
            return word if missing else value or ""
        if op == "+":
            return "" if missing else word
        if op == "?":
            if value is None:
                raise _Fail(f"{name}: {word or 'is not allowed to be unset'}")
            if colon and value == "":
                raise _Fail(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        if trim:
            greedy = word.startswith(op)
            pattern = word[1:] if greedy else word
            if op == "%":
                return _trim_suffix(pattern, value or "", greedy)
            return _trim_prefix(pattern, value or "", greedy)
        raise _Fail(f"unsupported modifier ({op_text}) in substitution")

    def replace(self, name: str) -> str:
        """${name/pattern/replacement} and ${name//pattern/replacement}."""
        every = self.peek() == "/"
        if every:
            self.next()
        pattern = self.nested("/", True, "syntax error: missing '/' in ${}")
        replacement = self.nested("}", True, "syntax error: missing '}'")
        value = self.lookup(name)
        if value is None and self.skip_unset:
            return "${" + name + "/" + pattern + "/" + replacement + "}"
        value = value or ""
        regex = _compile_pattern(pattern, greedy=True, anchored=False)
        if every:
            return _replace_all(regex, value, replacement)
        match = regex.search(value)
        if match is None:
            return value
        return value[:match.start()] + replacement + value[match.end():]

    def nested(self, stop: str, raw_escapes: bool, at_end: str) -> str:
        """The word inside `${...}` up to `stop`; running out of input is reported as
        the missing delimiter, whatever went wrong inside."""
        try:
            return self.until(stop, raw_escapes)[0]
        except _Fail:
            if self.at_end():
                raise _Fail(at_end) from None
            raise


# -- patterns ---------------------------------------------------------------------------

def _compile_pattern(pattern: str, *, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """A shell pattern as a regex: `*` any run (shortest unless greedy), `?` one
    character, `\\` quoting `*`, `?` or `\\`. A `\\` before `}` or `/` is how those were
    written inside `${}` and is dropped. Bracket expressions are not supported (nor are
    they by BuildKit)."""
    source = pattern[1:] if pattern.startswith("\ufeff") else pattern  # Go's scanner again
    parts = ["^"] if anchored else []
    i = 0
    while i < len(source):
        ch = source[i]
        i += 1
        if ch == "*":
            parts.append(".*" if greedy else ".*?")
        elif ch == "?":
            parts.append(".")
        elif ch == "\\":
            following = source[i] if i < len(source) else _EOF
            if following in ("}", "/"):
                continue
            if following not in ("*", "?", "\\"):
                raise _Fail(f"invalid pattern ({pattern}) in substitution: "
                            f"invalid escape '\\{following or _GO_BAD_RUNE}'")
            parts.append(re.escape(following))
            i += 1
        else:
            parts.append(re.escape(ch))
    return re.compile("".join(parts))


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    match = _compile_pattern(pattern, greedy=greedy, anchored=True).search(value)
    return value[match.end():] if match else value


def _trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    """Shortest/longest suffix: a regex finds leftmost matches only, so reverse both the
    value and the pattern (keeping each `\\x` pair in order) and trim a prefix."""
    units: list[str] = []
    i = 0
    while i < len(pattern):
        width = 2 if pattern[i] == "\\" and i + 1 < len(pattern) else 1
        units.append(pattern[i:i + width])
        i += width
    return _trim_prefix("".join(reversed(units)), value[::-1], greedy)[::-1]


def _replace_all(regex: re.Pattern[str], value: str, replacement: str) -> str:
    """Go's Regexp.ReplaceAllString: an empty match right after a match is not replaced
    (Python's re.sub would replace it), and `$0`/`${0}` in the replacement stand for the
    match, `$$` for `$`, other `$name` for nothing."""
    out: list[str] = []
    last = pos = 0
    while pos <= len(value):
        match = regex.search(value, pos)
        if match is None:
            break
        start, end = match.span()
        out.append(value[last:start])
        if end > last or start == 0:
            out.append(_go_template(replacement, match.group()))
        last = end
        pos = max(end, pos + 1)
    out.append(value[last:])
    return "".join(out)


def _go_template(template: str, whole: str) -> str:
    """Go's Regexp.Expand for a regex whose only group is the whole match."""
    out: list[str] = []
    i = 0
    while (dollar := template.find("$", i)) >= 0:
        out.append(template[i:dollar])
        i = dollar + 1
        if template.startswith("$", i):
            out.append("$")
            i += 1
            continue
        brace = template.startswith("{", i)
        start = end = i + brace
        while end < len(template) and (template[end].isalpha() or template[end].isdecimal()
                                       or template[end] == "_"):
            end += 1
        if end == start or (brace and not template.startswith("}", end)):
            out.append("$")  # malformed: the `$` is literal
            continue
        if template[start:end] == "0":
            out.append(whole)
        i = end + brace
    out.append(template[i:])
    return "".join(out)


def _go_quote(text: str) -> str:
    """Go's %q, so error messages quote the word exactly as BuildKit's do."""
    out = ['"']
    for ch in text:
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ch < " " or ch == "\x7f":
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)
