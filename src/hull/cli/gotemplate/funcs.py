"""text/template's predefined functions (funcs.go), with Go's signatures and error texts.

Parameters typed "value" receive values as Go's reflect.Value would hold them (MISSING for
an invalid value, Iface for an interface), so that `len`, `index`, `eq` ... fail exactly
where and how Go's do. Errors are raised as FuncError and reported by the executor as
`error calling NAME: ...`.
"""

from __future__ import annotations

from hull.cli.gotemplate import gofmt
from hull.cli.gotemplate.docker import BASIC_FUNCS, HEADER_FUNCS
from hull.cli.gotemplate.errors import FuncError
from hull.cli.gotemplate.values import (
    MISSING,
    Byte,
    GoFunc,
    Iface,
    StringSlice,
    TypedNil,
    as_gofunc,
    byte_len,
    indirect,
    indirect_interface,
    is_true,
    kind,
    type_name,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["BASIC_FUNCS", "BUILTINS", "HEADER_FUNCS", "call_function"]

_BASIC = ("bool", "int", "uint", "float", "complex", "string")


def _unreachable(*_args: Any) -> Any:
    raise AssertionError("and/or/call are evaluated by the executor")


def _not(arg: Any) -> bool:
    return not is_true(indirect_interface(arg))[0]


def _length(item: Any) -> int:
    item, nil = indirect(item)
    if nil:
        raise FuncError("len of nil pointer")
    k = kind(item)
    if k == "string":
        return byte_len(item)
    if k in ("slice", "map"):
        return len(item)
    if item is MISSING:
        raise FuncError("reflect: call of reflect.Value.Type on zero Value")
    raise FuncError(f"len of type {type_name(item)}")


def _index_arg(index: Any, cap: int) -> int:
    k = kind(index)
    if k in ("int", "uint"):
        x = int(index)
    elif index is MISSING:
        raise FuncError("cannot index slice/array with nil")
    else:
        raise FuncError(f"cannot index slice/array with type {type_name(index)}")
    if x < 0 or x > cap:
        raise FuncError(f"index out of range: {x}")
    return x


def _index(item: Any, *indexes: Any) -> Any:
    item = indirect_interface(item)
    if item is MISSING:
        raise FuncError("index of untyped nil")
    for index in indexes:
        index = indirect_interface(index)
        item, nil = indirect(item)
        if nil:
            raise FuncError("index of nil pointer")
        k = kind(item)
        if k == "slice":
            x = _index_arg(index, len(item))
            if x == len(item):
                raise FuncError("reflect: slice index out of range")
            item = item[x] if isinstance(item, StringSlice) else Iface(item[x])
        elif k == "string":
            b = item.encode("utf-8", "surrogateescape")
            x = _index_arg(index, len(b))
            if x == len(b):
                raise FuncError("reflect: string index out of range")
            item = Byte(b[x])
        elif k == "map":
            if index is MISSING:
                raise FuncError("value is nil; should be of type string")
            if not isinstance(index, str):
                raise FuncError(f"value has type {type_name(index)}; should be string")
            item = Iface(item.get(index))
        else:
            raise FuncError(f"can't index item of type {type_name(item)}")
    return item


def _slice(item: Any, *indexes: Any) -> Any:
    item = indirect_interface(item)
    if item is MISSING:
        raise FuncError("slice of untyped nil")
    if len(indexes) > 3:
        raise FuncError(f"too many slice indexes: {len(indexes)}")
    k = kind(item)
    if k == "string":
        if len(indexes) == 3:
            raise FuncError("cannot 3-index slice a string")
        seq: Any = item.encode("utf-8", "surrogateescape")
    elif k == "slice":
        seq = item
    else:
        raise FuncError(f"can't slice item of type {type_name(item)}")
    idx = [0, len(seq), 0]
    for i, index in enumerate(indexes):
        idx[i] = _index_arg(index, len(seq))
    if idx[0] > idx[1]:
        raise FuncError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(indexes) == 3 and idx[1] > idx[2]:
        raise FuncError(f"invalid slice index: {idx[1]} > {idx[2]}")
    part = seq[idx[0]:idx[1]]
    if k == "string":
        return part.decode("utf-8", "surrogateescape")
    return StringSlice(part) if isinstance(item, StringSlice) else list(part)


def _prepare_arg(value: Any, param: str) -> Any:
    """funcs.go prepareArg, for `call`."""
    if value is MISSING:
        if param == "any":
            return None
        raise FuncError(f"value is nil; should be of type {param}")
    if param == "any":
        return value
    if (param == "string" and isinstance(value, str)) or \
            (param == "int" and isinstance(value, int) and not isinstance(value, bool)):
        return int(value) if param == "int" else value
    raise FuncError(f"value has type {type_name(value)}; should be {param}")


def call_function(name: str, fn: Any, *args: Any) -> Any:
    """The `call` builtin: fn(args...), with Go's checks; name is the callee's text."""
    fn = indirect_interface(fn)
    if fn is MISSING:
        raise FuncError("call of nil")
    if kind(fn) != "func":
        raise FuncError(f"non-function {name} of type {type_name(fn)}")
    g = as_gofunc(fn)
    n = len(g.params)
    if g.variadic:
        if len(args) < n - 1:
            raise FuncError(f"wrong number of args for {name}: got {len(args)} want at "
                            f"least {n - 1}")
    elif len(args) != n:
        raise FuncError(f"wrong number of args for {name}: got {len(args)} want {n}")
    argv = []
    for i, arg in enumerate(args):
        param = g.params[min(i, n - 1)]
        try:
            argv.append(_prepare_arg(indirect_interface(arg), param))
        except FuncError as e:
            raise FuncError(f"arg {i}: {e}") from None
    result = g.impl(*argv)
    return Iface(None) if g.plain and result is None else result


def _basic_kind(v: Any) -> str | None:
    k = kind(v)
    return k if k in _BASIC else None


def _is_nil(v: Any) -> bool:
    return v is MISSING or isinstance(v, TypedNil)


def _eq(arg1: Any, *arg2: Any) -> bool:
    arg1 = indirect_interface(arg1)
    if not arg2:
        raise FuncError("missing argument for comparison")
    k1 = _basic_kind(arg1)
    for arg in arg2:
        arg = indirect_interface(arg)
        k2 = _basic_kind(arg)
        truth = False
        if k1 != k2:
            if {k1, k2} == {"int", "uint"}:
                truth = int(arg1) == int(arg)
            elif arg1 is not MISSING and arg is not MISSING:
                raise FuncError(f"incompatible types for comparison: {type_name(arg1)} "
                                f"and {type_name(arg)}")
        elif k1 is not None:
            truth = arg1 == arg
        else:
            k_a, k_b = kind(arg1), kind(arg)
            if k_a != k_b and arg1 is not MISSING and arg is not MISSING:
                raise FuncError(f"non-comparable types {gofmt.sprintf('%s', [arg1])}: "
                                f"{type_name(arg1)}, {type_name(arg)}: "
                                f"{gofmt.sprint([arg])}")
            if _is_nil(arg1) or _is_nil(arg):
                truth = _is_nil(arg) == _is_nil(arg1)
            else:
                if k_b in ("slice", "map", "func"):
                    raise FuncError(f"non-comparable type {gofmt.sprintf('%s', [arg])}: "
                                    f"{type_name(arg)}")
                truth = type_name(arg1) == type_name(arg) and arg1 == arg
        if truth:
            return True
    return False


def _ne(arg1: Any, arg2: Any) -> bool:
    return not _eq(arg1, arg2)


def _lt(arg1: Any, arg2: Any) -> bool:
    arg1 = indirect_interface(arg1)
    k1 = _basic_kind(arg1)
    if k1 is None:
        raise FuncError("invalid type for comparison")
    arg2 = indirect_interface(arg2)
    k2 = _basic_kind(arg2)
    if k2 is None:
        raise FuncError("invalid type for comparison")
    if k1 != k2:
        if {k1, k2} == {"int", "uint"}:
            return bool(int(arg1) < int(arg2))
        raise FuncError(f"incompatible types for comparison: {type_name(arg1)} and "
                        f"{type_name(arg2)}")
    if k1 in ("bool", "complex"):
        raise FuncError("invalid type for comparison")
    return bool(arg1 < arg2)


def _le(arg1: Any, arg2: Any) -> bool:
    return _lt(arg1, arg2) or _eq(arg1, arg2)


def _gt(arg1: Any, arg2: Any) -> bool:
    return not _le(arg1, arg2)


def _ge(arg1: Any, arg2: Any) -> bool:
    return not _lt(arg1, arg2)


def eval_args(args: tuple[Any, ...]) -> str:
    """funcs.go evalArgs: fmt.Sprint, but nil prints as "<no value>" (as in a template)."""
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return gofmt.sprint(["<no value>" if a is None else a for a in args])


def html_escape(s: str) -> str:
    """template.HTMLEscapeString."""
    table = {"\0": "\ufffd", '"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;",
             ">": "&gt;"}
    return "".join(table.get(c, c) for c in s)


def js_escape(s: str) -> str:
    """template.JSEscapeString."""
    table = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E",
             "&": "\\u0026", "=": "\\u003D"}
    out = []
    for c in s:
        o = ord(c)
        if c in table:
            out.append(table[c])
        elif o < 0x20:
            out.append(f"\\u00{o:02X}")
        elif o < 0x80 or c.isprintable():
            out.append(c)
        else:
            out.append(f"\\u{o:04X}")
    return "".join(out)


def url_query_escape(s: str) -> str:
    """url.QueryEscape: unreserved characters kept, space as '+', the rest %XX."""
    out = []
    for b in s.encode("utf-8", "surrogateescape"):
        c = chr(b)
        if c.isascii() and (c.isalnum() or c in "-_.~"):
            out.append(c)
        elif c == " ":
            out.append("+")
        else:
            out.append(f"%{b:02X}")
    return "".join(out)


BUILTINS: dict[str, GoFunc] = {
    "and": GoFunc(_unreachable, ("value", "value"), True),
    "or": GoFunc(_unreachable, ("value", "value"), True),
    "call": GoFunc(_unreachable, ("value", "value"), True),
    "not": GoFunc(_not, ("value",)),
    "len": GoFunc(_length, ("value",)),
    "index": GoFunc(_index, ("value", "value"), True),
    "slice": GoFunc(_slice, ("value", "value"), True),
    "html": GoFunc(lambda *a: html_escape(eval_args(a)), ("any",), True),
    "js": GoFunc(lambda *a: js_escape(eval_args(a)), ("any",), True),
    "urlquery": GoFunc(lambda *a: url_query_escape(eval_args(a)), ("any",), True),
    "print": GoFunc(lambda *a: gofmt.sprint(list(a)), ("any",), True),
    "println": GoFunc(lambda *a: gofmt.sprintln(list(a)), ("any",), True),
    "printf": GoFunc(lambda f, *a: gofmt.sprintf(f, list(a)), ("string", "any"), True),
    "eq": GoFunc(_eq, ("value", "value"), True),
    "ne": GoFunc(_ne, ("value", "value")),
    "lt": GoFunc(_lt, ("value", "value")),
    "le": GoFunc(_le, ("value", "value")),
    "gt": GoFunc(_gt, ("value", "value")),
    "ge": GoFunc(_ge, ("value", "value")),
}
