"""stats, top, update and events on real containers, each checked against what the kernel
shows from outside (cgroup files, /proc) and, for update, from inside the container."""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from pathlib import Path

import pytest
from tests.conftest import HULL, HullCLI, one_problem

pytestmark = pytest.mark.root
Hull = HullCLI
CGROUP = Path("/sys/fs/cgroup")


def cgroup_file(hull: Hull, name: str, controller: str, file: str) -> str:
    info = json.loads(hull("inspect", name).stdout)[0]
    parent = info["HostConfig"]["CgroupParent"].lstrip("/")
    return (CGROUP / controller / parent / info["Id"] / file).read_text().strip()


def stats(hull: Hull, *names: str) -> dict[str, dict[str, str]]:
    out = hull("stats", "--no-stream", "--format", "{{json .}}", *names).stdout
    rows = [json.loads(line) for line in out.splitlines()]
    return {r["Name"]: r for r in rows}


def test_stats_cpu_memory_pids(hull: Hull) -> None:
    hull("run", "-d", "--name", "busy", "--cpus", "0.5", "busybox", "sh", "-c",
         "while :; do :; done")
    hull("run", "-d", "--name", "idle", "-m", "64m", "busybox", "sh", "-c",
         "head -c 20971520 /dev/zero > /dev/shm/fill; sleep 300 & sleep 300 & wait")
    time.sleep(1)
    samples = [stats(hull, "busy", "idle") for _ in range(5)]
    busy = statistics.median(float(s["busy"]["CPUPerc"].rstrip("%")) for s in samples)
    idle = statistics.median(float(s["idle"]["CPUPerc"].rstrip("%")) for s in samples)
    assert 30 < busy < 70, busy       # --cpus 0.5: half a CPU, from the cgroup's accounting
    assert idle < 5, idle
    row = samples[-1]["idle"]
    used, limit = row["MemUsage"].split(" / ")
    assert limit == "64MiB"
    assert used.endswith("MiB") and 19 < float(used[:-3]) < 30, used   # the 20 MiB in shm
    assert 29 < float(row["MemPerc"].rstrip("%")) < 47
    assert row["PIDs"] == "3"
    assert row["PIDs"] == str(len(cgroup_file(hull, "idle", "pids", "cgroup.procs").split()))
    table = hull("stats", "--no-stream").stdout.splitlines()
    assert table[0].split()[:4] == ["CONTAINER", "ID", "NAME", "CPU"] and len(table) == 3
    hull("create", "--name", "stopped", "busybox", "true")
    assert "stopped" not in hull("stats", "--no-stream").stdout
    assert stats(hull, "stopped")["stopped"]["CPUPerc"] == "0.00%"   # Docker's zeros
    assert "stopped" in hull("stats", "--no-stream", "-a").stdout
    proc = hull("stats", "--no-stream", "nosuch", check=False)
    assert proc.returncode == 1 and "No such container: nosuch" in proc.stderr


def test_top_shows_host_pids(hull: Hull) -> None:
    hull("run", "-d", "--name", "c", "busybox", "sh", "-c", "sleep 301 & sleep 302 & wait")
    time.sleep(0.5)
    pid = str(hull.state("c")["Pid"])
    rows = hull("top", "c").stdout.splitlines()
    assert rows[0].split()[:3] == ["UID", "PID", "PPID"]
    pids = {line.split()[1] for line in rows[1:]}
    assert pid in pids and len(pids) == 3
    assert any("sleep 301" in line for line in rows)
    # they are the host's PIDs of the container's cgroup
    assert pids == set(cgroup_file(hull, "c", "pids", "cgroup.procs").split())
    aux = hull("top", "c", "-o", "pid,comm").stdout.split()
    assert aux[:2] == ["PID", "COMMAND"] and pid in aux
    proc = hull("top", "c", "-o", "comm", check=False)
    assert proc.returncode == 125 and "PID field" in proc.stderr


def test_update_running_and_stopped(hull: Hull) -> None:
    hull("run", "-d", "--name", "c", "-m", "64m", "busybox", "sleep", "300")
    assert hull("update", "-m", "128m", "--cpus", "1.5", "--pids-limit", "5",
                "--restart", "on-failure:3", "c").stdout == "c\n"
    assert cgroup_file(hull, "c", "memory", "memory.limit_in_bytes") == str(128 << 20)
    assert cgroup_file(hull, "c", "cpu", "cpu.cfs_quota_us") == "150000"
    assert cgroup_file(hull, "c", "pids", "pids.max") == "5"
    inside = hull("exec", "c", "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes").stdout
    assert inside.strip() == str(128 << 20)
    forks = hull("exec", "c", "sh", "-c", "for i in 1 2 3 4 5 6; do sleep 5 & done 2>&1; "
                 "echo done", check=False)
    assert "can't fork" in forks.stdout + forks.stderr or forks.returncode != 0
    host = json.loads(hull("inspect", "c").stdout)[0]["HostConfig"]
    assert (host["Memory"], host["NanoCpus"], host["PidsLimit"]) == (128 << 20, 15 * 10**8, 5)
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    hull("create", "--name", "later", "busybox", "cat",
         "/sys/fs/cgroup/memory/memory.limit_in_bytes")
    hull("update", "-m", "32m", "later")
    assert hull("start", "-a", "later").stdout.strip() == str(32 << 20)


def test_update_bad_input(hull: Hull) -> None:
    hull("run", "-d", "--rm", "--name", "c", "-m", "64m", "--memory-swap", "128m", "busybox",
         "sleep", "300")
    before = json.loads(hull("inspect", "c").stdout)[0]["HostConfig"]
    # exit codes as Docker's: a flag it cannot parse 125, the daemon's refusals 1
    for args, message, code in ((["-m", "12q"], "-m, --memory", 125),
                                (["-m", "256m"], "smaller than already set memoryswap", 1),
                                (["--restart", "always"], "AutoRemove", 1),
                                (["--restart", "sometimes"], "invalid restart policy", 1),
                                (["--cpus", "x"], "--cpus", 125),
                                ([], "one or more flags", 1)):
        proc = hull("update", *args, "c", check=False)
        assert proc.returncode == code, (args, proc)
        assert message in proc.stderr and one_problem(proc.stderr)
    assert json.loads(hull("inspect", "c").stdout)[0]["HostConfig"] == before
    assert cgroup_file(hull, "c", "memory", "memory.limit_in_bytes") == str(64 << 20)
    proc = hull("update", "-m", "64m", "nosuch", check=False)
    assert proc.returncode == 1 and "No such container: nosuch" in proc.stderr


def events(hull: Hull, *args: str) -> list[dict[str, str]]:
    out = hull("events", "--since", "5m", "--until", "0s", "--format", "{{json .}}",
               *args).stdout
    return [json.loads(line) for line in out.splitlines()]


def test_events_lifecycle_and_oom(hull: Hull) -> None:
    hull("run", "--name", "a", "-l", "team=x", "busybox", "true")
    hull("rename", "a", "b")
    hull("rm", "b")
    actions = [e["Action"] for e in events(hull)]
    assert actions == ["create", "start", "die", "rename", "destroy"]
    die = events(hull, "--filter", "event=die")[0]
    assert die["Actor"]["Attributes"]["exitCode"] == "0"
    assert die["Actor"]["Attributes"]["team"] == "x"
    hull("run", "--name", "oom", "-m", "8m", "--memory-swap", "8m", "busybox", "sh", "-c",
         "head -c 64m /dev/zero | tail > /dev/null", check=False)
    assert [e["Action"] for e in events(hull, "--filter", "container=oom")] == \
        ["create", "start", "oom", "die"]
    assert events(hull, "--filter", "label=team=x", "--filter", "event=destroy")[0][
        "Actor"]["Attributes"]["name"] == "b"
    plain = hull("events", "--since", "5m", "--until", "0s", "--filter", "event=oom").stdout
    assert " container oom " in plain and "name=oom" in plain
    proc = hull("events", "--filter", "colour=red", "--until", "0s", check=False)
    assert proc.returncode == 125 and "invalid filter 'colour'" in proc.stderr


def test_events_follow(hull: Hull) -> None:
    watcher = subprocess.Popen([HULL, "--root", str(hull.root), "events", "--filter",
                                "event=start"], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(1)   # the watcher is past the events already there
        hull("run", "--rm", "--name", "watched", "busybox", "true")
        assert watcher.stdout is not None
        line = watcher.stdout.readline()
        assert " container start " in line and "name=watched" in line
    finally:
        watcher.kill()
        watcher.wait()
