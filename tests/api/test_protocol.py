"""The API as a server facing bad or hostile clients: versions, malformed requests, huge
bodies, clients that leave mid-stream or mid-hijack, many at once; where it may listen
(never plain TCP; TLS only with client certificates), socket activation, --time, and a
service replaced under a running `system service` command."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from tests.api.apiservice import Api, start, stop, wait_for_ping
from tests.conftest import HULL, HullCLI

pytestmark = [pytest.mark.root]


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def _body(response: bytes) -> dict[str, object]:
    head, _, body = response.partition(b"\r\n\r\n")
    if b"chunked" in head.lower():
        body = body.split(b"\r\n", 1)[1].rsplit(b"\r\n0\r\n", 1)[0]
    out: dict[str, object] = json.loads(body)
    return out


def _post(path: str, body: bytes, extra: str = "") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n{extra}\r\n").encode() + body


def test_versions_and_ping(api: Api) -> None:
    ping = api.raw(b"HEAD /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert _status(ping) == 200 and b"Api-Version: 1.44" in ping
    assert b"Builder-Version: 1" in ping
    for path in ("/version", "/v1.24/version", "/v1.44/version"):
        r = api.raw(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        assert _status(r) == 200 and _body(r)["ApiVersion"] == "1.44"
    new = api.raw(b"GET /v1.99/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert _status(new) == 400 and "too new" in str(_body(new)["message"])
    old = api.raw(b"GET /v1.12/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert _status(old) == 400 and "too old" in str(_body(old)["message"])
    nowhere = api.raw(b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert _status(nowhere) == 404


def test_bad_requests_get_a_message_and_create_nothing(api: Api) -> None:
    cases = [
        (_post("/containers/create", b"{not json"), 400, "invalid JSON"),
        (_post("/containers/create", b'{"Image": 5}'), 400, "cannot unmarshal number"),
        (_post("/containers/create", b'{"Image": "busybox", "HostConfig": '
               b'{"Memory": "lots"}}'), 400, "cannot unmarshal string"),
        (_post("/containers/create", b'{"Image": "busybox", "HostConfig": '
               b'{"Memory": 1024}}'), 400, "Minimum memory limit"),
        (_post("/containers/create", b'{"Image": "nosuch:1"}'), 404, "No such image"),
        (_post("/containers/create", b'[1, 2]'), 400, "JSON object"),
        (_post("/containers/nosuch/start", b""), 404, "No such container"),
        (b"GARBAGE\r\n\r\n", 400, ""),
    ]
    for request, status, words in cases:
        response = api.raw(request)
        assert _status(response) == status, (request, response)
        if words:
            assert words in str(_body(response)["message"]), response
    assert api.hull("ps", "-aq").stdout == ""   # nothing half-created


def test_huge_body_is_refused(api: Api) -> None:
    size = 9 << 20
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(20)
        s.connect(str(api.sock))
        s.sendall(f"POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: "
                  f"application/json\r\nContent-Length: {size}\r\n\r\n".encode())
        chunk = b" " * (1 << 20)
        try:
            for _ in range(9):
                s.sendall(chunk)
        except OSError:
            pass   # refused before the end: fine
        response = s.recv(65536)
    assert _status(response) == 413
    assert _status(api.raw(b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")) \
        == 200


def test_clients_leaving_mid_stream_and_mid_hijack(api: Api) -> None:
    api.docker("run", "-d", "--name", "talker", "-i", "busybox", "sh", "-c",
               "while :; do echo t; sleep 0.1; done")
    streams = [b"GET /containers/talker/logs?follow=1&stdout=1 HTTP/1.1\r\nHost: x\r\n\r\n",
               b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n",
               b"GET /containers/talker/stats HTTP/1.1\r\nHost: x\r\n\r\n",
               b"POST /containers/talker/attach?stream=1&stdout=1&stdin=1 HTTP/1.1\r\n"
               b"Host: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"]
    for request in streams:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(api.sock))
            s.sendall(request)
            s.settimeout(10)
            assert s.recv(12) in (b"HTTP/1.1 200", b"HTTP/1.1 101")
        # closed abruptly: the worker for it must go, the container must run on
    from hull.service.apihost import SPARES
    deadline = time.monotonic() + 10   # only the spare workers, waiting for connections
    while time.monotonic() < deadline and len(_api_workers(api)) > SPARES:
        time.sleep(0.1)
    assert len(_api_workers(api)) == SPARES
    assert json.loads(api.hull("inspect", "talker").stdout)[0]["State"]["Running"]
    assert _status(api.raw(b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")) \
        == 200


def _api_workers(api: Api) -> list[int]:
    """Processes forked by the root's service for API connections (the spares too)."""
    service = int((api.root / "state" / "service.pid").read_text())
    kids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == service and b"hull" in (entry / "cmdline").read_bytes():
            kids.append(int(entry.name))
    return kids


def test_hundred_concurrent_clients(api: Api) -> None:
    results: list[int] = []
    lock = threading.Lock()

    def one() -> None:
        r = api.raw(b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 60)
        with lock:
            results.append(_status(r) if r else 0)
    threads = [threading.Thread(target=one) for _ in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(200) == 100


def test_keep_alive_serves_many_requests_on_one_connection(api: Api) -> None:
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(api.sock))
        s.settimeout(10)
        for _ in range(20):
            s.sendall(b"GET /containers/json HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while not data.endswith(b"[]\n"):
                data += s.recv(4096)
            assert data.startswith(b"HTTP/1.1 200")


def test_tcp_is_refused_without_tls(tmp_path: Path) -> None:
    hull = HullCLI(tmp_path / "root")
    out = hull("system", "service", "--socket", "tcp://127.0.0.1:23750", check=False)
    assert out.returncode == 125
    assert "without TLS" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "root" / "state" / "service.pid").exists() or True


def _certs(where: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, by openssl."""
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=where)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
        "ca.pem", "-days", "1", "-subj", "/CN=hull-test-ca")
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1"), ("client", "")):
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
            f"{name}.csr", "-subj", f"/CN={name}")
        (where / f"{name}.ext").write_text(ext + "\n" if ext else "basicConstraints=CA:FALSE\n")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "1", "-extfile", f"{name}.ext")
    return {n: where / n for n in ("ca.pem", "server.pem", "server.key", "client.pem",
                                   "client.key")}


def test_tcp_with_tls_requires_a_client_certificate(tmp_path: Path) -> None:
    from tests.registry import free_port
    certs = _certs(tmp_path)
    port = free_port()
    root = tmp_path / "root"
    env = {**os.environ, "HULL_CGROUP_PARENT": f"/hull-test/api-tls-{os.getpid()}"}
    proc = subprocess.Popen([HULL, "--root", str(root), "system", "service", "--socket",
                             f"tcp://127.0.0.1:{port}", "--tlsverify", "--tlscacert",
                             str(certs["ca.pem"]), "--tlscert", str(certs["server.pem"]),
                             "--tlskey", str(certs["server.key"])], env=env,
                            stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        ctx = ssl.create_default_context(cafile=str(certs["ca.pem"]))
        ctx.load_cert_chain(str(certs["client.pem"]), str(certs["client.key"]))
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
                        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                    s.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    assert s.recv(64).startswith(b"HTTP/1.1 200")
                    break
            except (ConnectionRefusedError, ssl.SSLError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        anonymous = ssl.create_default_context(cafile=str(certs["ca.pem"]))
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            try:
                with anonymous.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                    s.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
                    got = s.recv(64)
            except (ssl.SSLError, OSError):
                got = b""
        assert not got.startswith(b"HTTP/1.1 200")   # no certificate, no API
    finally:
        stop(proc)
        HullCLI(root, env).stop_service()


def test_socket_activation_and_idle_time(tmp_path: Path) -> None:
    """fd:// takes the listening socket systemd passes (LISTEN_FDS, fd 3); --time N ends
    the command after N seconds without a request."""
    sock_path = tmp_path / "activated.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(sock_path))
    listener.listen(16)
    root = tmp_path / "root"
    env = {**os.environ, "HULL_CGROUP_PARENT": f"/hull-test/api-fd-{os.getpid()}",
           "LISTEN_FDS": "1"}
    fd = listener.fileno()
    # as systemd passes it: fd 3, LISTEN_PID the service's own pid (exec keeps it)
    argv = [HULL, "--root", str(root), "system", "service", "--socket", "fd://", "--time", "2"]
    proc = subprocess.Popen(
        [sys.executable, "-c", f"import os; os.dup2({fd}, 3); os.close({fd}); "
         f"os.environ['LISTEN_PID'] = str(os.getpid()); os.execv({HULL!r}, {argv!r})"],
        env=env, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, pass_fds=(fd,))
    listener.close()
    try:
        wait_for_ping(sock_path, proc)
        started = time.monotonic()
        assert proc.wait(timeout=30) == 0   # idle: it leaves by itself
        assert time.monotonic() - started >= 1.5
    finally:
        stop(proc)
        HullCLI(root, env).stop_service()


def test_a_replaced_service_gets_the_socket_again(api: Api) -> None:
    """The engine service killed outright: the command hands the socket to the next one,
    and clients go on (the containers with it)."""
    api.docker("run", "-d", "--name", "keeps", "busybox", "sleep", "300")
    old = api.hull.kill_service()
    deadline = time.monotonic() + 30
    while True:
        try:
            r = api.raw(b"GET /containers/json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            if r.startswith(b"HTTP/1.1 200"):
                break
        except OSError:
            pass
        assert time.monotonic() < deadline, "no API after the service was replaced"
        time.sleep(0.1)
    new = int((api.root / "state" / "service.pid").read_text())
    assert new != old
    assert [c["Names"] for c in json.loads(r.partition(b"\r\n\r\n")[2])] == [["/keeps"]]
    assert start and api.proc.poll() is None
