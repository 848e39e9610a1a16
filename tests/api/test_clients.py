"""docker-py (PyPI `docker`, pinned) and docker-compose (Debian's) on hull's API socket,
unchanged: containers, images, exec, volumes and networks through docker-py; a
multi-service compose app with a user network, a named volume, depends_on and
service-name DNS, brought up and torn down."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
from tests.api.apiservice import Api

pytestmark = [pytest.mark.root, pytest.mark.clients]


def test_docker_py_containers_and_exec(api: Api) -> None:
    client: Any = api.client()
    assert client.ping()
    out = client.containers.run("busybox", ["sh", "-c", "echo out; echo err >&2"],
                                remove=True, stderr=True)
    assert out == b"out\nerr\n"
    c = client.containers.run("busybox", ["sleep", "60"], detach=True, name="py",
                              labels={"app": "test"}, environment={"K": "v"})
    c.reload()
    assert c.status == "running" and c.labels == {"app": "test"}
    code, output = c.exec_run(["sh", "-c", "echo $K; exit 2"])
    assert (code, output) == (2, b"v\n")
    code, output = c.exec_run("tty", tty=True)
    assert code == 0 and output.startswith(b"/dev/pts/")
    found = client.containers.list(filters={"label": "app=test"})
    assert [x.name for x in found] == ["py"]
    top = c.top()
    assert any("sleep" in " ".join(p) for p in top["Processes"])
    c.kill()
    assert c.wait()["StatusCode"] == 137
    c.reload()
    assert c.status == "exited"
    assert json.loads(api.hull("inspect", "py").stdout)[0]["State"]["ExitCode"] == 137
    c.remove()
    assert client.containers.list(all=True) == []


def test_docker_py_images_volumes_networks(api: Api) -> None:
    client: Any = api.client()
    image = client.images.get("busybox")
    assert "busybox:latest" in image.tags
    dockerfile = b"FROM busybox\nRUN echo built > /b\nCMD cat /b\n"
    ctx = io.BytesIO()
    with tarfile.open(fileobj=ctx, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
    ctx.seek(0)
    built, _logs = client.images.build(fileobj=ctx, custom_context=True, tag="py/built:1")
    assert "py/built:1" in built.tags
    assert client.containers.run("py/built:1", remove=True) == b"built\n"
    vol = client.volumes.create("pyvol", labels={"k": "v"})
    assert client.volumes.get("pyvol").attrs["Labels"] == {"k": "v"}
    net = client.networks.create("pynet")
    server = client.containers.run("busybox", ["httpd", "-f", "-p", "80", "-h", "/etc"],
                                   detach=True, name="srv", network="pynet",
                                   volumes={"pyvol": {"bind": "/data", "mode": "rw"}})
    got = client.containers.run("busybox", ["wget", "-qO-", "http://srv/hostname"],
                                network="pynet", remove=True)
    assert got.decode().strip() == server.id[:12]
    net.reload()
    assert server.id in net.attrs["Containers"]
    server.remove(force=True)
    net.remove()
    vol.remove()
    client.images.remove("py/built:1")
    assert not client.images.list(name="py/built")


COMPOSE = """\
version: "3.8"
services:
  db:
    image: busybox
    command: sh -c 'echo db-ready > /data/status; httpd -f -p 8080 -h /data'
    volumes:
      - dbdata:/data
    networks: [back]
  web:
    image: busybox
    command: >-
      sh -c 'trap "exit 0" TERM;
      until wget -qO- http://db:8080/status; do sleep 0.2; done; sleep 300 & wait'
    depends_on: [db]
    networks: [back]
networks:
  back: {}
volumes:
  dbdata: {}
"""


def test_docker_compose_app_up_and_down(api: Api, tmp_path: Path) -> None:
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed (scripts/install installs it)")
    app = tmp_path / "app"
    app.mkdir()
    (app / "docker-compose.yml").write_text(COMPOSE)

    def compose(*args: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(["docker-compose", *args], cwd=app, text=True,
                              capture_output=True, timeout=120, env=api.client_env(),
                              stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, proc.stderr
        return proc
    compose("up", "-d")
    names = sorted(api.hull("ps", "--format", "{{.Names}}").stdout.split())
    assert names == ["app_db_1", "app_web_1"]
    import time
    deadline = time.monotonic() + 30
    while "db-ready" not in compose("logs", "web").stdout and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "db-ready" in compose("logs", "web").stdout   # service-name DNS on the network
    assert "app_back" in api.hull("network", "ls", "--format", "{{.Name}}").stdout
    assert "app_dbdata" in api.hull("volume", "ls", "-q").stdout
    compose("down", "-v")
    assert api.hull("ps", "-aq").stdout == ""
    assert "app_back" not in api.hull("network", "ls", "--format", "{{.Name}}").stdout
    assert "app_dbdata" not in api.hull("volume", "ls", "-q").stdout
