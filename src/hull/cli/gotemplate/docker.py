"""Docker CLI's template functions (docker/cli templates/templates.go): json, split, join,
title, lower, upper, pad, truncate, and the header stand-ins `table` headers run with.

`json` is Go's encoding/json as Docker calls it (an Encoder with SetEscapeHTML(false),
the trailing newline trimmed): maps with sorted keys, structs in field order, non-ASCII
as UTF-8, U+2028/U+2029 escaped, floats as Go writes them (1e+21 and up, below 1e-6:
exponent form).
"""

from __future__ import annotations

from hull.cli.gotemplate import gofmt
from hull.cli.gotemplate.errors import FuncError
from hull.cli.gotemplate.strconv import format_float, shortest_digits
from hull.cli.gotemplate.values import (
    MISSING,
    GoFunc,
    Iface,
    StringSlice,
    Struct,
    TypedNil,
    arity,
    byte_len,
    func_type,
    type_name,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_JSON_ESC = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
             "\t": "\\t", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def json_string(s: str) -> str:
    out = ['"']
    for c in s:
        o = ord(c)
        if c in _JSON_ESC:
            out.append(_JSON_ESC[c])
        elif o < 0x20:
            out.append(f"\\u{o:04x}")
        elif 0xD800 <= o <= 0xDFFF:
            out.append("\\ufffd")   # an invalid UTF-8 byte
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def json_float(f: float) -> str:
    """encoding/json's floatEncoder: like ES6's Number.prototype.toString."""
    if f != f or f in (float("inf"), float("-inf")):
        raise FuncError(f"json: unsupported value: {format_float(f, 'g', -1)}")
    a = abs(f)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        digits, dp = shortest_digits(f)
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        x = dp - 1
        return ("-" if f < 0 else "") + mant + "e" + ("-" if x < 0 else "+") + \
            (f"{abs(x):02d}" if x >= 0 else str(abs(x)))
    return format_float(f, "f", -1)


def _encode(v: Any, out: list[str]) -> None:
    if isinstance(v, Iface):
        v = v.value
    if v is None or v is MISSING or isinstance(v, TypedNil):
        out.append("null")
    elif isinstance(v, bool):
        out.append("true" if v else "false")
    elif isinstance(v, int):
        out.append(str(int(v)))
    elif isinstance(v, float):
        out.append(json_float(v))
    elif isinstance(v, str):
        out.append(json_string(v))
    elif isinstance(v, Struct):
        items: list[tuple[str, Any]] = []
        for k, x in v.items():
            if callable(x):
                if not v.json_sorted or arity(x) != (0, False):
                    continue   # methods are not fields; Docker's contexts marshal niladic ones
                x = x()
            if k in v.omitempty and (x is None or isinstance(x, TypedNil)):
                continue
            items.append((k, x))
        if v.json_sorted:
            items.sort()
        _encode_object(items, out)
    elif isinstance(v, dict):
        for x in v.values():
            if callable(x):
                raise FuncError(f"json: unsupported type: {func_type(x)}")
        _encode_object(sorted(v.items(), key=lambda kv: str(kv[0])), out)
    elif isinstance(v, (list, tuple)):
        out.append("[")
        for i, x in enumerate(v):
            if i:
                out.append(",")
            _encode(x, out)
        out.append("]")
    elif isinstance(v, complex) or callable(v):
        raise FuncError(f"json: unsupported type: {type_name(v)}")
    else:
        out.append(json_string(str(v)))


def _encode_object(items: list[tuple[str, Any]], out: list[str]) -> None:
    out.append("{")
    for i, (k, x) in enumerate(items):
        if i:
            out.append(",")
        out.append(json_string(str(k)) + ":")
        _encode(x, out)
    out.append("}")


def format_json(v: Any) -> str:
    """Docker's formatJSON: the value as compact JSON, HTML characters unescaped."""
    out: list[str] = []
    _encode(v, out)
    return "".join(out)


def split(s: str, sep: str) -> StringSlice:
    """strings.Split (an empty separator splits into characters)."""
    return StringSlice(list(s) if sep == "" else s.split(sep))


def join(elems: Any, sep: str) -> str:
    """Docker's joinElements: []string joined; any slice's elements printed with
    fmt.Sprint; a map's values printed, sorted, joined."""
    if elems is None:
        return ""
    if isinstance(elems, (list, tuple)):
        return sep.join(e if isinstance(e, str) else gofmt.sprint([e]) for e in elems)
    if isinstance(elems, dict) and not isinstance(elems, Struct):
        return sep.join(sorted(gofmt.sprint([e]) for e in elems.values()))
    raise FuncError(f"expected slice, got {type_name(elems)}")


def _map(s: str, fn: Any) -> str:
    return "".join("\ufffd" if 0xDC80 <= ord(c) <= 0xDCFF else fn(c) for c in s)


def _upper(c: str) -> str:
    """unicode.ToUpper: the simple (one-character) mapping."""
    u = c.upper()
    if len(u) == 1:
        return u
    t = c.title()
    return t if len(t) == 1 else c


def _lower(c: str) -> str:
    if c == "\u0130":
        return "i"
    low = c.lower()
    return low if len(low) == 1 else c


def _title(c: str) -> str:
    t = c.title()
    if len(t) == 1:
        return t
    u = c.upper()
    return u if len(u) == 1 else c


def upper(s: str) -> str:
    """strings.ToUpper."""
    return s.upper() if s.isascii() else _map(s, _upper)


def lower(s: str) -> str:
    """strings.ToLower."""
    return s.lower() if s.isascii() else _map(s, _lower)


def _is_separator(c: str) -> bool:
    if ord(c) <= 0x7F:
        return not (c.isalnum() or c == "_")
    if c.isalpha() or c.isdecimal():
        return False
    return c.isspace()


def title(s: str) -> str:
    """strings.Title: the first letter of each word in title case."""
    out = []
    prev = " "
    for c in s:
        if 0xDC80 <= ord(c) <= 0xDCFF:
            c = "\ufffd"
        out.append(_title(c) if _is_separator(prev) else c)
        prev = c
    return "".join(out)


def pad(source: str, prefix: int, suffix: int) -> str:
    """Docker's padWithSpace: spaces around a non-empty string."""
    if source == "":
        return source
    if prefix < 0 or suffix < 0:
        raise FuncError("strings: negative Repeat count")
    return " " * prefix + source + " " * suffix


def truncate(source: str, length: int) -> str:
    """Docker's truncateWithLength: the first `length` bytes."""
    if byte_len(source) < length:
        return source
    if length < 0:
        raise FuncError(f"runtime error: slice bounds out of range [:{length}]")
    return source.encode("utf-8", "surrogateescape")[:length].decode("utf-8",
                                                                     "surrogateescape")


BASIC_FUNCS: dict[str, GoFunc] = {
    "json": GoFunc(format_json, ("any",)),
    "split": GoFunc(split, ("string", "string")),
    "join": GoFunc(join, ("any", "string")),
    "title": GoFunc(title, ("string",)),
    "lower": GoFunc(lower, ("string",)),
    "upper": GoFunc(upper, ("string",)),
    "pad": GoFunc(pad, ("string", "int", "int")),
    "truncate": GoFunc(truncate, ("string", "int")),
}


def _keep(v: str, *_: Any) -> str:
    return v


# templates.HeaderFunctions: a table's header line runs the row template over the column
# titles with these, so `{{upper .Name}}` still prints the title as it is. `pad` is not
# replaced (it keeps the header aligned with its column).
HEADER_FUNCS: dict[str, GoFunc] = {
    "json": GoFunc(_keep, ("string",)),
    "split": GoFunc(_keep, ("string", "string")),
    "join": GoFunc(_keep, ("string", "string")),
    "title": GoFunc(_keep, ("string",)),
    "lower": GoFunc(_keep, ("string",)),
    "upper": GoFunc(_keep, ("string",)),
    "truncate": GoFunc(_keep, ("string", "int")),
}
