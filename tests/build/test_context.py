"""The build context: resolving COPY sources (globs, ignore rules, symlinks kept inside the
tree), walking, content checksums and the persistent digest index."""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hull.build import context as ctxmod
from hull.build.context import Context, Tree
from hull.build.errors import BuildError
from hull.build.ignore import PatternMatcher


def not_found(rel: str) -> str:
    """BuildKit's error for a missing source, as a pytest.raises pattern."""
    return "^" + re.escape(f'"/{rel}": not found') + "$"


def make(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "ctx"
    make(root, {
        "Dockerfile": "FROM scratch\n",
        "a.txt": "a", "b.txt": "b", "c.md": "c", "ab.txt": "ab",
        "sub/one/f": "1", "sub/two/f": "2", "sub/two/g": "g",
        "[x].txt": "bracket",
    })
    return root


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash as if a minute had passed since the files were written (none are racy)."""
    monkeypatch.setattr(ctxmod, "_clock_ns", lambda: time.time_ns() + 60 * 10**9)


def count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []
    real = ctxmod._hash_file

    def spy(dir_fd: int, name: str) -> tuple[str, os.stat_result]:
        reads.append(name)
        return real(dir_fd, name)

    monkeypatch.setattr(ctxmod, "_hash_file", spy)
    return reads


def context(root: Path, tmp_path: Path, ignore: str | None = None) -> Context:
    if ignore is not None:
        (root / ".dockerignore").write_text(ignore)
    return Context(str(root), "Dockerfile", str(tmp_path / "state" / "index.db"))


# --- resolve -------------------------------------------------------------------------------


def test_resolve_exact_dir_and_root(tree: Path) -> None:
    t = Tree(str(tree))
    assert t.resolve("a.txt") == ["a.txt"]
    assert t.resolve("./sub/") == ["sub"]
    assert t.resolve(".") == [""]
    assert t.resolve("/") == [""]
    assert t.resolve("sub/one/../two/f") == ["sub/two/f"]


def test_resolve_globs(tree: Path) -> None:
    t = Tree(str(tree))
    assert t.resolve("*.txt") == ["[x].txt", "a.txt", "ab.txt", "b.txt"]
    assert t.resolve("?.txt") == ["a.txt", "b.txt"]
    assert t.resolve("[ab].txt") == ["a.txt", "b.txt"]
    assert t.resolve("[^a].txt") == ["b.txt"]
    assert t.resolve("[[]x].txt") == ["[x].txt"]
    assert t.resolve("\\[x\\]*") == ["[x].txt"]            # escapes count in a glob ...
    with pytest.raises(BuildError, match="not found"):
        t.resolve("\\[x\\].txt")   # ... but without a wildcard the path is literal (BuildKit)
    assert t.resolve("sub/*/f") == ["sub/one/f", "sub/two/f"]
    assert t.resolve("s*") == ["sub"]
    assert t.resolve("*/one") == ["sub/one"]


def test_wildcard_matching_nothing_is_empty(tree: Path) -> None:
    t = Tree(str(tree))
    assert t.resolve("nomatch*") == []          # BuildKit's AllowEmptyWildcard
    assert t.resolve("missing/*.txt") == []


def test_missing_is_an_error(tree: Path) -> None:
    t = Tree(str(tree))
    with pytest.raises(BuildError) as err:
        t.resolve("missing")
    assert str(err.value) == '"/missing": not found'
    with pytest.raises(BuildError, match=not_found("missing/deeper")):
        t.resolve("missing/deeper")
    with pytest.raises(BuildError, match=not_found("a.txt/x")):
        t.resolve("a.txt/x")


def test_bad_glob_is_an_error(tree: Path) -> None:
    with pytest.raises(BuildError, match="syntax error in pattern"):
        Tree(str(tree)).resolve("[a-")


def test_dotdot_cannot_escape(tmp_path: Path, tree: Path) -> None:
    (tmp_path / "outside.txt").write_text("secret")
    t = Tree(str(tree))
    assert t.resolve("../a.txt") == ["a.txt"]
    assert t.resolve("../../../..") == [""]
    with pytest.raises(BuildError, match=not_found("outside.txt")):
        t.resolve("../outside.txt")


def test_ignored_never_matches(tree: Path, tmp_path: Path) -> None:
    c = context(tree, tmp_path, "*.md\nsub/one\nDockerfile\n")
    with pytest.raises(BuildError, match=not_found("c.md")):
        c.resolve("c.md")
    with pytest.raises(BuildError, match=not_found("Dockerfile")):
        c.resolve("Dockerfile")            # in BuildKit the Dockerfile is just a file
    assert c.resolve(".dockerignore") == [".dockerignore"]
    assert c.resolve("*.md") == []
    assert c.resolve("sub/*") == ["sub/two"]
    assert c.ignored("c.md") and c.ignored("sub/one/f") and not c.ignored("sub/two")
    assert [rel for rel, _ in c.walk("sub")] == ["sub", "sub/two", "sub/two/f", "sub/two/g"]
    c.close()


def test_excluded_dir_holding_a_reincluded_file(tree: Path, tmp_path: Path) -> None:
    c = context(tree, tmp_path, "sub\n!sub/two/g\n")
    assert c.resolve("sub") == ["sub"]
    assert c.resolve("sub/two") == ["sub/two"]
    assert not c.ignored("sub") and c.ignored("sub/one")
    with pytest.raises(BuildError, match="not found"):
        c.resolve("sub/one")
    assert [rel for rel, _ in c.walk("")] == [
        "", ".dockerignore", "Dockerfile", "[x].txt", "a.txt", "ab.txt", "b.txt", "c.md",
        "sub", "sub/two", "sub/two/g"]
    c.close()


def test_excluded_dirs_are_not_descended(tree: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    c = context(tree, tmp_path, "sub\n")
    opened: list[str] = []
    real = Tree._open_dir

    def spy(self: Tree, item: ctxmod._Item, present: bool) -> object:
        opened.append(item.rel)
        return real(self, item, present)

    monkeypatch.setattr(Tree, "_open_dir", spy)
    assert "sub" not in [rel for rel, _ in c.walk("")]
    assert opened == [""]
    c.close()


def test_symlinks_stay_inside(tmp_path: Path, tree: Path) -> None:
    outside = tmp_path / "outside"
    make(outside, {"passwd": "root:x:0:0"})
    os.symlink(str(outside), tree / "out")              # absolute, pointing out
    os.symlink("../../outside/passwd", tree / "rel")    # relative, climbing out
    os.symlink("sub/two", tree / "inner")
    os.symlink("/sub/one", tree / "abs_inner")          # absolute: the tree's own /sub/one
    t = Tree(str(tree))
    assert t.resolve("out") == ["out"]                  # the link itself
    assert t.resolve("rel") == ["rel"]
    assert t.resolve("o*") == ["out"]
    with pytest.raises(BuildError, match=not_found("out/passwd")):
        t.resolve("out/passwd")                         # resolved inside: <tree>/tmp/...
    assert t.resolve("inner/f") == ["sub/two/f"]
    assert t.resolve("abs_inner/f") == ["sub/one/f"]
    assert t.resolve("inner/*") == ["sub/two/f", "sub/two/g"]
    assert t.resolve("*/f") == []                        # globs don't descend into links
    assert t.target("inner") == "sub/two" and t.target("a.txt") == "a.txt"
    with pytest.raises(BuildError, match=not_found("out")):
        t.target("out")                                 # <tree>/<outside path> is missing
    assert [rel for rel, st in t.walk("out")] == ["out"]
    assert stat.S_ISLNK(next(iter(t.walk("out")))[1].st_mode)
    # Walking never follows a link: nothing under inner/ is listed.
    assert not [rel for rel, _ in t.walk("") if rel.startswith(("inner/", "out/"))]


def test_symlink_that_is_ignored_cannot_be_traversed(tree: Path, tmp_path: Path) -> None:
    os.symlink("sub/two", tree / "inner")
    c = context(tree, tmp_path, "inner\n")
    with pytest.raises(BuildError, match=not_found("inner/f")):
        c.resolve("inner/f")
    c.close()


def test_walk_is_sorted_depth_first_with_lstat(tree: Path) -> None:
    rels = [rel for rel, _ in Tree(str(tree)).walk("sub")]
    assert rels == ["sub", "sub/one", "sub/one/f", "sub/two", "sub/two/f", "sub/two/g"]
    with pytest.raises(BuildError, match=not_found("nope")):
        list(Tree(str(tree)).walk("nope"))


# --- checksums ----------------------------------------------------------------------------


def test_checksum_ignores_times(tree: Path, tmp_path: Path) -> None:
    c = context(tree, tmp_path)
    before = c.checksum([""])
    os.utime(tree / "a.txt", (1, 1))
    os.utime(tree / "sub", (2, 2))
    assert c.checksum([""]) == before
    assert c.checksum(["a.txt"]) != before
    c.close()


def test_checksum_same_content_elsewhere(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    for root in (one, two):
        make(root, {"x/y": "same", "z": "zz"})
    os.utime(two / "z", (12345, 12345))
    assert Tree(str(one)).checksum([""]) == Tree(str(two)).checksum([""])


@pytest.mark.parametrize("change", ["chmod", "setuid", "rename", "content", "link", "mkdir"])
def test_checksum_sees_changes(tree: Path, tmp_path: Path, change: str) -> None:
    os.symlink("a.txt", tree / "link")
    c = context(tree, tmp_path)
    before = c.checksum([""])
    edits: dict[str, Callable[[], None]] = {
        "chmod": lambda: os.chmod(tree / "a.txt", 0o755),
        "setuid": lambda: os.chmod(tree / "a.txt", 0o4644),
        "rename": lambda: os.rename(tree / "a.txt", tree / "a2.txt"),
        "content": lambda: (tree / "sub/one/f").write_text("9"),   # same size
        "link": lambda: (os.unlink(tree / "link"), os.symlink("b.txt", tree / "link")),
        "mkdir": lambda: (tree / "sub/empty").mkdir(),
    }
    edits[change]()
    assert c.checksum([""]) != before
    c.close()


def test_ignored_change_keeps_checksum(tree: Path, tmp_path: Path) -> None:
    c = context(tree, tmp_path, "*.md\nsub/one\n")
    before = c.checksum([""])
    (tree / "c.md").write_text("changed")
    (tree / "sub/one/f").write_text("changed")
    (tree / "sub/one/new").write_text("new")
    assert c.checksum([""]) == before
    c.close()


def test_checksum_depends_on_sources(tree: Path) -> None:
    t = Tree(str(tree))
    assert t.checksum(["a.txt"]) != t.checksum(["b.txt"])
    assert t.checksum(["a.txt", "b.txt"]) != t.checksum(["b.txt", "a.txt"])
    assert t.checksum(["sub"]) == t.checksum(["sub/"])
    assert set(t.manifest(["sub/one"])) == {"sub/one", "sub/one/f"}


def test_symlink_source_is_hashed_as_a_link(tmp_path: Path, tree: Path) -> None:
    outside = tmp_path / "outside"
    make(outside, {"secret": "one"})
    os.symlink(str(outside / "secret"), tree / "out")
    t = Tree(str(tree))
    before = t.checksum(["out"])
    (outside / "secret").write_text("two")
    assert Tree(str(tree)).checksum(["out"]) == before


def test_symlink_source_covers_its_target_inside(tree: Path) -> None:
    """BuildKit's COPY follows a source's own link (inside the tree), so a change to the
    target must change the key too."""
    os.symlink("sub/two", tree / "inner")
    t = Tree(str(tree))
    assert set(t.manifest(["inner"])) == {"inner", "sub/two", "sub/two/f", "sub/two/g"}
    before = t.checksum(["inner"])
    (tree / "sub/two/g").write_text("G")
    assert t.checksum(["inner"]) != before


def test_changed_since(tree: Path, tmp_path: Path) -> None:
    c = context(tree, tmp_path)
    old = c.manifest([""])
    assert c.changed_since(old, [""]) == []
    (tree / "a.txt").write_text("A")
    (tree / "b.txt").unlink()
    (tree / "sub/new").write_text("n")
    assert c.changed_since(old, [""]) == ["a.txt", "b.txt", "sub/new"]   # not sub's mtime
    c.close()


# --- the index ----------------------------------------------------------------------------


@pytest.mark.usefixtures("later")
def test_index_reads_only_changed_files(tree: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    reads = count_reads(monkeypatch)
    c = context(tree, tmp_path)
    first = c.checksum([""])
    assert len(reads) == 9
    c.close()
    reads.clear()
    os.utime(tree / "a.txt", (5, 5))          # a new stat, the same content
    c = context(tree, tmp_path)               # a new build: digests come from SQLite
    assert c.checksum([""]) == first
    assert reads == ["a.txt"]
    reads.clear()
    assert c.checksum([""]) == first
    assert reads == []
    c.close()


def test_racy_files_are_not_trusted(tree: Path, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Files written just now could change again within the same timestamp tick: their
    digests are not kept, so the next checksum reads them again."""
    reads = count_reads(monkeypatch)
    c = context(tree, tmp_path)
    c.checksum([""])
    c.checksum([""])
    assert len(reads) == 18
    c.close()


@pytest.mark.usefixtures("later")
def test_damaged_index_is_rebuilt(tree: Path, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    index = tmp_path / "state" / "index.db"
    index.parent.mkdir()
    index.write_bytes(b"this is not a database" * 100)
    reads = count_reads(monkeypatch)
    c = context(tree, tmp_path)
    first = c.checksum([""])
    c.close()
    with sqlite3.connect(index) as db:
        assert db.execute("SELECT count(*) FROM files").fetchone()[0] == 9
    reads.clear()
    c = context(tree, tmp_path)
    assert c.checksum([""]) == first and reads == []
    c.close()


@pytest.mark.usefixtures("later")
def test_tampered_row_is_not_trusted(tree: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    c = context(tree, tmp_path)
    first = c.checksum([""])
    c.close()
    with sqlite3.connect(tmp_path / "state" / "index.db") as db:
        db.execute("UPDATE files SET digest = ? WHERE path = ?", ("0" * 64, b"a.txt"))
    reads = count_reads(monkeypatch)
    c = context(tree, tmp_path)
    assert c.checksum([""]) == first
    assert reads == ["a.txt"]
    c.close()


@pytest.mark.usefixtures("later")
def test_index_shared_and_pruned(tree: Path, tmp_path: Path) -> None:
    one, two = context(tree, tmp_path), context(tree, tmp_path)
    assert one.checksum([""]) == two.checksum([""])
    (tree / "b.txt").unlink()
    one.checksum([""])
    with sqlite3.connect(tmp_path / "state" / "index.db") as db:
        paths = {row[0] for row in db.execute("SELECT path FROM files")}
    assert b"b.txt" not in paths and b"a.txt" in paths
    one.close()
    two.close()


def test_unusable_index_location_still_builds(tree: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    c = Context(str(tree), "Dockerfile", str(tmp_path / "file" / "index.db"))
    assert c.checksum(["a.txt"]).startswith("sha256:")
    c.close()


def test_tree_without_ignore_rules(tree: Path) -> None:
    t = Tree(str(tree), PatternMatcher([]))
    assert t.matcher is None and not t.ignored("a.txt")
    t.close()
