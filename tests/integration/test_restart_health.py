"""Restart policies honoured by the engine service, by the next service after one is killed,
and by `system reconcile` after a (simulated) reboot; healthchecks and their state."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import HullCLI

pytestmark = pytest.mark.root
Hull = HullCLI


def until(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll until check() is truthy; the timeout only ends a test that would hang."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"condition not reached in {timeout}s")


def info(hull: Hull, name: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(hull("inspect", name).stdout)[0]
    return out


def running_again(hull: Hull, name: str, old_pid: int) -> bool:
    """Running with another process, in ONE reading of the state: two inspects could see
    "running" (the old process) and then Pid 0 (restarting) and take that for a restart."""
    state = info(hull, name)["State"]
    return bool(state["Running"]) and state["Pid"] not in (0, old_pid)


def test_on_failure_counts_and_stops(hull: Hull) -> None:
    hull("run", "-d", "--name", "c", "--restart", "on-failure:2", "busybox", "sh", "-c",
         "echo run; exit 3")
    until(lambda: info(hull, "c")["RestartCount"] == 2 and
          info(hull, "c")["State"]["Status"] == "exited" and
          not info(hull, "c")["State"]["Restarting"])
    assert hull("logs", "c").stdout == "run\n" * 3
    assert info(hull, "c")["State"]["ExitCode"] == 3
    hull("run", "-d", "--name", "ok", "--restart", "on-failure", "busybox", "true")
    until(lambda: info(hull, "ok")["State"]["Status"] == "exited")
    assert info(hull, "ok")["RestartCount"] == 0          # exit 0: no restart


def test_always_restarts_until_stopped_and_after_kill(hull: Hull) -> None:
    hull("run", "-d", "--name", "c", "--restart", "always", "busybox", "sh", "-c",
         "usleep 200000")
    until(lambda: info(hull, "c")["RestartCount"] >= 2)
    hull("stop", "c")
    count = info(hull, "c")["RestartCount"]
    time.sleep(1.5)                     # longer than the backoff at this count
    after = info(hull, "c")
    assert after["State"]["Status"] == "exited" and after["RestartCount"] == count
    hull("run", "-d", "--name", "k", "--restart", "always", "busybox", "sleep", "300")
    pid = info(hull, "k")["State"]["Pid"]
    hull("kill", "k")                   # a kill is not a user's stop: docker restarts
    until(lambda: running_again(hull, "k", pid))
    assert info(hull, "k")["RestartCount"] == 1


def test_policy_survives_a_killed_service(hull: Hull) -> None:
    hull("run", "-d", "--name", "c", "--restart", "unless-stopped", "busybox", "sleep", "300")
    state = info(hull, "c")["State"]
    hull.kill_service()
    assert info(hull, "c")["State"]["Running"]   # this inspect's service took it over
    os.kill(state["Pid"], signal.SIGKILL)
    until(lambda: running_again(hull, "c", state["Pid"]))
    assert info(hull, "c")["RestartCount"] == 1
    assert "exited" not in hull("ps", "--format", "{{.Status}}").stdout


def test_reconcile_after_reboot(hull: Hull) -> None:
    """What boot looks like to hull: records say running, no service or process is left."""
    hull("run", "-d", "--name", "up", "--restart", "always", "busybox", "sleep", "300")
    hull("run", "-d", "--name", "stopped", "--restart", "unless-stopped", "busybox", "sleep",
         "300")
    hull("stop", "-t", "0", "stopped")
    hull("run", "-d", "--name", "plain", "busybox", "sleep", "300")
    pids = {name: int(json.loads(Path(hull.root, "state", "runtime", info_id(hull, name),
                                      "state.json").read_text())["pid"])
            for name in ("up", "plain")}
    hull.kill_service()
    for pid in pids.values():
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.3)
    hull("system", "reconcile")
    until(lambda: info(hull, "up")["State"]["Running"])
    assert info(hull, "stopped")["State"]["Status"] == "exited"   # a user stopped it
    assert info(hull, "plain")["State"]["Status"] == "exited"     # no policy


def info_id(hull: Hull, name: str) -> str:
    return hull("ps", "-aq", "--no-trunc", "--filter", f"name={name}").stdout.strip()


def test_always_after_boot_even_if_stopped(hull: Hull) -> None:
    from hull.engine.reconcile import stopped_before_boot
    from hull.engine.store import Container
    c = Container("x", "x", "i", "i", "", {}, {"RestartPolicy": {"Name": "always"}},
                  {"StoppedByUser": True, "FinishedAt": "2026-01-01T00:00:00Z"})
    assert stopped_before_boot(c, booted=1.8e9)          # stopped, then the host rebooted
    assert not stopped_before_boot(c, booted=1.7e9)      # stopped since this boot
    c.host_config["RestartPolicy"]["Name"] = "unless-stopped"
    assert not stopped_before_boot(c, booted=1.8e9)
    del hull


def test_install_service_writes_units(hull: Hull, tmp_path: Path) -> None:
    out = hull("system", "install-service", "--dir", str(tmp_path)).stdout.split()
    assert sorted(Path(p).name for p in out) == ["hull-api.service", "hull-api.socket",
                                                 "hull-reconcile.service", "hull.service",
                                                 "hull.socket"]
    api_socket = (tmp_path / "hull-api.socket").read_text()   # the Docker API, activated
    assert f"ListenStream={hull.root}/state/docker.sock" in api_socket
    assert "SocketMode=0660" in api_socket and "SocketGroup=hull" in api_socket
    assert "system service --socket fd:// --time 0" in \
        (tmp_path / "hull-api.service").read_text()
    socket_unit = (tmp_path / "hull.socket").read_text()   # the engine service, activated
    assert f"ListenStream={hull.root}/state/hull.sock" in socket_unit   # on first use
    assert f"--root {hull.root} system service" in (tmp_path / "hull.service").read_text()
    unit = (tmp_path / "hull-reconcile.service").read_text()
    assert f"--root {hull.root} system reconcile" in unit


def test_restart_bad_input(hull: Hull) -> None:
    for args, message in ((["--restart", "sometimes"], "invalid restart policy"),
                          (["--restart", "always:3"], "invalid restart policy"),
                          (["--rm", "--restart", "always"], "--restart and --rm")):
        proc = hull("run", *args, "busybox", "true", check=False)
        assert proc.returncode == 125 and message in proc.stderr
    assert hull("ps", "-aq").stdout == ""


def test_healthcheck_states_and_events(hull: Hull) -> None:
    hull("run", "-d", "--name", "h", "--health-cmd", "cat /ready", "--health-interval",
         "200ms", "--health-retries", "2", "--health-start-period", "30s", "busybox", "sh",
         "-c", "sleep 1; echo yes > /ready; sleep 300")
    assert "(health: starting)" in hull("ps", "--format", "{{.Status}}").stdout
    until(lambda: info(hull, "h")["State"]["Health"]["Status"] == "healthy")
    health = info(hull, "h")["State"]["Health"]
    assert health["Log"][-1]["ExitCode"] == 0 and health["Log"][-1]["Output"] == "yes\n"
    assert len(health["Log"]) <= 5
    hull("exec", "h", "rm", "/ready")
    until(lambda: info(hull, "h")["State"]["Health"]["Status"] == "unhealthy")
    assert info(hull, "h")["State"]["Health"]["FailingStreak"] >= 2
    assert hull("ps", "-q", "--filter", "health=unhealthy").stdout.strip()
    assert "(unhealthy)" in hull("ps", "--format", "{{.Status}}").stdout
    actions = [json.loads(line)["Action"] for line in hull(
        "events", "--since", "5m", "--until", "0s", "--format", "{{json .}}", "--filter",
        "container=h").stdout.splitlines() if "health_status" in line]
    # failures in the start period did not count: starting → healthy → unhealthy
    assert actions == ["health_status: healthy", "health_status: unhealthy"]


def test_healthcheck_timeout_and_flags(hull: Hull) -> None:
    hull("run", "-d", "--name", "slow", "--health-cmd", "sleep 5", "--health-interval",
         "200ms", "--health-timeout", "300ms", "--health-retries", "1", "busybox", "sleep",
         "300")
    until(lambda: info(hull, "slow")["State"]["Health"]["Status"] == "unhealthy")
    last = info(hull, "slow")["State"]["Health"]["Log"][-1]
    assert last["ExitCode"] == -1 and "exceeded timeout" in last["Output"]
    check = info(hull, "slow")["Config"]["Healthcheck"]
    assert check == {"Test": ["CMD-SHELL", "sleep 5"], "Interval": 200_000_000,
                     "Timeout": 300_000_000, "Retries": 1}
    for args, message in ((["--health-interval", "5x"], "--health-interval"),
                          (["--health-cmd", "true", "--no-healthcheck"], "conflicts"),
                          (["--health-retries", "-1"], "negative")):
        proc = hull("run", "--rm", *args, "busybox", "true", check=False)
        assert proc.returncode == 125 and message in proc.stderr, proc


def test_image_healthcheck_and_no_healthcheck(hull: Hull) -> None:
    hull("run", "--name", "base", "busybox", "touch", "/ok")
    hull("commit", "-c", "HEALTHCHECK --interval=200ms --retries=1 CMD test -e /ok", "base",
         "checked:1")
    image = json.loads(hull("inspect", "checked:1").stdout)[0]
    assert image["Config"]["Healthcheck"] == {"Interval": 200_000_000, "Retries": 1,
                                              "Test": ["CMD-SHELL", "test -e /ok"]}
    hull("run", "-d", "--name", "from-image", "checked:1", "sleep", "300")
    until(lambda: info(hull, "from-image")["State"].get("Health", {}).get("Status")
          == "healthy")
    hull("run", "-d", "--name", "off", "--no-healthcheck", "checked:1", "sleep", "300")
    hull("run", "-d", "--name", "over", "--health-cmd", "false", "checked:1", "sleep", "300")
    until(lambda: info(hull, "over")["State"].get("Health", {}).get("Status") == "unhealthy")
    assert "Health" not in info(hull, "off")["State"]
    assert info(hull, "over")["Config"]["Healthcheck"]["Interval"] == 200_000_000
