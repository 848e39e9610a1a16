"""`hull build` on a real kernel: images built from the bootstrapped busybox, observed by
running them (inside) and by inspect/history (outside); the cache and why it missed;
multi-stage targets; .dockerignore; RUN mounts; errors; nothing left behind."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from tests.conftest import HULL
from tests.integration.conftest import Hull

pytestmark = pytest.mark.root


def build(hull: Hull, context: Path, *args: str, check: bool = True,
          input: str | None = None) -> subprocess.CompletedProcess[str]:
    return hull("build", "--progress", "plain", *args, str(context), check=check,
                input=input)


def write(context: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = context / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return context


def start_running(hull: Hull, context: Path) -> subprocess.Popen[str]:
    """A build started in the background, returned once its RUN step printed "started"."""
    proc = subprocess.Popen([HULL, "--root", str(hull.root), "build", "--progress", "plain",
                             str(context)], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            env=hull.env, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.rstrip().endswith(" started"):   # its output, not its name
            break
    return proc


def config(hull: Hull, image: str) -> dict[str, object]:
    out: dict[str, object] = json.loads(hull("image", "inspect", image).stdout)[0]["Config"]
    return out


def test_instructions_make_the_image_docker_makes(hull: Hull, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {
        "Dockerfile": """\
# syntax=docker/dockerfile:1
FROM busybox
LABEL org.example.name="hull test" version=1
ENV GREETING=hello \\
    TARGET=world
ARG WHO=builder
RUN echo "$GREETING $TARGET from $WHO" > /greeting && \\
    echo 'app:x:1234:1234::/home/app:/bin/sh' >> /etc/passwd && \\
    echo 'app:x:1234:' >> /etc/group
WORKDIR /srv/app
COPY --chown=app:app data/ ./data/
COPY --chmod=0755 run.sh /usr/local/bin/
EXPOSE 8080/tcp 53/udp
VOLUME /srv/app/state
USER app
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --retries=2 CMD true
ENTRYPOINT ["/usr/local/bin/run.sh"]
CMD ["--flag"]
""",
        "data/a.txt": "A\n", "data/sub/b.txt": "B\n",
        "run.sh": "#!/bin/sh\necho run \"$@\"\n"})
    out = build(hull, ctx, "-t", "built:1", "--build-arg", "WHO=tests")
    assert "#" in out.stderr and "DONE" in out.stderr
    cfg = config(hull, "built:1")
    assert cfg["Labels"] == {"org.example.name": "hull test", "version": "1"}
    assert "GREETING=hello" in cfg["Env"] and "TARGET=world" in cfg["Env"]  # type: ignore[operator]
    assert not any(e.startswith("WHO=") for e in cfg["Env"])  # type: ignore[union-attr]
    assert cfg["WorkingDir"] == "/srv/app" and cfg["User"] == "app"
    assert cfg["ExposedPorts"] == {"8080/tcp": {}, "53/udp": {}}
    assert cfg["Volumes"] == {"/srv/app/state": {}}
    assert cfg["StopSignal"] == "SIGINT"
    assert cfg["Entrypoint"] == ["/usr/local/bin/run.sh"] and cfg["Cmd"] == ["--flag"]
    assert cfg["Healthcheck"]["Test"] == ["CMD-SHELL", "true"]  # type: ignore[index]
    # inside: what the steps made
    run = hull("run", "--rm", "--entrypoint", "sh", "built:1", "-c",
               "cat /greeting; id -u; stat -c '%U %a' data data/a.txt data/sub/b.txt "
               "/usr/local/bin/run.sh; cat data/sub/b.txt").stdout.split("\n")
    assert run[0] == "hello world from tests"
    assert run[1] == "1234"
    assert run[2:6] == ["app 755", "app 644", "app 644", "root 755"]
    assert run[6] == "B"
    assert hull("run", "--rm", "built:1").stdout == "run --flag\n"
    # one layer per filesystem instruction: RUN, WORKDIR, COPY, COPY over busybox's one
    layers = json.loads(hull("image", "inspect", "built:1").stdout)[0]["RootFS"]["Layers"]
    assert len(layers) == 1 + 4
    history = json.loads(hull("history", "--no-trunc", "--format", "{{json .}}",
                              "built:1").stdout.splitlines()[0])
    assert history["CreatedBy"].startswith("CMD")


def test_cache_hits_and_says_why_it_missed(hull: Hull, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {
        "Dockerfile": "FROM busybox\nARG V=1\nRUN echo v=$V > /v\nCOPY src/ /src/\n"
                      "RUN cat /src/* > /all\n",
        "src/one": "1\n", "src/two": "2\n"})
    first = build(hull, ctx, "-t", "cached:1").stderr
    assert first.count("cache miss: not built before") == 3
    again = build(hull, ctx, "-t", "cached:1").stderr
    assert again.count("CACHED") == 3 and "cache miss" not in again
    (ctx / "src" / "two").write_text("2 changed\n")
    changed = build(hull, ctx).stderr
    assert "cache miss: source changed: src/two" in changed
    assert "cache miss: an earlier step was rebuilt" in changed
    assert changed.count("CACHED") == 1   # the RUN before the COPY
    arg = build(hull, ctx, "--build-arg", "V=2").stderr
    assert "cache miss: build-arg V changed" in arg
    # content, not mtime: touching a file keeps the cache
    os.utime(ctx / "src" / "one", (1, 1))
    touched = build(hull, ctx).stderr
    assert touched.count("CACHED") == 3
    nocache = build(hull, ctx, "--no-cache").stderr
    assert "CACHED" not in nocache and nocache.count("cache miss: --no-cache") == 3
    assert hull("run", "--rm", "cached:1", "cat", "/all").stdout == "1\n2\n"


def test_multi_stage_builds_only_what_the_target_needs(hull: Hull, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": """\
FROM busybox AS base
RUN echo base > /base

FROM base AS broken
RUN exit 7

FROM busybox AS tools
RUN mkdir -p /out && echo tool > /out/tool && chmod 750 /out/tool

FROM base
COPY --from=tools /out/tool /usr/bin/
COPY --from=0 /base /copied-base
"""})
    out = build(hull, ctx, "-t", "multi:1").stderr
    assert "exit 7" not in out   # the stage no one needs is never built
    run = hull("run", "--rm", "multi:1", "sh", "-c",
               "cat /base /usr/bin/tool /copied-base; stat -c %a /usr/bin/tool").stdout
    assert run == "base\ntool\nbase\n750\n"
    failed = build(hull, ctx, "--target", "broken", check=False)
    assert failed.returncode == 1
    assert "did not complete successfully: exit code: 7" in failed.stderr
    assert ">>> RUN exit 7" in failed.stderr and "Dockerfile:5" in failed.stderr
    unknown = build(hull, ctx, "--target", "nope", check=False)
    assert unknown.returncode == 1 and 'target stage "nope" could not be found' in \
        unknown.stderr


def test_dockerignore_keeps_files_out_and_exceptions_in(hull: Hull, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {
        "Dockerfile": "FROM busybox\nCOPY . /ctx/\n",
        ".dockerignore": "*.log\nsecret/\n!keep.log\nbuild/**\n!build/out/keep\n",
        "a.log": "x", "keep.log": "k", "secret/key": "s", "main.c": "c",
        "build/tmp": "t", "build/out/keep": "kept", "build/out/other": "o"})
    build(hull, ctx, "-t", "ignore:1")
    listing = hull("run", "--rm", "ignore:1", "find", "/ctx", "-type", "f").stdout.split()
    assert sorted(listing) == ["/ctx/.dockerignore", "/ctx/Dockerfile",
                               "/ctx/build/out/keep", "/ctx/keep.log", "/ctx/main.c"]



def test_heredocs_for_run_and_copy(hull: Hull, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": """\
FROM busybox
ENV NAME=heredoc
RUN <<EOF
echo "script for $NAME" > /script-out
EOF
COPY <<EOT /etc/expanded
name=$NAME
EOT
COPY <<'EOT' /etc/literal
name=$NAME
EOT
RUN cat <<A > /a && cat <<-B > /b
first
A
	second
	B
"""})
    build(hull, ctx, "-t", "heredoc:1")
    out = hull("run", "--rm", "heredoc:1", "cat", "/script-out", "/etc/expanded",
               "/etc/literal", "/a", "/b").stdout
    assert out == "script for heredoc\nname=heredoc\nname=$NAME\nfirst\nsecond\n"


def test_run_mounts_cache_secret_tmpfs_bind(hull: Hull, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {
        "Dockerfile": """\
FROM busybox
ARG N=1
RUN --mount=type=cache,target=/cache sh -c 'echo $N >> /cache/runs; cat /cache/runs > /seen'
RUN --mount=type=secret,id=token wc -c < /run/secrets/token > /token-len
RUN --mount=type=tmpfs,target=/scratch touch /scratch/x && ! test -e /x
RUN --mount=type=bind,source=conf,target=/mnt/conf cp /mnt/conf/app.conf /app.conf
""",
        "conf/app.conf": "setting=1\n"})
    secret = tmp_path / "token.txt"
    secret.write_text("s3cret")
    build(hull, ctx, "-t", "mounts:1", "--secret", f"id=token,src={secret}")
    build(hull, ctx, "-t", "mounts:1", "--secret", f"id=token,src={secret}",
          "--build-arg", "N=2")
    out = hull("run", "--rm", "mounts:1", "sh", "-c",
               "cat /seen /token-len /app.conf; ls /run/secrets 2>&1; ls /scratch 2>&1 | "
               "head -1").stdout
    lines = out.splitlines()
    assert lines[:4] == ["1", "2", "6", "setting=1"]   # the cache mount kept run 1's line
    assert "No such file" in lines[4]
    saved = tmp_path / "saved.tar"
    hull("save", "-o", str(saved), "mounts:1")
    assert b"s3cret" not in saved.read_bytes()


def test_volume_changes_in_run_are_discarded(hull: Hull, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": """\
FROM busybox
RUN mkdir /data && echo before > /data/kept
VOLUME /data
RUN echo after > /data/lost && echo changed > /data/kept
COPY f /data/copied
""", "f": "copied\n"})
    build(hull, ctx, "-t", "vol:1")
    out = hull("run", "--rm", "vol:1", "sh", "-c", "ls /data; cat /data/kept").stdout
    assert out == "copied\nkept\nbefore\n"


def test_onbuild_triggers_run_in_the_child(hull: Hull, tmp_path: Path) -> None:
    parent = write(tmp_path / "parent", {"Dockerfile": "FROM busybox\n"
                                         "ONBUILD COPY marker /marker\n"
                                         "ONBUILD RUN echo triggered >> /marker\n"})
    build(hull, parent, "-t", "onbuild-parent:1")
    assert config(hull, "onbuild-parent:1")["OnBuild"] == ["COPY marker /marker",
                                                           "RUN echo triggered >> /marker"]
    child = write(tmp_path / "child", {"Dockerfile": "FROM onbuild-parent:1\n",
                                       "marker": "from child\n"})
    build(hull, child, "-t", "onbuild-child:1")
    assert hull("run", "--rm", "onbuild-child:1", "cat", "/marker").stdout == \
        "from child\ntriggered\n"
    assert not config(hull, "onbuild-child:1")["OnBuild"]


def test_add_extracts_archives_and_downloads(hull: Hull, tmp_path: Path) -> None:
    import http.server
    import tarfile
    import threading
    ctx = tmp_path / "ctx"
    (ctx / "tree").mkdir(parents=True)
    (ctx / "tree" / "inside.txt").write_text("inside\n")
    with tarfile.open(ctx / "tree.tar.gz", "w:gz") as tar:
        tar.add(ctx / "tree", arcname="tree")
    served = tmp_path / "www"
    served.mkdir()
    (served / "remote.txt").write_text("remote\n")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a: object, **kw: object) -> None:
            super().__init__(*a, directory=str(served), **kw)  # type: ignore[arg-type]

        def log_message(self, *a: object) -> None:
            pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        write(ctx, {"Dockerfile": f"FROM busybox\nADD tree.tar.gz /x/\n"
                                  f"ADD http://127.0.0.1:{port}/remote.txt /r/\n"})
        build(hull, ctx, "-t", "add:1")
        out = hull("run", "--rm", "add:1", "sh", "-c",
                   "cat /x/tree/inside.txt /r/remote.txt; stat -c %a /r/remote.txt").stdout
        assert out == "inside\nremote\n600\n"
        write(ctx, {"Dockerfile": f"FROM busybox\nADD http://127.0.0.1:{port}/missing /m\n"})
        failed = build(hull, ctx, check=False)
        assert failed.returncode == 1 and "404" in failed.stderr
    finally:
        server.shutdown()


def test_contexts_from_stdin_and_outputs(hull: Hull, tmp_path: Path) -> None:
    out = hull("build", "-q", "-", input="FROM busybox\nRUN echo piped > /p\n")
    image_id = out.stdout.strip()
    assert image_id.startswith("sha256:")
    assert hull("run", "--rm", image_id, "cat", "/p").stdout == "piped\n"
    ctx = write(tmp_path / "ctx", {"f": "in tar\n", "Dockerfile": "FROM busybox\nCOPY f /f\n"})
    tar = tmp_path / "ctx.tar"
    subprocess.run(["tar", "-C", str(ctx), "-cf", str(tar), "f", "Dockerfile"], check=True)
    iid = tmp_path / "iid"
    with open(tar, "rb") as stdin:
        proc = subprocess.run([HULL, "--root", str(hull.root), "build", "--iidfile",
                               str(iid), "-t", "fromtar:1", "-"], stdin=stdin,
                              capture_output=True, env=hull.env)
    assert proc.returncode == 0, proc.stderr
    assert hull("run", "--rm", "fromtar:1", "cat", "/f").stdout == "in tar\n"
    assert iid.read_text() == json.loads(hull("image", "inspect", "fromtar:1").stdout)[0]["Id"]
    local = tmp_path / "out"
    hull("build", "--output", f"type=local,dest={local}", str(ctx))
    assert (local / "f").read_text() == "in tar\n" and (local / "bin" / "busybox").exists()


def test_bad_input_is_named_and_leaves_nothing(hull: Hull, tmp_path: Path) -> None:
    count = iter(range(100))

    def fails(dockerfile: str, *args: str) -> str:
        ctx = write(tmp_path / f"bad{next(count)}", {"Dockerfile": dockerfile})
        proc = build(hull, ctx, *args, check=False)
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr
        return proc.stderr
    assert "unknown instruction: FOO" in fails("FROM busybox\nFOO bar\n")
    assert '"/missing": not found' in fails("FROM busybox\nCOPY missing /x\n")
    err = fails("FROM busybox\nRUN echo out; echo err >&2; exit 3\n")
    assert "exit code: 3" in err and " out" in err and " err" in err
    assert "Dockerfile:2" in err and ">>> RUN echo out" in err
    warn = build(hull, write(tmp_path / "w", {"Dockerfile": "FROM busybox\n"}),
                 "--build-arg", "UNUSED=1")
    assert "[UNUSED] were not consumed" in warn.stderr
    missing = hull("build", str(tmp_path / "nowhere"), check=False)
    assert missing.returncode == 1 and "not found" in missing.stderr
    # a symlink in the context is copied as the link: never followed out of it
    outside = tmp_path / "outside"
    outside.write_text("secret")
    ctx = write(tmp_path / "links", {"Dockerfile": "FROM busybox\nCOPY link /link\n"})
    (ctx / "link").symlink_to(outside)
    build(hull, ctx, "-t", "link:1")
    assert hull("run", "--rm", "link:1", "readlink", "/link").stdout.strip() == str(outside)
    mounts = hull.root / "build" / "mounts"
    assert not list(mounts.iterdir()) if mounts.exists() else True


def test_interrupted_build_leaves_nothing(hull: Hull, tmp_path: Path) -> None:
    import signal
    import time
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\n"
                                   "RUN echo started; sleep 61; echo never\n"})
    proc = start_running(hull, ctx)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    time.sleep(0.5)
    mounts = [m for m in Path("/proc/self/mounts").read_text().splitlines()
              if str(hull.root) in m]
    assert not mounts
    runtime = hull.root / "state" / "runtime"
    assert not [p for p in runtime.iterdir() if p.name.startswith("build-")] \
        if runtime.exists() else True
    left = subprocess.run(["pgrep", "-f", "sleep 61"], capture_output=True, text=True)
    assert not left.stdout.strip()
    import sqlite3
    db = sqlite3.connect(hull.root / "snapshots" / "overlay" / "metadata.db")
    try:
        assert not db.execute("SELECT key FROM snapshots WHERE key LIKE 'build-%'").fetchall()
    finally:
        db.close()


def test_cache_shows_in_df_and_prunes(hull: Hull, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN head -c 100000 "
                                   "/dev/zero > /blob\n"})
    build(hull, ctx)   # untagged: its layers are held by the cache alone
    df = hull("system", "df", "--format", "{{json .}}").stdout.splitlines()
    row = next(json.loads(line) for line in df if "Build Cache" in line)
    assert row["TotalCount"] == "1" and row["Size"] != "0B"
    hull("image", "prune", "-f")   # the build's untagged image goes: it is dangling
    again = build(hull, ctx).stderr
    assert "CACHED" in again   # image prune does not take the cache's layers
    hull("image", "prune", "-f")   # the layer is the cache's alone again
    pruned = hull("builder", "prune", "-af").stdout
    assert pruned.startswith("Total:") and "\t0B" not in pruned
    assert "cache miss" in build(hull, ctx).stderr


def test_network_modes_for_run(hull: Hull, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\n"
                                   "RUN ip -o link | cut -d: -f2 | tr -d ' ' | sort > /links\n"})
    build(hull, ctx, "-t", "net-default:1")
    assert "eth0" in hull("run", "--rm", "net-default:1", "cat", "/links").stdout
    build(hull, ctx, "-t", "net-none:1", "--network", "none", "--no-cache")
    assert hull("run", "--rm", "net-none:1", "cat", "/links").stdout == "lo\n"
