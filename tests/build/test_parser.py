"""The Dockerfile parser against BuildKit's own parser test data (every `testfiles/*`
dump must match its `result`, every `testfiles-negative/*` must fail), plus the cases of
BuildKit's parser unit tests: heredocs, continuations, directives, line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from hull.build.errors import DockerfileSyntaxError
from hull.build.frontend.parser import Heredoc, Node, parse
from hull.build.frontend.parser_lex import (
    HeredocLexError,
    extract_flags,
    go_quote,
    heredocs_in_line,
    parse_heredoc_word,
    split_words,
)

DATA = Path(__file__).parent / "data" / "buildkit" / "parser"
CASES = sorted(p.name for p in (DATA / "testfiles").iterdir())
NEGATIVE = sorted(p.name for p in (DATA / "testfiles-negative").iterdir())


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8", "surrogateescape")


def _one(text: str) -> Node:
    nodes = parse(text).nodes
    assert len(nodes) == 1
    return nodes[0]


def test_buildkit_data_is_present() -> None:
    assert len(CASES) == 33
    assert len(NEGATIVE) == 4


@pytest.mark.parametrize("name", CASES)
def test_buildkit_testfiles(name: str) -> None:
    # parser_test.go compares the result file with AST.Dump() + "\n"
    parsed = parse(_read(DATA / "testfiles" / name / "Dockerfile"))
    assert parsed.dump() + "\n" == _read(DATA / "testfiles" / name / "result")


@pytest.mark.parametrize("name", NEGATIVE)
def test_buildkit_negative_testfiles(name: str) -> None:
    with pytest.raises(DockerfileSyntaxError) as info:
        parse(_read(DATA / "testfiles-negative" / name / "Dockerfile"))
    assert info.value.line >= 1


def test_line_numbers_of_buildkit_testfile() -> None:
    nodes = parse(_read(DATA / "testfile-line" / "Dockerfile")).nodes
    assert [(n.start_line, n.end_line) for n in nodes] == [(5, 5), (11, 12), (17, 31)]


def test_negative_messages_name_the_line() -> None:
    with pytest.raises(DockerfileSyntaxError, match="ENV must have two arguments") as info:
        parse("FROM x\n\nENV foo\n")
    assert info.value.line == 3
    with pytest.raises(DockerfileSyntaxError, match="strings only") as info:
        parse("FROM x\nCMD [\"a\", \\\n  1]\n")
    assert (info.value.line, info.value.end_line) == (2, 3)
    with pytest.raises(DockerfileSyntaxError, match="file with no instructions"):
        parse("# only a comment\n\n")
    with pytest.raises(DockerfileSyntaxError, match="can't find = in \"b\""):
        parse("FROM x\nLABEL a=1 b\n")


# --- words, flags, quoting --------------------------------------------------------------

@pytest.mark.parametrize(("text", "words"), [
    ("foo", ["foo"]),
    ("foo bar", ["foo", "bar"]),
    ("foo\\ bar", ["foo\\ bar"]),
    ("foo=bar", ["foo=bar"]),
    ("foo bar 'abc xyz'", ["foo", "bar", "'abc xyz'"]),
    ('foo bar "abc xyz"', ["foo", "bar", '"abc xyz"']),
    ("àöû", ["àöû"]),
    ('föo bàr "âbc xÿz"', ["föo", "bàr", '"âbc xÿz"']),
    ('a="" b', ['a=""', "b"]),
    ("'it\\'s'", ["'it\\'s'"]),
])
def test_split_words(text: str, words: list[str]) -> None:
    assert split_words(text, "\\") == words


@pytest.mark.parametrize(("text", "rest", "flags"), [
    ("--from=a b c", "b c", ["--from=a"]),
    ("--a --b=\"x y\" c", "c", ["--a", "--b=x y"]),
    ("-- --not-a-flag x", " --not-a-flag x", []),
    ("--mount=type=cache,target=/x\\ y cmd", "cmd", ["--mount=type=cache,target=/x y"]),
    ("-x y", "-x y", []),
    ("--only", "", ["--only"]),
    ("", "", []),
])
def test_extract_flags(text: str, rest: str, flags: list[str]) -> None:
    assert extract_flags(text, "\\") == (rest, flags)


def test_go_quote() -> None:
    assert go_quote('a"b\\c') == '"a\\"b\\\\c"'
    assert go_quote("\t\n\x00\x7f") == '"\\t\\n\\x00\\x7f"'
    assert go_quote("♥ é") == '"♥ é"'
    assert go_quote("\u200b\U000e0001") == '"\\u200b\\U000e0001"'
    assert go_quote("\udcff") == '"\\xff"'


def test_node_dump_forms() -> None:
    parsed = parse("FROM a\nONBUILD --x RUN echo hi\nHEALTHCHECK\nBOGUS one two\n")
    assert parsed.dump().splitlines() == [
        '(from "a")', '(onbuild ["--x"] (run "echo hi"))', "(healthcheck)", '(bogus "")']
    assert parsed.nodes[3].keyword == "BOGUS"


# --- JSON and per-keyword argument shapes -----------------------------------------------

@pytest.mark.parametrize(("text", "values"), [
    ("[]", []),
    ('[""]', [""]),
    ('["a"]', ["a"]),
    ('[ "a", "b" ]', ["a", "b"]),
    ('\t[\t"a",\t"b"\t]\t', ["a", "b"]),
    ('["abc 123", "♥", "☃", "\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u0000"]',
     ["abc 123", "♥", "☃", '" \\ / \b \f \n \r \t \x00']),
])
def test_json_arrays(text: str, values: list[str]) -> None:
    node = _one("CMD " + text)
    assert node.json
    assert node.next == values


@pytest.mark.parametrize("text", [
    '["a",42,"b"]', '["a",123.456,"b"]', '["a",{},"b"]', '["a",{"c": "d"},"b"]',
    '["a",["c"],"b"]', '["a",true,"b"]', '["a",false,"b"]', '["a",null,"b"]',
])
def test_json_arrays_of_non_strings_are_errors(text: str) -> None:
    with pytest.raises(DockerfileSyntaxError, match="arrays must be comprised of strings"):
        parse("CMD " + text)


def test_not_quite_json_is_the_shell_form() -> None:
    for text in ("[NaN]", "['a']", '["a"', '["a"] x'):
        node = _one("CMD " + text)
        assert (node.json, node.next) == (False, [text])


def test_env_and_label_triples() -> None:
    assert _one("LABEL foo bar").next == ["foo", "bar", ""]
    assert _one("LABEL foo=bar thing=star").next == ["foo", "bar", "=", "thing", "star", "="]
    assert _one('ENV a="x y" b=\'z\' c=').next == ["a", '"x y"', "=", "b", "'z'", "=",
                                                 "c", "", "="]
    assert _one("ENV k   the rest  of it").next == ["k", "the rest  of it", ""]
    with pytest.raises(DockerfileSyntaxError, match="ENV must have two arguments"):
        parse("ENV foo")


def test_arg_and_word_lists() -> None:
    assert _one('ARG a b=1 c="x y"').next == ["a", "b=1", 'c="x y"']
    assert _one("EXPOSE 80\t443/tcp").next == ["80", "443/tcp"]
    assert _one("FROM --platform=$P img AS b").flags == ["--platform=$P"]
    node = _one("HEALTHCHECK --retries=3 CMD [\"a\", \"b\"]")
    assert (node.next, node.json, node.flags) == (["CMD", "a", "b"], True, ["--retries=3"])
    assert _one("USER  me:grp ").next == ["me:grp"]


# --- continuations, comments, directives ------------------------------------------------

def test_empty_continuation_lines_warn() -> None:
    text = ("\nFROM alpine:3.6\n\nRUN valid \\\n    continuation\n\n"
            "RUN something \\\n\n    following \\\n\n    more\n\n"
            "RUN another \\\n\n    thing\n\n"
            "RUN non-indented \\\n# this is a comment\n   after-comment\n\n"
            "RUN indented \\\n    # this is an indented comment\n    comment\n\t")
    parsed = parse(text)
    assert len(parsed.warnings) == 2
    assert "Empty continuation line found in" in parsed.warnings[0]
    assert "RUN something     following     more" in parsed.warnings[0]
    assert "RUN another     thing" in parsed.warnings[1]
    assert [n.next for n in parsed.nodes[-2:]] == [["non-indented    after-comment"],
                                                  ["indented     comment"]]


def test_escape_directive_changes_continuation_and_words() -> None:
    parsed = parse("# escape=`\nFROM x\nRUN dir c:\\ `\n  && echo hi\nENV a=b` c\\ d=1\n")
    assert parsed.escape == "`"
    assert parsed.directives == {"escape": "`"}
    assert parsed.nodes[1].next == ["dir c:\\   && echo hi"]
    assert parsed.nodes[2].next == ["a", "b` c\\", "=", "d", "1", "="]


def test_directives_only_at_the_top() -> None:
    parsed = parse("# syntax=docker/dockerfile:1.7\n#check=skip=all\n# EScape = `\n"
                   "FROM x\n# escape=\\\n")
    assert parsed.directives == {"syntax": "docker/dockerfile:1.7", "check": "skip=all",
                                 "escape": "`"}
    parsed = parse("# a comment first\n# escape=`\nFROM x\nRUN a \\\n b\n")
    assert (parsed.escape, parsed.directives) == ("\\", {})
    assert parsed.nodes[1].next == ["a  b"]
    parsed = parse("\n# escape=`\nFROM x\n")
    assert parsed.directives == {}
    parsed = parse("#!/bin/sh\n# syntax=x\nFROM x\n")
    assert parsed.directives == {}


def test_directive_errors() -> None:
    with pytest.raises(DockerfileSyntaxError, match="only one escape parser directive") as info:
        parse("# escape=`\n# escape=\\\nFROM x\n")
    assert info.value.line == 2
    with pytest.raises(DockerfileSyntaxError, match="invalid escape token '/'"):
        parse("# escape=/\nFROM x\n")


def test_crlf_and_bom() -> None:
    text = "\ufeff# escape=`\r\nFROM x\r\nRUN a `\r\n  b\r\nCOPY <<EOF /f\r\nhi\r\nEOF\r\n"
    parsed = parse(text)
    assert parsed.escape == "`"
    assert [n.dump() for n in parsed.nodes] == ['(from "x")', '(run "a   b")',
                                                '(copy "<<EOF" "/f")']
    assert parsed.nodes[2].heredocs == [Heredoc("EOF", "hi\r\n", True, False)]
    assert parsed.nodes[2].original == "COPY <<EOF /f"


def test_continuation_at_end_of_file_and_odd_backslashes() -> None:
    assert _one("RUN something \\").next == ["something"]
    assert _one("ENV C trailing\\\\").next == ["C", "trailing\\\\", ""]
    assert parse("FROM x\nENV E a\\\n\\\nb\n").nodes[1].next == ["E", "ab", ""]


def test_lines_and_originals() -> None:
    parsed = parse("\n\nFROM x\n\nRUN a \\\n  # c\n\n  b\nCMD c\n")
    assert [(n.start_line, n.end_line) for n in parsed.nodes] == [(3, 3), (5, 8), (9, 9)]
    assert parsed.nodes[1].original == "RUN a   b"
    assert parsed.nodes[1].value == "run"


def test_comments_before_an_instruction() -> None:
    parsed = parse("# syntax=x\n# the base\n# second line\nFROM x\n\n# gone\n\nRUN y\n")
    assert parsed.nodes[0].comments == ["the base", "second line"]
    # as in BuildKit, only a bare "#" line forgets the comments above; a blank line does not
    assert parsed.nodes[1].comments == ["gone"]
    assert parse("# a\n#\nFROM x\n").nodes[0].comments == []


# --- heredocs ---------------------------------------------------------------------------

HEREDOC_FILE = """\
FROM alpine:3.6
RUN <<EMPTY
EMPTY
RUN 3<<EMPTY2
EMPTY2
RUN "<<NOHEREDOC"
RUN <<INDENT
\tfoo
\tbar
INDENT
RUN <<-UNINDENT
\tbaz
\tquux
\tUNINDENT
RUN <<-'NOEXPAND'
\tdon't expand $NAME
NOEXPAND
RUN <<COMMENT
# internal comment
echo foo bar # trailing comment
COMMENT
RUN --mount=type=cache,target=/foo <<MOUNT
echo hello
MOUNT
COPY <<FILE1 <<FILE2 /dest
content 1
FILE1
content 2
FILE2
COPY <<X <<Y /dest
Y
X
X
Y
RUN <<COMPLEX python3
print('hello world')
COMPLEX
RUN <<eo'f'
echo foo
eof
RUN <<eo\\'f
echo foo
eo'f
RUN <<'e'o\\'f
echo foo
eo'f
RUN <<'one two'
echo bar
one two
RUN <<$EOF
$EOF
RUN <<  EOF  > foo
EOF
USER <<INVALID
"""

HEREDOC_EXPECTED = [
    [],
    [Heredoc("EMPTY", "", True, False)],
    [Heredoc("EMPTY2", "", True, False, fd=3)],
    [],
    [Heredoc("INDENT", "\tfoo\n\tbar\n", True, False)],
    [Heredoc("UNINDENT", "baz\nquux\n", True, True)],
    [Heredoc("NOEXPAND", "don't expand $NAME\n", False, True)],
    [Heredoc("COMMENT", "# internal comment\necho foo bar # trailing comment\n", True,
             False)],
    [Heredoc("MOUNT", "echo hello\n", True, False)],
    [Heredoc("FILE1", "content 1\n", True, False), Heredoc("FILE2", "content 2\n", True,
                                                           False)],
    [Heredoc("X", "Y\n", True, False), Heredoc("Y", "X\n", True, False)],
    [Heredoc("COMPLEX", "print('hello world')\n", True, False)],
    [Heredoc("eof", "echo foo\n", False, False)],
    [Heredoc("eo'f", "echo foo\n", True, False)],
    [Heredoc("eo'f", "echo foo\n", False, False)],
    [Heredoc("one two", "echo bar\n", False, False)],
    [Heredoc("$EOF", "", True, False)],
    [Heredoc("EOF", "", True, False)],
    [],
]


def test_heredocs_are_extracted() -> None:
    nodes = parse(HEREDOC_FILE).nodes
    assert [n.heredocs for n in nodes] == HEREDOC_EXPECTED
    assert nodes[-1].next == ["<<INVALID"]   # USER takes no heredoc
    assert nodes[1].next == ["<<EMPTY"]
    assert (nodes[9].start_line, nodes[9].end_line) == (25, 29)


def test_json_form_has_no_heredocs() -> None:
    nodes = parse('FROM a\nRUN ["whoami"]\nRUN ["<<EOF"]\nRUN ["<<\'EOF\'"]\n').nodes
    assert all(n.heredocs == [] for n in nodes)


def test_unterminated_heredoc() -> None:
    with pytest.raises(DockerfileSyntaxError, match="unterminated heredoc") as info:
        parse("FROM a\nRUN <<EOF\necho\nEOF \n")
    assert (info.value.line, info.value.end_line) == (2, 4)


def test_onbuild_heredoc() -> None:
    node = parse("FROM a\nONBUILD RUN <<EOF\necho hi\nEOF\nRUN b\n").nodes[1]
    assert node.heredocs == [Heredoc("EOF", "echo hi\n", True, False)]
    assert node.inner is not None
    assert node.inner.heredocs == node.heredocs
    assert (node.start_line, node.end_line) == (2, 4)


def test_heredoc_with_backtick_escape_and_continuation() -> None:
    parsed = parse("# escape=`\nFROM a\nRUN `\n  <<EOF cat\nx\nEOF\n")
    assert parsed.nodes[1].heredocs == [Heredoc("EOF", "x\n", True, False)]
    assert parsed.nodes[1].next == ["<<EOF cat"]


@pytest.mark.parametrize("word", ["<<EOF", "<<'EOF'", '<<"EOF"', "<<-EOF", "<<-'EOF'",
                                  '<<-"EOF"', '<<EO"F"', "<< EOF", "<<- EOF"])
def test_valid_heredoc_words(word: str) -> None:
    found = parse_heredoc_word(word)
    assert found is not None
    assert found.name == "EOF"


@pytest.mark.parametrize("word", ["<<'EOF", '<<"EOF', "<<EOF'", '<<EOF"'])
def test_invalid_heredoc_words(word: str) -> None:
    with pytest.raises(HeredocLexError):
        parse_heredoc_word(word)


@pytest.mark.parametrize("word", ["", "EOF", "<<", "<<-", "<EOF", "<<<EOF", "<<EOF sh"])
def test_not_heredoc_words(word: str) -> None:
    assert parse_heredoc_word(word) is None


@pytest.mark.parametrize(("line", "names"), [
    ("RUN <<EOF", ["EOF"]),
    ("RUN <<-EOF", ["EOF"]),
    ("RUN <<- EOF", []),   # the lexer splits "<<-" from "EOF": not a marker on a line
    ("RUN << -EOF", ["-EOF"]),
    ("RUN <<'EOF'", ["EOF"]),
    ("RUN 4<<EOF", ["EOF"]),
    ("RUN <<EOF <<EOF2", ["EOF", "EOF2"]),
    ("RUN '<<EOF'", []),
    ('RUN "<<EOF"', []),
    ("RUN echo 'unterminated <<EOF", []),
    ("RUN echo ${A:-x} <<E", ["E"]),
    # BuildKit's lexer drops what precedes a ${…} from its word: no marker left
    ("RUN cat << ${V:-d}", []),
    ("RUN cat <<${V}x", ["${V}x"]),
])
def test_heredocs_in_line(line: str, names: list[str]) -> None:
    assert [h.name for h in heredocs_in_line(line)] == names
