"""The OCI lifecycle seen from outside: create → created → start → running → stopped →
delete, with the pid file, cgroup files, exec, pause/resume, hooks, the console socket."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from tests.conftest import Bundle, RuntimeCLI

pytestmark = pytest.mark.root


def wait_status(runtime: RuntimeCLI, cid: str, status: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while runtime.state(cid)["status"] != status:
        assert time.monotonic() < deadline, f"{cid} never became {status}"
        time.sleep(0.02)


def cgroup_dir(controller: str, bundle: Bundle) -> Path:
    return Path("/sys/fs/cgroup", controller, bundle.linux["cgroupsPath"].lstrip("/"))


def test_create_start_kill_delete(runtime: RuntimeCLI, bundle: Bundle, tmp_path: Path) -> None:
    bundle.process["args"] = ["sleep", "60"]
    pid_file = tmp_path / "pid"
    runtime.detached("create", "--bundle", str(bundle.write()), "--pid-file", str(pid_file),
                     "c1")
    st = runtime.state("c1")
    assert st["status"] == "created"
    assert st["id"] == "c1" and st["bundle"] == str(bundle.path)
    pid = int(pid_file.read_text())
    assert st["pid"] == pid
    # created: the process exists, blocked before execve (still the runtime's image)
    assert os.readlink(f"/proc/{pid}/exe") != "/bin/busybox"
    assert str(pid) in (cgroup_dir("pids", bundle) / "cgroup.procs").read_text().split()
    runtime("start", "c1")
    wait_status(runtime, "c1", "running")
    assert "busybox" in os.readlink(f"/proc/{pid}/exe")
    proc = runtime("start", "c1", check=False)
    assert proc.returncode != 0 and "running" in proc.stderr
    proc = runtime("delete", "c1", check=False)
    assert proc.returncode != 0 and "--force" in proc.stderr
    runtime("kill", "c1", "KILL")
    wait_status(runtime, "c1", "stopped")
    assert runtime.state("c1")["pid"] == 0
    runtime("delete", "c1")
    assert not (runtime.root / "c1").exists()
    assert not cgroup_dir("memory", bundle).exists()
    proc = runtime("state", "c1", check=False)
    assert proc.returncode != 0 and "does not exist" in proc.stderr


def test_delete_of_created_container_kills_it(runtime: RuntimeCLI, bundle: Bundle) -> None:
    runtime.detached("create", "--bundle", str(bundle.write()), "c2")
    pid = runtime.state("c2")["pid"]
    runtime("delete", "c2")
    assert not Path(f"/proc/{pid}").exists() or \
        Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def test_kill_signal_forms(runtime: RuntimeCLI, bundle: Bundle) -> None:
    bundle.process["args"] = ["sh", "-c", "trap 'exit 3' USR1; while true; do sleep 0.1; done"]
    runtime.detached("run", "-d", "--bundle", str(bundle.write()), "k")
    for form in ("SIGUSR1", "USR1", str(int(signal.SIGUSR1))):
        proc = runtime("kill", "k", form, check=False)
        assert proc.returncode == 0, proc.stderr
        break
    wait_status(runtime, "k", "stopped")
    proc = runtime("kill", "k", "SIGNOPE", check=False)
    assert proc.returncode != 0 and "invalid signal" in proc.stderr
    runtime("delete", "k")


def test_kill_all_reaches_every_process(runtime: RuntimeCLI, bundle: Bundle) -> None:
    bundle.process["args"] = ["sh", "-c", "sleep 100 & sleep 100 & wait"]
    runtime.detached("run", "-d", "--bundle", str(bundle.write()), "ka")
    time.sleep(0.3)
    assert len(json.loads(runtime("ps", "--format", "json", "ka").stdout)) == 3
    runtime("kill", "--all", "ka", "KILL")
    wait_status(runtime, "ka", "stopped")
    runtime("delete", "ka")


def test_exec_ps_pause_resume_update_events(runtime: RuntimeCLI, bundle: Bundle,
                                            tmp_path: Path) -> None:
    bundle.process["args"] = ["sleep", "60"]
    bundle.process["env"] = ["PATH=/bin", "FROM_CONFIG=yes"]
    bundle.linux["resources"]["memory"] = {"limit": 64 << 20}
    bundle.linux["resources"]["pids"] = {"limit": 50}
    runtime.detached("run", "-d", "--bundle", str(bundle.write()), "e")
    pid = runtime.state("e")["pid"]
    out = runtime("exec", "e", "sh", "-c", "echo $FROM_CONFIG $$; hostname").stdout.split()
    assert out[0] == "yes" and out[2] == "hull-test" and out[1] != "1"
    assert runtime("exec", "e", "sh", "-c", "exit 5", check=False).returncode == 5
    proc = runtime("exec", "--env", "X=1", "--cwd", "/tmp", "--user", "1000:1000", "e",
                   "sh", "-c", "echo $X; pwd; id -u")
    assert proc.stdout.split() == ["1", "/tmp", "1000"]
    process = tmp_path / "process.json"
    process.write_text(json.dumps({"args": ["cat", "/proc/self/cgroup"], "cwd": "/",
                                   "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}}))
    out = runtime("exec", "--process", str(process), "e").stdout
    # inside the container's cgroup namespace its own cgroup is the root
    assert "memory:/\n" in out and "pids:/\n" in out
    pid_file = tmp_path / "exec.pid"
    runtime.detached("exec", "--detach", "--pid-file", str(pid_file), "e", "sleep", "30")
    exec_pid = int(pid_file.read_text())
    pids = json.loads(runtime("ps", "--format", "json", "e").stdout)
    assert pid in pids and exec_pid in pids
    table = runtime("ps", "e").stdout.splitlines()
    assert "PID" in table[0] and any(str(exec_pid) in line for line in table[1:])
    runtime("pause", "e")
    assert runtime.state("e")["status"] == "paused"
    assert (cgroup_dir("freezer", bundle) / "freezer.state").read_text().strip() == "FROZEN"
    runtime("resume", "e")
    assert runtime.state("e")["status"] == "running"
    runtime("update", "--memory", "128m", "--pids-limit", "20", "e")
    assert int((cgroup_dir("memory", bundle) / "memory.limit_in_bytes").read_text()) == 128 << 20
    assert (cgroup_dir("pids", bundle) / "pids.max").read_text().strip() == "20"
    runtime("update", "--resources", "-", "e", input=json.dumps({"pids": {"limit": 30}}))
    assert (cgroup_dir("pids", bundle) / "pids.max").read_text().strip() == "30"
    stats = json.loads(runtime("events", "--stats", "e").stdout)
    assert stats["type"] == "stats" and stats["id"] == "e"
    assert stats["data"]["memory"]["usage"]["limit"] == 128 << 20
    assert stats["data"]["pids"]["current"] >= 2
    assert stats["data"]["cpu"]["usage"]["total"] > 0
    listing = json.loads(runtime("list", "--format", "json").stdout)
    assert [c["id"] for c in listing] == ["e"] and listing[0]["status"] == "running"
    runtime("delete", "--force", "e")


def test_hooks_run_at_their_points(runtime: RuntimeCLI, bundle: Bundle, tmp_path: Path) -> None:
    log = tmp_path / "hooks.log"
    log.touch()
    log.chmod(0o666)

    def hook(name: str) -> dict[str, object]:
        # prestart/createRuntime/poststart/poststop run on the host, the others in the
        # container: the container sees the log through a bind mount at the same path
        return {"path": "/bin/sh", "args": ["sh", "-c", f"echo {name} $(cat | tr -d '\\n' "
                                            f"| sed 's/.*\"status\": *\"\\([a-z]*\\)\".*/\\1/')"
                                            f" >> {log}"]}
    bundle.config["hooks"] = {k: [hook(k)] for k in ("prestart", "createRuntime",
                                                      "createContainer", "startContainer",
                                                      "poststart", "poststop")}
    bundle.config["mounts"].append({"destination": str(tmp_path), "type": "bind",
                                    "source": str(tmp_path), "options": ["rbind"]})
    bundle.process["args"] = ["sh", "-c", f"echo process >> {log}"]
    runtime.run(bundle, cid="h")
    names = [line.split()[0] for line in log.read_text().splitlines()]
    # poststart runs once the process has been executed; the process itself may write
    # its line before or after it
    assert names[:4] == ["prestart", "createRuntime", "createContainer", "startContainer"]
    assert sorted(names[4:6]) == ["poststart", "process"]
    assert names[6:] == ["poststop"]


def test_failing_prestart_hook_aborts_and_cleans_up(runtime: RuntimeCLI,
                                                    bundle: Bundle) -> None:
    bundle.config["hooks"] = {"prestart": [{"path": "/bin/false"}]}
    proc = runtime.run(bundle, check=False)
    assert proc.returncode != 0 and "prestart hook /bin/false" in proc.stderr
    assert runtime.ids() == []


def test_terminal_through_console_socket(runtime: RuntimeCLI, bundle: Bundle,
                                         tmp_path: Path) -> None:
    bundle.process["terminal"] = True
    bundle.process["consoleSize"] = {"height": 33, "width": 101}
    bundle.process["args"] = ["sh", "-c", "tty; stty size; echo done"]
    sock_path = tmp_path / "console.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(sock_path))
    listener.listen(1)
    proc = subprocess.Popen([runtime.binary, "--root", str(runtime.root), "run",
                             "--console-socket", str(sock_path), "--bundle",
                             str(bundle.write()), "tty"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    from hull.runtime.console import receive_master
    listener.settimeout(20)
    master = receive_master(listener)
    listener.close()
    output = b""
    try:
        while b"done" not in output:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(master)
    assert proc.wait(timeout=20) == 0, proc.stderr.read() if proc.stderr else ""
    text = output.decode().replace("\r", "").split("\n")
    assert text[0].startswith("/dev/pts/")
    assert text[1] == "33 101"


def test_run_foreground_forwards_signals(runtime: RuntimeCLI, bundle: Bundle) -> None:
    bundle.process["args"] = ["sh", "-c", "trap 'exit 42' TERM; while :; do sleep 0.1; done"]
    proc = subprocess.Popen([runtime.binary, "--root", str(runtime.root), "run", "--bundle",
                             str(bundle.write()), "fg"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ids = runtime.ids()
        if ids and runtime.state("fg")["status"] == "running":
            break
        time.sleep(0.05)
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 42
    assert runtime.ids() == []


def test_exec_into_a_sub_cgroup(runtime: RuntimeCLI, bundle: Bundle) -> None:
    bundle.process["args"] = ["sleep", "60"]
    runtime.detached("run", "-d", "--bundle", str(bundle.write()), "sub")
    sub = cgroup_dir("pids", bundle) / "workers"
    sub.mkdir()
    try:
        out = runtime("exec", "--cgroup", "pids:workers", "sub", "cat",
                      "/proc/self/cgroup").stdout
        assert "pids:/workers" in out
        assert "memory:/\n" in out   # the other controllers stay in the container's cgroup
        proc = runtime("exec", "--cgroup", "pids:nope", "sub", "true", check=False)
        assert proc.returncode != 0 and "does not exist" in proc.stderr
    finally:
        runtime("delete", "--force", "sub")   # removes the sub-cgroup too
    assert not sub.exists()
