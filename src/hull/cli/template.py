"""The Go-template subset people use with --format: {{.Field.Sub}}, {{json .X}}, {{range}}
over a list with {{.}} inside, and literal text."""

from __future__ import annotations

import json
import re

from hull.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}")


def _lookup(obj: Any, path: str) -> Any:
    if path in (".", ""):
        return obj
    for part in path.lstrip(".").split("."):
        if isinstance(obj, dict) and part in obj:
            obj = obj[part]
        else:
            raise InvalidArgument(f"template: can't evaluate field {part}")
    return obj


def _text(value: Any) -> str:
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_text(v)}" for k, v in sorted(value.items())) + "]"
    return str(value)


def _eval(expr: str, obj: Any) -> str:
    words = expr.split()
    if not words:
        return ""
    if words[0] == "json":
        return json.dumps(_lookup(obj, words[1] if len(words) > 1 else "."))
    if words[0] in ("upper", "lower"):
        text = _text(_lookup(obj, words[1]))
        return text.upper() if words[0] == "upper" else text.lower()
    if words[0] == "join" and len(words) == 3:
        return str(json.loads(words[2])).join(_text(v) for v in _lookup(obj, words[1]))
    if words[0].startswith("."):
        return _text(_lookup(obj, words[0]))
    raise InvalidArgument(f"template: function {words[0]!r} not supported")


def render(template: str, obj: Any) -> str:
    template = template.replace("\\n", "\n").replace("\\t", "\t")
    out = []
    pos = 0
    tokens = list(_ACTION.finditer(template))
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        out.append(template[pos:tok.start()])
        expr = tok.group(1)
        if expr.startswith("range "):
            depth, j = 1, i + 1
            while j < len(tokens) and depth:
                inner = tokens[j].group(1)
                depth += inner.startswith("range ") - (inner == "end")
                j += 1
            if depth:
                raise InvalidArgument("template: unterminated range")
            body = template[tok.end():tokens[j - 1].start()]
            for item in _lookup(obj, expr.split()[1]) or []:
                out.append(render(body, item))
            pos = tokens[j - 1].end()
            i = j
            continue
        out.append(_eval(expr, obj))
        pos = tok.end()
        i += 1
    out.append(template[pos:])
    return "".join(out)


def print_rows(fmt: str, rows: list[dict[str, Any]], headers: dict[str, str],
               out: Any = None) -> None:
    """--format for listing commands: each row through the template, or with `table …` a
    header line (headers maps field names to column titles) and aligned columns."""
    import sys
    out = out or sys.stdout
    table_mode = fmt.startswith("table")
    fmt = fmt.removeprefix("table").strip() if table_mode else fmt
    lines = [render(fmt, r) for r in rows]
    if not table_mode:
        for line in lines:
            out.write(line + "\n")
        return
    from hull.cli.images import table
    split = [line.split("\t") for line in [render(fmt, headers), *lines]]
    width = max(len(r) for r in split)
    table([r + [""] * (width - len(r)) for r in split], out)
