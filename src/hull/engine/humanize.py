"""Sizes and ages printed the way the docker command prints them."""

from __future__ import annotations

import time


def size(n: float, precision: int = 3) -> str:
    """Decimal units with three significant digits (go-units HumanSizeWithPrecision, as
    lists print sizes: 4.26MB); precision 4 is go-units' HumanSize (system df)."""
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            text = f"{n:.{precision}g}"
            return f"{text}{unit}"
        n /= 1000
    return f"{n}PB"


def binary(n: float) -> str:
    """Binary units with four significant digits (go-units BytesSize): 1.953MiB."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.4g}{unit}"
        n /= 1024
    return f"{n}PiB"


def ago(timestamp: float, now: float | None = None) -> str:
    """"2 months ago", "About an hour ago", "Less than a second ago" (go-units style)."""
    seconds = max(0.0, (now or time.time()) - timestamp)
    if seconds < 1:
        return "Less than a second ago"
    if seconds < 60:
        return f"{int(seconds)} second{'s' if int(seconds) != 1 else ''} ago"
    minutes = seconds / 60
    if minutes < 60:
        m = int(minutes)
        return "About a minute ago" if m == 1 else f"{m} minutes ago"
    hours = minutes / 60
    if hours < 48:
        h = round(hours)
        return "About an hour ago" if h == 1 else f"{h} hours ago"
    days = hours / 24
    if days < 14:
        return f"{int(days)} days ago"
    if days < 60:
        return f"{int(days / 7)} weeks ago"
    if days < 365 * 2:
        return f"{int(days / 30)} months ago"
    return f"{int(days / 365)} years ago"


def parse_time(text: str) -> float:
    """RFC 3339 (as in image configs) to a Unix time; 0 when absent or unreadable."""
    import calendar
    if not text or text.startswith("0001-01-01"):   # Go's zero time: never happened
        return 0.0
    main = text.rstrip("Z").split("+")[0]
    whole, _, frac = main.partition(".")
    try:   # by hand: time.strptime costs a few ms of imports and regexes per command
        date, clock = whole.split("T")
        year, month, day = (int(p) for p in date.split("-"))
        hour, minute, second = (int(p) for p in clock.split(":"))
        t = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    except ValueError:
        return 0.0
    return t + (float(f"0.{frac}") if frac.isdigit() else 0.0)


def now() -> str:
    """This moment as Docker writes times in State and logs: RFC 3339, nanoseconds, UTC."""
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"
