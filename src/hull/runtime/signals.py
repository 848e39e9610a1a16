"""Signal names as runc's `kill` and Docker's `--stop-signal` take them."""

from __future__ import annotations

from hull.errors import InvalidArgument


def parse_signal(value: str) -> int:
    """SIGTERM, TERM or 15 (and SIGRTMIN+3 style), as runc kill accepts them."""
    import _signal  # type: ignore[import-not-found]
    text = value.upper()
    if text.isdigit():
        number = int(text)
        if not 0 < number < 65:
            raise InvalidArgument(f"invalid signal {value!r}")
        return number
    name = text if text.startswith("SIG") else "SIG" + text
    base, plus, offset = name.partition("+")
    found = getattr(_signal, base, None) if base.isidentifier() and base.isupper() else None
    if not isinstance(found, int) or base in ("SIG_DFL", "SIG_IGN", "SIG_BLOCK",
                                               "SIG_UNBLOCK", "SIG_SETMASK"):
        raise InvalidArgument(f"invalid signal {value!r}")
    if plus:
        if not offset.isdigit():
            raise InvalidArgument(f"invalid signal {value!r}")
        found += int(offset)
    return found
