"""The engine service and its thin client, seen from outside: started by the first command,
shared by every later one, one per root even when twenty clients race to start it, gone
after its idle time, replaced when it dies, handed over to a client of another version,
root only; commands keep their stdin, exit codes and signals; the service forks its workers
with exactly one thread."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from tests.conftest import HULL, HullCLI

from hull.service import protocol

pytestmark = pytest.mark.root


@pytest.fixture
def hull(tmp_path: Path) -> HullCLI:
    h = HullCLI(tmp_path / "root", env={**os.environ, "HULL_SERVICE_IDLE_EXIT": "30",
                                        "HULL_CGROUP_PARENT": f"/hull-test/svc-{os.getpid()}"})
    yield h  # type: ignore[misc]
    pid = service_pid(h)
    ids = h("ps", "-aq", check=False).stdout.split()
    if ids:
        h("rm", "-f", *ids, check=False)
    pid = service_pid(h)
    if pid:
        os.kill(pid, signal.SIGTERM)
        until(lambda: not alive(pid))


def state_dir(h: HullCLI) -> Path:
    return h.root / "state"


def service_pid(h: HullCLI) -> int:
    try:
        return int((state_dir(h) / protocol.PIDFILE).read_text())
    except (OSError, ValueError):
        return 0


def parent(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat[stat.rindex(")") + 2:].split()[1])


def alive(pid: int) -> bool:
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def until(check, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def services_of(h: HullCLI) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                args = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"service" in args and str(h.root).encode() in args:
                out.append(int(entry.name))
    # a command's worker is a fork of the service (same command line) and may still be on
    # its way out when its client has its answer: a service's children are not services
    return [pid for pid in out if _ppid(pid) not in out]


def _ppid(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("PPid:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def test_started_on_demand_shared_and_leaving_when_idle(tmp_path: Path) -> None:
    h = HullCLI(tmp_path / "root", env={**os.environ, "HULL_SERVICE_IDLE_EXIT": "1"})
    assert service_pid(h) == 0
    assert h("version", "--format", "{{.Client.Version}}").stdout.strip()
    first = service_pid(h)
    assert first and alive(first)
    h("images")
    assert service_pid(h) == first          # the same service served the second command
    until(lambda: not alive(first), timeout=10)   # idle for 1 s: gone
    assert not (state_dir(h) / protocol.SOCKET).exists()
    assert not (state_dir(h) / protocol.PIDFILE).exists()
    h("version")                              # and the next command starts a new one
    second = service_pid(h)
    assert second and second != first
    os.kill(second, signal.SIGTERM)
    until(lambda: not alive(second))


def test_twenty_clients_start_one_service(hull: HullCLI) -> None:
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda _: hull("version", check=False), range(20)))
    assert all(r.returncode == 0 and "Version" in r.stdout for r in results)
    assert services_of(hull) == [service_pid(hull)]


def test_a_killed_service_is_replaced(hull: HullCLI) -> None:
    hull("version")
    old = service_pid(hull)
    os.kill(old, signal.SIGKILL)
    until(lambda: not alive(old))
    assert (state_dir(hull) / protocol.SOCKET).exists()   # stale: nobody listens
    assert hull("version").returncode == 0
    assert service_pid(hull) not in (0, old)


def test_commands_keep_stdin_exit_codes_and_signals(hull: HullCLI) -> None:
    hull("image", "bootstrap")
    assert hull("run", "-i", "--rm", "busybox", "cat", input="through the service\n"
                ).stdout == "through the service\n"
    assert hull("run", "--rm", "busybox", "sh", "-c", "exit 7", check=False).returncode == 7
    assert hull("nosuchcommand", check=False).returncode == 1
    # a signal to the client reaches the container (the foreground run forwards it)
    proc = subprocess.Popen([HULL, "--root", str(hull.root), "run", "--rm", "busybox", "sh",
                             "-c", "trap 'exit 42' TERM; echo ready; sleep 60 & wait"],
                            stdout=subprocess.PIPE, text=True, env=hull.env)
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 42


def test_a_killed_client_ends_its_command_not_the_container(hull: HullCLI) -> None:
    hull("image", "bootstrap")
    proc = subprocess.Popen([HULL, "--root", str(hull.root), "run", "--name", "fg", "busybox",
                             "sh", "-c", "echo ready; sleep 60"],
                            stdout=subprocess.PIPE, text=True, env=hull.env)
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    proc.kill()                                # as the old CLI process: killed outright
    proc.wait()
    until(lambda: not any(p for p in _workers(hull)))
    assert hull.state("fg")["Running"]         # the container runs on under the service


def _workers(h: HullCLI) -> list[int]:
    """The service's forked workers and jobs: its children running its own program (the
    containers' PID 1s are its children too, as their subreaper)."""
    pid = service_pid(h)
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if not children.exists():
        return []
    own = Path(f"/proc/{pid}/comm").read_text()
    found = []
    for child in children.read_text().split():
        try:
            if Path(f"/proc/{child}/comm").read_text() == own:
                found.append(int(child))
        except OSError:
            pass
    return found


def test_the_service_forks_with_one_thread(hull: HullCLI) -> None:
    hull("image", "bootstrap")
    for _ in range(3):
        hull("run", "--rm", "busybox", "true")
        hull("ps", "-a")
    pid = service_pid(hull)
    assert "Threads:\t1\n" in Path(f"/proc/{pid}/status").read_text()
    log = (state_dir(hull) / protocol.LOGFILE).read_text()
    assert "refusing to fork" not in log


def test_root_only() -> None:
    import shutil
    import tempfile
    area = Path(tempfile.mkdtemp(prefix="hull-svc-"))   # a path nobody can walk
    area.chmod(0o755)
    hull = HullCLI(area / "root", env={**os.environ, "HULL_SERVICE_IDLE_EXIT": "30"})
    hull("version")
    hull.root.chmod(0o755)
    socket_path = state_dir(hull) / protocol.SOCKET
    assert socket_path.stat().st_mode & 0o777 == 0o600
    as_nobody = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
    state_dir(hull).chmod(0o755)
    try:
        proc = subprocess.run([*as_nobody, HULL, "--root", str(hull.root), "version"],
                              capture_output=True, text=True, env=hull.env, timeout=30)
        assert proc.returncode == 125 and "only root" in proc.stderr
        socket_path.chmod(0o666)   # even past the file mode, the service checks the peer
        proc = subprocess.run([*as_nobody, HULL, "--root", str(hull.root), "version"],
                              capture_output=True, text=True, env=hull.env, timeout=30)
        assert proc.returncode == 125 and "only root may use the engine service" in \
            proc.stderr
    finally:
        hull.stop_service()
        shutil.rmtree(area)


def test_a_client_of_another_version_gets_a_new_service(hull: HullCLI) -> None:
    hull("version")
    old = service_pid(hull)
    with socket.socket(socket.AF_UNIX) as conn:
        conn.connect(str(state_dir(hull) / protocol.SOCKET))
        request = protocol.encode_request("0.0.0-older", "/", ["version"], {})
        null = os.open(os.devnull, os.O_RDWR)
        try:
            socket.send_fds(conn, [request], [null, null, null])
        finally:
            os.close(null)
        assert conn.recv(64) == b"retry\n"
    until(lambda: not alive(old))              # it had no command running: it left
    assert hull("version").returncode == 0
    assert service_pid(hull) not in (0, old)


def test_stop_and_foreground(hull: HullCLI) -> None:
    hull("version")
    pid = service_pid(hull)
    hull("system", "service", "--stop")
    until(lambda: not alive(pid))
    # in the foreground it serves until stopped; a second one leaves at once (rc 0)
    fg = subprocess.Popen([HULL, "--root", str(hull.root), "system", "service", "--time", "0"],
                          env=hull.env)
    until(lambda: parent(service_pid(hull)) == fg.pid)   # the foreground keeper's service
    assert hull("system", "service").returncode == 0
    assert hull("version").returncode == 0 and parent(service_pid(hull)) == fg.pid
    fg.send_signal(signal.SIGTERM)
    assert fg.wait(timeout=30) == 0


def test_socket_activation(hull: HullCLI, tmp_path: Path) -> None:
    """As systemd's hull.socket starts it: the listener arrives as fd 3 (LISTEN_FDS)."""
    state = state_dir(hull)
    state.mkdir(parents=True)
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(state / protocol.SOCKET))
    listener.listen(8)
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(listener.fileno(), 3)
            env = {**hull.env, "LISTEN_FDS": "1", "LISTEN_PID": str(os.getpid())}
            os.execve(HULL, [HULL, "--root", str(hull.root), "system", "service", "--time",
                             "0"], env)
        finally:
            os._exit(127)
    listener.close()
    try:
        proc = hull("version")
        assert proc.returncode == 0 and parent(service_pid(hull)) == pid   # pid: the keeper
    finally:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
