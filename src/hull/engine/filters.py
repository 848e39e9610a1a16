"""`--filter key=value` as Docker reads it: values of one key are alternatives (ORed), keys
are requirements (ANDed), labels are the exception (every label= must hold); names, IDs and
states match as regular expressions, as Docker's filters.Args.Match does. Also the times
that `--since`, `--until` and `until=` accept. Every front end (CLI, API) filters through
here, so one command filters the same way whichever way it is asked."""

from __future__ import annotations

from hull.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping


class Filters:
    """Parsed `-f` values of one command, checked against the keys it accepts."""

    def __init__(self, items: Iterable[str] | None, accepted: Iterable[str]) -> None:
        self.fields: dict[str, list[str]] = {}
        for item in items or []:
            if "=" not in item:
                raise InvalidArgument(f'invalid argument "{item}" for "-f, --filter" flag: '
                                      "bad format of filter (expected name=value)")
            key, _, value = item.partition("=")
            self.fields.setdefault(key.strip().lower(), []).append(value.strip())
        allowed = set(accepted)
        for key in self.fields:
            if key not in allowed:
                raise FilterError(f"Invalid filter '{key}'")

    def __bool__(self) -> bool:
        return bool(self.fields)

    def contains(self, key: str) -> bool:
        return key in self.fields

    def get(self, key: str) -> list[str]:
        return self.fields.get(key, [])

    def match(self, key: str, source: str) -> bool:
        """True without values for key; else when a value equals source or, read as a
        regular expression, is found in it (an invalid expression matches nothing)."""
        values = self.fields.get(key)
        if not values:
            return True
        import re
        for value in values:
            if value == source:
                return True
            try:
                if re.search(_go_regexp(value), source):
                    return True
            except re.error:
                continue
        return False

    def exact(self, key: str, source: str) -> bool:
        values = self.fields.get(key)
        return not values or source in values

    def labels(self, key: str, labels: Mapping[str, str] | None) -> bool:
        """label=KEY and label=KEY=VALUE: every one must hold (Docker's MatchKVList)."""
        values = self.fields.get(key)
        if not values:
            return True
        if not labels:
            return False
        for value in values:
            name, eq, wanted = value.partition("=")
            if name not in labels or (eq and labels[name] != wanted):
                return False
        return True

    def not_labels(self, labels: Mapping[str, str] | None) -> bool:
        """label!=…: true unless the labels match every such value (prune's rule)."""
        if not self.fields.get("label!"):
            return True
        return not self.labels("label!", labels)

    def boolean(self, key: str) -> bool | None:
        """dangling=true|false|1|0 → the bool, None when absent; anything else refused."""
        values = self.fields.get(key)
        if not values:
            return None
        if all(v in ("true", "1") for v in values):
            return True
        if all(v in ("false", "0") for v in values):
            return False
        raise FilterError(f"Invalid filter '{key}={values[0]}'")

    def until(self) -> float | None:
        """until=TIME of the prune commands: one at most."""
        values = self.fields.get("until")
        if not values:
            return None
        if len(values) > 1:
            raise FilterError("more than one until filter specified")
        return timestamp(values[0])


class FilterError(InvalidArgument):
    """Docker's daemon refuses a filter with exit 1 ("Error response from daemon: …")."""

    exit_code = 1


def _go_regexp(pattern: str) -> str:
    """Go's RE2 syntax is near enough to Python's for names and states; its (?P<n>) is
    Python's too. Only \\z (end of text) differs."""
    return pattern.replace("\\z", "\\Z")


_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0,
                   "m": 60.0, "h": 3600.0}


def duration(text: str) -> float | None:
    """Go's time.ParseDuration ("1h30m", "1.5s", "300ms") in seconds; None if it is not
    one."""
    import re
    match = re.fullmatch(r"([-+]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+",
                         text)
    if not match or text in ("", "+", "-"):
        return None
    total = sum(float(num) * _DURATION_UNITS[unit] for num, unit in
                re.findall(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)", text))
    return -total if match.group(1) == "-" else total


def timestamp(text: str, now: float | None = None) -> float:
    """A point in time as Docker's --since/--until/until= take it: a duration before now
    (10m, 1h30m), a Unix time (1700000000.5), or an RFC 3339 date-time or date, in local
    time unless it names a zone."""
    import time
    now = time.time() if now is None else now
    ago = duration(text)
    if ago is not None and text != "0":
        return now - ago
    if text.replace(".", "", 1).isdigit():
        return float(text)
    parsed = _date_time(text)
    if parsed is None:
        raise InvalidArgument(f'failed to parse value as time or duration: "{text}"')
    return parsed


def _date_time(text: str) -> float | None:
    import datetime
    value = text.replace("z", "Z")
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    date, _, clock = value.partition("T")
    zone = ""
    for sign in "+-":
        if sign in clock:
            clock, _, rest = clock.partition(sign)
            zone = sign + rest
    if clock.count(":") == 0 and clock:
        clock += ":00"
    text = date + ("T" + clock if clock else "") + zone
    try:
        when = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.astimezone()   # local time, as Docker reads a zoneless time
    return when.timestamp()
