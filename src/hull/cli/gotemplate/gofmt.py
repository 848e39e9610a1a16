"""Go's fmt for template values: what `{{.X}}` prints (fmt.Sprint) and what print, println
and printf return.

A port of fmt/print.go (format.go is goformat.py), verb for verb, including the error
forms (`%!d(string=x)`, `%!d(MISSING)`, `%!(EXTRA int=1)`). Values are Python data as described
in values.py; an argument None is Go's untyped nil, a None inside a container a nil
interface.
"""

from __future__ import annotations

from hull.cli.gotemplate.goformat import Format
from hull.cli.gotemplate.values import Byte, Struct, TypedNil, kind, type_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_UNSET: Any = object()


def sort_key(k: Any) -> tuple[int, Any]:
    """fmtsort's order for map keys: numbers numerically, strings lexically."""
    if isinstance(k, (int, float)):
        return 0, k
    return 1, str(k)


class _Printer(Format):
    """fmt.pp: one formatting run — which operand and value are being printed."""

    def __init__(self) -> None:
        super().__init__()
        self.arg: Any = _UNSET
        self.value: Any = _UNSET
        self.erroring = False

    def bad_verb(self, verb: str) -> None:
        self.erroring = True
        self.buf.append("%!" + verb + "(")
        if self.arg is not _UNSET and self.arg is not None:
            self.buf.append(type_name(self.arg) + "=")
            self.print_arg(self.arg, "v")
        elif self.value is not _UNSET:
            self.buf.append(type_name(self.value) + "=")
            self.print_value(self.value, "v", 0)
        else:
            self.buf.append("<nil>")
        self.buf.append(")")
        self.erroring = False

    def fmt_bool(self, v: bool, verb: str) -> None:
        if verb in "tv":
            self.fmt_boolean(v)
        else:
            self.bad_verb(verb)

    def fmt_int(self, v: int, signed: bool, verb: str) -> None:
        if verb == "v":
            if self.sharp_v and not signed:
                self.fmt_0x64(v, True)
            else:
                self.fmt_integer(v, 10, signed, verb, False)
        elif verb in "dboOxX":
            base = {"d": 10, "b": 2, "o": 8, "O": 8, "x": 16, "X": 16}[verb]
            self.fmt_integer(v, base, signed, verb, verb == "X")
        elif verb == "c":
            self.fmt_c(v)
        elif verb == "q":
            self.fmt_qc(v)
        elif verb == "U":
            self.fmt_unicode(v)
        else:
            self.bad_verb(verb)

    def fmt_0x64(self, v: int, leading: bool) -> None:
        old, self.sharp = self.sharp, leading
        self.fmt_integer(v, 16, False, "v", False)
        self.sharp = old

    def fmt_float(self, v: float, verb: str) -> None:
        if verb == "v":
            self.fmt_float_raw(v, "g", -1)
        elif verb in "bgGxX":
            self.fmt_float_raw(v, verb, -1)
        elif verb in "feE":
            self.fmt_float_raw(v, verb, 6)
        elif verb == "F":
            self.fmt_float_raw(v, "f", 6)
        else:
            self.bad_verb(verb)

    def fmt_complex(self, v: complex, verb: str) -> None:
        if verb not in "vbgGxXfFeE":
            self.bad_verb(verb)
            return
        old = self.plus
        self.buf.append("(")
        self.fmt_float(v.real, verb)
        self.plus = True
        self.fmt_float(v.imag, verb)
        self.buf.append("i)")
        self.plus = old

    def fmt_string(self, v: str, verb: str) -> None:
        if verb == "v":
            if self.sharp_v:
                self.fmt_q(v)
            else:
                self.fmt_s(v)
        elif verb == "s":
            self.fmt_s(v)
        elif verb in "xX":
            self.fmt_sx(v, verb == "X")
        elif verb == "q":
            self.fmt_q(v)
        else:
            self.bad_verb(verb)

    def fmt_pointer(self, v: Any, verb: str) -> None:
        if kind(v) not in ("ptr", "func", "map", "slice"):
            self.bad_verb(verb)
            return
        u = 0 if isinstance(v, TypedNil) else 0xC000000000 + id(v) % 0x1000000000
        if verb == "v":
            if self.sharp_v:
                self.buf.append("(" + type_name(v) + ")(")
                if u == 0:
                    self.buf.append("nil")
                else:
                    self.fmt_0x64(u, True)
                self.buf.append(")")
            elif u == 0:
                self.pad("<nil>")
            else:
                self.fmt_0x64(u, not self.sharp)
        elif verb == "p":
            self.fmt_0x64(u, not self.sharp)
        elif verb in "bodxX":
            self.fmt_int(u, False, verb)
        else:
            self.bad_verb(verb)

    def handle_methods(self, arg: Any, verb: str) -> bool:
        """An opaque Python object is a Stringer: its str() is its text."""
        if self.erroring or kind(arg) != "struct" or isinstance(arg, Struct):
            return False
        if self.sharp_v or verb not in "vsxXq":
            return False
        self.fmt_string(str(arg), verb)
        return True

    def print_arg(self, arg: Any, verb: str) -> None:
        self.arg, self.value = arg, _UNSET
        if arg is None:
            if verb in "Tv":
                self.pad("<nil>")
            else:
                self.bad_verb(verb)
            return
        if verb == "T":
            self.fmt_s(type_name(arg))
            return
        if verb == "p":
            self.fmt_pointer(arg, "p")
            return
        if isinstance(arg, bool):
            self.fmt_bool(arg, verb)
        elif isinstance(arg, int):
            self.fmt_int(int(arg), not isinstance(arg, Byte), verb)
        elif isinstance(arg, float):
            self.fmt_float(arg, verb)
        elif isinstance(arg, complex):
            self.fmt_complex(arg, verb)
        elif isinstance(arg, str):
            self.fmt_string(arg, verb)
        elif not self.handle_methods(arg, verb):
            self.print_value(arg, verb, 0)

    def print_value(self, v: Any, verb: str, depth: int) -> None:
        if depth > 0 and v is not None and self.handle_methods(v, verb):
            return
        self.arg, self.value = _UNSET, v
        buf = self.buf
        if v is None:   # a nil interface inside a container
            buf.append("interface {}(nil)" if self.sharp_v else "<nil>")
        elif isinstance(v, (bool, int, float, complex, str)):
            self.print_arg(v, verb)
        elif isinstance(v, Struct):
            if self.sharp_v:
                buf.append(v.type_name)
            buf.append("{")
            first = True
            for name, field in v.items():
                if callable(field):
                    continue   # a method, not a field
                if not first:
                    buf.append(", " if self.sharp_v else " ")
                first = False
                if self.plus_v or self.sharp_v:
                    buf.append(name + ":")
                self.print_value(field, verb, depth + 1)
            buf.append("}")
        elif isinstance(v, dict):
            if self.sharp_v:
                buf.append(type_name(v) + "{")
            else:
                buf.append("map[")
            for i, key in enumerate(sorted(v, key=sort_key)):
                if i > 0:
                    buf.append(", " if self.sharp_v else " ")
                self.print_value(key, verb, depth + 1)
                buf.append(":")
                self.print_value(v[key], verb, depth + 1)
            buf.append("}" if self.sharp_v else "]")
        elif isinstance(v, (list, tuple)):
            if self.sharp_v:
                buf.append(type_name(v) + "{")
                for i, e in enumerate(v):
                    if i > 0:
                        buf.append(", ")
                    self.print_value(e, verb, depth + 1)
                buf.append("}")
            else:
                buf.append("[")
                for i, e in enumerate(v):
                    if i > 0:
                        buf.append(" ")
                    self.print_value(e, verb, depth + 1)
                buf.append("]")
        elif isinstance(v, TypedNil) or callable(v):
            self.fmt_pointer(v, verb)
        else:
            self.fmt_string(str(v), verb)

    def print_all(self, args: list[Any], spaces: bool) -> None:
        prev_string = False
        for i, arg in enumerate(args):
            is_string = isinstance(arg, str)
            if i > 0 and (spaces or (not is_string and not prev_string)):
                self.buf.append(" ")
            self.print_arg(arg, "v")
            prev_string = is_string

    def do_printf(self, fmt: str, a: list[Any]) -> None:
        end = len(fmt)
        arg_num = 0
        after_index = False
        reordered = False
        i = 0
        while i < end:
            good_arg_num = True
            lasti = i
            while i < end and fmt[i] != "%":
                i += 1
            if i > lasti:
                self.buf.append(fmt[lasti:i])
            if i >= end:
                break
            i += 1
            self.clear()
            simple = False
            while i < end:
                c = fmt[i]
                if c == "#":
                    self.sharp = True
                elif c == "0":
                    self.zero = not self.minus
                elif c == "+":
                    self.plus = True
                elif c == "-":
                    self.minus, self.zero = True, False
                elif c == " ":
                    self.space = True
                else:
                    if "a" <= c <= "z" and arg_num < len(a):
                        if c == "v":
                            self.sharp_v, self.sharp = self.sharp, False
                            self.plus_v, self.plus = self.plus, False
                        self.print_arg(a[arg_num], c)
                        arg_num += 1
                        i += 1
                        simple = True
                    break
                i += 1
            if simple:
                continue
            arg_num, i, after_index, ok = self.arg_number(arg_num, fmt, i, len(a))
            reordered = reordered or ok is not None
            good_arg_num = good_arg_num and ok is not False
            if i < end and fmt[i] == "*":
                i += 1
                self.wid, self.wid_present, arg_num = _int_from_arg(a, arg_num)
                if not self.wid_present:
                    self.buf.append("%!(BADWIDTH)")
                if self.wid < 0:
                    self.wid = -self.wid
                    self.minus, self.zero = True, False
                after_index = False
            else:
                self.wid, self.wid_present, i = _parse_num(fmt, i, end)
                if after_index and self.wid_present:
                    good_arg_num = False
            if i + 1 < end and fmt[i] == ".":
                i += 1
                if after_index:
                    good_arg_num = False
                arg_num, i, after_index, ok = self.arg_number(arg_num, fmt, i, len(a))
                reordered = reordered or ok is not None
                good_arg_num = good_arg_num and ok is not False
                if i < end and fmt[i] == "*":
                    i += 1
                    self.prec, self.prec_present, arg_num = _int_from_arg(a, arg_num)
                    if self.prec < 0:
                        self.prec, self.prec_present = 0, False
                    if not self.prec_present:
                        self.buf.append("%!(BADPREC)")
                    after_index = False
                else:
                    self.prec, self.prec_present, i = _parse_num(fmt, i, end)
                    if not self.prec_present:
                        self.prec, self.prec_present = 0, True
            if not after_index:
                arg_num, i, after_index, ok = self.arg_number(arg_num, fmt, i, len(a))
                reordered = reordered or ok is not None
                good_arg_num = good_arg_num and ok is not False
            if i >= end:
                self.buf.append("%!(NOVERB)")
                break
            verb = fmt[i]
            i += 1
            if verb == "%":
                self.buf.append("%")
            elif not good_arg_num:
                self.buf.append("%!" + verb + "(BADINDEX)")
            elif arg_num >= len(a):
                self.buf.append("%!" + verb + "(MISSING)")
            else:
                if verb == "v":
                    self.sharp_v, self.sharp = self.sharp, False
                    self.plus_v, self.plus = self.plus, False
                self.print_arg(a[arg_num], verb)
                arg_num += 1
        if not reordered and arg_num < len(a):
            self.clear()
            self.buf.append("%!(EXTRA ")
            for k, arg in enumerate(a[arg_num:]):
                if k > 0:
                    self.buf.append(", ")
                if arg is None:
                    self.buf.append("<nil>")
                else:
                    self.buf.append(type_name(arg) + "=")
                    self.print_arg(arg, "v")
            self.buf.append(")")

    @staticmethod
    def arg_number(arg_num: int, fmt: str, i: int,
                   num_args: int) -> tuple[int, int, bool, bool | None]:
        """(argNum, i, found, ok): ok None when there was no [n], False when bad."""
        if i >= len(fmt) or fmt[i] != "[":
            return arg_num, i, False, None
        index, wid, ok = _parse_arg_number(fmt[i:])
        if ok and 0 <= index < num_args:
            return index, i + wid, True, True
        return arg_num, i + wid, ok, False


def _parse_num(s: str, start: int, end: int) -> tuple[int, bool, int]:
    num, isnum, i = 0, False, start
    while i < end and "0" <= s[i] <= "9":
        if num > 1_000_000 or num < -1_000_000:
            return 0, False, end
        num = num * 10 + ord(s[i]) - 48
        isnum = True
        i += 1
    return num, isnum, i


def _parse_arg_number(fmt: str) -> tuple[int, int, bool]:
    if len(fmt) < 3:
        return 0, 1, False
    for i in range(1, len(fmt)):
        if fmt[i] == "]":
            width, ok, newi = _parse_num(fmt, 1, i)
            if not ok or newi != i:
                return 0, i + 1, False
            return width - 1, i + 1, True
    return 0, 1, False


def _int_from_arg(a: list[Any], arg_num: int) -> tuple[int, bool, int]:
    num, is_int = 0, False
    if arg_num < len(a):
        v = a[arg_num]
        if isinstance(v, int) and not isinstance(v, bool):
            num, is_int = int(v), True
        arg_num += 1
        if num > 1_000_000 or num < -1_000_000:
            num, is_int = 0, False
    return num, is_int, arg_num


def sprint(args: list[Any]) -> str:
    """fmt.Sprint: a space between operands when neither side is a string."""
    p = _Printer()
    p.print_all(args, spaces=False)
    return "".join(p.buf)


def sprintln(args: list[Any]) -> str:
    """fmt.Sprintln: spaces between all operands, and a newline."""
    p = _Printer()
    p.print_all(args, spaces=True)
    return "".join(p.buf) + "\n"


def sprintf(fmt: str, args: list[Any]) -> str:
    """fmt.Sprintf."""
    p = _Printer()
    p.do_printf(fmt, args)
    return "".join(p.buf)
