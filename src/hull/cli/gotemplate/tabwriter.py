"""Docker's table layout: its copy of Go's text/tabwriter, as the formatter uses it
(tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)).

Cells end at a tab (also \\v, \\n, \\f); a run of lines that have a cell in the same column
forms a block, and the column is as wide as its widest cell plus the padding, but at least
the minimum width. The last cell of a line belongs to no column, so it is never padded.
Widths are display widths (Docker counts with go-runewidth: East Asian wide characters
take two columns, combining marks none).
"""

from __future__ import annotations


def display_width(s: str) -> int:
    """go-runewidth's StringWidth, approximately: wide/fullwidth 2, marks/controls 0."""
    if s.isascii():
        return sum(1 for c in s if " " <= c <= "~")
    import unicodedata
    width = 0
    for c in s:
        cat = unicodedata.category(c)
        if cat in ("Mn", "Me", "Cc", "Cf") or c == "\u200b":
            continue
        width += 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1
    return width


class _Cell:
    __slots__ = ("htab", "text", "width")

    def __init__(self, text: str, htab: bool) -> None:
        self.text, self.htab, self.width = text, htab, display_width(text)


class TabWriter:
    """Collects the whole text, then lays it out (Go's Write + Flush)."""

    def __init__(self, minwidth: int = 10, tabwidth: int = 1, padding: int = 3,
                 padchar: str = " ") -> None:
        self.minwidth, self.tabwidth, self.padding = minwidth, tabwidth, padding
        self.padchar = padchar
        self.lines: list[list[_Cell]] = [[]]
        self.widths: list[int] = []
        self.out: list[str] = []

    def format(self, text: str) -> str:
        cell_start = 0
        for i, ch in enumerate(text):
            if ch in "\t\v\n\f":
                self.lines[-1].append(_Cell(text[cell_start:i], ch == "\t"))
                cell_start = i + 1
                if ch in "\n\f":
                    self.lines.append([])
        if cell_start < len(text):
            self.lines[-1].append(_Cell(text[cell_start:], False))
        self._format(0, len(self.lines))
        return "".join(self.out)

    def _write_lines(self, line0: int, line1: int) -> None:
        out = self.out
        for i in range(line0, line1):
            for j, c in enumerate(self.lines[i]):
                if c.text:
                    out.append(c.text)
                if j < len(self.widths):
                    out.append(self.padchar * (self.widths[j] - c.width))
            if i + 1 < len(self.lines):
                out.append("\n")

    def _format(self, line0: int, line1: int) -> None:
        column = len(self.widths)
        this = line0
        while this < line1:
            if column >= len(self.lines[this]) - 1:
                this += 1
                continue
            self._write_lines(line0, this)
            line0 = this
            width = self.minwidth
            while this < line1:
                line = self.lines[this]
                if column >= len(line) - 1:
                    break
                width = max(width, line[column].width + self.padding)
                this += 1
            self.widths.append(width)
            self._format(line0, this)
            self.widths.pop()
            line0 = this
        self._write_lines(line0, line1)


def tabwrite(text: str) -> str:
    """text laid out as Docker's formatter does for `table` formats."""
    return TabWriter().format(text)
