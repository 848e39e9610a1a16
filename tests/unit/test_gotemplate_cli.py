"""hull.cli.template: --format as docker/cli applies it — inspect's render() and the
listing commands' print_rows() (formatter.Context: table, json, \\t and \\n, tabwriter) —
with Docker's error texts and exit codes. Table layouts are also checked against real Go
in test_gotemplate_oracle.py.
"""

from __future__ import annotations

import ast
import io
import subprocess
import sys
from typing import Any

import pytest

from hull.cli.gotemplate import ExecError, FormatParseError, ParseError, Struct
from hull.cli.gotemplate.tabwriter import display_width, tabwrite
from hull.cli.template import listing_format, print_rows, render

HEADERS = {"ID": "CONTAINER ID", "Names": "NAMES", "Command": "COMMAND", "Size": "SIZE"}
ROWS = [{"ID": "4f2b1c9d8e7a", "Names": "web", "Command": '"sh"', "Size": "0B"},
        {"ID": "a1", "Names": "db", "Command": '"true"', "Size": "1.2kB"}]


def rows_out(fmt: str, rows: list[Any] = ROWS, **kw: Any) -> str:
    buf = io.StringIO()
    print_rows(fmt, rows, HEADERS, buf, **kw)
    return buf.getvalue()


def test_render_is_inspects_format() -> None:
    # inspect -f does not turn \t into a tab nor trim (cli/command/inspect).
    assert render(r" {{.a}}\t{{.b}} ", {"a": 1, "b": 2}) == r" 1\t2 "
    assert render("{{json .}}", {"b": 1, "a": "<&>"}) == '{"a":"<&>","b":1}'
    assert render("{{.State.Status}}", {"State": {"Status": "running"}}) == "running"


def test_render_errors_have_dockers_text_and_exit_codes() -> None:
    with pytest.raises(ExecError) as x:
        render("{{.Foo}}", {})
    assert str(x.value) == ('template parsing error: template: :1:2: executing "" at '
                            '<.Foo>: map has no entry for key "Foo"')
    assert x.value.exit_code == 1
    with pytest.raises(FormatParseError) as p:
        render("{{.Foo", {})
    assert str(p.value) == "template parsing error: template: :1: unclosed action"
    assert p.value.exit_code == 64
    with pytest.raises(FormatParseError, match=r"^Error parsing format: template: :1: "):
        render("{{end}}", {}, parse_error_prefix="Error parsing format: ")
    assert render("{{.Foo}}", {}, missingkey="default") == "<no value>"


def test_listing_format_is_dockers_template_string() -> None:
    assert listing_format("json") == ("{{json .}}", False)
    assert listing_format("table") == ("", True)
    assert listing_format("table", default="table {{.ID}}") == ("{{.ID}}", True)
    assert listing_format(r"table  {{.ID}}\t{{.Names}} ") == ("{{.ID}}\t{{.Names}}", True)
    assert listing_format(r" {{.ID}}\n ") == ("{{.ID}}\n", False)
    assert listing_format("\t{{.ID}}") == ("\t{{.ID}}", False)   # only spaces are trimmed


def test_table_layout() -> None:
    assert rows_out(r"table {{.ID}}\t{{.Names}}\t{{.Size}}") == (
        "CONTAINER ID   NAMES     SIZE\n"
        "4f2b1c9d8e7a   web       0B\n"
        "a1             db        1.2kB\n")
    assert rows_out(r"table {{.ID}}\t{{.Names}}", []) == "CONTAINER ID   NAMES\n"
    assert rows_out("{{.ID}}:{{.Names}}") == "4f2b1c9d8e7a:web\na1:db\n"
    assert rows_out("{{.ID}}", []) == ""


def test_json_rows_have_sorted_keys_and_niladic_methods() -> None:
    rows = [Struct({"Names": "web", "ID": "x", "Size": lambda: "1B",
                    "Label": lambda name: ""}, "*formatter.ContainerContext",
                   json_sorted=True)]
    assert rows_out("json", rows) == '{"ID":"x","Names":"web","Size":"1B"}\n'
    assert rows_out("json") == ('{"Command":"\\"sh\\"","ID":"4f2b1c9d8e7a","Names":"web",'
                                '"Size":"0B"}\n{"Command":"\\"true\\"","ID":"a1","Names":"db",'
                                '"Size":"1.2kB"}\n')


def test_rows_are_structs_named_as_docker_names_them() -> None:
    with pytest.raises(ExecError) as x:
        rows_out("{{.Nope}}")
    assert str(x.value) == ('template parsing error: template: :1:2: executing "" at '
                            "<.Nope>: can't evaluate field Nope in type "
                            "*formatter.ContainerContext")
    assert x.value.exit_code == 1
    with pytest.raises(ExecError, match=r"in type \*container.statsContext$"):
        print_rows("{{.Nope}}", [{"CPUPerc": "1%"}], {"CPUPerc": "CPU %"}, io.StringIO())
    with pytest.raises(ExecError, match=r"in type \*formatter.imageContext$"):
        rows_out("{{.Nope}}", type_name="*formatter.imageContext")
    with pytest.raises(ExecError, match=r"in type my.Row$"):
        rows_out("{{.Nope}}", [Struct({"ID": "x"}, "my.Row")])


def test_a_failing_row_prints_nothing() -> None:
    buf = io.StringIO()
    with pytest.raises(ExecError):
        print_rows("{{.ID}}{{if eq .ID `a1`}}{{.Nope}}{{end}}", ROWS, HEADERS, buf)
    assert buf.getvalue() == ""
    with pytest.raises(ParseError) as p:
        print_rows("{{.ID", ROWS, HEADERS, buf)
    assert str(p.value) == "template parsing error: template: :1: unclosed action"
    assert p.value.exit_code == 1


def test_header_errors_are_ignored_as_docker_does() -> None:
    # The header runs on the titles map, where .Label "x" is an error: Docker keeps what
    # the header printed before it and lays out the rows.
    rows = [Struct({"Names": "web", "Label": lambda n: "v1"}, "*formatter.ContainerContext")]
    assert rows_out(r'table {{.Names}}\t{{.Label "x"}}', rows) == "NAMES     \nweb       v1\n"


def test_bare_table_uses_the_commands_default() -> None:
    assert rows_out("table", default=r"table {{.Names}}") == "NAMES\nweb\ndb\n"


def test_wide_characters_take_two_columns() -> None:
    assert display_width("名前") == 4
    assert display_width("e\u0301") == 1
    assert tabwrite("名前\tx\nab\ty\n") == "名前      x\nab        y\n"


def test_invalid_utf8_is_shown_as_replacement_character() -> None:
    assert render('{{truncate "héllo" 2}}', {}) == "h\ufffd"


def test_importing_is_cheap() -> None:
    code = ("import sys; import hull.errors; before = set(sys.modules); "
            "import hull.cli.template; "
            "print(sorted(m for m in set(sys.modules) - before))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    new = ast.literal_eval(out)
    assert all(m.startswith("hull.") or m == "__future__" for m in new), new
