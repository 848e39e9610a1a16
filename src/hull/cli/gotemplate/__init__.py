"""Go's text/template, for the Docker-compatible `--format` and `-f` flags.

A faithful port, not an approximation: the lexer, parser and executor follow Go's source
(text/template and text/template/parse) closely enough that output and error messages are
Go's, byte for byte, and a Go program in tests/unit/gotemplate_oracle checks that on every
test case. Docker CLI's own functions (json, split, join, title, lower, upper, pad,
truncate) come as BASIC_FUNCS, the header stand-ins of `table` formats as HEADER_FUNCS.

    tmpl = parse('{{range .Names}}{{upper .}} {{end}}', BASIC_FUNCS)
    tmpl.execute({"Names": ["a", "b"]})            # 'A B '

Python data stands for Go data as values.py describes: dicts are maps
(map[string]interface {}), Struct(dict, type_name) a Go struct, callables in them methods.

Module layout: lex, parse, nodes (text to trees); exec, funcs (running them); gofmt,
goformat, strconv (Go's fmt and strconv: printing); values (how Python data stands for Go
values); docker (Docker's functions); tabwriter (Docker's table layout); errors.
"""

from __future__ import annotations

from hull.cli.gotemplate.docker import BASIC_FUNCS, HEADER_FUNCS
from hull.cli.gotemplate.errors import (
    ExecError,
    FormatParseError,
    FuncError,
    ParseError,
    TemplateError,
)
from hull.cli.gotemplate.values import MISSING, GoFunc, StringSlice, Struct, TypedNil

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from hull.cli.gotemplate.parse import Tree

__all__ = ["BASIC_FUNCS", "HEADER_FUNCS", "MISSING", "ExecError", "FormatParseError",
           "FuncError", "GoFunc", "ParseError", "StringSlice", "Struct", "Template",
           "TemplateError", "TypedNil", "parse"]

_MISSINGKEY = {"default": "default", "invalid": "default", "zero": "zero", "error": "error"}


class Template:
    """A parsed template (Go's template.New("").Funcs(funcs).Parse(text))."""

    def __init__(self, text: str, trees: dict[str, Tree], funcs: dict[str, Any]) -> None:
        self.text = text
        self.trees = trees
        self.funcs = funcs

    def execute(self, data: Any, missingkey: str = "default",
                funcs: Mapping[str, Callable[..., Any] | GoFunc] | None = None) -> str:
        """The output of running the template on data; raises ExecError (Go's message).

        missingkey is Go's option: "default"/"invalid" (a missing map key is "<no
        value>"), "zero", or "error". funcs replace functions of the same name for this
        run, as Go's Funcs() after Parse does (Docker's table headers use HEADER_FUNCS).
        """
        out: list[str] = []
        error = self.write(out, data, missingkey, funcs)
        if error is not None:
            raise error
        return "".join(out)

    def write(self, out: list[str], data: Any, missingkey: str = "default",
              funcs: Mapping[str, Callable[..., Any] | GoFunc] | None = None
              ) -> ExecError | None:
        """Run the template appending to out; the error, if one stopped it, is returned
        with out holding what was written before it (Go's Execute on a Writer)."""
        from hull.cli.gotemplate.exec import State
        from hull.cli.gotemplate.funcs import BUILTINS
        from hull.cli.gotemplate.values import Iface
        if missingkey not in _MISSINGKEY:
            raise ValueError(f"unrecognized option: missingkey={missingkey}")
        exec_funcs = {**self.funcs, **funcs} if funcs else self.funcs
        state = State(self.text, self.trees, exec_funcs, BUILTINS, _MISSINGKEY[missingkey],
                      "", out)
        root = self.trees.get("")
        value = MISSING if data is None else data
        if isinstance(value, Iface):
            value = value.value
        state.push("$", value)
        try:
            if root is None or root.root is None:
                state.errorf('"" is an incomplete or empty template')
            state.walk(value, root.root)
        except ExecError as e:
            return e
        except RecursionError:
            return ExecError("template: : exceeded maximum template depth (100000)")
        return None


def parse(text: str, funcs: Mapping[str, Callable[..., Any] | GoFunc] | None = None
          ) -> Template:
    """Parse text as Go's template.New("").Funcs(funcs).Parse(text) does.

    funcs adds functions to Go's builtins (Docker's CLI adds BASIC_FUNCS); a plain
    Python callable takes interface{} arguments. Raises ParseError with Go's message.
    """
    from hull.cli.gotemplate.funcs import BUILTINS
    from hull.cli.gotemplate.parse import parse_trees
    fmap = dict(funcs or {})
    trees = parse_trees(text, [fmap, BUILTINS])
    return Template(text, trees, fmap)
