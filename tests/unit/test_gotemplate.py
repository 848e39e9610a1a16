"""hull.cli.gotemplate: Go's text/template with Docker CLI's functions.

CASES is a table written from Go's text/template documentation (pkg.go.dev/text/template,
its examples and error texts) and Docker's "Format command and log output" page. Every case
runs on hull's engine here; test_gotemplate_oracle.py runs the same table on real Go (the
program in gotemplate_oracle/) and checks that both agree on output and error text — all
cases but those whose data Go cannot receive as JSON or that use Go features newer than
the Debian Go 1.19 the oracle builds with (each says why).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from hull.cli.gotemplate import (
    BASIC_FUNCS,
    HEADER_FUNCS,
    ExecError,
    GoFunc,
    ParseError,
    Struct,
    TypedNil,
    parse,
)


@dataclass(frozen=True)
class Case:
    template: str
    data: Any = None
    out: str | None = None           # expected output
    err: str | None = None           # or the expected error text
    missingkey: str = "default"
    go: str | None = None            # why real Go 1.19 cannot check it (None: it can)
    extra: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.template


def ok(template: str, data: Any, out: str, **kw: Any) -> Case:
    return Case(template, data, out=out, **kw)


def err(template: str, data: Any, text: str, **kw: Any) -> Case:
    return Case(template, data, err=text, **kw)


E = 'template: :1:2: executing "" at '   # the common start of an execution error
NEWER = "Go 1.19 differs: "

CASES: list[Case] = [
    # Text, trim markers, comments (doc.go "Text and spaces").
    ok("hello, world", None, "hello, world"),
    ok("{{23 -}} < {{- 45}}", None, "23<45"),
    ok("a  {{- 3 -}}  b", None, "a3b"),
    ok("x \t\r\n{{- .a -}}\n\t y", {"a": 1}, "x1y"),
    ok("{{-3}}", None, "-3"),
    ok("{{- 3}}", None, "3"),
    ok("{{3 -}}", None, "3"),
    ok("a{{/* a comment */}}b", None, "ab"),
    ok("a {{- /* trimmed */ -}} \n b", None, "ab"),
    ok("a{{/* spans\nlines */}}b", None, "ab"),
    err("{{/* open", None, "template: :1: unclosed comment"),
    err("{{/* x */ }}", None, "template: :1: comment ends before closing delimiter"),
    # Literals: strings, raw strings, characters, numbers, booleans.
    ok(r'{{"\"output\""}}', None, '"output"'),
    ok(r'{{"\x41\u00e9\U0001F600\101\t|\\"}}', None, "Aé😀A\t|\\"),
    ok(r"{{`a\nb`}}", None, r"a\nb"),
    ok("{{`two\nlines`}}", None, "two\nlines"),
    ok(r"{{'a'}} {{'\n'}} {{'\u00e9'}} {{'\''}}", None, "97 10 233 39"),
    ok("{{1_000}} {{0x1F}} {{0o17}} {{017}} {{0b101}} {{-2}} {{+3}}", None,
       "1000 31 15 15 5 -2 3"),
    ok("{{1.5}} {{1e3}} {{.5}} {{1e6}} {{1e21}} {{123456789.0}} {{0.000012}} {{100000.0}}",
       None, "1.5 1000 0.5 1e+06 1e+21 1.23456789e+08 1.2e-05 100000"),
    ok("{{0x1p-2}} {{1i}} {{1+2i}} {{0x10}}", None, "0.25 (0+1i) (1+2i) 16"),
    ok("{{true}} {{false}}", None, "true false"),
    err("{{nil}}", None, E + "<nil>: nil is not a command"),
    err("{{3k}}", None, 'template: :1: bad number syntax: "3k"'),
    err("{{99999999999999999999}}", None,
        'template: :1: integer overflow: "99999999999999999999"'),
    err("{{18446744073709551615}}", None, E + "<18446744073709551615>: "
        "18446744073709551615 overflows int"),
    err('{{"abc}}', None, "template: :1: unterminated quoted string"),
    err("{{`abc}}", None, "template: :1: unterminated raw quoted string"),
    err("{{'ab'}}", None, "template: :1: malformed character constant: 'ab'"),
    err(r'{{"\q"}}', None, "template: :1: invalid syntax"),
    err("{{.a#}}", None, "template: :1: bad character U+0023 '#'"),
    err("{{\x01}}", None, "template: :1: unrecognized character in action: U+0001"),
    # Parsing errors.
    err("{{.a", None, "template: :1: unclosed action"),
    err("{{.a\n\n", None, "template: :3: unclosed action started at :1"),
    err("{{foo}}", None, 'template: :1: function "foo" not defined'),
    err("{{if .a}}x", None, "template: :1: unexpected EOF"),
    err("{{end}}", None, "template: :1: unexpected {{end}}"),
    err("a{{else}}b", None, "template: :1: unexpected {{else}}"),
    err("{{$x}}", None, 'template: :1: undefined variable "$x"'),
    err("{{if true}}{{$x := 1}}{{end}}{{$x}}", None, 'template: :1: undefined variable "$x"'),
    err("{{if}}{{end}}", None, "template: :1: missing value for if"),
    err("{{range}}{{end}}", None, "template: :1: missing value for range"),
    err("{{1 | 2}}", None, "template: :1: non executable command in pipeline stage 2"),
    err("{{)}}", None, "template: :1: unexpected right paren",
        go=NEWER + 'unexpected ")" in command'),
    err("{{(1}}", None, "template: :1: unclosed left paren"),
    err("{{range $i, $v, $w := .}}{{end}}", None,
        "template: :1: too many declarations in range"),
    err("{{with $x, $y := .}}{{end}}", None, "template: :1: too many declarations in with"),
    err("{{range $i, 3}}{{end}}", None, "template: :1: range can only initialize variables"),
    err("{{break}}", None, "template: :1: {{break}} outside {{range}}"),
    err("{{continue}}", None, "template: :1: {{continue}} outside {{range}}"),
    err('{{define "a"}}x{{end}}{{define "a"}}y{{end}}', None,
        'template: :1: template: multiple definition of template "a"'),
    err("{{template x}}", None, 'template: :1: unexpected "x" in template clause'),
    err('{{"x".a}}', None, r'template: :1: unexpected . after term "\"x\""'),
    err("{{if .a}}{{else}}{{else}}{{end}}", None, "template: :1: expected end; found {{else}}"),
    err("{{.a.b.c.d.e.f}}{{end}}", None, "template: :1: unexpected {{end}}"),
    err("{{.a 1 | }}x{{", None, "template: :1: unclosed action"),
    ok("{{.a|}}", {"a": "x"}, "x"),
    # Fields, maps and nil (exec.go evalField).
    ok("{{.A.B}}", {"A": {"B": "x"}}, "x"),
    ok("{{.Missing}} {{.Missing.B}}", {}, "<no value> <no value>"),
    err("{{.Foo}}", {}, E + '<.Foo>: map has no entry for key "Foo"', missingkey="error"),
    ok("{{.Foo}}", {}, "<no value>", missingkey="zero"),
    err("{{.Foo}}", None, E + '<.Foo>: nil data; no entry for key "Foo"', missingkey="error"),
    ok("{{.Foo}}", None, "<no value>"),
    err("{{.a.b}}", {"a": None}, 'template: :1:4: executing "" at <.a.b>: '
        "nil pointer evaluating interface {}.b"),
    err("{{.a.b}}", {"a": "x"}, 'template: :1:4: executing "" at <.a.b>: '
        "can't evaluate field b in type interface {}"),
    err("{{$x := .a}}{{$x.b}}", {"a": "x"}, 'template: :1:16: executing "" at <$x.b>: '
        "can't evaluate field b in type string"),
    err("{{.b}}", "x", E + "<.b>: can't evaluate field b in type string"),
    err("{{.a 1}}", {"a": 1}, E + "<.a>: a is not a method but has arguments"),
    err("{{. 1}}", 1, E + "<.>: can't give argument to non-function ."),
    err("{{$x := 1}}{{2 | $x}}", None, 'template: :1:17: executing "" at <$x>: '
        "can't give argument to non-function $x"),
    ok("{{.a}}|{{print .a}}|{{.l}}", {"a": None, "l": [1, None, "x"]},
       "<no value>|<nil>|[1 <nil> x]"),
    ok("{{.}}", {"b": 2, "a": 1, "c": {"z": [1, 2]}}, "map[a:1 b:2 c:map[z:[1 2]]]"),
    ok("{{.}}", ["a", "b c"], "[a b c]"),
    ok("{{.}}", [True, 1.5, 2.0, 1e100, 0.0001, -0.5], "[true 1.5 2 1e+100 0.0001 -0.5]"),
    ok("{{.}}", {}, "map[]"),
    ok("{{.}}", [], "[]"),
    # Pipelines and the one-line examples of doc.go ("All produce the quoted word").
    ok('{{"output" | printf "%q"}}', None, '"output"'),
    ok('{{printf "%q" (print "out" "put")}}', None, '"output"'),
    ok('{{"put" | printf "%s%s" "out" | printf "%q"}}', None, '"output"'),
    ok('{{"output" | printf "%s" | printf "%q"}}', None, '"output"'),
    ok('{{with "output"}}{{printf "%q" .}}{{end}}', None, '"output"'),
    ok('{{with $x := "output" | printf "%q"}}{{$x}}{{end}}', None, '"output"'),
    ok('{{with $x := "output"}}{{printf "%q" $x}}{{end}}', None, '"output"'),
    ok('{{with $x := "output"}}{{$x | printf "%q"}}{{end}}', None, '"output"'),
    ok("{{(index .l 0).Name}}|{{(index .l 0).Other}}", {"l": [{"Name": "n"}]}, "n|<no value>"),
    ok("{{range .l}}{{$.x}}{{end}}", {"l": [1, 2], "x": "y"}, "yy"),
    # Variables and their scope.
    ok("{{$x := 1}}{{$x = 2}}{{$x}}", None, "2"),
    ok("{{$x := 0}}{{range .}}{{$x = .}}{{end}}{{$x}}", [1, 2, 3], "3"),
    ok("{{$x := 1}}{{if true}}{{$x := 2}}{{$x}}{{end}}{{$x}}", None, "21"),
    ok("{{$}}", 7, "7"),
    # if / else if / with / else.
    ok("{{if eq .a 1}}one{{else if eq .a 2}}two{{else}}other{{end}}", {"a": 2}, "two"),
    ok("{{if eq .a 1}}one{{else if eq .a 2}}two{{else}}other{{end}}", {"a": 3}, "other"),
    ok("{{if .}}t{{else}}f{{end}}", [], "f"),
    ok("{{if .}}t{{else}}f{{end}}", 0.0, "f"),
    ok("{{if .}}t{{else}}f{{end}}", "0", "t"),
    ok("{{if .a}}t{{else}}f{{end}}", {"a": None}, "f"),
    ok("{{if .a}}t{{else}}f{{end}}", {"a": {}}, "f"),
    ok("{{with .a}}[{{.}}]{{else}}none{{end}}", {"a": ""}, "none"),
    ok("{{with .a}}[{{.}}]{{else}}none{{end}}", {"a": "x"}, "[x]"),
    ok("{{with .a}}a{{else with .b}}b={{.}}{{else}}none{{end}}", {"b": 1}, "b=1",
       go="else with is Go 1.23+"),
    # range.
    ok("{{range $i, $e := .}}{{$i}}:{{$e}},{{end}}", ["a", "b"], "0:a,1:b,"),
    ok("{{range $k, $v := .}}{{$k}}={{$v}};{{end}}", {"b": 2, "a": 1}, "a=1;b=2;"),
    ok("{{range $v := .}}{{$v}}{{end}}", {"b": 2, "a": 1}, "12"),
    ok("{{range .}}x{{else}}empty{{end}}", [], "empty"),
    ok("{{range .}}x{{else}}empty{{end}}", None, "empty"),
    ok("{{range .}}{{.Name}} {{end}}", [{"Name": "a"}, {"Name": "b"}], "a b "),
    ok("{{range .}}{{if eq . 3}}{{break}}{{end}}{{if eq . 1}}{{continue}}{{end}}{{.}}{{end}}",
       [0, 1, 2, 3, 4], "02"),
    ok("{{range 3}}{{.}}{{end}}|{{range $i := 2}}{{$i}}{{end}}|{{range 0}}x{{else}}none{{end}}",
       None, "012|01|none", go="range over an int is Go 1.22+"),
    err("{{range $i, $e := 3}}{{end}}", None, 'template: :1:18: executing "" at <3>: '
        "can't use 3 to iterate over more than one variable",
        go="range over an int is Go 1.22+"),
    err("{{range .}}{{end}}", "abc", 'template: :1:8: executing "" at <.>: range can\'t '
        "iterate over abc"),
    err("{{range .}}{{end}}", True, 'template: :1:8: executing "" at <.>: range can\'t '
        "iterate over true"),
    ok("{{range split . \",\"}}[{{.}}]{{end}}", "a,b", "[a][b]"),
    err("{{range split . \",\"}}{{.x}}{{end}}", "a", 'template: :1:23: executing "" at '
        "<.x>: can't evaluate field x in type string"),
    # Templates: define, template, block.
    ok('{{define "T1"}}ONE{{end}}{{define "T2"}}TWO{{end}}'
       '{{define "T3"}}{{template "T1"}} {{template "T2"}}{{end}}{{template "T3"}}',
       None, "ONE TWO"),
    ok('{{define "x"}}[{{.}}]{{end}}{{template "x" .a}}', {"a": 5}, "[5]"),
    ok('{{define "x"}}[{{.}}]{{end}}{{template "x"}}', {"a": 5}, "[<no value>]"),
    err('{{template "nope"}}', None, 'template: :1:11: executing "" at '
        '<{{template "nope"}}>: template "nope" not defined'),
    err('{{define "x"}}{{$x}}{{end}}', None, 'template: :1: undefined variable "$x"'),
    ok('{{block "b" .}}<{{.}}>{{end}}', 1, "<1>"),
    err('{{define "b"}}[{{.}}]{{end}}{{block "b" .}}<{{.}}>{{end}}', 1,
        'template: :1: template: multiple definition of template "b"'),
    err('{{define "T"}}{{.a.b}}{{end}}{{template "T" .}}', {"a": "s"},
        'template: :1:18: executing "T" at <.a.b>: can\'t evaluate field b in type '
        "interface {}"),
    err("line1\n  {{.a.b}}", {"a": 1}, 'template: :2:6: executing "" at <.a.b>: '
        "can't evaluate field b in type interface {}"),
    err("é{{.a.b}}", {"a": 1}, 'template: :1:6: executing "" at <.a.b>: '
        "can't evaluate field b in type interface {}"),
    # and, or, not.
    ok("{{and 1 0 2}} {{or 0 \"\" \"x\" 1}} {{and 1 2}} {{or 0 false}}", None, "0 x 2 false"),
    ok("{{or 1 .a.b.c}} {{and 0 (index .l 9)}}", {"a": None, "l": []}, "1 0"),
    ok("{{1 | and 2}} {{0 | or \"\"}}", None, "1 0"),
    ok("{{not 0}} {{not 1}} {{not \"\"}} {{not .l}} {{not .m}}", {"l": []},
       "true false true true true"),
    err("{{and}}", None, E + "<and>: wrong number of args for and: want at least 1 got 0"),
    # len, index, slice.
    ok("{{len .s}} {{len .l}} {{len .m}}", {"s": "héllo", "l": [1, 2], "m": {"a": 1}}, "6 2 1"),
    err("{{len 3}}", None, E + "<len 3>: error calling len: len of type int"),
    err("{{len .n}}", {"n": None}, E + "<len .n>: error calling len: len of nil pointer"),
    err("{{len .x}}", {}, E + "<len .x>: error calling len: reflect: call of "
        "reflect.Value.Type on zero Value"),
    ok('{{index .l 1}} {{index .m "k"}} {{index .n 0 1}} {{index .m "x"}}',
       {"l": ["a", "b"], "m": {"k": "v"}, "n": [[1, 2]]}, "b v 2 <no value>"),
    ok('{{index "abc" 1}}', None, "98"),
    err("{{index .l 5}}", {"l": [1, 2]}, E + "<index .l 5>: error calling index: "
        "index out of range: 5"),
    err("{{index .l -1}}", {"l": [1, 2]}, E + "<index .l -1>: error calling index: "
        "index out of range: -1"),
    err("{{index .l 2}}", {"l": [1, 2]}, E + "<index .l 2>: error calling index: "
        "reflect: slice index out of range"),
    err("{{index .m 1}}", {"m": {}}, E + "<index .m 1>: error calling index: "
        "value has type int; should be string"),
    err("{{index 1 1}}", None, E + "<index 1 1>: error calling index: "
        "can't index item of type int"),
    err("{{index nil 1}}", None, E + "<index nil 1>: error calling index: "
        "index of untyped nil"),
    err('{{index .l "a"}}', {"l": [1]}, E + '<index .l "a">: error calling index: '
        "cannot index slice/array with type string"),
    ok('{{slice .l 1}} {{slice .l 1 2}} {{slice "hello" 1 3}} {{slice .l}}',
       {"l": ["a", "b", "c"]}, "[b c] [b] el [a b c]"),
    err("{{slice .l 2 1}}", {"l": [1, 2, 3]}, E + "<slice .l 2 1>: error calling slice: "
        "invalid slice index: 2 > 1"),
    err('{{slice "abc" 1 2 3}}', None, E + '<slice "abc" 1 2 3>: error calling slice: '
        "cannot 3-index slice a string"),
    err("{{slice 1}}", None, E + "<slice 1>: error calling slice: can't slice item of type int"),
    err("{{slice .l .i}}", {"l": [1, 2], "i": 1}, E + "<slice .l .i>: error calling slice: "
        "cannot index slice/array with type interface {}"),
    # print, println, printf (fmt's verbs, flags, width, precision and error forms).
    ok('{{print 1 2 "a" "b" 3}}', None, "1 2ab3"),
    ok('{{println 1 "a"}}', None, "1 a\n"),
    ok('{{printf "%v|%+v|%d|%5d|%-5d|%05d|%x|%X|%o|%O|%b|%c|%U|%#U|%q" 42 42 42 42 42 42 '
       "255 255 8 8 5 65 0x1F600 65 65}}", None,
       "42|42|42|   42|42   |00042|ff|FF|10|0o10|101|A|U+1F600|U+0041 'A'|'A'"),
    ok('{{printf "%e|%E|%f|%.2f|%8.3f|%-8.2f|%g|%G|%.3g|%v|%+.1f|% .1f|%#g" 1234.5678 '
       "1234.5678 1234.5678 1234.5678 1234.5678 3.14159 0.000012345 1e21 1234.5678 1e6 2.5 "
       "2.5 1.0}}", None,
       "1.234568e+03|1.234568E+03|1234.567800|1234.57|1234.568|3.14    |1.2345e-05|1E+21|"
       "1.23e+03|1e+06|+2.5| 2.5|1.00000"),
    ok('{{printf "%s|%q|%x|%X|% x|%#x|%10s|%-10s|%.2s|%5.1s|%#q|%+q" "héllo" "héllo" "hi" '
       '"hi" "hi" "hi" "r" "l" "abc" "xyz" "a\\"b" "é"}}', None,
       'héllo|"héllo"|6869|6869|68 69|0x6869|         r|l         |ab|    x|`a"b`|"\\u00e9"'),
    ok('{{printf "%t|%v|%5t|%-6v|" true false true true}}', None, "true|false| true|true  |"),
    ok('{{printf "%T %T %T %T %T %T %T" 1 1.5 "s" true .l .m nil}}', {"l": [], "m": {}},
       "int float64 string bool []interface {} map[string]interface {} <nil>"),
    ok('{{printf "%v %d %s" .l .l .l}}', {"l": [1, "a"]}, "[1 a] [1 %!d(string=a)] "
       "[%!s(int=1) a]"),
    ok('{{printf "%#v" .m}}', {"m": {"a": 1, "b": ["x", None]}},
       'map[string]interface {}{"a":1, "b":[]interface {}{"x", interface {}(nil)}}'),
    ok('{{printf "%d" "foo"}}|{{printf "%d %s" 1}}|{{printf "%d" 1 "x" nil}}', None,
       "%!d(string=foo)|1 %!s(MISSING)|1%!(EXTRA string=x, <nil>)"),
    ok('{{printf "%*d|%-*d|%.*f" 5 1 4 2 2 3.14159}}', None, "    1|2   |3.14"),
    ok('{{printf "%*d" "x" 1}}|{{printf "%[2]d %[1]d" 1 2}}|{{printf "%[3]d" 1}}', None,
       "%!(BADWIDTH)1|2 1|%!d(BADINDEX)"),
    ok('{{printf "%%|%z|%" 1}}', None, "%|%!z(int=1)|%!(NOVERB)"),
    ok('{{printf "%v %d" nil nil}}|{{printf "%s" .m}}', {"m": {"a": 1}},
       "<nil> %!d(<nil>)|map[a:%!s(int=1)]"),
    ok('{{printf "%x %b %d %e %.3x" 1.5 1.0 1.5 5 3.14159}}', None,
       "0x1.8p+00 4503599627370496p-52 %!d(float64=1.5) %!e(int=5) 0x1.922p+01"),
    ok('{{printf "%-05d|%+d|%+d|% d|% d|%#o|%#x|%#X|%#b" 3 5 -5 5 -5 8 255 255 5}}', None,
       "3    |+5|-5| 5|-5|010|0xff|0XFF|0b101"),
    ok('{{printf "%.0d|%.3d|%6.3d|%c|%q|%6.2f%%" 0 7 7 0x110000 -1 99.5}}', None,
       "|007|   007|\ufffd|'\ufffd'| 99.50%"),
    ok('{{printf "%08.3f|%+08.3f|%-8.3f|%v|%.2v|%10.3v|" -3.14159 3.14159 3.14159 3.14159 '
       "3.14159 3.14159}}", None, "-003.142|+003.142|3.142   |3.14159|3.1|      3.14|"),
    ok('{{printf "%5q|%x|% X|%#v|%#v|%+v" "a" "" "ab" "s" 1.0 .}}', {"k": 1},
       '  "a"||61 62|"s"|1|map[k:1]'),
    err("{{printf 3}}", None, 'template: :1:9: executing "" at <3>: expected string; found 3'),
    err("{{printf .n}}", {"n": 1}, 'template: :1:9: executing "" at <.n>: wrong type for '
        "value; expected string; got int"),
    # Comparisons.
    ok('{{eq 1 1}} {{eq "a" "b"}} {{eq .a "x" "y" "z"}} {{ne 1 2}} {{lt 1 2}} {{le 2 2}} '
       '{{gt "b" "a"}} {{ge 1.5 2.5}}', {"a": "y"}, "true false true true true true true false"),
    ok("{{eq .missing nil}} {{eq .missing 1}} {{eq .n nil}} {{ne .n 1}}", {"n": None},
       "true false true true"),
    err('{{eq 1 "a"}}', None, E + '<eq 1 "a">: error calling eq: incompatible types for '
        "comparison: int and string", go=NEWER + "no type names in the error"),
    err("{{lt 1 1.5}}", None, E + "<lt 1 1.5>: error calling lt: incompatible types for "
        "comparison: int and float64", go=NEWER + "no type names in the error"),
    err("{{lt true false}}", None, E + "<lt true false>: error calling lt: invalid type for "
        "comparison"),
    err("{{eq .l .l}}", {"l": [1, 2]}, E + "<eq .l .l>: error calling eq: non-comparable "
        "type [%!s(int=1) %!s(int=2)]: []interface {}"),
    err("{{eq}}", None, E + "<eq>: wrong number of args for eq: want at least 1 got 0"),
    err("{{eq 1}}", None, E + "<eq 1>: error calling eq: missing argument for comparison"),
    # html, js, urlquery.
    ok('{{html "<a href=\\"x\\">\'&\'</a>"}}', None,
       "&lt;a href=&#34;x&#34;&gt;&#39;&amp;&#39;&lt;/a&gt;"),
    ok('{{html .x}} {{html 1 "a" 2}}', {}, "&lt;no value&gt; 1a2"),
    ok('{{js "it\'s <b>\\"x\\"</b> = \\\\ é\\u2028\\t"}}', None,
       "it\\'s \\u003Cb\\u003E\\\"x\\\"\\u003C/b\\u003E \\u003D \\\\ é\\u2028\\u0009"),
    ok('{{urlquery "a b&c=d/é~_.-"}}', None, "a+b%26c%3Dd%2F%C3%A9~_.-"),
    # Docker's functions (docker/cli templates.go and docs "Format command and log output").
    ok("{{json .}}", {"b": [1, 2.5, None, "<x>&"], "a": {"z": 1e21, "y": 0.0000001,
                                                        "x": "é\u2028"}},
       '{"a":{"x":"é\\u2028","y":1e-7,"z":1e+21},"b":[1,2.5,null,"<x>&"]}'),
    ok("{{json .}}", "a\"b\\c\n\t\u0001\x7f", '"a\\"b\\\\c\\n\\t\\u0001\x7f"'),
    ok("{{json .}}", "\b\f", '"\\b\\f"', go="Go 1.22+ escapes \\b and \\f as such"),
    ok("{{json .}}", [1, 1.0, 1.5, 1e20, 1e-6, 1e-7, -0.5, 123456789.0],
       "[1,1,1.5,100000000000000000000,0.000001,1e-7,-0.5,123456789]"),
    ok("{{json .Ports}}", {"Ports": "0.0.0.0:2->8/udp"}, '"0.0.0.0:2->8/udp"'),
    ok("{{json .missing}} {{json .}}", {}, "null {}"),
    ok('{{split "a:b:c" ":"}} {{index (split "a:b" ":") 1}} {{len (split "" ",")}} '
       '{{split "abc" ""}}', None, "[a b c] b 1 [a b c]"),
    ok('{{join (split . ":") "/"}}', "text:with:colon", "text/with/colon"),
    ok('{{join .Args " , "}}', {"Args": ["-c", "echo hi"]}, "-c , echo hi"),
    ok('{{join .l "-"}}|{{join .m ","}}|{{join .n ","}}', {"l": [1, "x", None, True],
                                                            "m": {"b": "2", "a": "1"},
                                                            "n": None}, "1-x-<nil>-true|1,2|"),
    err('{{join "x" ","}}', None, E + '<join "x" ",">: error calling join: expected slice, '
        "got string"),
    ok('{{title "hello wOrld-foo_bar ünï"}}|{{upper "héllo ß"}}|{{lower "HÉLLO İ"}}', None,
       "Hello WOrld-Foo_bar Ünï|HÉLLO ß|héllo i"),
    ok("{{lower .Name}} {{upper .Name}} {{title .Name}}", {"Name": "/my-Container"},
       "/my-container /MY-CONTAINER /My-Container"),
    ok('{{pad . 3 3}}|{{pad "" 1 1}}|{{pad . 0 1}}', "tupx5", "   tupx5   ||tupx5 "),
    err('{{pad "x" -1 0}}', None, E + '<pad "x" -1 0>: error calling pad: '
        "strings: negative Repeat count"),
    ok("{{truncate . 5}}|{{truncate . 25}}|{{truncate . 30}}", "tupx5xzf6hvsrhnruz5cr8gwp",
       "tupx5|tupx5xzf6hvsrhnruz5cr8gwp|tupx5xzf6hvsrhnruz5cr8gwp"),
    ok('{{truncate "héllo" 2}}', None, "h\ufffd"),
    err('{{truncate "abc" -1}}', None, E + '<truncate "abc" -1>: error calling truncate: '
        "runtime error: slice bounds out of range [:-1]"),
    err("{{truncate . 5}}", None, 'template: :1:11: executing "" at <.>: invalid value; '
        "expected string"),
    err("{{upper 1}}", None, 'template: :1:8: executing "" at <1>: expected string; found 1'),
    err("{{upper .n}}", {"n": 1}, 'template: :1:8: executing "" at <.n>: wrong type for '
        "value; expected string; got int"),
    err("{{upper .n}}", {"n": None}, 'template: :1:8: executing "" at <.n>: wrong type for '
        "value; expected string; got interface {}"),
    err('{{pad "x" 1.5 1}}', None, 'template: :1:10: executing "" at <1.5>: expected '
        "integer; found 1.5"),
]


def run(case: Case) -> tuple[str, str | None]:
    """(output, error text) of the case on hull's engine: output is what was written
    before an error, as with Go's Execute."""
    try:
        tmpl = parse(case.template, BASIC_FUNCS)
    except ParseError as e:
        return "", str(e)
    out: list[str] = []
    error = tmpl.write(out, case.data, missingkey=case.missingkey)
    text = "".join(out).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text, None if error is None else str(error)


@pytest.mark.parametrize("case", CASES, ids=[f"{i}:{c.template[:40]}"
                                             for i, c in enumerate(CASES)])
def test_case(case: Case) -> None:
    out, error = run(case)
    if case.err is not None:
        assert error == case.err
    else:
        assert error is None
        assert out == case.out


def test_errors_are_typed_with_docker_exit_codes() -> None:
    with pytest.raises(ParseError) as p:
        parse("{{.a")
    assert p.value.exit_code == 1
    with pytest.raises(ExecError) as x:
        parse("{{.a.b}}").execute({"a": 1})
    assert x.value.exit_code == 1
    from hull.cli.gotemplate import FormatParseError
    from hull.errors import ClientError
    assert issubclass(ExecError, ClientError)   # printed bare, as Docker's CLI prints them
    assert FormatParseError("x").exit_code == 64


def test_functions_need_docker_funcs_to_parse() -> None:
    with pytest.raises(ParseError, match='function "json" not defined'):
        parse("{{json .}}")
    assert parse("{{json .}}", BASIC_FUNCS).execute([1]) == "[1]"


def test_missingkey_option_is_checked() -> None:
    with pytest.raises(ValueError, match="unrecognized option: missingkey=nope"):
        parse("x").execute(None, missingkey="nope")


def test_partial_output_before_an_error() -> None:
    out: list[str] = []
    error = parse("a{{.x}}b{{.x.y}}c").write(out, {"x": 1})
    assert "".join(out) == "a1b"
    assert error is not None and "can't evaluate field y in type interface {}" in str(error)


def test_recursion_is_an_error_not_a_crash() -> None:
    tmpl = parse('{{define "r"}}{{template "r" .}}{{end}}{{template "r" .}}')
    with pytest.raises(ExecError, match=r"exceeded maximum template depth \(100000\)"):
        tmpl.execute(None)


# Go semantics the Go oracle cannot be given as JSON: structs, methods, typed nils, Go
# functions. Written from exec.go: evalField, evalCall, printValue.

def _labels(name: str) -> str:
    return {"com.x": "v1"}.get(name, "")


def _boom(name: str) -> str:
    raise ValueError(f"no label {name}")


T = Struct({"A": 1, "B": "x", "Label": _labels, "Names": lambda: "a,b", "Boom": _boom,
            "U": Struct({"C": 2}, "main.U"), "P": TypedNil("*main.P"), "N": None},
           "main.T")

PY_CASES: list[Case] = [
    ok("{{.A}} {{.B}} {{.U.C}} {{.Label `com.x`}} {{.Names}} {{.Label `nope` | len}}", T,
       "1 x 2 v1 a,b 0"),
    err("{{.Foo}}", T, E + "<.Foo>: can't evaluate field Foo in type main.T"),
    err("{{.U.Foo}}", T, 'template: :1:4: executing "" at <.U.Foo>: can\'t evaluate field '
        "Foo in type main.U"),
    err("{{range .}}{{.Foo}}{{end}}", [T], 'template: :1:13: executing "" at <.Foo>: '
        "can't evaluate field Foo in type interface {}"),
    ok("{{.U}}|{{printf `%+v|%#v|%T` .U .U .U}}", T, "{2}|{C:2}|main.U{C:2}|main.U"),
    ok("{{.}}", Struct({"A": 1, "L": [1, "a"], "M": {"k": None}, "F": _labels}, "T"),
       "{1 [1 a] map[k:<nil>]}"),
    err("{{.Label}}", T, E + "<.Label>: wrong number of args for Label: want 1 got 0"),
    err("{{.Boom `x`}}", T, E + "<.Boom>: error calling Boom: no label x"),
    err("{{.A 1}}", T, E + "<.A>: A has arguments but cannot be invoked as function"),
    ok("{{`com.x` | .Label}}", T, "v1"),
    ok("{{.P}}|{{json .P}}|{{if .P}}t{{else}}f{{end}}|{{printf `%T %v` .P .P}}", T,
       "<nil>|null|f|*main.P <nil>"),
    err("{{.P.X}}", T, 'template: :1:4: executing "" at <.P.X>: nil pointer evaluating '
        "*main.P.X"),
    ok("{{.N}}|{{print .N}}|{{json .N}}", T, "<no value>|<nil>|null"),
    err("{{.N.X}}", T, 'template: :1:4: executing "" at <.N.X>: nil pointer evaluating '
        "interface {}.X"),
    ok("{{json .}}", Struct({"B": "x", "A": 1, "F": _labels}, "T"), '{"B":"x","A":1}'),
    ok("{{json .}}", Struct({"b": 1, "a": lambda: "m", "F": _labels}, "T", json_sorted=True),
       '{"a":"m","b":1}'),
    err("{{json .}}", {"f": _labels}, E + "<json .>: error calling json: json: unsupported "
        "type: func(interface {}) interface {}"),
    ok("{{eq .U .U}} {{eq .P nil}} {{eq nil .P}}", T, "true true true"),
    err("{{ne .U .P}}", T, E + "<ne .U .P>: error calling ne: non-comparable types "
        "{%!s(int=2)}: main.U, *main.P: <nil>"),
    ok("{{call (index .f 0) 2}}", {"f": [lambda x: x * 2]}, "4"),
    err("{{call .x}}", {"x": 1}, E + "<call .x>: error calling call: non-function .x of "
        "type int"),
    err("{{call .n}}", {"n": None}, E + "<call .n>: error calling call: call of nil"),
    err("{{call (index .f 0)}}", {"f": [lambda x: x]}, E + "<call (index .f 0)>: error "
        "calling call: wrong number of args for index .f 0: got 0 want 1"),
    err("{{index .f 0}}", {"f": [lambda x: x]}, E + "<{{index .f 0}}>: can't print "
        "{{index .f 0}} of type func(interface {}) interface {}"),
]


@pytest.mark.parametrize("case", PY_CASES, ids=[f"{i}:{c.template[:40]}"
                                                for i, c in enumerate(PY_CASES)])
def test_go_semantics_of_python_values(case: Case) -> None:
    test_case(case)


def test_user_functions() -> None:
    funcs: dict[str, Any] = {
        "double": lambda x: x * 2, "none": lambda: None,
        "cat": lambda *a: "-".join(str(x) for x in a),
        "fail": lambda: 1 / 0,
        "rep": GoFunc(lambda s, n: s * n, ("string", "int")),
    }
    assert parse("{{double 21}} {{none}} {{print (none)}} {{cat 1 `a` 2.5}} {{rep `ab` 2}}",
                 funcs).execute(None) == "42 <no value> <nil> 1-a-2.5 abab"
    with pytest.raises(ExecError) as e:
        parse("{{double}}", funcs).execute(None)
    assert str(e.value) == E + "<double>: wrong number of args for double: want 1 got 0"
    with pytest.raises(ExecError) as e:
        parse("{{fail}}", funcs).execute(None)
    assert str(e.value) == E + "<fail>: error calling fail: division by zero"
    with pytest.raises(ExecError) as e:
        parse("{{rep 1 2}}", funcs).execute(None)
    assert str(e.value) == 'template: :1:6: executing "" at <1>: expected string; found 1'
    with pytest.raises(ParseError, match='function "double" not defined'):
        parse("{{double 1}}")


def test_header_functions_keep_the_column_titles() -> None:
    tmpl = parse("{{upper .Name}}|{{json .Name}}|{{truncate .Name 1}}|{{pad .Name 1 1}}|"
                 "{{split .Name `,`}}|{{title .Name}}|{{lower .Name}}", BASIC_FUNCS)
    assert tmpl.execute({"Name": "NAMES"}, funcs=HEADER_FUNCS) == \
        "NAMES|NAMES|NAMES| NAMES |NAMES|NAMES|NAMES"
    assert tmpl.execute({"Name": "a,b"}) == "A,B|\"a,b\"|a| a,b |[a b]|A,B|a,b"
    header = parse("{{join .Name `,`}}", BASIC_FUNCS)
    assert header.execute({"Name": "NAMES"}, funcs=HEADER_FUNCS) == "NAMES"


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    # Go allows 10000 nested parentheses; Python's stack fewer (a documented limit).
    assert parse("{{" + "(" * 100 + "1" + ")" * 100 + "}}").execute(None) == "1"
    with pytest.raises(ParseError, match=r"^template: :1: max expression depth exceeded$"):
        parse("{{" + "(" * 300 + "1" + ")" * 300 + "}}")
    with pytest.raises(ParseError, match="max expression depth exceeded"):
        parse("{{if 1}}" * 400 + "{{end}}" * 400)
