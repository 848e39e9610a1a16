"""The docker command, unchanged, on hull's API socket: the everyday commands, with both
the machine's current static build and Debian's 20.10, each observed from inside the
container and from outside (hull's own CLI, the host)."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from tests.api.apiservice import Api

pytestmark = [pytest.mark.root, pytest.mark.clients]
CLIS = ["docker28", "docker20"]


@pytest.mark.parametrize("cli", CLIS)
def test_run_foreground_output_and_exit_code(api: Api, cli: str) -> None:
    out = api.docker("run", "--rm", "-e", "GREETING=hello", "busybox", "sh", "-c",
                     "echo $GREETING; echo oops >&2; exit 3", cli=cli, check=False)
    assert out.returncode == 3
    assert out.stdout == "hello\n" and out.stderr == "oops\n"
    assert api.hull("ps", "-aq").stdout == ""   # --rm: gone once it ended


@pytest.mark.parametrize("cli", CLIS)
def test_run_stdin_is_passed_and_ends(api: Api, cli: str) -> None:
    out = api.docker("run", "--rm", "-i", "busybox", "sh", "-c", "wc -l; echo done",
                     cli=cli, input="a\nb\nc\n", timeout=30)
    assert out.stdout.split() == ["3", "done"]


@pytest.mark.parametrize("cli", CLIS)
def test_run_with_a_terminal(api: Api, cli: str) -> None:
    docker = api.docker("version", cli=cli).args[0]
    proc = subprocess.run(["script", "-qec", f"{docker} -H {api.url} run --rm -it busybox "
                           "sh -c 'tty; stty size; exit 5'", "/dev/null"], text=True,
                          capture_output=True, timeout=60, env=api.client_env(),
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 5, (proc.stdout, proc.stderr)
    lines = proc.stdout.replace("\r", "").split("\n")
    assert lines[0].startswith("/dev/pts/"), proc.stdout


@pytest.mark.parametrize("cli", CLIS)
def test_detached_lifecycle(api: Api, cli: str) -> None:
    cid = api.docker("run", "-d", "--name", "web", "busybox", "sh", "-c",
                     "trap 'exit 0' TERM; while :; do echo tick; sleep 0.2; done",
                     cli=cli).stdout.strip()
    assert len(cid) == 64
    ps = api.docker("ps", "--format", "{{.ID}} {{.Names}} {{.Status}}", cli=cli).stdout
    assert ps.startswith(f"{cid[:12]} web Up")
    assert json.loads(api.hull("inspect", "web").stdout)[0]["State"]["Running"]
    time.sleep(0.5)
    assert "tick" in api.docker("logs", "web", cli=cli).stdout
    follow = subprocess.Popen([api.docker("version", cli=cli).args[0], "-H", api.url, "logs",
                               "-f", "--tail", "1", "web"], stdout=subprocess.PIPE,
                              env=api.client_env(), stdin=subprocess.DEVNULL)
    assert follow.stdout is not None
    assert follow.stdout.readline() == b"tick\n"
    assert follow.stdout.readline() == b"tick\n"   # new output follows
    out = api.docker("exec", "web", "sh", "-c", "echo $$ > /tmp/x; cat /proc/1/cmdline",
                     cli=cli).stdout
    assert out.startswith("sh")
    assert api.docker("stop", "web", cli=cli).stdout.strip() == "web"
    follow.wait(timeout=20)   # logs -f ends with the container
    assert api.hull("inspect", "-f", "{{.State.ExitCode}}", "web").stdout.strip() == "0"
    api.docker("rm", "web", cli=cli)
    assert api.hull("ps", "-aq").stdout == ""


@pytest.mark.parametrize("cli", CLIS)
def test_exec_with_a_terminal(api: Api, cli: str) -> None:
    api.docker("run", "-d", "--name", "box", "busybox", "sleep", "60", cli=cli)
    docker = api.docker("version", cli=cli).args[0]
    proc = subprocess.run(["script", "-qec", f"{docker} -H {api.url} exec -it box sh -c "
                           "'tty; echo in; exit 4'", "/dev/null"], text=True,
                          capture_output=True, timeout=60, env=api.client_env(),
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 4, (proc.stdout, proc.stderr)
    # script(1) shows a NUL the terminal passes along as ^@
    lines = proc.stdout.replace("\r", "").replace("^@", "").split("\n")
    assert "in" in lines and any("/dev/pts/" in line for line in lines), lines


@pytest.mark.parametrize("cli", CLIS)
def test_volumes_binds_and_named(api: Api, cli: str, tmp_path: Path) -> None:
    (tmp_path / "host").mkdir()
    (tmp_path / "host" / "f").write_text("from the host\n")
    api.docker("volume", "create", "data", cli=cli)
    out = api.docker("run", "--rm", "-v", f"{tmp_path / 'host'}:/h:ro", "-v", "data:/data",
                     "busybox", "sh", "-c", "cat /h/f; echo kept > /data/k; touch /h/x "
                     "2>/dev/null || echo ro", cli=cli).stdout
    assert out == "from the host\nro\n"
    assert api.docker("run", "--rm", "-v", "data:/data", "busybox", "cat", "/data/k",
                      cli=cli).stdout == "kept\n"
    listed = api.docker("volume", "ls", "--format", "{{.Name}}", cli=cli).stdout.split()
    assert "data" in listed
    mountpoint = json.loads(api.hull("volume", "inspect", "data").stdout)[0]["Mountpoint"]
    assert Path(mountpoint, "k").read_text() == "kept\n"   # seen from outside
    api.docker("volume", "rm", "data", cli=cli)


@pytest.mark.parametrize("cli", CLIS)
def test_networks_dns_and_published_port(api: Api, cli: str) -> None:
    api.docker("network", "create", "appnet", cli=cli)
    api.docker("run", "-d", "--name", "srv", "--network", "appnet", "-p", "127.0.0.1::80",
               "busybox", "httpd", "-f", "-p", "80", "-h", "/etc", cli=cli)
    out = api.docker("run", "--rm", "--network", "appnet", "busybox", "wget", "-qO-",
                     "http://srv/hostname", cli=cli).stdout
    srv_id = api.docker("inspect", "-f", "{{.Id}}", "srv", cli=cli).stdout.strip()
    assert out.strip() == srv_id[:12]
    port = api.docker("port", "srv", "80", cli=cli).stdout.strip().rsplit(":", 1)[1]
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/hostname", timeout=10).read()
    assert body.decode().strip() == srv_id[:12]   # from the host, through the published port
    nets = api.docker("network", "ls", "--format", "{{.Name}}", cli=cli).stdout.split()
    assert {"appnet", "bridge", "host", "none"} <= set(nets)
    api.docker("rm", "-f", "srv", cli=cli)
    api.docker("network", "rm", "appnet", cli=cli)


@pytest.mark.parametrize("cli", CLIS)
def test_images_inspect_commit_save_load(api: Api, cli: str, tmp_path: Path) -> None:
    rows = api.docker("images", "--format", "{{.Repository}}:{{.Tag}}", cli=cli).stdout.split()
    assert "busybox:latest" in rows
    api.docker("run", "--name", "c", "busybox", "sh", "-c", "echo changed > /new", cli=cli)
    image_id = api.docker("commit", "-c", "ENV X=1", "c", "me/c:1", cli=cli).stdout.strip()
    assert image_id.startswith("sha256:")
    config = json.loads(api.docker("image", "inspect", "me/c:1", cli=cli).stdout)[0]
    assert "X=1" in config["Config"]["Env"]
    api.docker("save", "-o", str(tmp_path / "c.tar"), "me/c:1", cli=cli)
    api.docker("rmi", "me/c:1", cli=cli)
    out = api.docker("load", "-i", str(tmp_path / "c.tar"), cli=cli).stdout
    assert "me/c:1" in out
    assert api.docker("run", "--rm", "me/c:1", "cat", "/new", cli=cli).stdout == "changed\n"
    assert api.hull("image", "inspect", "-f", "{{.Id}}", "me/c:1").stdout.strip() == image_id


@pytest.mark.parametrize("cli", CLIS)
def test_cp_both_ways(api: Api, cli: str, tmp_path: Path) -> None:
    api.docker("run", "-d", "--name", "box", "busybox", "sleep", "60", cli=cli)
    (tmp_path / "in.txt").write_text("into the container\n")
    api.docker("cp", str(tmp_path / "in.txt"), "box:/tmp/", cli=cli)
    assert api.docker("exec", "box", "cat", "/tmp/in.txt", cli=cli).stdout == \
        "into the container\n"
    api.docker("cp", "box:/etc/hostname", str(tmp_path / "out"), cli=cli)
    cid = api.docker("inspect", "-f", "{{.Id}}", "box", cli=cli).stdout.strip()
    assert (tmp_path / "out").read_text().strip() == cid[:12]


@pytest.mark.parametrize("cli", CLIS)
def test_stats_top_events(api: Api, cli: str) -> None:
    start = time.time()
    api.docker("run", "-d", "--name", "busy", "-m", "64m", "busybox", "sh", "-c",
               "while :; do :; done", cli=cli)
    stats = api.docker("stats", "--no-stream", "--format",
                       "{{.Name}} {{.CPUPerc}} {{.MemUsage}}", "busy", cli=cli).stdout.split()
    assert stats[0] == "busy"
    assert float(stats[1].rstrip("%")) > 10   # a busy loop shows
    assert stats[4] == "64MiB"                # the limit, from the cgroup
    top = api.docker("top", "busy", cli=cli).stdout
    assert "while" in top
    api.docker("rm", "-f", "busy", cli=cli)
    events = api.docker("events", "--since", str(int(start)), "--until", str(int(time.time()) + 1),
                        "--filter", "container=busy", "--format", "{{.Action}}",
                        cli=cli).stdout.split()
    assert events[:2] == ["create", "start"] and "destroy" in events


@pytest.mark.parametrize("cli", CLIS)
def test_build_with_the_classic_protocol(api: Api, cli: str, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "msg").write_text("copied\n")
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY msg /msg\nRUN echo ran > /ran\n"
                                    'CMD ["cat", "/msg", "/ran"]\n')
    out = api.docker("build", "-t", "me/built:1", str(ctx), cli=cli,
                     env={"DOCKER_BUILDKIT": "0"})
    assert "Successfully tagged me/built:1" in out.stdout
    assert api.docker("run", "--rm", "me/built:1", cli=cli).stdout == "copied\nran\n"
    history = api.hull("history", "-q", "me/built:1").stdout.split()
    assert len(history) >= 3   # one layer per filesystem step on top of busybox's


@pytest.mark.parametrize("cli", CLIS)
def test_pull_and_push_through_a_local_registry(api: Api, cli: str, tmp_path: Path) -> None:
    from tests.registry import run_registry
    with run_registry(tmp_path / "registry") as host:
        api.docker("tag", "busybox", f"{host}/me/bb:1", cli=cli)
        out = api.docker("push", f"{host}/me/bb:1", cli=cli).stdout
        assert "digest: sha256:" in out or "Pushed" in out or "pushed" in out.lower(), out
        manifest = urllib.request.urlopen(urllib.request.Request(
            f"http://{host}/v2/me/bb/manifests/1", headers={"Accept": (
                "application/vnd.docker.distribution.manifest.v2+json, "
                "application/vnd.oci.image.manifest.v1+json")}), timeout=10).read()
        assert json.loads(manifest)["layers"]
        api.docker("rmi", f"{host}/me/bb:1", cli=cli)
        api.docker("pull", f"{host}/me/bb:1", cli=cli)
        assert api.docker("run", "--rm", f"{host}/me/bb:1", "echo", "pulled",
                          cli=cli).stdout == "pulled\n"


def test_errors_and_exit_codes_as_docker(api: Api) -> None:
    missing = api.docker("run", "--rm", "busybox", "nosuchcommand", check=False)
    assert missing.returncode == 127 and "executable file not found" in missing.stderr
    assert api.docker("inspect", "nosuch", check=False).returncode == 1
    stop = api.docker("stop", "nosuch", check=False)
    assert stop.returncode == 1 and "No such container: nosuch" in stop.stderr
    api.docker("create", "--name", "dup", "busybox", "true")
    dup = api.docker("create", "--name", "dup", "busybox", "true", check=False)
    assert dup.returncode != 0 and "already in use" in dup.stderr
    bad = api.docker("run", "--rm", "-m", "1m", "busybox", "true", check=False)
    assert bad.returncode == 125 and "Minimum memory limit allowed is 6MB" in bad.stderr
    assert api.hull("ps", "-a", "--format", "{{.Names}}").stdout.split() == ["dup"]


def test_socket_is_not_world_accessible(api: Api) -> None:
    import stat
    mode = api.sock.stat().st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o660
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(api.sock))


@pytest.mark.parametrize("cli", CLIS)
def test_search_the_configured_registry(api: Api, cli: str, tmp_path: Path) -> None:
    from tests.registry import run_registry
    with run_registry(tmp_path / "registry") as host:
        for name in ("me/busybox-tools:1", "other/thing:1"):
            api.docker("tag", "busybox", f"{host}/{name}", cli=cli)
            api.docker("push", f"{host}/{name}", cli=cli)
        out = api.docker("search", f"{host}/busybox", cli=cli).stdout.splitlines()
        assert out[0].split()[:2] == ["NAME", "DESCRIPTION"]
        assert [line.split()[0] for line in out[1:]] == [f"{host}/me/busybox-tools"]
        assert api.hull("search", f"{host}/thing").stdout.splitlines()[1].split()[0] == \
            f"{host}/other/thing"
