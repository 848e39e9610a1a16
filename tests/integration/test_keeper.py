"""The root's keeper (service/keeper.py): the engine service killed outright loses
nothing — not a line a container prints meanwhile, not an exit code, not a terminal —
and the keeper leaves with a service that leaves on its own."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from tests.conftest import HullCLI
from tests.integration.test_service import alive, parent, service_pid, until

from hull.service import protocol

pytestmark = pytest.mark.root


@pytest.fixture
def hull(tmp_path: Path) -> HullCLI:
    h = HullCLI(tmp_path / "root", env={**os.environ, "HULL_SERVICE_IDLE_EXIT": "30",
                                        "HULL_CGROUP_PARENT": f"/hull-test/kp-{os.getpid()}"})
    h("image", "bootstrap")
    yield h  # type: ignore[misc]
    ids = h("ps", "-aq", check=False).stdout.split()
    if ids:
        h("rm", "-f", *ids, check=False)
    keeper = keeper_pid(h)
    h.stop_service()
    until(lambda: not alive(keeper))


def keeper_pid(h: HullCLI) -> int:
    """The service's parent."""
    return parent(service_pid(h))


def test_a_killed_service_loses_no_line_and_no_exit_code(hull: HullCLI) -> None:
    hull("run", "-d", "--name", "talker", "busybox", "sh", "-c",
         "i=0; while [ $i -lt 400 ]; do echo line $i; echo err $i >&2; i=$((i+1)); "
         "sleep 0.01; done; exit 7")
    keeper = keeper_pid(hull)
    for _ in range(2):   # twice: the second service is a keeper's restart too
        time.sleep(0.7)
        old = service_pid(hull)
        os.kill(old, signal.SIGKILL)
        until(lambda old=old: service_pid(hull) != old)   # the keeper started another
    assert keeper_pid(hull) == keeper
    until(lambda: hull.state("talker")["Status"] == "exited")
    state = hull.state("talker")
    assert state["ExitCode"] == 7 and state["Error"] == ""   # the real code, not "unknown"
    logs = hull("logs", "talker")
    assert logs.stdout.split("\n")[:-1] == [f"line {i}" for i in range(400)]
    assert logs.stderr.split("\n")[:-1] == [f"err {i}" for i in range(400)]


def test_an_exit_while_no_service_runs_is_recorded(hull: HullCLI) -> None:
    """The container ends between the kill and the new service: the keeper reaped it and
    hands its status over."""
    hull("run", "-d", "--name", "quick", "busybox", "sh", "-c",
         "trap 'exit 3' USR1; echo up; while :; do sleep 0.05; done")
    pid = int(hull.state("quick")["Pid"])
    keeper = keeper_pid(hull)
    os.kill(keeper, signal.SIGSTOP)   # no restart, no reaping until it resumes
    try:
        os.kill(service_pid(hull), signal.SIGKILL)
        time.sleep(0.2)
        os.kill(pid, signal.SIGUSR1)
        until(lambda: "State:\tZ" in Path(f"/proc/{pid}/status").read_text())
    finally:
        os.kill(keeper, signal.SIGCONT)
    until(lambda: hull.state("quick")["Status"] == "exited")
    state = hull.state("quick")
    assert state["ExitCode"] == 3 and state["Error"] == ""
    assert hull("logs", "quick").stdout == "up\n"


def test_a_terminal_survives_a_killed_service(hull: HullCLI) -> None:
    """The keeper holds the pty master: the container gets no SIGHUP, and what it prints
    after the kill is in its log."""
    hull("run", "-d", "-t", "--name", "term", "busybox", "sh", "-c",
         "trap 'echo HUP; exit 9' HUP; echo before; sleep 2; echo after")
    time.sleep(0.5)
    os.kill(service_pid(hull), signal.SIGKILL)
    until(lambda: hull.state("term")["Status"] == "exited")
    state = hull.state("term")
    assert state["ExitCode"] == 0
    assert hull("logs", "term").stdout.split() == ["before", "after"]


def test_the_keeper_leaves_with_its_service(hull: HullCLI) -> None:
    hull("version")
    keeper = keeper_pid(hull)
    hull("system", "service", "--stop")
    until(lambda: not alive(keeper))
    assert not (hull.root / "state" / protocol.SOCKET).exists()
    assert hull("version").returncode == 0   # and a command starts both again
    assert keeper_pid(hull) != keeper


def _container_cgroups() -> list[Path]:
    """Containers' cgroups left under this suite's cgroup parent (directories; the parent's
    own control files are not leftovers)."""
    parent = Path("/sys/fs/cgroup/memory") / f"hull-test/kp-{os.getpid()}"
    return [p for p in parent.glob("*") if p.is_dir()]


def _hull_processes(keeper: int) -> list[int]:
    """Every hull process below the keeper but the keeper: the service, its command
    workers and its jobs (they run the keeper's interpreter; containers do not)."""
    comm = Path(f"/proc/{keeper}/comm").read_text()
    parents: dict[int, int] = {}
    comms: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                comms[int(entry.name)] = (entry / "comm").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[stat.rindex(")") + 2:].split()[1])

    def below(pid: int) -> bool:
        while pid > 1:
            pid = parents.get(pid, 0)
            if pid == keeper:
                return True
        return False
    return [p for p in parents if p != keeper and comms.get(p) == comm and below(p)]


def test_kill_9_of_every_hull_process_ten_times_loses_nothing(hull: HullCLI,
                                                              tmp_path: Path) -> None:
    """Issue 16's test: a counter every 20 ms and a container exiting 7, while every hull
    process but the keeper is killed ten times at random moments (commands running)."""
    import random
    import threading
    hull("run", "-d", "--name", "counter", "busybox", "sh", "-c",
         "i=0; while :; do echo $i; i=$((i+1)); sleep 0.02; done")
    hull("run", "-d", "--name", "seven", "busybox", "sh", "-c", "sleep 2; exit 7")
    keeper = keeper_pid(hull)
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    stop = threading.Event()

    def commands() -> None:   # workers to kill too, mid-command
        while not stop.is_set():
            hull("ps", "-a", check=False, timeout=60)
            hull("inspect", "counter", check=False, timeout=60)
    busy = threading.Thread(target=commands)
    busy.start()
    killed = 0
    try:
        for _ in range(10):
            until(lambda: _hull_processes(keeper))   # the keeper's restart of the service
            time.sleep(rng.uniform(0.05, 0.7))
            hit = 0
            for pid in _hull_processes(keeper):
                try:
                    os.kill(pid, signal.SIGKILL)
                    hit = 1
                except ProcessLookupError:
                    pass
            killed += hit
    finally:
        stop.set()
        busy.join()
    assert killed == 10, f"seed {seed}"
    assert alive(keeper)
    assert hull.state("counter")["Running"], f"seed {seed}"
    until(lambda: hull.state("seven")["Status"] == "exited")
    seven = hull.state("seven")
    assert (seven["ExitCode"], seven["Error"]) == (7, ""), f"seed {seed}"
    lines = hull("logs", "counter").stdout.split()
    assert [int(n) for n in lines] == list(range(len(lines))), f"seed {seed}"
    assert len(lines) > 100
    hull("rm", "-f", "counter", "seven")
    assert not [m for m in Path("/proc/self/mounts").read_text().splitlines()
                if str(tmp_path) in m]
    assert not _container_cgroups()


def test_an_upgrade_hands_the_containers_over(hull: HullCLI, tmp_path: Path) -> None:
    """A client of another build: the service drains its commands and leaves, the keeper
    starts that build's service, which takes the containers over — nothing lost."""
    import shutil
    import subprocess
    import sys

    import hull as package
    other = tmp_path / "next-build"
    shutil.copytree(Path(package.__file__).parent, other / "hull",
                    ignore=shutil.ignore_patterns("__pycache__"))
    init = other / "hull" / "__init__.py"
    version = package.__version__ + "-next"
    init.write_text(init.read_text().replace(f'"{package.__version__}"', f'"{version}"'))
    hull("run", "-d", "--name", "counter", "busybox", "sh", "-c",
         "i=0; while :; do echo $i; i=$((i+1)); sleep 0.02; done")
    hull("run", "-d", "--name", "seven", "busybox", "sh", "-c", "sleep 1.5; exit 7")
    old, keeper = service_pid(hull), keeper_pid(hull)
    client = [sys.executable, "-I", "-S", "-c", f"import sys; sys.path.insert(0, "
              f"{str(other)!r}); from hull.client import main; sys.exit(main())"]
    proc = subprocess.run([*client, "--root", str(hull.root), "version", "--format",
                           "{{.Server.Version}}"], env=hull.env, capture_output=True,
                          text=True, timeout=60)
    assert (proc.returncode, proc.stdout.strip()) == (0, version), proc.stderr
    new = service_pid(hull)
    assert new != old and not alive(old) and keeper_pid(hull) == keeper
    assert str(other).encode() in Path(f"/proc/{new}/cmdline").read_bytes()
    ps = subprocess.run([*client, "--root", str(hull.root), "ps", "--format", "{{.Names}}"],
                        env=hull.env, capture_output=True, text=True, timeout=60)
    assert sorted(ps.stdout.split()) == ["counter", "seven"]
    until(lambda: "Exited (7)" in subprocess.run(
        [*client, "--root", str(hull.root), "ps", "-a", "--format", "{{.Status}}"],
        env=hull.env, capture_output=True, text=True, timeout=60).stdout)
    lines = subprocess.run([*client, "--root", str(hull.root), "logs", "counter"],
                           env=hull.env, capture_output=True, text=True,
                           timeout=60).stdout.split()
    assert [int(n) for n in lines] == list(range(len(lines))) and len(lines) > 20
    assert service_pid(hull) == new   # the next build's service served all of that


COMMANDS = {"run": ["run", "-d", "--name", "c", "busybox", "sleep", "300"],
            "exec": ["exec", "c", "sh", "-c", "sleep 1"],
            "stop": ["stop", "-t", "1", "c"],
            "rm": ["rm", "-f", "c"]}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_kill_9_during_a_command_leaves_a_consistent_state(hull: HullCLI, tmp_path: Path,
                                                           command: str) -> None:
    """Every hull process but the keeper killed while `run`, `exec`, `stop` or `rm` is
    under way (at a random moment): afterwards what the record says is what runs, the
    engine works, and `rm -f` leaves nothing behind."""
    import random
    import subprocess

    from tests.conftest import HULL
    if command != "run":
        hull("run", "-d", "--name", "c", "--init", "busybox", "sleep", "300")
    keeper = keeper_pid(hull)
    delay = random.uniform(0.01, 0.2)
    proc = subprocess.Popen([HULL, "--root", str(hull.root), *COMMANDS[command]],
                            env=hull.env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(delay)
    for pid in _hull_processes(keeper):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=60)

    def consistent() -> bool:
        listed = hull("ps", "-aq", check=False)
        if listed.returncode != 0:
            return False
        if not listed.stdout.split():
            return True
        state = hull.state("c")
        if state["Status"] == "restarting":
            return False
        alive_now = bool(state["Pid"]) and alive(int(state["Pid"]))
        return bool(state["Running"]) == alive_now
    until(consistent, timeout=30)
    hull("rm", "-f", "c", check=False)
    assert hull("run", "--rm", "busybox", "echo", "ok").stdout == "ok\n", f"after {delay:.3f} s"
    assert hull("ps", "-aq").stdout == ""
    leftovers = [m for m in Path("/proc/self/mounts").read_text().splitlines()
                 if str(tmp_path) in m and "/containers/" in m]
    assert not leftovers, f"after {delay:.3f} s: {leftovers}"
    assert not _container_cgroups(), f"after {delay:.3f} s"
