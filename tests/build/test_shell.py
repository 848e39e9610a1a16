"""The shell lexer against BuildKit's own case files (envVarTest, wordsTest, copied from
moby/buildkit frontend/dockerfile/shell/, read the way lex_test.go reads them) and
against BuildKit's behaviour for matches, heredoc bodies, error texts and the backtick
escape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hull.build.errors import DockerfileSyntaxError
from hull.build.frontend.shell import Lexer, ShellError

DATA = Path(__file__).parent / "data" / "buildkit" / "shell"

# The environment lex_test.go gives every envVarTest line.
ENV_VAR_TEST_ENV = {"PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "NULL": ""}


def _env_var_cases() -> list[Any]:
    """Lines are `platform | source | expected`; `#` lines and blank lines are skipped,
    `expected` "error" means the word must be rejected."""
    cases: list[Any] = []
    text = (DATA / "envVarTest").read_text(encoding="utf-8")
    for number, raw in enumerate(text.splitlines(), 1):
        if raw.startswith("#") or not raw.strip():
            continue
        fields = raw.strip().split("|")
        assert len(fields) == 3, f"envVarTest:{number}: {raw!r}"
        platform, source, expected = (field.strip() for field in fields)
        assert platform in ("A", "U", "W"), f"envVarTest:{number}: bad tag {platform!r}"
        marks = []
        if platform == "W":
            marks.append(pytest.mark.skip(
                reason="Windows-only case: there env names are case-insensitive; hull "
                       "builds Linux images, where they are case-sensitive (the U| twin "
                       "of this line runs)"))
        cases.append(pytest.param(source, expected, id=f"envVarTest:{number}", marks=marks))
    return cases


def _words_cases() -> list[Any]:
    """`ENV k=v` lines add to an environment that accumulates down the file (later
    entries win); other lines are `word | w1,w2,...` ("error" for a rejected word)."""
    cases: list[Any] = []
    env: dict[str, str] = {}
    text = (DATA / "wordsTest").read_text(encoding="utf-8")
    for number, raw in enumerate(text.splitlines(), 1):
        if raw.startswith("#"):
            continue
        if raw.startswith("ENV "):
            name, _, value = raw[3:].lstrip(" ").partition("=")
            env[name] = value
            continue
        fields = raw.split("|")
        assert len(fields) == 2, f"wordsTest:{number}: {raw!r}"
        expected = fields[1].lstrip(" ").split(",")
        cases.append(pytest.param(fields[0].strip(), expected, dict(env),
                                  id=f"wordsTest:{number}"))
    return cases


@pytest.mark.parametrize(("source", "expected"), _env_var_cases())
def test_env_var_test(source: str, expected: str) -> None:
    lexer = Lexer("\\")
    if expected == "error":
        with pytest.raises(ShellError):
            lexer.process_word(source, ENV_VAR_TEST_ENV)
    else:
        assert lexer.process_word(source, ENV_VAR_TEST_ENV) == expected


# lex_test.go also loops over a second mode (RawQuotes + SkipUnsetEnv) but reuses the
# already-drained file, so only the normal mode is ever checked; so here.
@pytest.mark.parametrize(("source", "expected", "env"), _words_cases())
def test_words_test(source: str, expected: list[str], env: dict[str, str]) -> None:
    try:
        words = Lexer("\\").process_words(source, env)
    except ShellError:
        words = ["error"]
    assert words == expected


def test_data_files_were_found() -> None:
    assert len(_env_var_cases()) > 200
    assert len(_words_cases()) > 20


# -- matches ----------------------------------------------------------------------------

@pytest.mark.parametrize(("word", "env", "result", "matched"), [
    ("x", {"DUMMY": "d"}, "x", set()),
    ("x ${UNUSED}", {"DUMMY": "d"}, "x ", set()),
    ("x ${FOO}", {"FOO": "y"}, "x y", {"FOO"}),
    ("${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}", {"FOO": "xxx", "BAR": ""}, "xxx  ccc",
     {"FOO", "BAR"}),
    ("${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}", {"FOO": "xxx", "BAR": ""}, "xxx bbb ccc",
     {"FOO", "BAR"}),
    ("${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}", {"FOO": "xxx", "BAR": ""}, "aaa bbb ",
     {"FOO", "BAR"}),
    ("${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}", {"FOO": "xxx", "BAR": ""}, "aaa  ",
     {"FOO", "BAR"}),
    ("${BAR?bbb}", {"BAR": ""}, "", {"BAR"}),
    ("${FOO#$BAR}", {"FOO": "xxyy", "BAR": "x"}, "xyy", {"FOO", "BAR"}),
    ("'$FOO' \\$FOO", {"FOO": "x"}, "$FOO $FOO", set()),
    ("${A:-$B}", {"B": "b"}, "b", {"B"}),  # A looked up but unset: not a match
    ("${FOO/$NEEDLE/$REPL}", {"FOO": "http://g.de", "NEEDLE": "http://", "REPL": "https://"},
     "https://g.de", {"FOO", "NEEDLE", "REPL"}),
])
def test_process_word_with_matches(word: str, env: dict[str, str], result: str,
                                   matched: set[str]) -> None:
    assert Lexer().process_word_with_matches(word, env) == (result, matched)


def test_expand_reports_unmatched_names_too() -> None:
    expansion = Lexer().expand("${A:-x}$B ${C}", {"B": "b"})
    assert expansion.result == "xb "
    assert expansion.matched == {"B"}
    assert expansion.unmatched == {"A", "C"}


def test_release_file_name_idiom() -> None:
    word = "v-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tgz"
    env = {"VERSION": "1.2", "TARGETOS": "linux", "TARGETARCH": "arm"}
    assert Lexer().process_word(word, {**env, "TARGETVARIANT": "v7"}) == "v-1.2.linux-arm-v7.tgz"
    assert Lexer().process_word(word, {**env, "TARGETVARIANT": ""}) == "v-1.2.linux-arm.tgz"
    assert Lexer().process_word(word, env) == "v-1.2.linux-arm.tgz"


# -- patterns ---------------------------------------------------------------------------

@pytest.mark.parametrize(("word", "value", "result"), [
    ("${FOO#()[]{\\}^$.\\*\\?|\\\\}", "()[]{}^$.*?|\\x", "x"),
    ("${FOO%%\\**}", "xx**", "xx"),
    ("${FOO#*x*y}", "xxyy", "y"),
    ("${FOO#*}", "xxyy", "xxyy"),
    ("${FOO##*x}", "xxyy", "yy"),
    ("${FOO##}", "xxyy", "xxyy"),
    ("${FOO#?\\?}", "???y", "?y"),
    ("${FOO%y*}", "xyxy", "xyx"),
    ("${FOO%%y*}", "xyxy", "x"),
    ("${FOO%%\\**\\*}", "a***yy*", "a"),
    ("${FOO/x/-}", "xxyy", "-xyy"),
    ("${FOO//x/-}", "xxyy", "--yy"),
    ("${FOO//\\//\\/}", "/tmp/foo.txt", "\\/tmp\\/foo.txt"),
    ("${FOO///}", "xxyy", "xxyy"),
    ("${FOO//*/r}", "abc", "r"),  # Go drops the empty match after "abc"; re.sub would not
])
def test_patterns(word: str, value: str, result: str) -> None:
    assert Lexer().process_word(word, {"FOO": value}) == result


def test_replacement_is_a_go_template() -> None:
    # BuildKit hands the replacement to Go's ReplaceAllString: $0 is the match.
    env = {"FOO": "ab", "R": "[$0]"}
    assert Lexer().process_word("${FOO//?/$R}", env) == "[a][b]"
    assert Lexer().process_word("${FOO/?/$R}", env) == "[$0]b"


# -- errors -----------------------------------------------------------------------------

@pytest.mark.parametrize(("word", "env", "reason"), [
    ("he'llo", {}, "unexpected end of statement while looking for matching single-quote"),
    ('"hello', {}, "unexpected end of statement while looking for matching double-quote"),
    ("${}", {}, "syntax error: bad substitution"),
    ("${:-x}", {}, "syntax error: bad substitution"),
    ("${", {}, "syntax error: missing '}'"),
    ("${a:-b", {}, "syntax error: missing '}'"),
    ("${a:-'b}", {}, "syntax error: missing '}'"),
    ("${a:-${}}", {}, "syntax error: bad substitution"),
    ("${a", {}, "unsupported modifier (\ufffd) in substitution"),
    ("${a:=b}", {}, "unsupported modifier (:=) in substitution"),
    ("${a:#b}", {}, "unsupported modifier (:#) in substitution"),
    ("${.}", {}, "unsupported modifier (.) in substitution"),
    ("${a/b", {}, "syntax error: missing '/' in ${}"),
    ("${a?}", {}, "a: is not allowed to be unset"),
    ("${a:?}", {"a": ""}, "a: is not allowed to be empty"),
    ("${VAR:?message here$ARG}", {"VAR": "", "ARG": "x"}, "VAR: message herex"),
    ("${VAR?message here$ARG}", {"ARG": "x"}, "VAR: message herex"),
    ("${a#\\x}", {"a": "x"}, "invalid pattern (\\x) in substitution: invalid escape '\\x'"),
    ("${a#x\\}", {"a": "x"}, "syntax error: missing '}'"),
])
def test_error_reasons(word: str, env: dict[str, str], reason: str) -> None:
    with pytest.raises(ShellError) as caught:
        Lexer().process_word(word, env)
    assert caught.value.reason == reason
    assert caught.value.word == word


def test_error_message_is_buildkits() -> None:
    with pytest.raises(DockerfileSyntaxError) as caught:
        Lexer().process_word('he${PWD:=x}\t"', {"PWD": "/"})
    assert str(caught.value) == (
        'failed to process "he${PWD:=x}\\t\\"": unsupported modifier (:=) in substitution')


def test_mandatory_variables_that_are_set() -> None:
    assert Lexer().process_word("${VAR:?msg}", {"VAR": "plain"}) == "plain"
    assert Lexer().process_word("${VAR?msg}", {"VAR": ""}) == ""


# -- words ------------------------------------------------------------------------------

def test_words_split_only_unquoted_expansions() -> None:
    env = {"V": "a  b"}
    assert Lexer().process_words('x$V "$V" \\ y', env) == ["xa", "b", "a  b", " y"]
    assert Lexer().process_words("80/tcp ${P:-443} 53/udp", {}) == ["80/tcp", "443", "53/udp"]


def test_words_keep_heredoc_marker_with_its_word() -> None:
    assert Lexer().process_words("cat << EOF", {}) == ["cat", "<< EOF"]


def test_words_share_buffer_with_nested_expansion_like_buildkit() -> None:
    # BuildKit's word splitter loses "ab": kept so EXPOSE splits exactly as Docker does.
    expansion = Lexer().expand("ab${x:-y}c", {})
    assert expansion.result == "abyc"
    assert expansion.words == ["yc"]


# -- escape character -------------------------------------------------------------------

@pytest.mark.parametrize(("word", "result"), [
    ("he`$PWD", "he$PWD"),
    ("he``$PWD", "he`/home"),
    ("C:\\dir\\$SHELL", "C:\\dir\\bash"),
    ('"a`"b`$c\\d"', 'a"b$c\\d'),
    ('"a`xb"', "a`xb"),
    ("hello`", "hello"),
    ("a` b", "a b"),
    ("${X:-`}}", "}"),
])
def test_backtick_escape(word: str, result: str) -> None:
    assert Lexer("`").process_word(word, ENV_VAR_TEST_ENV) == result


def test_backtick_escape_words() -> None:
    assert Lexer("`").process_words("a` b c\\ d", {}) == ["a b", "c\\", "d"]


# -- heredoc bodies and options -----------------------------------------------------------

def test_expand_heredoc_keeps_quotes() -> None:
    body = "echo \"$A\" '${B:-b}' $C\n\\$A\n"
    assert Lexer().expand_heredoc(body, {"A": "1", "C": "3"}) == (
        "echo \"1\" 'b' 3\n$A\n", {"A", "C"})


def test_expand_heredoc_uses_backslash_whatever_the_escape() -> None:
    assert Lexer("`").expand_heredoc("`$A \\$A\n", {"A": "1"}) == ("`1 $A\n", {"A"})


def test_expand_heredoc_errors_like_words() -> None:
    with pytest.raises(ShellError, match="missing '}'"):
        Lexer().expand_heredoc("x\n${A:-a\n", {})


def test_skip_unset_env_and_raw_quotes() -> None:
    lexer = Lexer(raw_quotes=True, skip_unset_env=True)
    env = {"SET": "s"}
    assert lexer.process_word("'$SET' \"$SET\" $UNSET ${UNSET:-d} $SET", env) == (
        "'$SET' \"s\" $UNSET ${UNSET:-d} s")
    assert lexer.process_word("${UNSET//a/b}", env) == "${UNSET/a/b}"  # as BuildKit


def test_raw_escapes() -> None:
    assert Lexer(raw_escapes=True).process_word("a\\ b", {}) == "a\\ b"


def test_lexer_is_reusable() -> None:
    lexer = Lexer()
    assert lexer.process_word_with_matches("$A", {"A": "1"}) == ("1", {"A"})
    assert lexer.process_word_with_matches("$B", {"B": "2"}) == ("2", {"B"})


def test_escape_must_be_one_character() -> None:
    with pytest.raises(ValueError):
        Lexer("")
