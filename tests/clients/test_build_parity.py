"""`hull build` against Docker's classic builder (a private dockerd), on the same Dockerfiles
and the same busybox base: the resulting images are compared the way buildah's conformance
suite compares them — the image config (without created, container, docker_version,
hostname, history, diff_ids) and the filesystem all layers make together (per path: type,
mode, owner, size, link target, content hash).

Where Docker's two builders disagree (setuid bits on COPY, supplementary groups in RUN),
matching either is matching Docker; these Dockerfiles avoid the classic builder's missing
features (heredocs, --chmod, RUN --mount), which test_build.py covers on hull alone."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.clients.conftest import Docker

pytestmark = [pytest.mark.root, pytest.mark.clients]
HULL = str(Path(sys.executable).parent / "hull")

# what an export holds that no Dockerfile made: the engines' own mount points and files
SKIP = (".dockerenv", "etc/hosts", "etc/hostname", "etc/resolv.conf", "dev", "proc", "sys",
        "etc/mtab")
CONFIG_FIELDS = ("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "Labels", "ExposedPorts",
                 "Volumes", "StopSignal", "Healthcheck", "OnBuild", "Shell")

DOCKERFILES: dict[str, tuple[str, dict[str, str]]] = {
    "metadata": ("""\
FROM busybox:hull
LABEL org.example.a="one two" b=2
ENV PATH=/opt/bin:/bin GREETING="hello world"
ARG VERSION=1.2
ENV VERSION=$VERSION
WORKDIR /srv
WORKDIR app
USER 1000:1000
EXPOSE 80 53/udp 8000-8001
VOLUME ["/data", "/logs"]
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=30s --timeout=3s --retries=2 CMD wget -q localhost || exit 1
SHELL ["/bin/sh", "-ec"]
ENTRYPOINT ["/bin/echo"]
CMD ["default", "args"]
""", {}),
    "run_and_delete": ("""\
FROM busybox:hull
RUN mkdir -p /opt/a/b && echo one > /opt/a/b/f && chmod 0640 /opt/a/b/f && \\
    ln -s /opt/a/b/f /opt/link && ln /opt/a/b/f /opt/hard
RUN rm -rf /opt/a/b && rm /etc/passwd.bak 2>/dev/null; rm /bin/vi; mkdir /opt/a/b
RUN chown -R 123:456 /opt && touch -d 2020-01-01 /opt/hard
RUN mkdir /tmp/x && rm -rf /tmp && mkdir -m 1777 /tmp
""", {}),
    "copy_and_add": ("""\
FROM busybox:hull
COPY dir/ /dst/
COPY dir /dst2
COPY file.txt exec.sh /bin2/
COPY --chown=1234:5678 file.txt /owned/
COPY --chown=nobody:nogroup dir /nobody/
COPY *.txt /globbed/
ADD archive.tar.gz /extracted/
ADD file.txt /added
COPY link-in-context /links/
WORKDIR /rel
COPY file.txt ./here
""", {"dir/a": "a\n", "dir/sub/b": "bb\n", "dir/sub/deeper/c": "ccc\n",
      "file.txt": "file\n", "exec.sh": "#!/bin/sh\n", "other.txt": "other\n"}),
    "multi_stage": ("""\
FROM busybox:hull AS builder
RUN mkdir /out && echo built > /out/artifact && chmod 700 /out/artifact
FROM busybox:hull AS unused
RUN echo never > /never
FROM busybox:hull
COPY --from=builder /out/ /app/
COPY --from=0 /out/artifact /app2/renamed
CMD ["cat", "/app/artifact"]
""", {}),
    "volume_rule": ("""\
FROM busybox:hull
RUN mkdir /vol && echo before > /vol/kept
VOLUME /vol
RUN echo after > /vol/lost && echo changed > /vol/kept && echo outside > /outside
""", {}),
    "dockerignore": ("""\
FROM busybox:hull
COPY . /ctx/
""", {".dockerignore": "*.log\nsecret\n!keep.log\n", "a.log": "a", "keep.log": "k",
      "secret/x": "s", "code/main.c": "int main;\n"}),
}


def _context(base: Path, name: str) -> Path:
    dockerfile, files = DOCKERFILES[name]
    ctx = base / name
    ctx.mkdir(parents=True)
    (ctx / "Dockerfile").write_text(dockerfile)
    for rel, text in files.items():
        (ctx / rel).parent.mkdir(parents=True, exist_ok=True)
        (ctx / rel).write_text(text)
        os.utime(ctx / rel, (1_600_000_000, 1_600_000_000))
    if name == "copy_and_add":
        (ctx / "exec.sh").chmod(0o755)
        (ctx / "link-in-context").symlink_to("file.txt")
        with tarfile.open(ctx / "archive.tar.gz", "w:gz") as tar:
            for rel, text in (("t/one", "1\n"), ("t/two", "22\n")):
                info = tarfile.TarInfo(rel)
                info.size, info.mode, info.uid, info.gid = len(text), 0o600, 7, 8
                info.mtime = 1_500_000_000
                tar.addfile(info, io.BytesIO(text.encode()))
    return ctx


def filesystem(export: bytes) -> dict[str, tuple[object, ...]]:
    """path -> (type, mode, uid, gid, size, link target, content hash) of an export tar."""
    out: dict[str, tuple[object, ...]] = {}
    with tarfile.open(fileobj=io.BytesIO(export)) as tar:
        for m in tar:
            name = m.name.removeprefix("./").rstrip("/")
            if not name or name.split("/")[0] in SKIP or name in SKIP:
                continue
            digest = hashlib.sha256(tar.extractfile(m).read()).hexdigest()[:16] \
                if m.isfile() else ""  # type: ignore[union-attr]
            link = m.linkname if m.issym() else ""
            kind = "file" if m.islnk() else m.type.decode()   # a hard link is its file
            # the permission bits: docker's export also writes the type bits into mode
            size = m.size if m.isfile() else 0
            out[name] = (kind, oct(m.mode & 0o7777), m.uid, m.gid, size, link, digest)
    return out


@pytest.fixture(scope="module")
def hull(tmp_path_factory: pytest.TempPathFactory, busybox_tar: Path
         ) -> Iterator[Callable[..., subprocess.CompletedProcess[bytes]]]:
    root = tmp_path_factory.mktemp("build-parity") / "hull-root"
    env = {**os.environ, "HULL_CGROUP_PARENT": f"/hull-test/build-parity-{os.getpid()}"}

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run([HULL, "--root", str(root), *args], capture_output=True,
                              env=env, timeout=300, stdin=subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise AssertionError(f"hull {' '.join(args)}: {proc.stderr.decode()}")
        return proc
    run("import", str(busybox_tar), "busybox:hull")
    yield run
    ids = run("ps", "-aq").stdout.split()
    if ids:
        run("rm", "-f", *[i.decode() for i in ids], check=False)
    pid_file = root / "state" / "service.pid"
    if pid_file.exists():
        import signal
        try:
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
        except (OSError, ValueError):
            pass


def _image(run: Callable[..., subprocess.CompletedProcess[bytes]], ctx: Path, tag: str
           ) -> tuple[dict[str, object], dict[str, tuple[object, ...]]]:
    run("build", "-t", tag, str(ctx))
    inspect = json.loads(run("image", "inspect", tag).stdout)[0]
    config = {k: inspect["Config"].get(k) or None for k in CONFIG_FIELDS}
    cid = run("create", tag, "true").stdout.decode().strip()
    try:
        export = run("export", cid).stdout
    finally:
        run("rm", cid)
    return config, filesystem(export)


def _clean_docker(docker_run: Callable[..., subprocess.CompletedProcess[bytes]], tag: str
                  ) -> None:
    docker_run("rmi", tag, check=False)
    docker_run("container", "prune", "-f", check=False)
    volumes = docker_run("volume", "ls", "-q", check=False).stdout.decode().split()
    if volumes:
        docker_run("volume", "rm", "-f", *volumes, check=False)
    docker_run("image", "prune", "-f", check=False)


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_image_matches_dockers_classic_builder(name: str, docker: Docker, hull: Callable[
        ..., subprocess.CompletedProcess[bytes]], tmp_path: Path) -> None:
    ctx = _context(tmp_path, name)
    tag = f"parity-{name.replace('_', '-')}:1"

    def docker_run(*args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run([*docker.command(), *args], capture_output=True, timeout=300,
                              env={**os.environ, "DOCKER_BUILDKIT": "0"},
                              stdin=subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)}: {proc.stderr.decode()}")
        return proc
    try:
        docker_config, docker_fs = _image(docker_run, ctx, tag)
    finally:   # the session's dockerd is shared: leave it as found (a RUN after VOLUME
        _clean_docker(docker_run, tag)   # leaves an anonymous volume, a build dangling images)
    hull_config, hull_fs = _image(hull, ctx, tag)
    assert hull_config == docker_config
    assert len(docker_fs) > 100 and "bin/busybox" in docker_fs   # the base is compared too
    only_docker = sorted(set(docker_fs) - set(hull_fs))
    only_hull = sorted(set(hull_fs) - set(docker_fs))
    differ = {p: (docker_fs[p], hull_fs[p]) for p in sorted(set(docker_fs) & set(hull_fs))
              if docker_fs[p] != hull_fs[p]}
    assert (only_docker, only_hull, differ) == ([], [], {})
