"""Python data seen as Go values: the few distinctions Go's reflection makes that decide
what a template prints or which error it raises.

    Python                       Go
    None (inside a dict/list)    a nil interface{} (prints "<nil>" inside a container)
    MISSING                      reflect's invalid Value: a missing map key ("<no value>")
    Iface(x)                     x read out of an interface{} slot (map value, slice element):
                                 error texts then say "interface {}", and a pipeline's result
                                 is unwrapped (so a nil one becomes MISSING, as in Go)
    dict                         map[string]interface {} (keys sorted when printed/ranged)
    Struct                       a Go struct named by the caller: missing field is an error
    list, tuple / StringSlice    []interface {} / []string
    bool int float complex str   bool int float64 complex128 string
    Byte                         uint8 (what indexing a string yields)
    TypedNil("*T")               a nil pointer of type *T
    callable in a dict/Struct    a method: called, with the arguments the template gives
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any


class _Missing:
    """reflect's zero Value: what a missing map key or an absent argument evaluates to."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class Iface:
    """A value as read from an interface{}-typed slot; evaluating a pipeline unwraps it."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Iface({self.value!r})"


class Struct(dict[str, object]):
    """A dict the template treats as a Go struct of type `type_name`.

    Fields print as `{v1 v2}` in insertion order (`{{.}}`), a missing one is Go's
    "can't evaluate field X in type <type_name>", callables are its methods. `json_sorted`
    sorts the keys in `{{json .}}`: Docker's formatter contexts marshal through a map;
    fields in `omitempty` are left out of it while nil (a pointer tagged omitempty).
    """

    def __init__(self, data: Mapping[str, object] | Iterable[tuple[str, object]] = (),
                 type_name: str = "struct {}", *, json_sorted: bool = False,
                 omitempty: frozenset[str] = frozenset()) -> None:
        super().__init__(data)
        self.type_name = type_name
        self.json_sorted = json_sorted
        self.omitempty = omitempty   # fields `json:",omitempty"`: left out while nil


class TypedNil:
    """A nil pointer of a named type (Go prints `<nil>`, JSON `null`, it is false)."""

    __slots__ = ("type_name",)

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"TypedNil({self.type_name!r})"


class Byte(int):
    """A uint8: the result of `index` on a string (Go indexes bytes)."""


class StringSlice(list[str]):
    """A []string (what `split` returns); its elements are not interface values."""


class GoFunc:
    """A function with a Go signature, so argument checks and their error texts are Go's.

    `params` are type tags: "any" (interface{}), "value" (reflect.Value: receives MISSING
    and Iface as they are), "string", "int", "bool". With `variadic` the last tag is the
    element type of the ... parameter.
    """

    __slots__ = ("impl", "params", "plain", "variadic")

    def __init__(self, impl: Callable[..., Any], params: tuple[str, ...],
                 variadic: bool = False, plain: bool = False) -> None:
        self.impl = impl
        self.params = params
        self.variadic = variadic
        self.plain = plain   # a plain Python callable: its None result is a nil interface


def as_gofunc(fn: Any) -> GoFunc:
    """A Python callable as a Go func: every parameter interface{}, *args the variadic."""
    if isinstance(fn, GoFunc):
        return fn
    fixed, variadic = arity(fn)
    return GoFunc(fn, ("any",) * (fixed + (1 if variadic else 0)), variadic, plain=True)


def arity(fn: Any) -> tuple[int, bool]:
    """Positional parameter count and whether *args is taken; (0, True) if unknown."""
    target, skip = fn, 0
    if hasattr(fn, "__func__") and getattr(fn, "__self__", None) is not None:
        target, skip = fn.__func__, 1
    code = getattr(target, "__code__", None)
    if code is None:
        return 0, True
    return code.co_argcount - skip, bool(code.co_flags & 0x04)


def func_type(fn: Any) -> str:
    """A Go-style type string for a Python callable."""
    fixed, variadic = arity(fn)
    params = ["interface {}"] * fixed + (["...interface {}"] if variadic else [])
    return f"func({', '.join(params)}) interface {{}}"


def type_name(v: Any) -> str:
    """Go's reflect.Type.String() for the value, as printed by %T and in error texts."""
    if isinstance(v, Iface):
        return "interface {}"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, Byte):
        return "uint8"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, complex):
        return "complex128"
    if isinstance(v, str):
        return "string"
    if isinstance(v, StringSlice):
        return "[]string"
    if isinstance(v, (list, tuple)):
        return "[]interface {}"
    if isinstance(v, Struct):
        return v.type_name
    if isinstance(v, dict):
        return "map[string]interface {}"
    if isinstance(v, TypedNil):
        return v.type_name
    if v is None or v is MISSING:
        return "<nil>"
    if callable(v):
        return func_type(v)
    return type(v).__name__


def kind(v: Any) -> str:
    """reflect.Kind, coarsely: what decides comparisons, ranging, indexing."""
    if v is MISSING:
        return "invalid"
    if isinstance(v, Iface):
        return "interface"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, Byte):
        return "uint"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, complex):
        return "complex"
    if isinstance(v, str):
        return "string"
    if isinstance(v, (list, tuple)):
        return "slice"
    if isinstance(v, Struct):
        return "struct"
    if isinstance(v, dict):
        return "map"
    if isinstance(v, TypedNil):
        return "ptr"
    if callable(v):
        return "func"
    return "struct"   # an opaque Python object: treated as a (Stringer) struct


def indirect_interface(v: Any) -> Any:
    """Go's indirectInterface: the value inside an interface, MISSING for a nil one."""
    if isinstance(v, Iface):
        return MISSING if v.value is None else v.value
    return v


def indirect(v: Any) -> tuple[Any, bool]:
    """Go's indirect: through interfaces and pointers; (the nil one, True) if nil."""
    while isinstance(v, Iface):
        if v.value is None:
            return v, True
        v = v.value
    if isinstance(v, TypedNil):
        return v, True
    return v, False


def byte_len(s: str) -> int:
    """len() of a Go string: its UTF-8 bytes (invalid bytes kept by surrogateescape)."""
    return len(s) if s.isascii() else len(s.encode("utf-8", "surrogateescape"))


def is_true(v: Any) -> tuple[bool, bool]:
    """Go's isTrue: (truth, whether the value has a truth value at all)."""
    if v is MISSING:
        return False, True
    k = kind(v)
    if k in ("slice", "map", "string"):
        return len(v) > 0, True
    if k == "interface":
        return v.value is not None, True
    if k == "ptr":
        return False, True
    if k in ("bool", "int", "uint", "float", "complex"):
        return v != 0, True
    return True, True   # struct, func (non-nil)
