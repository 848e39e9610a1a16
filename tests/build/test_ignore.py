""".dockerignore matching against moby/patternmatcher's own test tables, the walk-skipping
decision (may_skip_dir) and reading the ignore file the way BuildKit's dockerui does."""

from __future__ import annotations

from pathlib import Path

import pytest

from hull.build.errors import BuildError
from hull.build.ignore import (
    GlobSyntaxError,
    PatternMatcher,
    compile_glob,
    go_clean,
    has_wildcards,
    parse_ignore,
    read_ignore_file,
)

# --- moby/patternmatcher's tables --------------------------------------------------------
# The tables below are data taken from moby/patternmatcher (patternmatcher_test.go and
# ignorefile/ignorefile_test.go), Copyright The Moby Authors, licensed under the Apache
# License, Version 2.0 (https://www.apache.org/licenses/LICENSE-2.0).

# TestMatches: (pattern, path, matched) for MatchesOrParentMatches with one pattern.
MATCHES = [
    ("**", "file", True),
    ("**", "file/", True),
    ("**/", "file", True),
    ("**/", "file/", True),
    ("**/", "/", True),
    ("**", "dir/file", True),
    ("**/", "dir/file", True),
    ("**", "dir/file/", True),
    ("**/", "dir/file/", True),
    ("**/**", "dir/file", True),
    ("**/**", "dir/file/", True),
    ("dir/**", "dir/file", True),
    ("dir/**", "dir/file/", True),
    ("dir/**", "dir/dir2/file", True),
    ("dir/**", "dir/dir2/file/", True),
    ("**/dir", "dir", True),
    ("**/dir", "dir/file", True),
    ("**/dir2/*", "dir/dir2/file", True),
    ("**/dir2/*", "dir/dir2/file/", True),
    ("**/dir2/**", "dir/dir2/dir3/file", True),
    ("**/dir2/**", "dir/dir2/dir3/file/", True),
    ("**file", "file", True),
    ("**file", "dir/file", True),
    ("**/file", "dir/file", True),
    ("**file", "dir/dir/file", True),
    ("**/file", "dir/dir/file", True),
    ("**/file*", "dir/dir/file", True),
    ("**/file*", "dir/dir/file.txt", True),
    ("**/file*txt", "dir/dir/file.txt", True),
    ("**/file*.txt", "dir/dir/file.txt", True),
    ("**/file*.txt*", "dir/dir/file.txt", True),
    ("**/**/*.txt", "dir/dir/file.txt", True),
    ("**/**/*.txt2", "dir/dir/file.txt", False),
    ("**/*.txt", "file.txt", True),
    ("**/**/*.txt", "file.txt", True),
    ("a**/*.txt", "a/file.txt", True),
    ("a**/*.txt", "a/dir/file.txt", True),
    ("a**/*.txt", "a/dir/dir/file.txt", True),
    ("a/*.txt", "a/dir/file.txt", False),
    ("a/*.txt", "a/file.txt", True),
    ("a/*.txt**", "a/file.txt", True),
    ("a[b-d]e", "ae", False),
    ("a[b-d]e", "ace", True),
    ("a[b-d]e", "aae", False),
    ("a[^b-d]e", "aze", True),
    (".*", ".foo", True),
    (".*", "foo", False),
    ("abc.def", "abcdef", False),
    ("abc.def", "abc.def", True),
    ("abc.def", "abcZdef", False),
    ("abc?def", "abcZdef", True),
    ("abc?def", "abcdef", False),
    ("a\\\\", "a\\", True),
    ("**/foo/bar", "foo/bar", True),
    ("**/foo/bar", "dir/foo/bar", True),
    ("**/foo/bar", "dir/dir2/foo/bar", True),
    ("abc/**", "abc", False),
    ("abc/**", "abc/def", True),
    ("abc/**", "abc/def/ghi", True),
    ("**/.foo", ".foo", True),
    ("**/.foo", "bar.foo", False),
    ("a(b)c/def", "a(b)c/def", True),
    ("a(b)c/def", "a(b)c/xyz", False),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", True),
    ("dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
     "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("a\\*b", "a*b", True),
]

# TestMatches' multiPatternTests.
MULTI = [
    (["**", "!util/docker/web"], "util/docker/web/foo", False),
    (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
    (["**", "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl"],
     "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", False),
    (["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", False),
]

# TestMatch: (pattern, path, matched, bad pattern) — moby's copy of Go's filepath.Match
# tests, run through the package-level Matches.
MATCH = [
    ("abc", "abc", True, False),
    ("*", "abc", True, False),
    ("*c", "abc", True, False),
    ("a*", "a", True, False),
    ("a*", "abc", True, False),
    ("a*", "ab/c", True, False),
    ("a*/b", "abc/b", True, False),
    ("a*/b", "a/c/b", False, False),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", True, False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True, False),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False, False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False, False),
    ("a*b?c*x", "abxbbxdbxebxczzx", True, False),
    ("a*b?c*x", "abxbbxdbxebxczzy", False, False),
    ("ab[c]", "abc", True, False),
    ("ab[b-d]", "abc", True, False),
    ("ab[e-g]", "abc", False, False),
    ("ab[^c]", "abc", False, False),
    ("ab[^b-d]", "abc", False, False),
    ("ab[^e-g]", "abc", True, False),
    ("a\\*b", "a*b", True, False),
    ("a\\*b", "ab", False, False),
    ("a?b", "a☺b", True, False),
    ("a[^a]b", "a☺b", True, False),
    ("a???b", "a☺b", False, False),
    ("a[^a][^a][^a]b", "a☺b", False, False),
    ("[a-ζ]*", "α", True, False),
    ("*[a-ζ]", "A", False, False),
    ("a?b", "a/b", False, False),
    ("a*b", "a/b", False, False),
    ("[\\]a]", "]", True, False),
    ("[\\-]", "-", True, False),
    ("[x\\-]", "x", True, False),
    ("[x\\-]", "-", True, False),
    ("[x\\-]", "z", False, False),
    ("[\\-x]", "x", True, False),
    ("[\\-x]", "-", True, False),
    ("[\\-x]", "a", False, False),
    ("[]a]", "]", False, True),
    ("[-]", "-", False, True),
    ("[x-]", "x", False, True),
    ("[x-]", "-", False, True),
    ("[x-]", "z", False, True),
    ("[-x]", "x", False, True),
    ("[-x]", "-", False, True),
    ("[-x]", "a", False, True),
    ("\\", "a", False, True),
    ("[a-b-c]", "a", False, True),
    ("[", "a", False, True),
    ("[^", "a", False, True),
    ("[^bc", "a", False, True),
    ("a[", "a", False, True),
    ("a[", "ab", False, True),
    ("*x", "xxx", True, False),
]

# ignorefile's TestReadAll.
READ_ALL_INPUT = """test1
/test2
/a/file/here

lastfile
# this is a comment
! /inverted/abs/path
!
! """
READ_ALL_EXPECTED = ["test1", "test2", "a/file/here", "lastfile", "!inverted/abs/path",
                     "!", "!"]

# --- end of the moby data ----------------------------------------------------------------


@pytest.mark.parametrize(("pattern", "path", "expected"), MATCHES)
def test_moby_matches(pattern: str, path: str, expected: bool) -> None:
    if path == "/":
        # The context root is never excluded here (moby's package-level Matches says the
        # same for "."), so moby's ("**/", "/") row is checked as that rule instead.
        assert PatternMatcher([pattern]).matches(path) is False
        return
    assert PatternMatcher([pattern]).matches(path) is expected


@pytest.mark.parametrize(("patterns", "path", "expected"), MULTI)
def test_moby_multi_pattern(patterns: list[str], path: str, expected: bool) -> None:
    assert PatternMatcher(patterns).matches(path) is expected


@pytest.mark.parametrize(("pattern", "path", "expected", "bad"), MATCH)
def test_moby_filepath_match_table(pattern: str, path: str, expected: bool,
                                   bad: bool) -> None:
    if bad:
        with pytest.raises(BuildError, match="syntax error in pattern"):
            PatternMatcher([pattern])
        return
    assert PatternMatcher([pattern]).matches(path) is expected


@pytest.mark.parametrize(("pattern", "path", "expected", "bad"), MATCH)
def test_copy_glob_agrees_with_filepath_match(pattern: str, path: str, expected: bool,
                                              bad: bool) -> None:
    """The same table for a COPY source component, where there is no parent matching:
    only rows within one component apply."""
    if "/" in pattern or "/" in path:
        return
    if bad:
        with pytest.raises(GlobSyntaxError):
            compile_glob(pattern)
        return
    assert (compile_glob(pattern).fullmatch(path) is not None) is expected


def test_single_exclamation_is_an_error() -> None:
    with pytest.raises(BuildError, match='illegal exclusion pattern: "!"'):
        PatternMatcher(["!"])


def test_malformed_pattern_names_it() -> None:
    with pytest.raises(BuildError, match=r'"\[Local-Only\]/"'):
        PatternMatcher(["[Local-Only]/"])   # moby#52203: a reversed range fails moby's regexp


def test_cleaning_and_blank_patterns() -> None:
    pm = PatternMatcher(["docs", "config", "", "  !docs/README.md  ", "./x/../y/"])
    assert pm.patterns == ["docs", "config", "!docs/README.md", "y"]
    assert pm.has_exceptions
    assert not PatternMatcher([" ", ""])
    assert PatternMatcher([]).matches("any/path/there") is False


def test_exclusion_order() -> None:
    assert PatternMatcher(["!fileutils.go", "*.go"]).matches("fileutils.go")
    assert not PatternMatcher(["*.go", "!fileutils.go"]).matches("fileutils.go")
    for first in ("docs", "docs/", "docs/*"):
        pm = PatternMatcher([first, "!docs/README.md"])
        assert not pm.matches("docs/README.md")
        assert pm.matches("docs/other.md")


def test_moby_30018_wildcard_exception_reincludes() -> None:
    pm = PatternMatcher(["*", "!hi.txt", "!photos/*.jpeg", "!*/*.txt"])
    assert not pm.matches("hi.txt")
    assert pm.matches("ignoreme.txt")
    assert not pm.matches("photos/steak.jpeg")
    assert not pm.matches("recipes/cake.txt")
    assert pm.matches("recipes")            # excluded itself, but ...
    assert not pm.may_skip_dir("recipes")   # ... must be walked for cake.txt
    assert not pm.may_skip_dir("photos")


def test_reinclude_below_excluded_dir() -> None:
    pm = PatternMatcher(["dir", "!dir*/file1", "!dir/file2"])   # moby#31722
    assert not pm.matches("dir/file1")
    assert not pm.matches("dir/file2")
    assert pm.matches("dir/file3")
    pm = PatternMatcher(["*", "!**/*.py"])                       # docker/cli#2919
    assert not pm.matches("subdir/deeper/x.py")
    assert pm.matches("subdir/deeper/x.txt")


def test_suffix_and_prefix_quirks() -> None:
    assert PatternMatcher(["**file"]).matches("dir/myfile")   # moby's suffix match
    assert PatternMatcher(["a**"]).matches("abc/d")
    assert not PatternMatcher(["**/file"]).matches("dir/myfile")


@pytest.mark.parametrize(("patterns", "rel_dir", "skip"), [
    (["node_modules"], "node_modules", True),
    (["node_modules"], "src", False),                         # not excluded at all
    (["node_modules", "!node_modules/keep"], "node_modules", False),
    (["node_modules", "!node_modules/keep"], "node_modules/other", True),
    (["node_modules", "!node_modules/keep/x"], "node_modules/keep", False),
    (["*", "!*/*.txt"], "recipes", False),
    (["*", "!*/*.txt"], "recipes/sub", True),                 # *.txt is one level only
    (["*", "!**/*.py"], "a/b/c", False),                      # ** could reach anything
    (["*", "!src/**"], "docs", True),
    (["*", "!src/**"], "src", False),                         # re-included itself
    (["build", "!build", "build"], "build", True),            # the last word wins
    (["!build/x", "build"], "build", True),                   # exception came too early
    (["build", "!b[u]ild/x"], "build", False),
    (["build", "!b[^u]ild/x"], "build", True),
    (["a", "!**"], "a", False),
])
def test_may_skip_dir(patterns: list[str], rel_dir: str, skip: bool) -> None:
    assert PatternMatcher(patterns).may_skip_dir(rel_dir) is skip


def test_read_all_table() -> None:
    assert parse_ignore(READ_ALL_INPUT) == READ_ALL_EXPECTED


def test_parse_ignore_details() -> None:
    text = "\ufeff# comment\r\n  # not a comment\r\n\r\n!  /abs/../x/ \n//two\n/\n"
    assert parse_ignore(text) == ["# not a comment", "!x", "two", "/"]


def test_read_ignore_file_prefers_dockerfile_specific(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("general\n")
    sub = tmp_path / "build"
    sub.mkdir()
    (sub / "app.Dockerfile").write_text("FROM scratch\n")
    (sub / "app.Dockerfile.dockerignore").write_text("# mine\nspecific\n!specific/keep\n")
    assert read_ignore_file(str(tmp_path), "build/app.Dockerfile") == [
        "specific", "!specific/keep"]
    assert read_ignore_file(str(tmp_path), str(sub / "app.Dockerfile")) == [
        "specific", "!specific/keep"]
    assert read_ignore_file(str(tmp_path), "Dockerfile") == ["general"]
    assert read_ignore_file(str(tmp_path), "-") == ["general"]


def test_read_ignore_file_empty_specific_wins(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("general\n")
    (tmp_path / "Dockerfile.dockerignore").write_text("")
    assert read_ignore_file(str(tmp_path), "Dockerfile") == []


def test_read_ignore_file_none(tmp_path: Path) -> None:
    assert read_ignore_file(str(tmp_path), "Dockerfile") == []


def test_helpers() -> None:
    assert go_clean("") == "."
    assert go_clean("//a//b/../c/") == "/a/c"
    assert has_wildcards("a*") and has_wildcards("[ab]") and has_wildcards("a?")
    assert not has_wildcards("a\\*b") and not has_wildcards("plain")
