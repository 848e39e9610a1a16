"""The build cache beyond hits and misses: shared by concurrent builds, a damaged entry
rebuilt (never used), --cache-from an image, and the other inputs that must not give a
stale hit (a rebuilt stage read by COPY --from, .dockerignore, ENV before a RUN)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from tests.conftest import HULL
from tests.integration.conftest import Hull
from tests.integration.test_build import build, write

pytestmark = pytest.mark.root


def test_concurrent_builds_share_the_cache(hull: Hull, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nARG N\n"
                                   "RUN echo same > /same\nRUN echo $N > /n\n"})

    def one(n: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run([HULL, "--root", str(hull.root), "build", "--progress", "plain",
                               "--build-arg", f"N={n}", "-t", f"conc:{n}", str(ctx)],
                              capture_output=True, text=True, env=hull.env, timeout=300)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(one, range(4)))
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    for n in range(4):
        assert hull("run", "--rm", f"conc:{n}", "cat", "/same", "/n").stdout == f"same\n{n}\n"
    again = build(hull, ctx, "--build-arg", "N=2").stderr
    assert again.count("CACHED") == 2


def test_damaged_entry_is_rebuilt_not_used(hull: Hull, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN echo layer > /f\n"})
    build(hull, ctx)   # untagged: only the cache holds the layer
    hull("image", "prune", "-f")
    db = sqlite3.connect(hull.root / "metadata.db")
    try:
        blob = json.loads(db.execute("SELECT result FROM build_cache").fetchone()[0])[
            "layer"]["digest"]
    finally:
        db.close()
    algo, digest = blob.split(":")
    blobs = [p for p in (hull.root / "content").rglob(digest)]
    assert blobs
    for path in blobs:
        path.write_bytes(b"truncated")
    out = build(hull, ctx, "-t", "damaged:1").stderr
    assert "cache entry damaged (its layer blob has the wrong size): rebuilt" in out
    assert hull("run", "--rm", "damaged:1", "cat", "/f").stdout == "layer\n"
    assert algo == "sha256"


def test_cache_from_an_image(hull: Hull, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nENV A=1\n"
                                   "RUN echo one > /one\nRUN true\nCOPY f /f\n", "f": "f\n"})
    build(hull, ctx, "-t", "source:1")
    hull("builder", "prune", "-af")
    assert "CACHED" not in build(hull, ctx, "-t", "plain:1").stderr
    hull("builder", "prune", "-af")
    out = build(hull, ctx, "--cache-from", "source:1", "-t", "from-source:1").stderr
    assert out.count("from --cache-from source:1") == 3 and out.count("CACHED") == 3
    assert hull("run", "--rm", "from-source:1", "cat", "/one", "/f").stdout == "one\nf\n"
    missing = build(hull, ctx, "--cache-from", "nowhere:1")
    assert "--cache-from nowhere:1: no such image here" in missing.stderr


def test_inputs_that_must_miss(hull: Hull, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {
        "Dockerfile": "FROM busybox AS gen\nARG V=1\nRUN echo $V > /v\n"
                      "FROM busybox\nENV MODE=a\nRUN echo $MODE > /mode\n"
                      "COPY --from=gen /v /v\nCOPY . /ctx/\n",
        "kept": "k\n", "dropped": "d\n"})
    build(hull, ctx, "-t", "inputs:1")
    run = ["run", "--rm", "inputs:1", "sh", "-c", "cat /v /mode; ls /ctx"]
    assert hull(*run).stdout == "1\na\nDockerfile\ndropped\nkept\n"
    out = build(hull, ctx, "--build-arg", "V=2", "-t", "inputs:1").stderr
    assert "build-arg V changed" in out   # the stage read by COPY --from was rebuilt
    assert hull(*run).stdout.startswith("2\n")
    (ctx / ".dockerignore").write_text("dropped\n")
    build(hull, ctx, "--build-arg", "V=2", "-t", "inputs:1")
    assert hull(*run).stdout.endswith("Dockerfile\nkept\n")
    (ctx / "Dockerfile").write_text((ctx / "Dockerfile").read_text().replace("MODE=a",
                                                                             "MODE=b"))
    out = build(hull, ctx, "--build-arg", "V=2", "-t", "inputs:1").stderr
    assert "ENV MODE=b changed (was: ENV MODE=a)" in out
    assert hull(*run).stdout.startswith("2\nb\n")


def test_dockerfile_outside_the_context_and_other_platforms(hull: Hull, tmp_path: Path
                                                           ) -> None:
    ctx = write(tmp_path / "ctx", {"f": "in context\n"})
    dockerfile = write(tmp_path / "elsewhere", {"Build.dockerfile": "FROM busybox\nCOPY f /\n"}
                       ) / "Build.dockerfile"
    build(hull, ctx, "-f", str(dockerfile), "-t", "outside:1")   # as BuildKit allows
    assert hull("run", "--rm", "outside:1", "cat", "/f").stdout == "in context\n"
    other = write(tmp_path / "arm", {"Dockerfile": "FROM --platform=linux/arm64 busybox\n"})
    proc = build(hull, other, check=False)
    assert proc.returncode == 1
    assert "hull builds for this machine's platform only" in proc.stderr
    flag = build(hull, other, "--platform", "linux/s390x", check=False)
    assert flag.returncode == 125 and "platform only" in flag.stderr


def test_terminal_view_shows_steps_and_output(hull: Hull, tmp_path: Path) -> None:
    """On a terminal the live view is drawn (rich), with the steps and a failing step's
    output tail still visible at the end."""
    if shutil.which("script") is None:
        pytest.skip("util-linux script(1) is needed to give hull a terminal")
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN echo visible-output; "
                                   "exit 4\n"})
    cmd = f"{HULL} --root {hull.root} build {ctx}"
    proc = subprocess.run(["script", "-qefc", cmd, "/dev/null"], capture_output=True,
                          text=True, env={**(hull.env or {}), "COLUMNS": "120"}, timeout=120)
    assert proc.returncode == 1
    assert "visible-output" in proc.stdout and "RUN echo visible-output" in proc.stdout
    assert "exit code: 4" in proc.stdout


def test_cached_rebuild_makes_the_same_image(hull: Hull, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nENV A=1\nRUN echo x > /x\n"
                                   "CMD [\"cat\", \"/x\"]\n"})
    first = hull("build", "-q", str(ctx)).stdout.strip()
    second = hull("build", "-q", str(ctx)).stdout.strip()
    assert first == second
    other = write(tmp_path / "other", {"Dockerfile": "FROM busybox\nRUN echo y > /y\n"})
    assert "cache miss: not built before" in build(hull, other).stderr   # not ctx's steps


def test_a_changed_context_copy_starts_from_the_last_layer(hull: Hull, tmp_path: Path
                                                           ) -> None:
    """COPY of a context directory that changed in a few files: the unchanged files are
    hard links to the previous layer's (seen from outside: link counts in the new layer),
    and the image is the one a full copy makes (seen from inside)."""
    import os
    files = {f"src/d{d}/f{n}": f"{d}-{n}\n" for d in range(3) for n in range(20)}
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nCOPY src /ctx\n"
                                   "RUN find /ctx -type f | sort | xargs cat | md5sum > /sum\n",
                                   **files})
    build(hull, ctx, "-t", "reuse:1")
    (ctx / "src/d1/f3").write_text("changed\n")
    (ctx / "src/d2/f4").unlink()
    (ctx / "src/d0/new").write_text("new\n")
    out = build(hull, ctx, "-t", "reuse:2").stderr
    assert "cache miss: source changed" in out
    show = ["run", "--rm", "IMAGE", "sh", "-c",
            "cat /ctx/d1/f3 /ctx/d0/new /ctx/d0/f0; ls /ctx/d2 | wc -l; cat /sum"]
    fast = hull(*[a.replace("IMAGE", "reuse:2") for a in show]).stdout
    assert fast.startswith("changed\nnew\n0-0\n19\n")
    layers = json.loads(hull("image", "inspect", "reuse:2").stdout)[0]["GraphDriver"]
    copy_layer = layers["Data"]["LowerDir"].split(":")[0]   # the layer under the RUN's
    linked = [os.stat(p).st_nlink for p in Path(copy_layer).rglob("f*") if p.is_file()]
    assert linked and max(linked) >= 2 and any(n == 1 for n in linked)
    build(hull, ctx, "-t", "reuse:full", "--no-cache")
    full = hull(*[a.replace("IMAGE", "reuse:full") for a in show]).stdout
    assert fast == full
