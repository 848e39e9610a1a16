"""The lexer: text/template/parse/lex.go, state for state, so the tokens — and with them
every parse error, its line number and the position an execution error points at — are
Go's.

Positions are indexes into the Python string (code points); error messages convert them
to Go's byte offsets where they show a column.
"""

from __future__ import annotations

from hull.cli.gotemplate.strconv import quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

# Item types, in Go's order (keywords after KEYWORD).
(ERROR, BOOL, CHAR, CHAR_CONSTANT, COMMENT, COMPLEX, ASSIGN, DECLARE, EOF, FIELD,
 IDENTIFIER, LEFT_DELIM, LEFT_PAREN, NUMBER, PIPE, RAW_STRING, RIGHT_DELIM, RIGHT_PAREN,
 SPACE, STRING, TEXT, VARIABLE, KEYWORD, BLOCK, BREAK, CONTINUE, DOT, DEFINE, ELSE, END, IF,
 NIL, RANGE, TEMPLATE, WITH) = range(35)

KEYWORDS = {".": DOT, "block": BLOCK, "break": BREAK, "continue": CONTINUE,
            "define": DEFINE, "else": ELSE, "end": END, "if": IF, "range": RANGE,
            "nil": NIL, "template": TEMPLATE, "with": WITH}

LEFT, RIGHT, LEFT_COMMENT, RIGHT_COMMENT = "{{", "}}", "/*", "*/"
SPACE_CHARS = " \t\r\n"
_EOF = ""   # what next() returns at the end of the input


class Item:
    """A token: its type, position, text and the line it starts on."""

    __slots__ = ("line", "pos", "typ", "val")

    def __init__(self, typ: int, pos: int, val: str, line: int) -> None:
        self.typ, self.pos, self.val, self.line = typ, pos, val, line

    def __str__(self) -> str:
        """Go's item.String(), as it appears in "unexpected X in Y"."""
        if self.typ == EOF:
            return "EOF"
        if self.typ == ERROR:
            return self.val
        if self.typ > KEYWORD:
            return f"<{self.val}>"
        if len(self.val.encode("utf-8", "surrogateescape")) > 10:
            return quote(self.val[:10]) + "..."
        return quote(self.val)


def is_space(r: str) -> bool:
    return r != "" and r in SPACE_CHARS


def is_alnum(r: str) -> bool:
    """Go's isAlphaNumeric: '_', a letter (unicode.IsLetter) or a decimal digit (Nd)."""
    return r != "" and (r == "_" or r.isalpha() or r.isdecimal())


def has_left_trim(s: str, i: int) -> bool:
    return len(s) >= i + 2 and s[i] == "-" and is_space(s[i + 1])


def has_right_trim(s: str, i: int) -> bool:
    return len(s) >= i + 2 and is_space(s[i]) and s[i + 1] == "-"


def sharp_u(r: str) -> str:
    """fmt's %#U of a rune: U+0023 '#'."""
    o = ord(r)
    text = f"U+{o:04X}"
    return text + f" '{r}'" if r.isprintable() else text


class Lexer:
    """Scans one template text; next_item() returns the tokens one at a time."""

    def __init__(self, text: str, break_ok: bool = True, continue_ok: bool = True,
                 emit_comment: bool = False) -> None:
        self.input = text
        self.pos = self.start = 0
        self.at_eof = False
        self.paren_depth = 0
        self.line = self.start_line = 1
        self.inside_action = False
        self.break_ok, self.continue_ok, self.emit_comment = break_ok, continue_ok, \
            emit_comment
        self.item = Item(EOF, 0, "EOF", 1)

    # Scanner primitives.

    def next(self) -> str:
        if self.pos >= len(self.input):
            self.at_eof = True
            return _EOF
        r = self.input[self.pos]
        self.pos += 1
        if r == "\n":
            self.line += 1
        return r

    def peek(self) -> str:
        r = self.next()
        self.backup()
        return r

    def backup(self) -> None:
        if not self.at_eof and self.pos > 0:
            self.pos -= 1
            if self.input[self.pos] == "\n":
                self.line -= 1

    def this_item(self, typ: int) -> Item:
        i = Item(typ, self.start, self.input[self.start:self.pos], self.start_line)
        self.start = self.pos
        self.start_line = self.line
        return i

    def emit(self, typ: int) -> object:
        """Set the token to return; returns None, the state that stops the scan."""
        self.item = self.this_item(typ)
        return None

    def emit_item(self, i: Item) -> object:
        self.item = i
        return None

    def ignore(self) -> None:
        self.line += self.input.count("\n", self.start, self.pos)
        self.start = self.pos
        self.start_line = self.line

    def accept(self, valid: str) -> bool:
        r = self.next()
        if r != "" and r in valid:
            return True
        self.backup()
        return False

    def accept_run(self, valid: str) -> None:
        while True:
            r = self.next()
            if r == "" or r not in valid:
                break
        self.backup()

    def errorf(self, msg: str) -> object:
        """An error token ends the scan (Go empties the input)."""
        self.item = Item(ERROR, self.start, msg, self.start_line)
        self.start = self.pos = 0
        self.input = ""
        return None

    def next_item(self) -> Item:
        self.item = Item(EOF, self.pos, "EOF", self.start_line)
        state: Callable[[Lexer], object] | None = \
            Lexer.lex_inside_action if self.inside_action else Lexer.lex_text
        while state is not None:
            state = state(self)   # type: ignore[assignment]
        return self.item

    def at_right_delim(self) -> tuple[bool, bool]:
        if has_right_trim(self.input, self.pos) and \
                self.input.startswith(RIGHT, self.pos + 2):
            return True, True
        if self.input.startswith(RIGHT, self.pos):
            return True, False
        return False, False

    def at_terminator(self) -> bool:
        r = self.peek()
        if is_space(r) or r in ("", ".", ",", "|", ":", ")", "("):
            return True
        return self.input.startswith(RIGHT, self.pos)

    # States: each returns the next state, or None once self.item is set.

    def lex_text(self) -> object:
        x = self.input.find(LEFT, self.pos)
        if x >= 0:
            if x > self.pos:
                self.pos = x
                trim = 0
                if has_left_trim(self.input, self.pos + len(LEFT)):
                    text = self.input[self.start:self.pos]
                    trim = len(text) - len(text.rstrip(SPACE_CHARS))
                self.pos -= trim
                self.line += self.input.count("\n", self.start, self.pos)
                i = self.this_item(TEXT)
                self.pos += trim
                self.ignore()
                if i.val:
                    self.emit_item(i)
                    return None
            return Lexer.lex_left_delim
        self.pos = len(self.input)
        if self.pos > self.start:
            self.line += self.input.count("\n", self.start, self.pos)
            self.emit(TEXT)
            return None
        self.emit(EOF)
        return None

    def _left_trim_length(self) -> int:
        rest = self.input[self.pos:]
        return len(rest) - len(rest.lstrip(SPACE_CHARS))

    def lex_left_delim(self) -> object:
        self.pos += len(LEFT)
        after = 2 if has_left_trim(self.input, self.pos) else 0
        if self.input.startswith(LEFT_COMMENT, self.pos + after):
            self.pos += after
            self.ignore()
            return Lexer.lex_comment
        i = self.this_item(LEFT_DELIM)
        self.inside_action = True
        self.pos += after
        self.ignore()
        self.paren_depth = 0
        self.emit_item(i)
        return None

    def lex_comment(self) -> object:
        self.pos += len(LEFT_COMMENT)
        x = self.input.find(RIGHT_COMMENT, self.pos)
        if x < 0:
            return self.errorf("unclosed comment")
        self.pos = x + len(RIGHT_COMMENT)
        delim, trim = self.at_right_delim()
        if not delim:
            return self.errorf("comment ends before closing delimiter")
        self.line += self.input.count("\n", self.start, self.pos)
        i = self.this_item(COMMENT)
        if trim:
            self.pos += 2
        self.pos += len(RIGHT)
        if trim:
            self.pos += self._left_trim_length()
        self.ignore()
        if self.emit_comment:
            self.emit_item(i)
            return None
        return Lexer.lex_text

    def lex_right_delim(self) -> object:
        _, trim = self.at_right_delim()
        if trim:
            self.pos += 2
            self.ignore()
        self.pos += len(RIGHT)
        i = self.this_item(RIGHT_DELIM)
        if trim:
            self.pos += self._left_trim_length()
            self.ignore()
        self.inside_action = False
        self.emit_item(i)
        return None

    def lex_inside_action(self) -> object:
        delim, _ = self.at_right_delim()
        if delim:
            if self.paren_depth == 0:
                return Lexer.lex_right_delim
            return self.errorf("unclosed left paren")
        r = self.next()
        if r == "":
            return self.errorf("unclosed action")
        if is_space(r):
            self.backup()
            return Lexer.lex_space
        simple = {"=": ASSIGN, "|": PIPE}
        if r in simple:
            return self.emit(simple[r])
        if r == ":":
            if self.next() != "=":
                return self.errorf("expected :=")
            return self.emit(DECLARE)
        if r == '"':
            return Lexer.lex_quote
        if r == "`":
            return Lexer.lex_raw_quote
        if r == "$":
            return Lexer.lex_variable
        if r == "'":
            return Lexer.lex_char
        if r == "." and self.pos < len(self.input) and \
                not ("0" <= self.input[self.pos] <= "9"):
            return Lexer.lex_field
        if r in ".+-" or "0" <= r <= "9":
            self.backup()
            return Lexer.lex_number
        if is_alnum(r):
            self.backup()
            return Lexer.lex_identifier
        if r == "(":
            self.paren_depth += 1
            return self.emit(LEFT_PAREN)
        if r == ")":
            self.paren_depth -= 1
            if self.paren_depth < 0:
                return self.errorf("unexpected right paren")
            return self.emit(RIGHT_PAREN)
        if " " <= r <= "~":
            return self.emit(CHAR)
        return self.errorf(f"unrecognized character in action: {sharp_u(r)}")

    def lex_space(self) -> object:
        spaces = 0
        while is_space(self.peek()):
            self.next()
            spaces += 1
        if has_right_trim(self.input, self.pos - 1) and \
                self.input.startswith(RIGHT, self.pos + 1):
            self.backup()
            if spaces == 1:
                return Lexer.lex_right_delim
        return self.emit(SPACE)

    def lex_identifier(self) -> object:
        while True:
            r = self.next()
            if is_alnum(r):
                continue
            self.backup()
            word = self.input[self.start:self.pos]
            if not self.at_terminator():
                return self.errorf(f"bad character {sharp_u(r)}")
            typ = KEYWORDS.get(word, IDENTIFIER)
            if typ > KEYWORD:
                if (typ == BREAK and not self.break_ok) or \
                        (typ == CONTINUE and not self.continue_ok):
                    typ = IDENTIFIER
            elif word in ("true", "false"):
                typ = BOOL
            else:
                typ = IDENTIFIER
            return self.emit(typ)

    def lex_field(self) -> object:
        return self.lex_field_or_variable(FIELD)

    def lex_variable(self) -> object:
        if self.at_terminator():
            return self.emit(VARIABLE)
        return self.lex_field_or_variable(VARIABLE)

    def lex_field_or_variable(self, typ: int) -> object:
        if self.at_terminator():
            return self.emit(VARIABLE if typ == VARIABLE else DOT)
        while True:
            r = self.next()
            if not is_alnum(r):
                self.backup()
                break
        if not self.at_terminator():
            return self.errorf(f"bad character {sharp_u(r)}")
        return self.emit(typ)

    def _quoted(self, typ: int, what: str) -> object:
        while True:
            r = self.next()
            if r == "\\":
                r = self.next()
                if r not in ("", "\n"):
                    continue
            if r in ("", "\n"):
                return self.errorf(f"unterminated {what}")
            if r == ("'" if typ == CHAR_CONSTANT else '"'):
                return self.emit(typ)

    def lex_char(self) -> object:
        return self._quoted(CHAR_CONSTANT, "character constant")

    def lex_quote(self) -> object:
        return self._quoted(STRING, "quoted string")

    def lex_raw_quote(self) -> object:
        while True:
            r = self.next()
            if r == "":
                return self.errorf("unterminated raw quoted string")
            if r == "`":
                return self.emit(RAW_STRING)

    def lex_number(self) -> object:
        if not self.scan_number():
            return self.errorf(f"bad number syntax: {quote(self.input[self.start:self.pos])}")
        if self.peek() in ("+", "-"):
            if not self.scan_number() or self.input[self.pos - 1] != "i":
                return self.errorf(
                    f"bad number syntax: {quote(self.input[self.start:self.pos])}")
            return self.emit(COMPLEX)
        return self.emit(NUMBER)

    def scan_number(self) -> bool:
        self.accept("+-")
        digits = "0123456789_"
        if self.accept("0"):
            if self.accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif self.accept("oO"):
                digits = "01234567_"
            elif self.accept("bB"):
                digits = "01_"
        self.accept_run(digits)
        if self.accept("."):
            self.accept_run(digits)
        if len(digits) == 11 and self.accept("eE"):
            self.accept("+-")
            self.accept_run("0123456789_")
        if len(digits) == 23 and self.accept("pP"):
            self.accept("+-")
            self.accept_run("0123456789_")
        self.accept("i")
        if is_alnum(self.peek()):
            self.next()
            return False
        return True
