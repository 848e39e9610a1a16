"""Go's fmt/format.go: one operand formatted under the current verb's flags (width,
precision, '-', '+', '#', ' ', '0'), into a buffer of strings.

Split from gofmt.py, which holds print.go (which verb applies to which value, and the
printf/print loops) and drives this class.
"""

from __future__ import annotations

from hull.cli.gotemplate import strconv


class Format:
    """fmt.fmt: the buffer and the flags of the verb being formatted."""

    def __init__(self) -> None:
        self.buf: list[str] = []
        self.clear()

    def clear(self) -> None:
        self.wid = self.prec = 0
        self.wid_present = self.prec_present = False
        self.minus = self.plus = self.sharp = self.space = self.zero = False
        self.plus_v = self.sharp_v = False

    def write_padding(self, n: int) -> None:
        if n > 0:
            self.buf.append(("0" if self.zero else " ") * n)

    def pad(self, s: str) -> None:
        if not self.wid_present or self.wid == 0:
            self.buf.append(s)
            return
        width = self.wid - len(s)
        if not self.minus:
            self.write_padding(width)
            self.buf.append(s)
        else:
            self.buf.append(s)
            self.write_padding(width)

    def fmt_boolean(self, v: bool) -> None:
        self.pad("true" if v else "false")

    def fmt_unicode(self, u: int) -> None:
        prec = self.prec if self.prec_present and self.prec > 4 else 4
        text = f"U+{u:0{prec}X}" if u >= 0 else f"U+{u + (1 << 64):0{prec}X}"
        if self.sharp and 0 <= u <= 0x10FFFF and not 0xD800 <= u <= 0xDFFF and \
                strconv.is_print(chr(u)):
            text += f" '{chr(u)}'"
        old, self.zero = self.zero, False
        self.pad(text)
        self.zero = old

    def fmt_integer(self, u: int, base: int, signed: bool, verb: str, upper: bool) -> None:
        negative = signed and u < 0
        mag = abs(u)
        prec = 0
        if self.prec_present:
            prec = self.prec
            if prec == 0 and mag == 0:
                old, self.zero = self.zero, False
                self.write_padding(self.wid)
                self.zero = old
                return
        elif self.zero and self.wid_present:
            prec = self.wid
            if negative or self.plus or self.space:
                prec -= 1
        spec = {10: "d", 16: "X" if upper else "x", 8: "o", 2: "b"}[base]
        s = format(mag, spec)
        if len(s) < prec:
            s = "0" * (prec - len(s)) + s
        if self.sharp:
            if base == 2:
                s = "0b" + s
            elif base == 8 and s[0] != "0":
                s = "0" + s
            elif base == 16:
                s = ("0X" if upper else "0x") + s
        if verb == "O":
            s = "0o" + s
        if negative:
            s = "-" + s
        elif self.plus:
            s = "+" + s
        elif self.space:
            s = " " + s
        old, self.zero = self.zero, False
        self.pad(s)
        self.zero = old

    def truncate(self, s: str) -> str:
        return s[:self.prec] if self.prec_present else s

    def fmt_s(self, s: str) -> None:
        self.pad(self.truncate(s))

    def fmt_sx(self, s: str, upper: bool) -> None:
        b = s.encode("utf-8", "surrogateescape")
        length = len(b)
        if self.prec_present and self.prec < length:
            length = self.prec
        width = 2 * length
        if width > 0:
            if self.space:
                if self.sharp:
                    width *= 2
                width += length - 1
            elif self.sharp:
                width += 2
        else:
            if self.wid_present:
                self.write_padding(self.wid)
            return
        if self.wid_present and self.wid > width and not self.minus:
            self.write_padding(self.wid - width)
        prefix = "0X" if upper else "0x"
        out = [prefix] if self.sharp else []
        for i in range(length):
            if self.space and i > 0:
                out.append(" ")
                if self.sharp:
                    out.append(prefix)
            out.append(format(b[i], "02X" if upper else "02x"))
        self.buf.append("".join(out))
        if self.wid_present and self.wid > width and self.minus:
            self.write_padding(self.wid - width)

    def fmt_q(self, s: str) -> None:
        s = self.truncate(s)
        if self.sharp and strconv.can_backquote(s):
            self.pad("`" + s + "`")
            return
        self.pad(strconv.quote(s, ascii_only=self.plus))

    def fmt_c(self, c: int) -> None:
        if c < 0 or c > 0x10FFFF or 0xD800 <= c <= 0xDFFF:
            c = 0xFFFD
        self.pad(chr(c))

    def fmt_qc(self, c: int) -> None:
        self.pad(strconv.quote_rune(c, ascii_only=self.plus))

    def fmt_float_raw(self, v: float, verb: str, prec: int) -> None:
        """format.go fmtFloat: sign, #, zero padding, Inf and NaN."""
        if self.prec_present:
            prec = self.prec
        num = strconv.format_float(v, verb, prec)
        if num[0] not in "+-":
            num = "+" + num
        if self.space and num[0] == "+" and not self.plus:
            num = " " + num[1:]
        if num[1] in "IN":
            old, self.zero = self.zero, False
            if num[1] == "N" and not self.space and not self.plus:
                num = num[1:]
            self.pad(num)
            self.zero = old
            return
        if self.sharp and verb != "b":
            num = self._sharp_float(num, verb, prec)
        if self.plus or num[0] != "+":
            if self.zero and self.wid_present and self.wid > len(num):
                self.buf.append(num[0])
                self.write_padding(self.wid - len(num))
                self.buf.append(num[1:])
                return
            self.pad(num)
            return
        self.pad(num[1:])

    @staticmethod
    def _sharp_float(num: str, verb: str, prec: int) -> str:
        digits = 0
        if verb in "vgGx":
            digits = 6 if prec == -1 else prec
        tail = ""
        has_point = saw_nonzero = False
        i = 1
        while i < len(num):
            ch = num[i]
            if ch == ".":
                has_point = True
            elif ch in "pP" or (ch in "eE" and verb not in "xX"):
                tail, num = num[i:], num[:i]
                break
            else:
                if ch != "0":
                    saw_nonzero = True
                if saw_nonzero:
                    digits -= 1
            i += 1
        if not has_point:
            if len(num) == 2 and num[1] == "0":
                digits -= 1
            num += "."
        return num + "0" * max(digits, 0) + tail
