"""Edges of `hull build` found in review: heredoc names that look like paths, steps that
change nothing, RUN mounts from stages and relative targets, RUN heredocs left to the
shell, --cache-from with changed sources, what a context bind mount shows, VOLUME under a
non-root USER, --output into a directory holding links."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.integration.conftest import Hull
from tests.integration.test_build import build, start_running, write

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


def test_parents_proxy_args_secret_env_and_stopsignal(hull: Hull, tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("s3cret")
    ctx = write(tmp_path / "ctx", {
        "Dockerfile": "FROM busybox\nCOPY --parents src/./pkg/a/f /dst/\n"
                      "RUN echo \"$HTTP_PROXY\" > /proxy\n"
                      "RUN --mount=type=secret,id=tok,env=TOKEN sh -c "
                      "'echo ${#TOKEN} > /token-len; test ! -e /run/secrets/tok'\n",
        "src/pkg/a/f": "deep\n"})
    build(hull, ctx, "-t", "edges:1", "--build-arg", "HTTP_PROXY=http://127.0.0.1:3128",
          "--secret", f"id=tok,src={secret}")
    out = hull("run", "--rm", "edges:1", "cat", "/dst/pkg/a/f", "/proxy", "/token-len").stdout
    assert out == "deep\nhttp://127.0.0.1:3128\n6\n"
    history = hull("history", "--no-trunc", "edges:1").stdout
    assert "3128" not in history and "s3cret" not in history
    bad = write(tmp_path / "bad", {"Dockerfile": "FROM busybox\nSTOPSIGNAL SIGNOPE\n"})
    proc = build(hull, bad, check=False)
    assert proc.returncode == 1 and "invalid signal: SIGNOPE" in proc.stderr


def test_output_tar_to_stdout(hull: Hull, tmp_path: Path) -> None:
    import io
    import subprocess
    import tarfile

    from tests.conftest import HULL
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN echo t > /t\n"})
    proc = subprocess.run([HULL, "--root", str(hull.root), "build", "-q", "-o", "-", str(ctx)],
                          capture_output=True, env=hull.env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        member = tar.getmember("t")
        assert tar.extractfile(member).read() == b"t\n"  # type: ignore[union-attr]


def test_a_build_killed_hard_is_swept_by_the_next(hull: Hull, tmp_path: Path) -> None:
    import signal
    import subprocess
    import time

    nap = f"sleep {600 + os.getpid() % 997}"   # this run's own, to find its process
    ctx = write(tmp_path / "ctx", {"Dockerfile": f"FROM busybox\nRUN echo started; {nap}\n"})
    proc = start_running(hull, ctx)
    # the build's worker (the service's child the step's container hangs from) dies
    # without any cleanup, as on an OOM kill
    sleeper = int(subprocess.run(["pgrep", "-f", "-n", nap], capture_output=True,
                                 text=True).stdout.split()[0])
    service, pid = _service_pid(hull), sleeper
    while _ppid(pid) not in (service, 1, 0):
        pid = _ppid(pid)
    assert _ppid(pid) == service
    os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=30)
    subprocess.run(["pkill", "-9", "-f", nap], check=False)
    time.sleep(0.5)
    other = write(tmp_path / "other", {"Dockerfile": "FROM busybox\nRUN true\n"})
    build(hull, other)   # sweeps what the killed build left
    mounts = [m for m in Path("/proc/self/mounts").read_text().splitlines()
              if str(hull.root) in m]
    assert not mounts
    runtime = hull.root / "state" / "runtime"
    assert not [p for p in runtime.iterdir() if p.name.startswith("build-")]
    import sqlite3
    db = sqlite3.connect(hull.root / "snapshots" / "overlay" / "metadata.db")
    try:
        assert not db.execute("SELECT key FROM snapshots WHERE key LIKE 'build-%'").fetchall()
    finally:
        db.close()


def _ppid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    return 0


def _service_pid(hull: Hull) -> int:
    return int((hull.root / "state" / "service.pid").read_text())
