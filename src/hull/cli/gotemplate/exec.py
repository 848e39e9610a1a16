"""Execution: text/template/exec.go on Python data.

The structure follows Go's state machine closely — including where it records the
"current node" — because an execution error names that node and its position
(`template: :1:2: executing "" at <.Foo>: ...`). Values are modelled as values.py
describes: MISSING for reflect's invalid Value, Iface for a value read from an interface{}
slot, TypedNil for a nil pointer.
"""

from __future__ import annotations

from hull.cli.gotemplate import gofmt
from hull.cli.gotemplate import nodes as N
from hull.cli.gotemplate.errors import ExecError, FuncError, TemplateError
from hull.cli.gotemplate.funcs import call_function
from hull.cli.gotemplate.strconv import quote
from hull.cli.gotemplate.values import (
    MISSING,
    Byte,
    GoFunc,
    Iface,
    StringSlice,
    Struct,
    as_gofunc,
    indirect,
    indirect_interface,
    is_true,
    kind,
    type_name,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

    from hull.cli.gotemplate.parse import Tree

MAX_EXEC_DEPTH = 100000   # Go's; Python's stack ends recursion first, see walk_template
_PY_DEPTH_LIMIT = 100

_GO_TYPES = {"any": "interface {}", "value": "reflect.Value", "string": "string",
             "int": "int", "bool": "bool"}


class _NoFinal:
    """Go's missingVal: no value came from a previous pipeline stage."""


NO_FINAL: Any = _NoFinal()


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class State:
    """One execution: output, variables, the current node (for error messages)."""

    def __init__(self, text: str, trees: dict[str, Tree], funcs: dict[str, Any],
                 builtins: dict[str, GoFunc], missingkey: str, name: str,
                 out: list[str], depth: int = 0) -> None:
        self.text, self.trees, self.funcs, self.builtins = text, trees, funcs, builtins
        self.missingkey, self.name, self.out, self.depth = missingkey, name, out, depth
        self.node: N.Node | None = None
        self.vars: list[list[Any]] = []

    # Variables.

    def push(self, name: str, value: Any) -> None:
        self.vars.append([name, value])

    def mark(self) -> int:
        return len(self.vars)

    def pop(self, mark: int) -> None:
        del self.vars[mark:]

    def set_var(self, name: str, value: Any) -> None:
        for var in reversed(self.vars):
            if var[0] == name:
                var[1] = value
                return
        self.errorf(f"undefined variable: {name}")

    def set_top_var(self, n: int, value: Any) -> None:
        self.vars[len(self.vars) - n][1] = value

    def var_value(self, name: str) -> Any:
        for var in reversed(self.vars):
            if var[0] == name:
                return var[1]
        self.errorf(f"undefined variable: {name}")

    # Errors.

    def at(self, node: N.Node) -> None:
        self.node = node

    def errorf(self, msg: str) -> NoReturn:
        if self.node is None:
            raise ExecError(f"template: {self.name}: {msg}")
        pos = self.node.pos
        before = self.text[:pos]
        line_start = before.rfind("\n") + 1
        col = len(before[line_start:].encode("utf-8", "surrogateescape"))
        line = 1 + before.count("\n")
        raise ExecError(f"template: :{line}:{col}: executing {quote(self.name)} "
                        f"at <{self.node}>: {msg}")

    # Walking the tree.

    def walk(self, dot: Any, node: N.Node) -> None:
        self.at(node)
        if isinstance(node, N.ActionNode):
            val = self.eval_pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.print_value(node, val)
        elif isinstance(node, N.TextNode):
            self.out.append(node.text)
        elif isinstance(node, N.ListNode):
            for n in node.nodes:
                self.walk(dot, n)
        elif isinstance(node, N.IfNode):
            self.walk_if_or_with(False, dot, node)
        elif isinstance(node, N.WithNode):
            self.walk_if_or_with(True, dot, node)
        elif isinstance(node, N.RangeNode):
            self.walk_range(dot, node)
        elif isinstance(node, N.TemplateNode):
            self.walk_template(dot, node)
        elif isinstance(node, N.BreakNode):
            raise _Break
        elif isinstance(node, N.ContinueNode):
            raise _Continue
        elif not isinstance(node, N.CommentNode):
            self.errorf(f"unknown node: {node}")

    def walk_if_or_with(self, with_: bool, dot: Any, node: N.BranchNode) -> None:
        mark = self.mark()
        try:
            val = self.eval_pipeline(dot, node.pipe)
            truth, ok = is_true(indirect_interface(val))
            if not ok:
                self.errorf(f"if/with can't use {gofmt.sprint([val])}")
            if truth:
                self.walk(val if with_ else dot, node.list)
            elif node.else_list is not None:
                self.walk(dot, node.else_list)
        finally:
            self.pop(mark)

    def walk_range(self, dot: Any, r: N.RangeNode) -> None:
        self.at(r)
        outer = self.mark()
        try:
            val, _ = indirect(self.eval_pipeline(dot, r.pipe))
            mark = self.mark()
            decl = r.pipe.decl

            def one_iteration(index: Any, elem: Any) -> None:
                if decl:
                    if r.pipe.is_assign:
                        self.set_var(decl[0].ident[0], index if len(decl) > 1 else elem)
                    else:
                        self.set_top_var(1, elem)
                if len(decl) > 1:
                    if r.pipe.is_assign:
                        self.set_var(decl[1].ident[0], elem)
                    else:
                        self.set_top_var(2, index)
                try:
                    self.walk(elem, r.list)
                except _Continue:
                    pass
                finally:
                    self.pop(mark)

            k = kind(val)
            if k in ("int", "uint"):
                if len(decl) > 1:
                    self.errorf(f"can't use {gofmt.sprint([val])} to iterate over more "
                                "than one variable")
                if val > 0:
                    make = Byte if k == "uint" else int
                    for i in range(val):
                        one_iteration(MISSING, make(i))
                    return
            elif k == "slice":
                if val:
                    wrap = (lambda e: e) if isinstance(val, StringSlice) else Iface
                    for i, e in enumerate(val):
                        one_iteration(i, wrap(e))
                    return
            elif k == "map":
                if val:
                    for key in sorted(val, key=gofmt.sort_key):
                        one_iteration(key, Iface(val[key]))
                    return
            elif k != "invalid":
                self.errorf(f"range can't iterate over {gofmt.sprint([val])}")
            if r.else_list is not None:
                self.walk(dot, r.else_list)
        except _Break:
            pass
        finally:
            self.pop(outer)

    def walk_template(self, dot: Any, t: N.TemplateNode) -> None:
        self.at(t)
        tree = self.trees.get(t.name)
        if tree is None or tree.root is None:
            self.errorf(f"template {quote(t.name)} not defined")
        if self.depth >= _PY_DEPTH_LIMIT:   # Python's stack, not Go's 100000, is the limit
            self.errorf(f"exceeded maximum template depth ({MAX_EXEC_DEPTH})")
        dot = self.eval_pipeline(dot, t.pipe)
        sub = State(self.text, self.trees, self.funcs, self.builtins, self.missingkey,
                    t.name, self.out, self.depth + 1)
        sub.push("$", dot)
        sub.walk(dot, tree.root)

    # Evaluating pipelines and commands.

    def eval_pipeline(self, dot: Any, pipe: N.PipeNode | None) -> Any:
        if pipe is None:
            return MISSING
        self.at(pipe)
        value = NO_FINAL
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
            if isinstance(value, Iface):   # dig into interface{} values
                value = MISSING if value.value is None else value.value
        for var in pipe.decl:
            if pipe.is_assign:
                self.set_var(var.ident[0], value)
            else:
                self.push(var.ident[0], value)
        return value

    def not_a_function(self, args: list[N.Node] | None, final: Any) -> None:
        if (args is not None and len(args) > 1) or final is not NO_FINAL:
            assert args is not None
            self.errorf(f"can't give argument to non-function {args[0]}")

    def eval_command(self, dot: Any, cmd: N.CommandNode, final: Any) -> Any:
        first = cmd.args[0]
        if isinstance(first, N.FieldNode):
            return self.eval_field_node(dot, first, cmd.args, final)
        if isinstance(first, N.ChainNode):
            return self.eval_chain_node(dot, first, cmd.args, final)
        if isinstance(first, N.IdentifierNode):
            return self.eval_function(dot, first, cmd, cmd.args, final)
        if isinstance(first, N.PipeNode):
            self.not_a_function(cmd.args, final)
            return self.eval_pipeline(dot, first)
        if isinstance(first, N.VariableNode):
            return self.eval_variable_node(dot, first, cmd.args, final)
        self.at(first)
        self.not_a_function(cmd.args, final)
        if isinstance(first, N.BoolNode):
            return first.value
        if isinstance(first, N.DotNode):
            return dot
        if isinstance(first, N.NilNode):
            self.errorf("nil is not a command")
        if isinstance(first, N.NumberNode):
            return self.ideal_constant(first)
        if isinstance(first, N.StringNode):
            return first.text
        self.errorf(f"can't evaluate command {quote(str(first))}")

    def ideal_constant(self, c: N.NumberNode) -> Any:
        self.at(c)
        text = c.text
        if c.is_complex:
            return c.complex_value
        hex_int = len(text) > 2 and text[0] == "0" and text[1] in "xX" and \
            not any(ch in text for ch in "pP")
        if c.is_float and not hex_int and not text.startswith("'") and \
                any(ch in text for ch in ".eEpP"):
            return c.float_value
        if c.is_int:
            return c.int_value
        if c.is_uint:
            self.errorf(f"{text} overflows int")
        return MISSING

    def eval_field_node(self, dot: Any, field: N.FieldNode, args: list[N.Node] | None,
                        final: Any) -> Any:
        self.at(field)
        return self.eval_field_chain(dot, dot, field, field.ident, args, final)

    def eval_chain_node(self, dot: Any, chain: N.ChainNode, args: list[N.Node] | None,
                        final: Any) -> Any:
        self.at(chain)
        if not chain.field:
            self.errorf("internal error: no fields in evalChainNode")
        if isinstance(chain.node, N.NilNode):
            self.errorf(f"indirection through explicit nil in {chain}")
        pipe = self.eval_arg(dot, None, chain.node)
        return self.eval_field_chain(dot, pipe, chain, chain.field, args, final)

    def eval_variable_node(self, dot: Any, var: N.VariableNode, args: list[N.Node] | None,
                           final: Any) -> Any:
        self.at(var)
        value = self.var_value(var.ident[0])
        if len(var.ident) == 1:
            self.not_a_function(args, final)
            return value
        return self.eval_field_chain(dot, value, var, var.ident[1:], args, final)

    def eval_field_chain(self, dot: Any, receiver: Any, node: N.Node, ident: list[str],
                         args: list[N.Node] | None, final: Any) -> Any:
        for name in ident[:-1]:
            receiver = self.eval_field(dot, name, node, None, NO_FINAL, receiver)
        return self.eval_field(dot, ident[-1], node, args, final, receiver)

    def eval_function(self, dot: Any, node: N.IdentifierNode, cmd: N.Node,
                      args: list[N.Node] | None, final: Any) -> Any:
        self.at(node)
        name = node.ident
        if name in self.funcs:
            return self.eval_call(dot, as_gofunc(self.funcs[name]), False, cmd, name, args,
                                  final)
        if name in self.builtins:
            return self.eval_call(dot, self.builtins[name], True, cmd, name, args, final)
        self.errorf(f"{quote(name)} is not a defined function")

    def eval_field(self, dot: Any, field: str, node: N.Node, args: list[N.Node] | None,
                   final: Any, receiver: Any) -> Any:
        if receiver is MISSING:
            if self.missingkey == "error":
                self.errorf(f"nil data; no entry for key {quote(field)}")
            return MISSING
        typ = type_name(receiver)
        receiver, is_nil = indirect(receiver)
        if isinstance(receiver, Iface) and is_nil:
            self.errorf(f"nil pointer evaluating {typ}.{field}")
        if isinstance(receiver, dict) and field in receiver and callable(receiver[field]):
            method = as_gofunc(receiver[field])   # a callable member is a method
            return self.eval_call(dot, method, False, node, field, args, final)
        has_args = (args is not None and len(args) > 1) or final is not NO_FINAL
        if isinstance(receiver, Struct):
            if field in receiver:
                if has_args:
                    self.errorf(f"{field} has arguments but cannot be invoked as function")
                v = receiver[field]
                return Iface(None) if v is None else v
        elif isinstance(receiver, dict):
            if has_args:
                self.errorf(f"{field} is not a method but has arguments")
            if field in receiver:
                return Iface(receiver[field])
            if self.missingkey == "zero":
                return Iface(None)
            if self.missingkey == "error":
                self.errorf(f"map has no entry for key {quote(field)}")
            return MISSING
        elif is_nil:
            self.errorf(f"nil pointer evaluating {typ}.{field}")
        self.errorf(f"can't evaluate field {field} in type {typ}")

    def eval_call(self, dot: Any, fn: GoFunc, builtin: bool, node: N.Node, name: str,
                  args: list[N.Node] | None, final: Any) -> Any:
        args = args[1:] if args is not None else []
        params = fn.params
        num_in = len(args) + (0 if final is NO_FINAL else 1)
        num_fixed = len(args)
        if fn.variadic:
            num_fixed = len(params) - 1
            if num_in < num_fixed:
                self.errorf(f"wrong number of args for {name}: want at least {num_fixed} "
                            f"got {len(args)}")
        elif num_in != len(params):
            self.errorf(f"wrong number of args for {name}: want {len(params)} got {num_in}")

        if builtin and name in ("and", "or"):   # they short-circuit
            v: Any = MISSING
            for arg in args:
                v = self.eval_arg(dot, "value", arg)
                if is_true(indirect_interface(v))[0] == (name == "or"):
                    return v
            if final is not NO_FINAL:
                v = self.validate_type(final, "value")
            return v

        argv: list[Any] = []
        i = 0
        while i < num_fixed and i < len(args):
            argv.append(self.eval_arg(dot, params[i], args[i]))
            i += 1
        if fn.variadic:
            while i < len(args):
                argv.append(self.eval_arg(dot, params[-1], args[i]))
                i += 1
        if final is not NO_FINAL:
            t = params[-1]
            if fn.variadic and num_in - 1 < num_fixed:
                t = params[num_in - 1]
            argv.append(self.validate_type(final, t))
        impl = fn.impl
        if builtin and name == "call":
            callee = str(args[0]) if args else (
                final if isinstance(final, str) else f"<{type_name(final)} Value>")
            argv.insert(0, callee)
            impl = call_function
        try:
            result = impl(*argv)
        except (TemplateError, _Break, _Continue, RecursionError):
            raise
        except FuncError as e:
            self.at(node)
            self.errorf(f"error calling {name}: {e}")
        except Exception as e:   # a panic in Go: recovered as the call's error
            self.at(node)
            self.errorf(f"error calling {name}: {e}")
        if fn.plain and result is None:
            return Iface(None)
        return result

    def validate_type(self, value: Any, typ: str | None) -> Any:
        """Go's validateType: is the value assignable to a parameter of type typ?"""
        if value is MISSING:
            if typ is None or typ == "value":
                return MISSING
            if typ == "any":
                return None
            self.errorf(f"invalid value; expected {_GO_TYPES[typ]}")
        if typ is None or typ == "value":
            return value
        if typ == "any":
            return value.value if isinstance(value, Iface) else value
        if isinstance(value, Iface) and value.value is not None:
            value = value.value
        if _assignable(value, typ):
            return value
        self.errorf(f"wrong type for value; expected {_GO_TYPES[typ]}; got "
                    f"{type_name(value)}")

    def eval_arg(self, dot: Any, typ: str | None, n: N.Node) -> Any:
        self.at(n)
        if isinstance(n, N.DotNode):
            return self.validate_type(dot, typ)
        if isinstance(n, N.NilNode):
            if typ == "any":
                return None
            if typ == "value":
                return MISSING
            self.errorf(f"cannot assign nil to {_GO_TYPES.get(typ or '', typ)}")
        if isinstance(n, N.FieldNode):
            return self.validate_type(self.eval_field_node(dot, n, [n], NO_FINAL), typ)
        if isinstance(n, N.VariableNode):
            return self.validate_type(self.eval_variable_node(dot, n, None, NO_FINAL), typ)
        if isinstance(n, N.PipeNode):
            return self.validate_type(self.eval_pipeline(dot, n), typ)
        if isinstance(n, N.IdentifierNode):
            return self.validate_type(self.eval_function(dot, n, n, None, NO_FINAL), typ)
        if isinstance(n, N.ChainNode):
            return self.validate_type(self.eval_chain_node(dot, n, None, NO_FINAL), typ)
        if typ == "bool":
            if isinstance(n, N.BoolNode):
                return n.value
            self.errorf(f"expected bool; found {n}")
        if typ == "int":
            if isinstance(n, N.NumberNode) and n.is_int:
                return n.int_value
            self.errorf(f"expected integer; found {n}")
        if typ == "string":
            if isinstance(n, N.StringNode):
                return n.text
            self.errorf(f"expected string; found {n}")
        if typ in ("any", "value"):
            return self.eval_empty_interface(dot, n)
        self.errorf(f"can't handle {n} for arg of type {typ}")

    def eval_empty_interface(self, dot: Any, n: N.Node) -> Any:
        self.at(n)
        if isinstance(n, N.BoolNode):
            return n.value
        if isinstance(n, N.NumberNode):
            return self.ideal_constant(n)
        if isinstance(n, N.StringNode):
            return n.text
        self.errorf(f"can't handle assignment of {n} to empty interface argument")

    def print_value(self, node: N.Node, v: Any) -> None:
        self.at(node)
        if v is MISSING:
            self.out.append("<no value>")
            return
        if kind(v) == "func":
            self.errorf(f"can't print {node} of type {type_name(v)}")
        self.out.append(gofmt.sprint([v]))


def _assignable(v: Any, typ: str) -> bool:
    if typ == "string":
        return isinstance(v, str)
    if typ == "bool":
        return isinstance(v, bool)
    if typ == "int":
        return isinstance(v, int) and not isinstance(v, (bool, Byte))
    return False
