"""`.dockerignore`: which paths of the build context a build never sees, and the
`filepath.Match` glob syntax that COPY/ADD sources share with it.

Reading the file (as BuildKit's dockerui frontend does): `<Dockerfile>.dockerignore` next
to the Dockerfile wins when it exists (even empty); otherwise `<context>/.dockerignore`;
otherwise nothing is ignored. A line starting with `#` is a comment (only at column 0: an
indented `#` is a pattern), blank lines are dropped, each pattern is trimmed, cleaned the
way Go's `filepath.Clean` does and loses one leading `/` (so `/foo` means `foo`), and
`!` marks an exception that re-includes what earlier lines excluded.

Matching (moby/patternmatcher's semantics, which BuildKit uses through fsutil): a pattern
*hits* a path when it matches the path itself or any of its parent directories; of the
patterns that hit, the last one decides — a plain pattern excludes, an exception
re-includes. So `docs` + `!docs/README.md` keeps only the README of docs, and `*` +
`!*/*.txt` keeps every `x/y.txt` (moby#30018). Because a hit on a directory carries down
to everything below it, the matcher only ever needs the index of the last pattern that hit
a directory to continue matching its children; that is the state Tree's walk carries.

Inside a pattern `*` and `?` never cross `/`, `**` crosses any number of directories
(`**/x` also matches `x` at the top, `x/**` everything below x but not x itself), `[a-z]`
and `[^a]` are classes and `\\` escapes the next character. Like moby, a pattern without
wildcards is compared as a string, `x/**` as a prefix and `**x` as a suffix (so `**file`
also matches `myfile`). Unlike moby — which pastes classes and escapes into a Go regexp — a
`^` outside a class is a plain character and `\\d` means `d`, as `filepath.Match` reads
them. A malformed pattern is an error naming it, raised when the matcher is built.

A directory that is excluded need not be walked when no exception pattern could hit a path
below it (`may_skip_dir`): that decision compares the exception's leading path components
with the directory's, component by component, and gives up (walks) once a `**` is reached.
"""

from __future__ import annotations

import os
import posixpath
import re

from hull.build.errors import BuildError

_EXACT, _PREFIX, _SUFFIX, _REGEX = range(4)
_NEVER = "(?!)"
_ANY = "(?s:.)"


class GlobSyntaxError(ValueError):
    """A pattern `filepath.Match` would refuse (Go's ErrBadPattern)."""


def go_clean(path: str) -> str:
    """Go's filepath.Clean on a slash path ("" -> ".", exactly one leading slash kept)."""
    if not path:
        return "."
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def _go_strip(text: str) -> str:
    """strings.TrimSpace: Unicode white space, which (unlike str.strip) excludes the
    ASCII file/group/record/unit separators."""
    start, end = 0, len(text)
    while start < end and _is_go_space(text[start]):
        start += 1
    while end > start and _is_go_space(text[end - 1]):
        end -= 1
    return text[start:end]


def _is_go_space(ch: str) -> bool:
    return ch.isspace() and ch not in "\x1c\x1d\x1e\x1f"


def has_wildcards(text: str) -> bool:
    """True when text has an unescaped `*`, `?` or `[` (BuildKit's containsWildcards)."""
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] in "*?[":
            return True
        i += 1
    return False


def _class_char(pattern: str, i: int) -> tuple[str, int]:
    """One (possibly escaped) character of a class at pattern[i], as Go's getEsc reads
    it: `-` and `]` must be escaped, and the class must go on after it."""
    if i >= len(pattern) or pattern[i] in "-]":
        raise GlobSyntaxError
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            raise GlobSyntaxError
    if i + 1 >= len(pattern):
        raise GlobSyntaxError
    return pattern[i], i + 1


def _bracket(pattern: str, i: int, strict: bool) -> tuple[str, int]:
    """The class starting at pattern[i] == "[" as a Python regex, and the index after its
    "]". A reversed range (`[z-a]`) matches nothing for filepath.Match but fails moby's
    regexp: `strict` makes it an error."""
    j = i + 1
    negated = j < len(pattern) and pattern[j] == "^"
    if negated:
        j += 1
    parts: list[str] = []
    count = 0
    while True:
        if j < len(pattern) and pattern[j] == "]" and count > 0:
            j += 1
            break
        lo, j = _class_char(pattern, j)
        hi = lo
        if pattern[j] == "-":
            hi, j = _class_char(pattern, j + 1)
        count += 1
        if lo > hi:
            if strict:
                raise GlobSyntaxError
            continue
        parts.append(re.escape(lo) if lo == hi else f"{re.escape(lo)}-{re.escape(hi)}")
    if not parts:
        return (_ANY if negated else _NEVER), j
    return ("[^" if negated else "[") + "".join(parts) + "]", j


def check_syntax(pattern: str) -> None:
    """Raise GlobSyntaxError where Go's filepath.Match(pattern, ...) would return
    ErrBadPattern: a dangling `\\` or a malformed class, wherever it is."""
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\":
            if i + 1 >= len(pattern):
                raise GlobSyntaxError
            i += 2
        elif pattern[i] == "[":
            _, i = _bracket(pattern, i, strict=False)
        else:
            i += 1


def compile_glob(component: str) -> re.Pattern[str]:
    """One path component of a COPY source as filepath.Match reads it: `*`, `?`, classes,
    `\\` escapes. Raises GlobSyntaxError on a malformed pattern."""
    out: list[str] = []
    i = 0
    while i < len(component):
        ch = component[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\":
            if i + 1 >= len(component):
                raise GlobSyntaxError
            i += 1
            out.append(re.escape(component[i]))
        elif ch == "[":
            cls, i = _bracket(component, i, strict=False)
            out.append(cls)
            continue
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out))


class _Pattern:
    """One cleaned ignore pattern, compiled the way moby's Pattern.compile classifies it."""

    def __init__(self, text: str, exclusion: bool) -> None:
        self.text = text
        self.exclusion = exclusion
        self.kind, self.regex = self._compile(text)
        self._components: tuple[list[re.Pattern[str]], int | None] | None = None

    @staticmethod
    def _compile(text: str) -> tuple[int, re.Pattern[str] | None]:
        out: list[str] = []
        kind = _EXACT
        i, first = 0, True
        while i < len(text):
            ch = text[i]
            if ch == "*" and text[i + 1:i + 2] == "*":
                i += 2
                if text[i:i + 1] == "/":
                    i += 1
                if i >= len(text):
                    if kind == _EXACT:
                        kind = _PREFIX
                    else:
                        out.append(".*")
                        kind = _REGEX
                else:
                    out.append("(?:.*/)?")
                    kind = _REGEX
                if first:
                    kind = _SUFFIX
                first = False
                continue
            first = False
            if ch == "*":
                out.append("[^/]*")
                kind = _REGEX
            elif ch == "?":
                out.append("[^/]")
                kind = _REGEX
            elif ch == "\\" and i + 1 < len(text):
                i += 1
                out.append(re.escape(text[i]))
                kind = _REGEX
            elif ch == "[":
                cls, i = _bracket(text, i, strict=True)
                out.append(cls)
                kind = _REGEX
                continue
            else:
                out.append(re.escape(ch))
            i += 1
        return kind, (re.compile("".join(out)) if kind == _REGEX else None)

    def match(self, path: str) -> bool:
        """Does the pattern match this path itself (parents are the caller's business)?"""
        if self.kind == _EXACT:
            return path == self.text
        if self.kind == _PREFIX:
            return path.startswith(self.text[:-2])
        if self.kind == _SUFFIX:
            suffix = self.text[2:]
            return path.endswith(suffix) or (suffix[:1] == "/" and path == suffix[1:])
        assert self.regex is not None
        return self.regex.fullmatch(path) is not None

    def could_match_below(self, dir_parts: list[str]) -> bool:
        """Could this pattern match some path strictly below the directory dir_parts?
        Errs on yes: once a component holding `**` is reached, anything could follow."""
        if self._components is None:
            comps: list[re.Pattern[str]] = []
            open_at: int | None = None
            for n, part in enumerate(self.text.split("/")):
                if "**" in part:
                    open_at = n
                    break
                try:
                    comps.append(compile_glob(part))
                except GlobSyntaxError:   # e.g. a class holding "/": give up, walk
                    open_at = n
                    break
            self._components = (comps, open_at)
        comps, open_at = self._components
        for n, part in enumerate(dir_parts):
            if open_at is not None and n >= open_at:
                return True
            if n >= len(comps) or comps[n].fullmatch(part) is None:
                return False
        return open_at is not None or len(dir_parts) < len(comps)


class PatternMatcher:
    """The compiled exclude patterns of one build context."""

    def __init__(self, patterns: list[str]) -> None:
        self._patterns: list[_Pattern] = []
        for raw in patterns:
            text = _go_strip(raw)
            if not text:
                continue
            text = go_clean(text)
            exclusion = text.startswith("!")
            if exclusion:
                if len(text) == 1:
                    raise BuildError('illegal exclusion pattern: "!"')
                text = text[1:]
            try:
                check_syntax(text)
                self._patterns.append(_Pattern(text, exclusion))
            except GlobSyntaxError:
                raise BuildError(f'invalid exclude pattern "{raw.strip()}": '
                                 "syntax error in pattern") from None
        self.has_exceptions = any(p.exclusion for p in self._patterns)

    def __bool__(self) -> bool:
        return bool(self._patterns)

    @property
    def patterns(self) -> list[str]:
        """The patterns as cleaned, exceptions with their `!`."""
        return [("!" if p.exclusion else "") + p.text for p in self._patterns]

    def last_hit(self, path: str, parent: int) -> int:
        """Index of the last pattern that hits path, given `parent`, the one that hit its
        parent directory (-1: none): only later patterns can change the answer."""
        for index in range(len(self._patterns) - 1, parent, -1):
            if self._patterns[index].match(path):
                return index
        return parent

    def excluded(self, last: int) -> bool:
        """Is a path whose last hitting pattern is `last` excluded?"""
        return last >= 0 and not self._patterns[last].exclusion

    def state(self, rel: str) -> int:
        """last_hit for rel, computed through all its parent directories."""
        last = -1
        parts = _split(rel)
        for n in range(len(parts)):
            last = self.last_hit("/".join(parts[:n + 1]), last)
        return last

    def matches(self, rel: str) -> bool:
        """True when rel (slash-separated, relative to the context) is excluded."""
        return self.excluded(self.state(rel))

    def can_skip(self, rel_dir: str, last: int) -> bool:
        """may_skip_dir with the directory's state already known."""
        if not self.excluded(last):
            return False
        parts = _split(rel_dir)
        return not any(p.exclusion and p.could_match_below(parts)
                       for p in self._patterns[last + 1:])

    def may_skip_dir(self, rel_dir: str) -> bool:
        """True when rel_dir is excluded and no exception could re-include anything below
        it: a walk need not descend (so ignored files are never even listed)."""
        return self.can_skip(rel_dir, self.state(rel_dir))


def _split(rel: str) -> list[str]:
    cleaned = go_clean(rel).lstrip("/")
    return [] if cleaned in ("", ".") else cleaned.split("/")


def parse_ignore(text: str) -> list[str]:
    """The patterns of an ignore file's text (ignorefile.ReadAll's rules)."""
    out: list[str] = []
    for number, line in enumerate(text.split("\n")):
        if line.endswith("\r"):
            line = line[:-1]
        if number == 0:
            line = line.removeprefix("\ufeff")
        if line.startswith("#"):
            continue
        line = _go_strip(line)
        if not line:
            continue
        invert = line.startswith("!")
        if invert:
            line = _go_strip(line[1:])
        if line:
            line = go_clean(line)
            if len(line) > 1 and line.startswith("/"):
                line = line[1:]
        out.append("!" + line if invert else line)
    return out


def _read_text(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    except OSError as e:
        raise BuildError(f"failed to read {os.path.basename(path)}: {e.strerror}") from None
    return data.decode("utf-8", "surrogateescape")


def read_ignore_file(context_dir: str, dockerfile: str) -> list[str]:
    """The exclude patterns of a build: `<dockerfile>.dockerignore` next to the Dockerfile
    (dockerfile: its path, absolute or relative to context_dir; "" or "-" for one read
    from stdin), else `<context_dir>/.dockerignore`, else none."""
    if dockerfile and dockerfile != "-":
        path = os.path.join(context_dir, dockerfile) + ".dockerignore"
        text = _read_text(path)
        if text is not None:
            return parse_ignore(text)
    text = _read_text(os.path.join(context_dir, ".dockerignore"))
    return parse_ignore(text) if text is not None else []
