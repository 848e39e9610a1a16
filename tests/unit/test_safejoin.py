"""The by-hand resolution (for kernels without openat2) against the kernel's own: on a tree
of hostile symlinks both must reach the same object or fail the same way."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from hull.linux import fs
from hull.linux.safejoin import open_beneath


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("inside\n")
    (root / "dir" / "sub").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "passwd").write_text("host\n")
    links = {"abs": "/etc", "rel": "../etc", "up": "../../../../..", "host": str(tmp_path),
             "dir/sub/back": "../../etc/passwd", "loop1": "loop2", "loop2": "loop1",
             "dangling": "/nowhere/x", "dir/self": "/proc/self/fd/0", "chain": "abs/../rel"}
    for name, target in links.items():
        os.symlink(target, root / name)
    return root


PATHS = ["etc/passwd", "/etc/passwd", "abs/passwd", "rel/passwd", "up/etc/passwd",
         "host/outside/passwd", "dir/sub/back", "loop1", "dangling", "dir/self",
         "chain/passwd", "../../../etc/passwd", "dir/sub/../../etc/passwd", "etc/passwd/x",
         "", "dir/sub/..", "abs"]


def _outcome(fd_or_err: int | OSError) -> tuple[int, int] | int:
    if isinstance(fd_or_err, OSError):
        return fd_or_err.errno or -1
    try:
        st = os.fstat(fd_or_err)
        return st.st_dev, st.st_ino
    finally:
        os.close(fd_or_err)


def _try(fn: object, *args: object) -> int | OSError:
    try:
        return fn(*args)  # type: ignore[operator, no-any-return]
    except OSError as e:
        return e


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("resolve", [fs.RESOLVE_IN_ROOT | fs.RESOLVE_NO_MAGICLINKS,
                                     fs.RESOLVE_BENEATH,
                                     fs.RESOLVE_BENEATH | fs.RESOLVE_NO_SYMLINKS])
@pytest.mark.parametrize("flags", [os.O_PATH, os.O_RDONLY, os.O_PATH | os.O_NOFOLLOW])
def test_same_as_openat2(tree: Path, path: str, resolve: int, flags: int) -> None:
    root = os.open(tree, os.O_PATH | os.O_DIRECTORY)
    try:
        kernel = _outcome(_try(fs.openat2, root, path, flags, 0, resolve))
        ours = _outcome(_try(open_beneath, root, path, flags, 0,
                             bool(resolve & fs.RESOLVE_IN_ROOT),
                             bool(resolve & fs.RESOLVE_NO_SYMLINKS)))
    finally:
        os.close(root)
    assert ours == kernel, (path, ours, kernel)


def test_create_through_a_symlink_stays_inside(tree: Path) -> None:
    root = os.open(tree, os.O_PATH | os.O_DIRECTORY)
    try:
        fd = open_beneath(root, "host/outside/new", os.O_WRONLY | os.O_CREAT, 0o644, True,
                          False)
        os.close(fd)
    except OSError as e:
        assert e.errno == errno.ENOENT   # host/outside does not exist inside the root
    finally:
        os.close(root)
    assert not (tree.parent / "outside" / "new").exists()
