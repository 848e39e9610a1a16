"""Instruction flags (`COPY --from=build`, `RUN --mount=…`, `HEALTHCHECK --interval=30s`)
read the way BuildKit's `BFlags` reads them, and the Go value formats they carry.

Each instruction declares the flags it accepts, then the flags written on it are checked
against those: a flag is `--name=value`; a boolean may also be bare (`--link`) and takes
only true/false (any case); a string flag needs its `=` (an empty value is allowed);
only the "strings" kind (`--mount`, `--exclude`, `--device`) may be repeated. Unknown
flags are errors naming the flag, with a "did you mean" suggestion when one is close,
because a misspelled flag silently ignored would build something else.

Durations use Go's `time.ParseDuration` syntax (`1m30s`, `500ms`, `1.5h`) since that is
what Dockerfiles written for Docker contain; they come back as integer nanoseconds, the
unit Docker's image config stores them in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum


class FlagError(ValueError):
    """A flag that is unknown, repeated, missing its value or of the wrong kind."""


class FlagKind(Enum):
    BOOL = "bool"
    STRING = "string"
    STRINGS = "strings"


@dataclass
class Flag:
    """One declared flag and, after `BFlags.parse`, what was given for it."""

    name: str
    kind: FlagKind
    value: str = ""
    values: list[str] = field(default_factory=list)
    used: bool = False

    @property
    def is_true(self) -> bool:
        return self.value == "true"


class BFlags:
    """The flags written on one instruction, checked against the ones it declares."""

    def __init__(self, args: list[str]) -> None:
        self.args = list(args)
        self.flags: dict[str, Flag] = {}

    def _add(self, name: str, kind: FlagKind, value: str = "") -> Flag:
        if name in self.flags:   # a programming error in the instruction's parser
            raise ValueError(f"Duplicate flag defined: {name}")
        flag = Flag(name, kind, value)
        self.flags[name] = flag
        return flag

    def add_bool(self, name: str, default: bool = False) -> Flag:
        return self._add(name, FlagKind.BOOL, "true" if default else "false")

    def add_string(self, name: str, default: str = "") -> Flag:
        return self._add(name, FlagKind.STRING, default)

    def add_strings(self, name: str) -> Flag:
        return self._add(name, FlagKind.STRINGS)

    def used(self) -> list[str]:
        """The names of the flags that were given, in declaration order."""
        return [name for name, flag in self.flags.items() if flag.used]

    def parse(self) -> None:
        """Check the given flags and fill in the declared ones. Raises FlagError."""
        for arg in self.args:
            if arg == "--":
                return   # POSIX: what follows is not flags
            if not arg.startswith("--"):
                raise FlagError(f"arg should start with -- : {arg}")
            written, has_value, value = arg.partition("=")
            name = written[2:]
            flag = self.flags.get(name)
            if flag is None:
                raise FlagError(suggest(f"unknown flag: {written}", name,
                                        list(self.flags), case_sensitive=True))
            if flag.used and flag.kind is not FlagKind.STRINGS:
                raise FlagError(f"duplicate flag specified: {written}")
            flag.used = True
            if flag.kind is FlagKind.BOOL:
                if has_value and not value:
                    raise FlagError(f"missing a value on flag: {written}")
                lowered = value.lower()
                if lowered not in ("", "true", "false"):
                    raise FlagError(
                        f"expecting boolean value for flag {written}, not: {value}")
                flag.value = "false" if lowered == "false" else "true"
            elif not has_value:
                raise FlagError(f"missing a value on flag: {written}")
            elif flag.kind is FlagKind.STRING:
                flag.value = value
            else:
                flag.values.append(value)


# --- "did you mean" -----------------------------------------------------------------------

def _levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                                previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _match_case(option: str, written: str) -> str:
    if written == written.lower():
        return option.lower()
    if written == written.upper():
        return option.upper()
    return option


def suggest(message: str, value: str, options: list[str], case_sensitive: bool) -> str:
    """BuildKit's `suggest.WrapError`: append "(did you mean X?)" when one option is
    within edit distance 2 of `value` (the closest, the first in sorted order on ties).
    An exact match means the error is about something else: no suggestion."""
    wanted = value if case_sensitive else value.lower()
    best, best_distance = "", 3
    for option in sorted(options):
        candidate = option if case_sensitive else option.lower()
        if candidate == wanted:
            return message
        distance = _levenshtein(wanted, candidate)
        if distance < best_distance:
            best = candidate if case_sensitive else _match_case(candidate, value)
            best_distance = distance
    return f"{message} (did you mean {best}?)" if best else message


# --- Go value formats ---------------------------------------------------------------------

_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000,
          "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}
_DURATION_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)")
_MAX_INT64 = 2**63 - 1


def parse_go_duration(text: str) -> int:
    """Go's `time.ParseDuration`, in nanoseconds: a sign, then one or more
    `<decimal><unit>` parts (`1h30m`, `.5s`, `2.25ms`). Raises ValueError with Go's
    message."""
    quoted = '"' + text + '"'
    rest = text
    negative = False
    if rest[:1] in ("-", "+"):
        negative = rest[0] == "-"
        rest = rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise ValueError(f"time: invalid duration {quoted}")
    total = 0
    while rest:
        match = _DURATION_PART.match(rest)
        assert match is not None   # every part of the pattern may be empty
        whole, frac, unit = match[1], match[2] or "", match[3]
        if not whole and not frac:
            raise ValueError(f"time: invalid duration {quoted}")
        if not unit:
            raise ValueError(f"time: missing unit in duration {quoted}")
        if unit not in _UNITS:
            raise ValueError(f'time: unknown unit "{unit}" in duration {quoted}')
        scale = _UNITS[unit]
        total += int(whole or "0") * scale
        if frac:
            total += int(frac) * scale // 10 ** len(frac)
        if total > _MAX_INT64 + (1 if negative else 0):
            raise ValueError(f"time: invalid duration {quoted}")
        rest = rest[match.end():]
    return -total if negative else total


def parse_go_int32(text: str) -> int:
    """Go's `strconv.ParseInt(s, 10, 32)`, with its error messages."""
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise ValueError(f'strconv.ParseInt: parsing "{text}": invalid syntax')
    value = int(text)
    if not -(2**31) <= value < 2**31:
        raise ValueError(f'strconv.ParseInt: parsing "{text}": value out of range')
    return value
