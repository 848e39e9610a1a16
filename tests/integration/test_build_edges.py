"""Edges of `hull build` found in review: heredoc names that look like paths, steps that
change nothing, RUN mounts from stages and relative targets, RUN heredocs left to the
shell, --cache-from with changed sources, what a context bind mount shows, VOLUME under a
non-root USER, --output into a directory holding links."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.integration.conftest import Hull
from tests.integration.test_build import build, write

pytestmark = pytest.mark.root


def test_heredoc_name_is_never_a_path(hull: Hull, tmp_path: Path) -> None:
    target = tmp_path / "escaped"
    rel = os.path.relpath(target, "/tmp")
    ctx = write(tmp_path / "ctx", {"Dockerfile": f"FROM busybox\nCOPY <<../../..{'/tmp/' + rel}"
                                   f" /x\nhello\n../../..{'/tmp/' + rel}\n"})
    proc = build(hull, ctx, check=False)
    assert proc.returncode == 1 and "is not a file name" in proc.stderr
    assert not target.exists()


def test_steps_that_change_nothing_build_and_cache(hull: Hull, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nWORKDIR /bin\nRUN true\n"
                                   "WORKDIR /\n"})
    build(hull, ctx, "-t", "empty:1")
    again = build(hull, ctx, "-t", "empty:1").stderr
    assert again.count("CACHED") == 3
    layers = hull("image", "inspect", "--format", "{{len .RootFS.Layers}}", "empty:1").stdout
    base = hull("image", "inspect", "--format", "{{len .RootFS.Layers}}", "busybox").stdout
    assert layers == base   # no layer for a step whose diff is empty


def test_run_mounts_from_stages_and_relative_targets(hull: Hull, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {
        "Dockerfile": "FROM busybox AS a\nRUN echo from-a > /x\n"
                      "FROM busybox\nWORKDIR /src\n"
                      "RUN --mount=type=bind,from=a,target=/a cat /a/x > /copied\n"
                      "RUN --mount=type=bind,target=ctx cat ctx/visible > /seen-rel && "
                      "! test -e ctx/hidden.txt && test -x /bin/sh\n",
        "visible": "v\n", "hidden.txt": "h\n", ".dockerignore": "hidden.txt\n"})
    build(hull, ctx, "-t", "mnt:1")
    assert hull("run", "--rm", "mnt:1", "cat", "/copied", "/seen-rel").stdout == "from-a\nv\n"
    assert not hull("run", "--rm", "mnt:1", "ls", "/src").stdout.strip()   # no stub left
    (ctx / "hidden.txt").write_text("changed\n")   # ignored: the step stays cached
    assert build(hull, ctx).stderr.count("CACHED") == 4


def test_run_heredocs_are_the_shells(hull: Hull, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": """\
FROM busybox
ENV WHO=env
RUN <<EOF
for i in 1 2; do echo "$i $WHO"; done > /loop
EOF
RUN <<EOF
#!/bin/sh
echo "script $0" > /shebang
EOF
"""})
    build(hull, ctx, "-t", "heredoc-run:1")
    out = hull("run", "--rm", "heredoc-run:1", "cat", "/loop", "/shebang").stdout
    assert out == "1 env\n2 env\nscript /dev/pipes/EOF\n"


def test_cache_from_never_takes_a_changed_copy(hull: Hull, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nCOPY f /f\nRUN cat /f > /g\n",
                                   "f": "old\n"})
    build(hull, ctx, "-t", "cf-source:1")
    hull("builder", "prune", "-af")
    (ctx / "f").write_text("new\n")
    out = build(hull, ctx, "--cache-from", "cf-source:1", "-t", "cf-new:1").stderr
    assert "from --cache-from" not in out
    assert hull("run", "--rm", "cf-new:1", "cat", "/f", "/g").stdout == "new\nnew\n"


def test_volume_is_writable_by_its_owner_and_discarded(hull: Hull, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN mkdir /d && chown 1000 /d\n"
                                   "VOLUME /d\nUSER 1000\nRUN touch /d/x && echo ok > /tmp/ran\n"})
    build(hull, ctx, "-t", "vol-user:1")
    out = hull("run", "--rm", "vol-user:1", "sh", "-c", "cat /tmp/ran; ls -A /d").stdout
    assert out == "ok\n"


def test_output_stays_in_its_directory(hull: Hull, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (dest / "etc").symlink_to(outside)   # a link left in dest must not be followed out
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN echo x > /etc/marker\n"})
    proc = build(hull, ctx, "--output", f"type=local,dest={dest}", check=False)
    assert not (outside / "marker").exists()
    assert proc.returncode != 0 or (dest / "etc").is_symlink()


def test_duplicate_stage_names_are_refused(hull: Hull, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox AS x\nFROM busybox AS X\n"})
    proc = build(hull, ctx, check=False)
    assert proc.returncode == 1 and 'duplicate stage name "x"' in proc.stderr
