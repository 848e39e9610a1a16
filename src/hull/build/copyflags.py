"""The flags of COPY and ADD that are not about paths: --chown, --chmod and --exclude.

--chown names are looked up in the DESTINATION's /etc/passwd and /etc/group, as BuildKit
does, read inside the rootfs (openat2 RESOLVE_IN_ROOT: an image's /etc/passwd symlinked to
the host's gives the image's path, not the host file) and never through the host's NSS,
which would load code and read users that are not the image's. --chmod is octal, or
chmod(1)'s symbolic syntax applied to each entry's own mode (BuildKit's dchapes-mode,
umask 0). --exclude patterns are moby/patternmatcher's, matched during the walk with each
pattern's result for the parent directory carried down, as fsutil's copier does.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
from dataclasses import dataclass

from hull.build.errors import BuildError
from hull.linux import fs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    MatchState = tuple[bool, ...] | None

_MAX_USER_FILE = 10 << 20   # BuildKit refuses a larger /etc/passwd or /etc/group


# --- --chown --------------------------------------------------------------------------

def resolve_owner(rootfs: str, chown: str) -> tuple[int, int] | None:
    """--chown=USER[:GROUP] as BuildKit reads it: numbers (and "root") as ids, names from
    the destination's /etc/passwd and /etc/group (read inside rootfs, never the host's
    NSS). USER alone takes USER's primary group (a number: the same number as gid); an
    empty part is 0. Unknown names are an error here, as in Docker's classic builder
    (BuildKit silently uses 0)."""
    if not chown:
        return None
    user, sep, group = chown.partition(":")
    root_fd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        uid = _number(user)
        if uid is not None:
            gid = uid
        elif not user:
            uid = gid = 0
        else:
            found = _lookup(root_fd, "etc/passwd", user, 2)
            if found is None:
                raise BuildError("unable to convert uid/gid chown string to host mapping: "
                                 f"can't find uid for user {user}: no such user: {user}")
            uid, gid = found
        if sep:
            number = _number(group)
            if number is not None:
                gid = number
            elif not group:
                gid = 0
            else:
                entry = _lookup(root_fd, "etc/group", group, 2)
                if entry is None:
                    raise BuildError("unable to convert uid/gid chown string to host "
                                     f"mapping: can't find gid for group {group}: no such "
                                     f"group: {group}")
                gid = entry[0]
    finally:
        os.close(root_fd)
    return uid, gid


def _number(text: str) -> int | None:
    if text == "root":
        return 0
    if re.fullmatch(r"\+?[0-9]+", text) and int(text) < 1 << 31:
        return int(text)
    return None


def _lookup(root_fd: int, path: str, name: str, id_field: int) -> tuple[int, ...] | None:
    """The numeric fields from id_field on of the first line of the rootfs's passwd or
    group file whose first field is name; None when absent. The file is opened inside the
    rootfs (a symlink there cannot reach the host's) and must be a regular file."""
    try:
        fd = fs.open_in_root(root_fd, path, os.O_RDONLY | os.O_NONBLOCK)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        raise BuildError(f"open /{path}: {e.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise BuildError(f"/{path} is not a regular file")
        chunks: list[bytes] = []
        size = 0
        while size <= _MAX_USER_FILE and (chunk := os.read(fd, 1 << 16)):
            chunks.append(chunk)
            size += len(chunk)
        data = b"".join(chunks)
    finally:
        os.close(fd)
    if len(data) > _MAX_USER_FILE:
        raise BuildError(f'"/{path}" exceeds {_MAX_USER_FILE} bytes')
    for line in data.decode("utf-8", "replace").splitlines():
        fields = line.strip().split(":")
        if fields[0] == name and len(fields) > id_field:
            # Go's user package reads a malformed id as 0; the same here
            ids = [int(f) if f.isascii() and f.isdigit() else 0
                   for f in fields[id_field:id_field + 2]]
            return (*ids, 0)[:2]
    return None


# --- --chmod --------------------------------------------------------------------------

_WHO = {"u": 0o4700, "g": 0o2070, "o": 0o0007, "a": 0o6777}
_SHIFT = {"u": 6, "g": 3, "o": 0}


@dataclass(frozen=True)
class SymbolicMode:
    """A symbolic --chmod (chmod(1) syntax, umask 0): applied to each copied entry's own
    mode, so `a+X` differs between files and directories."""

    text: str
    clauses: tuple[tuple[str, str, str], ...]   # (who, op, perms)

    def apply(self, mode: int, is_dir: bool) -> int:
        """The permission bits mode becomes. BuildKit parses with BSD's setmode, so `t`
        counts for u/g/a but not for o alone (GNU chmod: the other way round)."""
        original = mode
        for who, op, perms in self.clauses:
            mask = 0
            for w in who or "a":
                mask |= _WHO[w]
            bits = 0
            for p in perms:
                if p in "rwx":
                    bits |= {"r": 0o444, "w": 0o222, "x": 0o111}[p]
                elif p == "X":
                    if op == "-" or is_dir or original & 0o111:
                        bits |= 0o111
                elif p == "s":
                    bits |= 0o6000
                elif p == "t":
                    if not who or set(who) - {"o"}:
                        mask |= 0o1000
                        bits |= 0o1000
                else:   # u, g or o: copy that class's current bits
                    bits |= ((mode >> _SHIFT[p]) & 7) * 0o111
            bits &= mask
            if op == "+":
                mode |= bits
            elif op == "-":
                mode &= ~bits
            else:
                mode = (mode & ~mask) | bits
        return mode & 0o7777


def parse_chmod(chmod: str) -> int | SymbolicMode | None:
    """--chmod: octal up to 07777 gives an int, chmod(1) symbolic syntax a SymbolicMode;
    "" is none. Errors are BuildKit's."""
    if not chmod:
        return None
    octal_error = BuildError(f"invalid chmod parameter: '{chmod}'. it should be octal "
                             "string and between 0 and 07777")
    if chmod[0].isdigit():
        if not re.fullmatch(r"[0-7]+", chmod) or int(chmod, 8) > 0o7777:
            raise octal_error
        return int(chmod, 8)
    clauses: list[tuple[str, str, str]] = []
    for clause in chmod.split(","):
        m = re.fullmatch(r"([ugoa]*)((?:[-+=][rwxXstugo]*)+)", clause)
        if m is None:
            raise BuildError(f"invalid chmod parameter: '{chmod}': invalid syntax")
        for op, perms in re.findall(r"([-+=])([rwxXstugo]*)", m.group(2)):
            clauses.append((m.group(1), op, perms))
    return SymbolicMode(chmod, tuple(clauses))


def new_mode(mode: int | SymbolicMode | None, st_mode: int) -> int:
    """A copied entry's permission bits: its own, or --chmod's (fsutil's copyFileInfo)."""
    if mode is None:
        return stat.S_IMODE(st_mode)
    if isinstance(mode, int):
        return mode & 0o7777
    return mode.apply(stat.S_IMODE(st_mode), stat.S_ISDIR(st_mode))


# --- --exclude ------------------------------------------------------------------------

def clean(path: str) -> str:
    """Go's filepath.Clean (posixpath.normpath keeps a leading "//")."""
    cleaned = posixpath.normpath(path) if path else "."
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


class _Pattern:
    """One moby/patternmatcher pattern: exact, prefix (`foo**`), suffix (`**foo`) or a
    regular expression, decided as patternmatcher decides it."""

    def __init__(self, text: str) -> None:
        self.negated = text.startswith("!")
        if self.negated:
            text = text[1:]
        self.text = text
        kind, regex, i = "exact", "^", 0
        while i < len(text):
            ch, start = text[i], i
            if text.startswith("**", i):
                i += 2
                if text.startswith("/", i):
                    i += 1
                if i == len(text):
                    if kind == "exact":
                        kind = "prefix"
                    else:
                        regex, kind = regex + ".*", "regexp"
                else:
                    regex, kind = regex + "(.*/)?", "regexp"
                if start == 0:
                    kind = "suffix"
                continue
            if ch == "*":
                regex, kind = regex + "[^/]*", "regexp"
            elif ch == "?":
                regex, kind = regex + "[^/]", "regexp"
            elif ch in ".+()|{}$":
                regex += "\\" + ch
            elif ch == "\\":
                if i + 1 < len(text):
                    i += 1
                    regex, kind = regex + re.escape(text[i]), "regexp"
                else:
                    regex += "\\\\"
            elif ch in "[]":
                regex, kind = regex + ch, "regexp"
            else:
                regex += re.escape(ch) if ch in "^" else ch
            i += 1
        self.kind = kind
        try:
            self.regex = re.compile(regex + "$")
        except re.error:
            raise BuildError(f"invalid exclude pattern {text!r}: syntax error in "
                             "pattern") from None

    def match(self, path: str) -> bool:
        if self.kind == "exact":
            return path == self.text
        if self.kind == "prefix":
            return path.startswith(self.text[:-2])
        if self.kind == "suffix":
            suffix = self.text[2:]
            return path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
        return self.regex.match(path) is not None


class Excludes:
    """--exclude patterns; match() carries each pattern's result for the parent directory
    down the walk, as patternmatcher's MatchesUsingParentResults does."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns: list[_Pattern] = []
        for raw in patterns:
            text = raw.strip()
            if not text:
                continue
            text = clean(text)
            if text == "!":
                raise BuildError('illegal exclusion pattern: "!"')
            self.patterns.append(_Pattern(text))
        self.negations = any(p.negated for p in self.patterns)

    def match(self, path: str, parent: MatchState) -> tuple[bool, MatchState]:
        matched = False
        state: list[bool] = []
        for i, pattern in enumerate(self.patterns):
            hit = bool(parent and parent[i])
            if not hit:
                if pattern.negated != matched:
                    state.append(False)
                    continue
                hit = pattern.match(path)
                if not hit and parent is None and "/" in path:
                    dirs = path.split("/")[:-1]
                    hit = any(pattern.match("/".join(dirs[:n])) for n in range(1, len(dirs) + 1))
            state.append(hit)
            if hit:
                matched = not pattern.negated
        return matched, tuple(state)
