"""The parser: text/template/parse/parse.go, function for function — including its
three-token lookahead, because the line a parse error names is that of the last token the
parser read, and the position an execution error points at is the one Go's parser gave
the node (for `.A.B` that of `.B`).

`parse_trees` returns every template the text defines, by name ("" is the text itself).
"""

from __future__ import annotations

from hull.cli.gotemplate import lex as L
from hull.cli.gotemplate import nodes as N
from hull.cli.gotemplate.errors import ParseError
from hull.cli.gotemplate.strconv import (
    SyntaxErr,
    parse_float,
    parse_int,
    parse_uint,
    quote,
    unquote,
    unquote_char_constant,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Container
    from typing import NoReturn

_INT64 = 1 << 63
# Go allows 10000 nested parentheses; Python's stack runs out near 200, so the limit (and
# Go's error for passing it) comes sooner here.
_MAX_PAREN_DEPTH = 150


class _Abort(Exception):
    """Carries a finished error message out of the recursive descent."""


class Tree:
    """One template being parsed; {{define}} and {{block}} bodies get their own Tree
    sharing the lexer, as in Go."""

    def __init__(self, name: str, parse_name: str, funcs: list[Container[str]],
                 lexer: L.Lexer, tree_set: dict[str, Tree]) -> None:
        self.name, self.parse_name = name, parse_name
        self.funcs, self.lex, self.tree_set = funcs, lexer, tree_set
        self.root: N.ListNode | None = None
        self.token = [L.Item(L.EOF, 0, "", 0)] * 3
        self.peek_count = 0
        self.vars = ["$"]
        self.action_line = 0
        self.range_depth = 0
        self.stack_depth = 0
        lexer.break_ok = not self.has_function("break")
        lexer.continue_ok = not self.has_function("continue")

    # Token stream.

    def next(self) -> L.Item:
        if self.peek_count > 0:
            self.peek_count -= 1
        else:
            self.token[0] = self.lex.next_item()
        return self.token[self.peek_count]

    def backup(self) -> None:
        self.peek_count += 1

    def backup2(self, t1: L.Item) -> None:
        self.token[1] = t1
        self.peek_count = 2

    def backup3(self, t2: L.Item, t1: L.Item) -> None:
        self.token[1], self.token[2] = t1, t2
        self.peek_count = 3

    def peek(self) -> L.Item:
        if self.peek_count > 0:
            return self.token[self.peek_count - 1]
        self.peek_count = 1
        self.token[0] = self.lex.next_item()
        return self.token[0]

    def next_non_space(self) -> L.Item:
        while True:
            token = self.next()
            if token.typ != L.SPACE:
                return token

    def peek_non_space(self) -> L.Item:
        token = self.next_non_space()
        self.backup()
        return token

    # Errors.

    def errorf(self, msg: str) -> NoReturn:
        raise _Abort(f"template: {self.parse_name}:{self.token[0].line}: {msg}")

    def expect(self, expected: int, context: str) -> L.Item:
        token = self.next_non_space()
        if token.typ != expected:
            self.unexpected(token, context)
        return token

    def unexpected(self, token: L.Item, context: str) -> NoReturn:
        if token.typ == L.ERROR:
            extra = ""
            if self.action_line != 0 and self.action_line != token.line:
                extra = f" in action started at {self.parse_name}:{self.action_line}"
                if token.val.endswith(" action"):
                    extra = extra[len(" in action"):]
            self.errorf(f"{token}{extra}")
        self.errorf(f"unexpected {token} in {context}")

    def has_function(self, name: str) -> bool:
        return any(name in f for f in self.funcs)

    # Grammar.

    def add(self) -> None:
        tree = self.tree_set.get(self.name)
        if tree is None or N.is_empty_tree(tree.root):
            self.tree_set[self.name] = self
            return
        if not N.is_empty_tree(self.root):
            self.errorf(f"template: multiple definition of template {quote(self.name)}")

    def sub_tree(self, name: str) -> Tree:
        return Tree(name, self.parse_name, self.funcs, self.lex, self.tree_set)

    def parse(self) -> None:
        self.root = N.ListNode(self.peek().pos)
        while self.peek().typ != L.EOF:
            if self.peek().typ == L.LEFT_DELIM:
                delim = self.next()
                if self.next_non_space().typ == L.DEFINE:
                    self.sub_tree("definition").parse_definition()
                    continue
                self.backup2(delim)
            n = self.text_or_action()
            if isinstance(n, (N.EndNode, N.ElseNode)):
                self.errorf(f"unexpected {n}")
            self.root.nodes.append(n)

    def parse_definition(self) -> None:
        context = "define clause"
        token = self.next_non_space()
        if token.typ not in (L.STRING, L.RAW_STRING):
            self.unexpected(token, context)
        self.name = self._unquote(token.val)
        self.expect(L.RIGHT_DELIM, context)
        self.root, end = self.item_list()
        if not isinstance(end, N.EndNode):
            self.errorf(f"unexpected {end} in {context}")
        self.add()

    def item_list(self) -> tuple[N.ListNode, N.Node]:
        lst = N.ListNode(self.peek_non_space().pos)
        while self.peek_non_space().typ != L.EOF:
            n = self.text_or_action()
            if isinstance(n, (N.EndNode, N.ElseNode)):
                return lst, n
            lst.nodes.append(n)
        self.errorf("unexpected EOF")

    def text_or_action(self) -> N.Node:
        token = self.next_non_space()
        if token.typ == L.TEXT:
            return N.TextNode(token.pos, token.val)
        if token.typ == L.LEFT_DELIM:
            self.action_line = token.line
            try:
                return self.action()
            finally:
                self.action_line = 0
        if token.typ == L.COMMENT:
            return N.CommentNode(token.pos, token.val)
        self.unexpected(token, "input")

    def action(self) -> N.Node:
        token = self.next_non_space()
        typ = token.typ
        if typ == L.BLOCK:
            return self.block_control()
        if typ in (L.BREAK, L.CONTINUE):
            word = "break" if typ == L.BREAK else "continue"
            after = self.next_non_space()
            if after.typ != L.RIGHT_DELIM:
                self.unexpected(after, "{{" + word + "}}")
            if self.range_depth == 0:
                self.errorf("{{" + word + "}} outside {{range}}")
            cls = N.BreakNode if typ == L.BREAK else N.ContinueNode
            return cls(token.pos, token.line)
        if typ == L.ELSE:
            return self.else_control()
        if typ == L.END:
            return N.EndNode(self.expect(L.RIGHT_DELIM, "end").pos)
        if typ == L.IF:
            return N.IfNode(*self.parse_control("if"))
        if typ == L.RANGE:
            return N.RangeNode(*self.parse_control("range"))
        if typ == L.TEMPLATE:
            return self.template_control()
        if typ == L.WITH:
            return N.WithNode(*self.parse_control("with"))
        self.backup()
        token = self.peek()
        return N.ActionNode(token.pos, token.line, self.pipeline("command", L.RIGHT_DELIM))

    def pipeline(self, context: str, end: int) -> N.PipeNode:
        token = self.peek_non_space()
        pipe = N.PipeNode(token.pos, token.line)
        while True:   # Go's "decls:" label
            v = self.peek_non_space()
            if v.typ != L.VARIABLE:
                break
            self.next()
            token_after = self.peek()
            nxt = self.peek_non_space()
            if nxt.typ in (L.ASSIGN, L.DECLARE):
                pipe.is_assign = nxt.typ == L.ASSIGN
                self.next_non_space()
                pipe.decl.append(N.VariableNode(v.pos, v.val))
                self.vars.append(v.val)
            elif nxt.typ == L.CHAR and nxt.val == ",":
                self.next_non_space()
                pipe.decl.append(N.VariableNode(v.pos, v.val))
                self.vars.append(v.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().typ in (L.VARIABLE, L.RIGHT_DELIM,
                                                     L.RIGHT_PAREN):
                        continue
                    self.errorf("range can only initialize variables")
                self.errorf(f"too many declarations in {context}")
            elif token_after.typ == L.SPACE:
                self.backup3(v, token_after)
            else:
                self.backup2(v)
            break
        while True:
            token = self.next_non_space()
            if token.typ == end:
                self.check_pipeline(pipe, context)
                return pipe
            if token.typ in (L.BOOL, L.CHAR_CONSTANT, L.COMPLEX, L.DOT, L.FIELD,
                             L.IDENTIFIER, L.NUMBER, L.NIL, L.RAW_STRING, L.STRING,
                             L.VARIABLE, L.LEFT_PAREN):
                self.backup()
                pipe.cmds.append(self.command())
            else:
                self.unexpected(token, context)

    def check_pipeline(self, pipe: N.PipeNode, context: str) -> None:
        if not pipe.cmds:
            self.errorf(f"missing value for {context}")
        for i, c in enumerate(pipe.cmds[1:]):
            if isinstance(c.args[0], (N.BoolNode, N.DotNode, N.NilNode, N.NumberNode,
                                      N.StringNode)):
                self.errorf(f"non executable command in pipeline stage {i + 2}")

    def parse_control(self, context: str) -> tuple[int, int, N.PipeNode, N.ListNode,
                                                   N.ListNode | None]:
        mark = len(self.vars)
        try:
            pipe = self.pipeline(context, L.RIGHT_DELIM)
            if context == "range":
                self.range_depth += 1
            lst, nxt = self.item_list()
            if context == "range":
                self.range_depth -= 1
            else_list = None
            if isinstance(nxt, N.ElseNode):
                # {{else if ...}} / {{else with ...}}: the if/with is parsed as the whole
                # else list, and its {{end}} ends both.
                if context == "if" and self.peek().typ == L.IF:
                    self.next()
                    else_list = N.ListNode(nxt.pos)
                    else_list.nodes.append(N.IfNode(*self.parse_control("if")))
                elif context == "with" and self.peek().typ == L.WITH:
                    self.next()
                    else_list = N.ListNode(nxt.pos)
                    else_list.nodes.append(N.WithNode(*self.parse_control("with")))
                else:
                    else_list, nxt = self.item_list()
                    if not isinstance(nxt, N.EndNode):
                        self.errorf(f"expected end; found {nxt}")
            return pipe.pos, pipe.line, pipe, lst, else_list
        finally:
            del self.vars[mark:]

    def else_control(self) -> N.Node:
        peek = self.peek_non_space()
        if peek.typ in (L.IF, L.WITH):
            return N.ElseNode(peek.pos, peek.line)
        token = self.expect(L.RIGHT_DELIM, "else")
        return N.ElseNode(token.pos, token.line)

    def block_control(self) -> N.Node:
        context = "block clause"
        token = self.next_non_space()
        name = self.template_name(token, context)
        pipe = self.pipeline(context, L.RIGHT_DELIM)
        block = self.sub_tree(name)
        block.root, end = block.item_list()
        if not isinstance(end, N.EndNode):
            self.errorf(f"unexpected {end} in {context}")
        block.add()
        return N.TemplateNode(token.pos, token.line, name, pipe)

    def template_control(self) -> N.Node:
        context = "template clause"
        token = self.next_non_space()
        name = self.template_name(token, context)
        pipe = None
        if self.next_non_space().typ != L.RIGHT_DELIM:
            self.backup()
            pipe = self.pipeline(context, L.RIGHT_DELIM)
        return N.TemplateNode(token.pos, token.line, name, pipe)

    def template_name(self, token: L.Item, context: str) -> str:
        if token.typ in (L.STRING, L.RAW_STRING):
            return self._unquote(token.val)
        self.unexpected(token, context)

    def command(self) -> N.CommandNode:
        cmd = N.CommandNode(self.peek_non_space().pos)
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            token = self.next()
            if token.typ == L.SPACE:
                continue
            if token.typ in (L.RIGHT_DELIM, L.RIGHT_PAREN):
                self.backup()
            elif token.typ != L.PIPE:
                self.unexpected(token, "operand")
            break
        if not cmd.args:
            self.errorf("empty command")
        return cmd

    def operand(self) -> N.Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().typ == L.FIELD:
            chain = N.ChainNode(self.peek().pos, node)
            while self.peek().typ == L.FIELD:
                chain.add(self.next().val)
            if isinstance(node, N.FieldNode):
                return N.FieldNode(chain.pos, str(chain))
            if isinstance(node, N.VariableNode):
                return N.VariableNode(chain.pos, str(chain))
            if isinstance(node, (N.BoolNode, N.StringNode, N.NumberNode, N.NilNode,
                                 N.DotNode)):
                self.errorf(f"unexpected . after term {quote(str(node))}")
            return chain
        return node

    def term(self) -> N.Node | None:
        token = self.next_non_space()
        typ = token.typ
        if typ == L.IDENTIFIER:
            if not self.has_function(token.val):
                self.errorf(f"function {quote(token.val)} not defined")
            return N.IdentifierNode(token.pos, token.val)
        if typ == L.DOT:
            return N.DotNode(token.pos)
        if typ == L.NIL:
            return N.NilNode(token.pos)
        if typ == L.VARIABLE:
            return self.use_var(token.pos, token.val)
        if typ == L.FIELD:
            return N.FieldNode(token.pos, token.val)
        if typ == L.BOOL:
            return N.BoolNode(token.pos, token.val == "true")
        if typ in (L.CHAR_CONSTANT, L.COMPLEX, L.NUMBER):
            return self.number(token.pos, token.val, typ)
        if typ == L.LEFT_PAREN:
            if self.stack_depth >= _MAX_PAREN_DEPTH:
                self.errorf("max expression depth exceeded")
            self.stack_depth += 1
            try:
                return self.pipeline("parenthesized pipeline", L.RIGHT_PAREN)
            finally:
                self.stack_depth -= 1
        if typ in (L.STRING, L.RAW_STRING):
            return N.StringNode(token.pos, token.val, self._unquote(token.val))
        self.backup()
        return None

    def use_var(self, pos: int, name: str) -> N.Node:
        v = N.VariableNode(pos, name)
        if v.ident[0] not in self.vars:
            self.errorf(f"undefined variable {quote(v.ident[0])}")
        return v

    def _unquote(self, text: str) -> str:
        try:
            return unquote(text)
        except SyntaxErr as e:
            self.errorf(str(e))

    def number(self, pos: int, text: str, typ: int) -> N.NumberNode:
        """parse's newNumber: the literal under every Go type it fits."""
        n = N.NumberNode(pos, text)
        if typ == L.CHAR_CONSTANT:
            try:
                rune, tail = unquote_char_constant(text)
            except SyntaxErr as e:
                self.errorf(str(e))
            if tail != "'":
                self.errorf(f"malformed character constant: {text}")
            n.is_int = n.is_uint = n.is_float = True
            n.int_value = n.uint_value = rune
            n.float_value = float(rune)
            return n
        if typ == L.COMPLEX:
            c = _parse_complex(text)
            if c is None:
                self.errorf(f"illegal number syntax: {quote(text)}")
            _set_complex(n, c or 0j)
            return n
        if text.endswith("i"):
            f = parse_float(text[:-1])
            if f is not None:
                _set_complex(n, complex(0, f))
                return n
        u = parse_uint(text)
        if u is not None:
            n.is_uint, n.uint_value = True, u
        i = parse_int(text)
        if i is not None:
            n.is_int, n.int_value = True, i
            if i == 0:
                n.is_uint, n.uint_value = True, u or 0
        if n.is_int:
            n.is_float, n.float_value = True, float(n.int_value)
        elif n.is_uint:
            n.is_float, n.float_value = True, float(n.uint_value)
        else:
            f = parse_float(text)
            if f is not None:
                if not any(c in text for c in ".eEpP"):
                    self.errorf(f"integer overflow: {quote(text)}")
                n.is_float, n.float_value = True, f
                if -_INT64 <= f < _INT64 and float(int(f)) == f:
                    n.is_int, n.int_value = True, int(f)
                if 0 <= f < 2 * _INT64 and float(int(f)) == f:
                    n.is_uint, n.uint_value = True, int(f)
        if not (n.is_int or n.is_uint or n.is_float):
            self.errorf(f"illegal number syntax: {quote(text)}")
        return n


def _set_complex(n: N.NumberNode, c: complex) -> None:
    """newNumber + simplifyComplex: a complex with no imaginary part is also a float."""
    n.is_complex, n.complex_value = True, c
    n.is_float = c.imag == 0
    if n.is_float:
        f = c.real
        n.float_value = f
        n.is_int = -_INT64 <= f < _INT64 and float(int(f)) == f
        if n.is_int:
            n.int_value = int(f)
        n.is_uint = 0 <= f < 2 * _INT64 and float(int(f)) == f
        if n.is_uint:
            n.uint_value = int(f)


def _parse_complex(text: str) -> complex | None:
    """fmt.Sscan of a complex literal such as 1+2i or -1.5e3-2i."""
    if not text.endswith("i"):
        return None
    for k in range(len(text) - 2, 0, -1):
        if text[k] in "+-" and text[k - 1] not in "eEpP":
            re, im = parse_float(text[:k]), parse_float(text[k:-1])
            if re is None or im is None:
                return None
            return complex(re, im)
    return None


def parse_trees(text: str, funcs: list[Container[str]]) -> dict[str, Tree]:
    """Parse.Parse("", text): the template and every template it defines, by name.

    `funcs` are the function names in scope (a call of another one is a parse error).
    Raises ParseError with Go's message.
    """
    tree_set: dict[str, Tree] = {}
    lexer = L.Lexer(text)
    top = Tree("", "", funcs, lexer, tree_set)
    try:
        top.parse()
        top.add()
    except _Abort as e:
        raise ParseError(str(e)) from None
    except RecursionError:   # blocks nested some hundred deep: Python's stack, not Go's
        raise ParseError(f"template: :{top.token[0].line}: max expression depth exceeded"
                         ) from None
    return tree_set
