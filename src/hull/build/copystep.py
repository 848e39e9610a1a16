"""COPY and ADD as build steps: where the sources come from (the context, an earlier
stage, an image, a heredoc, a URL), what their cache key is made of (the sources' content
checksum and the flags — never mtimes), and the copy itself into the step's rootfs."""

from __future__ import annotations

import contextlib
import os
import posixpath
import tempfile

from hull.build import copying
from hull.build.errors import BuildError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

    from hull.build.context import Tree
    from hull.build.frontend.instructions import CopyCommand
    from hull.build.state import State

WILDCARDS = frozenset("*?[")


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def destination(cmd: CopyCommand, dest: str, state: State, n_sources: int,
                wildcard: bool) -> tuple[str, bool]:
    """The absolute destination and whether it names a directory (BuildKit: a trailing
    slash, or the dest "." / WORKDIR itself); several sources need a directory."""
    workdir = state.config.get("WorkingDir") or "/"
    is_dir = dest.endswith("/") or dest in (".", "") or dest.endswith("/.")
    full = posixpath.normpath(posixpath.join(workdir, dest))
    if n_sources > 1 and not is_dir:   # as Docker documents it (BuildKit overwrites)
        raise BuildError(f"When using {cmd.name} with more than one source file, the "
                         "destination must be a directory and end with a /", cmd.line)
    return full, is_dir


@contextlib.contextmanager
def heredoc_tree(cmd: CopyCommand, expand: Any) -> Iterator[tuple[str, list[str]]]:
    """COPY <<EOF /dest: each heredoc as a file named after its delimiter, made inside a
    private directory only — a delimiter is one path component, never a path."""
    with tempfile.TemporaryDirectory(prefix="hull-heredoc-") as tmp:
        names = []
        tmp_fd = os.open(tmp, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for doc in cmd.heredocs:
                name = doc.name
                if not name or "/" in name or name in (".", ".."):
                    raise BuildError(f"heredoc name {name!r} is not a file name", cmd.line)
                content = expand(doc.content) if doc.expand else doc.content
                fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW |
                             os.O_CLOEXEC, 0o644, dir_fd=tmp_fd)
                with os.fdopen(fd, "w") as f:
                    f.write(content)
                names.append(name)
        finally:
            os.close(tmp_fd)
        yield tmp, names


def resolve(tree: Tree, patterns: list[str], line: int, parents: bool = False
            ) -> tuple[list[str], bool]:
    """Every pattern's matches in the tree; whether any pattern had a wildcard. With
    --parents, a "/./" in a pattern marks where the kept path starts: the matches keep
    that mark ("PIVOT/./REST"), for the copy to know."""
    found: list[str] = []
    wildcard = False
    for pattern in patterns:
        wildcard = wildcard or bool(set(pattern) & WILDCARDS)
        pivot, mark, _ = pattern.partition("/./") if parents else ("", "", "")
        try:
            matches = tree.resolve(pattern.replace("/./", "/", 1) if mark else pattern)
        except BuildError as e:
            raise BuildError(e.message, line) from None
        if mark:
            base = posixpath.normpath(pivot).strip("/")
            base = "" if base == "." else base
            matches = [f"{base}/./{m[len(base) + 1:]}" if base and m.startswith(base + "/")
                       else m for m in matches]
        found += [m for m in matches if m not in found]
    return found, wildcard


def copy_step(rootfs: str, source_root: str, sources: list[str], dest: str, dest_is_dir: bool,
              cmd: CopyCommand, chown: str, chmod: str, keep_owner: bool, unpack: bool,
              excludes: list[str], ignored: Callable[[str], bool] | None = None) -> None:
    try:
        owner = copying.resolve_owner(rootfs, chown)
        mode = copying.parse_chmod(chmod)
        copying.copy_into(rootfs, source_root, sources, dest, dest_is_dir=dest_is_dir,
                          owner=owner, mode=mode, keep_owner=keep_owner,
                          parents=cmd.parents, excludes=excludes, unpack=unpack,
                          ignored=ignored)
    except BuildError as e:
        raise BuildError(e.message, cmd.line) from None
    except OSError as e:
        raise BuildError(f"{cmd.name} failed: {e.strerror}: {e.filename or dest}",
                         cmd.line) from None
