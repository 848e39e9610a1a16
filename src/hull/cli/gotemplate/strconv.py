"""Go's strconv where templates depend on it: quoting (%q, error texts, JSON-free string
literals), unquoting literals in template text, parsing number literals, and turning a
float into Go's decimal digits.

Strings are Python str; bytes that are not valid UTF-8 (from "\\xff" in a literal or from
slicing a string mid-rune) are carried as surrogate escapes (U+DC80..U+DCFF), the way
Python's "surrogateescape" codec does, so byte lengths and quoting stay Go's.
"""

from __future__ import annotations

_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
            "\v": "\\v"}
_UNESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92}


def is_print(c: str) -> bool:
    """unicode.IsPrint / strconv.IsPrint: letters, marks, numbers, punctuation, symbols
    and the ASCII space (Python's isprintable draws the same line)."""
    return c.isprintable()


def _escaped_byte(c: str) -> int | None:
    """The raw byte a surrogate escape stands for, or None."""
    o = ord(c)
    return o - 0xDC00 if 0xDC80 <= o <= 0xDCFF else None


def _escape_rune(c: str, quote: str, ascii_only: bool) -> str:
    if c == quote or c == "\\":
        return "\\" + c
    raw = _escaped_byte(c)
    if raw is not None:
        return f"\\x{raw:02x}"
    o = ord(c)
    if ascii_only:
        if o < 0x80 and is_print(c):
            return c
    elif is_print(c):
        return c
    if c in _ESCAPES:
        return _ESCAPES[c]
    if o < 0x20 or o == 0x7F:
        return f"\\x{o:02x}"
    if 0xD800 <= o <= 0xDFFF:
        return "\\ufffd"
    if o < 0x10000:
        return f"\\u{o:04x}"
    return f"\\U{o:08x}"


def quote(s: str, ascii_only: bool = False) -> str:
    """strconv.Quote (QuoteToASCII with ascii_only)."""
    return '"' + "".join(_escape_rune(c, '"', ascii_only) for c in s) + '"'


def quote_rune(r: int, ascii_only: bool = False) -> str:
    """strconv.QuoteRune: an invalid code point is quoted as U+FFFD."""
    if r < 0 or r > 0x10FFFF or 0xD800 <= r <= 0xDFFF:
        r = 0xFFFD
    return "'" + _escape_rune(chr(r), "'", ascii_only) + "'"


def can_backquote(s: str) -> bool:
    """strconv.CanBackquote: representable as a raw string (no control but tab, no `)."""
    for c in s:
        o = ord(c)
        if c == "`" or o == 0xFEFF or 0xD800 <= o <= 0xDFFF:
            return False
        if (o < 0x20 and c != "\t") or o == 0x7F:
            return False
    return True


def go_quote_truncated(s: str, runes: int) -> str:
    """fmt's %.Nq: the first N runes, quoted."""
    return quote(s[:runes])


class SyntaxErr(ValueError):
    """strconv.ErrSyntax; its text is Go's."""

    def __init__(self) -> None:
        super().__init__("invalid syntax")


def _unquote_char(s: str, i: int, q: str, out: bytearray) -> int:
    """strconv.UnquoteChar at s[i]: appends the character's bytes, returns the next index."""
    c = s[i]
    if c == q and q in "'\"":
        raise SyntaxErr()
    if c != "\\":
        out += c.encode("utf-8", "surrogateescape")
        return i + 1
    if i + 1 >= len(s):
        raise SyntaxErr()
    c, i = s[i + 1], i + 2
    if c in _UNESCAPES:
        out.append(_UNESCAPES[c])
        return i
    if c in "xuU":
        n = {"x": 2, "u": 4, "U": 8}[c]
        digits = s[i:i + n]
        if len(digits) < n or any(d not in "0123456789abcdefABCDEF" for d in digits):
            raise SyntaxErr()
        v = int(digits, 16)
        if c == "x":
            out.append(v)
        else:
            if v > 0x10FFFF or 0xD800 <= v <= 0xDFFF:
                raise SyntaxErr()
            out += chr(v).encode()
        return i + n
    if c in "01234567":
        digits = s[i - 1:i + 2]
        if len(digits) < 3 or any(d not in "01234567" for d in digits):
            raise SyntaxErr()
        v = int(digits, 8)
        if v > 255:
            raise SyntaxErr()
        out.append(v)
        return i + 2
    if c in "'\"":
        if c != q:
            raise SyntaxErr()
        out.append(ord(c))
        return i
    raise SyntaxErr()


def unquote(s: str) -> str:
    """strconv.Unquote for a "...", `...` or '.' literal; raises SyntaxErr."""
    if len(s) < 2 or s[0] != s[-1] or s[0] not in "\"'`":
        raise SyntaxErr()
    q, body = s[0], s[1:-1]
    if q == "`":
        if "`" in body:
            raise SyntaxErr()
        return body.replace("\r", "")
    if "\n" in body:
        raise SyntaxErr()
    out = bytearray()
    i = 0
    while i < len(body):
        i = _unquote_char(body, i, q, out)
    text = out.decode("utf-8", "surrogateescape")
    if q == "'" and len(text) != 1:
        raise SyntaxErr()
    return text


def unquote_char_constant(text: str) -> tuple[int, str]:
    """strconv.UnquoteChar(text[1:], '\\''): (the code point, the rest of text)."""
    out = bytearray()
    body = text[1:]
    end = _unquote_char(body, 0, "'", out)
    decoded = out.decode("utf-8", "surrogateescape")
    value = ord(decoded) if len(decoded) == 1 else 0xFFFD
    raw = _escaped_byte(decoded) if len(decoded) == 1 else None
    return (raw if raw is not None else value), body[end:]


# Number literals (strconv.ParseInt/ParseUint/ParseFloat with base 0).

def _underscore_ok(s: str) -> bool:
    """strconv's underscoreOK: '_' only between digits (a base prefix counts as one)."""
    saw = "^"
    i = 0
    if s[:1] in ("+", "-"):
        s = s[1:]
    hexa = False
    if len(s) >= 2 and s[0] == "0" and s[1].lower() in "box":
        i, saw, hexa = 2, "0", s[1].lower() == "x"
    while i < len(s):
        c = s[i]
        if (c.isdigit() and c.isascii()) or (hexa and c.lower() in "abcdef"):
            saw = "0"
        elif c == "_":
            if saw != "0":
                return False
            saw = "_"
        else:
            if saw == "_":
                return False
            saw = "!"
        i += 1
    return saw != "_"


def _parse_unsigned(s: str) -> int | None:
    """The magnitude of an integer literal with Go's base prefixes, or None."""
    if not s:
        return None
    base, digits = 10, s
    if s[0] == "0" and len(s) > 1:
        p = s[1].lower()
        if p in "box":
            base, digits = {"b": 2, "o": 8, "x": 16}[p], s[2:]
        else:
            base, digits = 8, s[1:]
    if "_" in s:
        if not _underscore_ok(s):
            return None
        digits = digits.replace("_", "")
    if not digits or not digits.isascii() or not digits.isalnum():
        return None
    try:
        return int(digits, base)
    except ValueError:
        return None


def parse_uint(s: str) -> int | None:
    """strconv.ParseUint(s, 0, 64), None on any error."""
    v = _parse_unsigned(s)
    return v if v is not None and v < 1 << 64 else None


def parse_int(s: str) -> int | None:
    """strconv.ParseInt(s, 0, 64), None on any error."""
    neg = s[:1] == "-"
    v = _parse_unsigned(s[1:] if s[:1] in "+-" and s else s)
    if v is None:
        return None
    v = -v if neg else v
    return v if -(1 << 63) <= v < 1 << 63 else None


def parse_float(s: str) -> float | None:
    """strconv.ParseFloat(s, 64) for the literals the template lexer can produce."""
    body = s[1:] if s[:1] in "+-" else s
    if "_" in body:
        if not _underscore_ok(s):
            return None
        body = body.replace("_", "")
    if not body or not body.isascii():
        return None
    sign = -1.0 if s[:1] == "-" else 1.0
    low = body.lower()
    if low.startswith("0x"):
        if "p" not in low:
            return None   # a hexadecimal mantissa requires a 'p' exponent
        try:
            return sign * float.fromhex(low)
        except (ValueError, OverflowError):
            return None
    if any(c not in "0123456789.e+-" for c in low) or low in ("inf", "nan"):
        return None
    try:
        v = float(low)
    except ValueError:
        return None
    if v in (float("inf"), float("-inf")):
        return None   # ParseFloat reports ErrRange
    return sign * v


# Float to decimal digits, as strconv's ftoa sees them: digits without trailing zeros and
# the position of the decimal point.

def shortest_digits(f: float) -> tuple[str, int]:
    """The shortest digits that round-trip |f| (Go's and Python's repr agree), and dp."""
    r = repr(abs(f))
    mant, _, exp = r.partition("e")
    ip, _, fp = mant.partition(".")
    if fp == "0":
        fp = ""
    digits = ip + fp
    dp = len(ip) + (int(exp) if exp else 0)
    stripped = digits.lstrip("0")
    dp -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    return (digits, dp) if digits else ("", 0)


def fixed_digits(f: float, n: int) -> tuple[str, int]:
    """|f| rounded to n significant digits (trailing zeros dropped), and dp."""
    r = format(abs(f), f".{max(n, 1) - 1}e")
    mant, _, exp = r.partition("e")
    digits = mant.replace(".", "").rstrip("0")
    if not digits:
        return "", 0
    return digits, int(exp) + 1


def fmt_e(neg: bool, digits: str, dp: int, prec: int, e: str) -> str:
    """strconv's %e body from digits: d.ddde±dd."""
    out = ["-" if neg else "", digits[:1] or "0"]
    if prec > 0:
        frac = digits[1:prec + 1]
        out.append("." + frac + "0" * (prec - len(frac)))
    x = 0 if not digits else dp - 1
    out.append(e + ("-" if x < 0 else "+") + f"{abs(x):02d}")
    return "".join(out)


def fmt_f(neg: bool, digits: str, dp: int, prec: int) -> str:
    """strconv's %f body from digits: ddd.ddd."""
    out = ["-" if neg else ""]
    if dp > 0:
        ip = digits[:dp]
        out.append(ip + "0" * (dp - len(ip)))
    else:
        out.append("0")
    if prec > 0:
        frac = "".join(digits[dp + i] if 0 <= dp + i < len(digits) else "0"
                       for i in range(prec))
        out.append("." + frac)
    return "".join(out)


def format_g(f: float, prec: int, upper: bool = False) -> str:
    """strconv.FormatFloat(f, 'g', prec, 64) without the sign handling of special values."""
    neg = f < 0 or (f == 0 and str(f).startswith("-"))
    shortest = prec < 0
    if shortest:
        digits, dp = shortest_digits(f)
        prec = len(digits)
    else:
        prec = prec or 1
        digits, dp = fixed_digits(f, prec)
    nd = len(digits)
    eprec = prec
    if eprec > nd and nd >= dp:
        eprec = nd
    if shortest:
        eprec = 6
    x = dp - 1
    if x < -4 or x >= eprec:
        if prec > nd:
            prec = nd
        return fmt_e(neg, digits, dp, prec - 1, "E" if upper else "e")
    if prec > dp:
        prec = nd
    return fmt_f(neg, digits, dp, max(prec - dp, 0))


def format_float(f: float, verb: str, prec: int) -> str:
    """strconv.FormatFloat(f, verb, prec, 64) for e E f g G b x X (prec -1: shortest)."""
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "+Inf" if f > 0 else "-Inf"
    neg = f < 0 or (f == 0 and str(f).startswith("-"))
    if verb in "eE":
        if prec < 0:
            digits, dp = shortest_digits(f)
            return fmt_e(neg, digits, dp, max(len(digits) - 1, 0), verb)
        return ("-" if neg else "") + format(abs(f), f".{prec}{verb}")
    if verb == "f":
        if prec < 0:
            digits, dp = shortest_digits(f)
            return fmt_f(neg, digits, dp, max(len(digits) - dp, 0))
        return ("-" if neg else "") + format(abs(f), f".{prec}f")
    if verb in "gG":
        return format_g(f, prec, verb == "G")
    if verb == "b":
        return _format_b(f)
    return _format_x(f, prec, verb == "X")


def _bits(f: float) -> tuple[bool, int, int]:
    import struct
    b = struct.unpack("<Q", struct.pack("<d", f))[0]
    return bool(b >> 63), (b >> 52) & 0x7FF, b & ((1 << 52) - 1)


def _format_b(f: float) -> str:
    neg, exp, mant = _bits(f)
    if exp == 0:
        exp = 1
    else:
        mant |= 1 << 52
    exp += -1023 - 52
    return ("-" if neg else "") + f"{mant}p{'-' if exp < 0 else '+'}{abs(exp)}"


def _format_x(f: float, prec: int, upper: bool) -> str:
    """%x of a float: -0x1.23abcp+20, the mantissa normalised to 1.xxx (Go's fmtX)."""
    neg, exp, mant = _bits(f)
    zero = exp == 0 and mant == 0
    if zero:
        e = 0
    elif exp == 0:   # subnormal: normalise
        e = -1022
        while mant < 1 << 52:
            mant <<= 1
            e -= 1
        mant &= (1 << 52) - 1
    else:
        e = exp - 1023
    frac = mant << 8   # 60 bits: 15 hex digits after the point
    if zero:
        lead, hexd = 0, "0" * max(prec, 0)
    elif 0 <= prec < 15:
        shift = 60 - 4 * prec
        full = (1 << 60) | frac
        half, rest = 1 << (shift - 1), full & ((1 << shift) - 1)
        full >>= shift
        if rest > half or (rest == half and full & 1):
            full += 1
        if full >> (4 * prec) >= 2:
            full >>= 1
            e += 1
        lead = full >> (4 * prec)
        hexd = f"{full & ((1 << (4 * prec)) - 1):0{prec}x}" if prec else ""
    else:
        lead = 1
        hexd = f"{frac:015x}".rstrip("0")
        if prec > 15:
            hexd += "0" * (prec - len(hexd))
    body = f"0x{lead}" + ("." + hexd if hexd else "") + \
        f"p{'-' if e < 0 else '+'}{abs(e):02d}"
    if upper:
        body = body.upper()
    return ("-" if neg else "") + body
