"""JSON through the C accelerator directly, without importing the json package.

The json package pulls in re (for its pure-Python fallbacks), which alone costs several
milliseconds at every runtime start. The C scanner and encoder in _json are what json uses
anyway; this module wires them up. Errors surface as ValueError (JSONDecodeError is one).
"""

from __future__ import annotations

import _json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar

_CONSTANTS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


class _Context:
    """The attributes _json.make_scanner reads (json.decoder.JSONDecoder's)."""
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__
    memo: ClassVar[dict[str, str]] = {}


_scan: Any = _json.make_scanner(_Context())  # type: ignore[arg-type]
_WHITESPACE = " \t\n\r"


def loads(data: str | bytes) -> Any:
    text = data.decode() if isinstance(data, bytes) else data
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        obj, end = _scan(text, start)
        if not text[end:].strip(_WHITESPACE):
            return obj
    except (StopIteration, SystemError, ValueError):
        pass
    # malformed: let the json package (imported only now) produce its precise message
    import json
    return json.loads(text)


def _default(obj: Any) -> Any:
    raise TypeError(f"Object of type {obj.__class__.__name__} is not JSON serializable")


_encode: Any = _json.make_encoder(
    None, _default, _json.encode_basestring, None, ": ", ", ", False, False, True)


def dumps(obj: Any) -> str:
    return "".join(_encode(obj, 0))
