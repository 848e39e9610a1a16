"""`hull run` and the container lifecycle, end to end on a temporary --root."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from tests.conftest import HULL, HullCLI

pytestmark = pytest.mark.root
Hull = HullCLI




def test_run_shows_isolation_and_exit_code(hull: Hull) -> None:
    proc = hull("run", "--rm", "--hostname", "box", "-m", "64m", "busybox", "sh", "-c",
                "hostname; echo $$; cat /sys/fs/cgroup/memory/memory.limit_in_bytes; "
                "cat /etc/hostname; exit 4", check=False)
    assert proc.returncode == 4, proc.stderr
    assert proc.stdout.split() == ["box", "1", str(64 << 20), "box"]
    assert hull("ps", "-aq").stdout.strip() == ""          # --rm


def test_detached_ps_logs_stop_rm(hull: Hull) -> None:
    cid = hull("run", "-d", "--name", "web", "busybox", "sh", "-c",
               "echo out; echo err >&2; trap 'exit 0' TERM; while :; do sleep 0.1; done"
               ).stdout.strip()
    assert len(cid) == 64
    time.sleep(0.5)
    ps = hull("ps").stdout.splitlines()
    assert len(ps) == 2 and "web" in ps[1] and "Up " in ps[1]
    logs = hull("logs", "web")
    assert logs.stdout == "out\n" and logs.stderr == "err\n"
    assert hull("stop", "web").stdout.strip() == "web"
    state = hull.state("web")
    assert state["Status"] == "exited" and state["ExitCode"] == 0
    assert "Exited (0)" in hull("ps", "-a").stdout
    proc = hull("rm", "web")
    assert proc.stdout.strip() == "web"
    proc = hull("rm", "web", check=False)
    assert proc.returncode == 1 and "No such container: web" in proc.stderr


def test_stop_escalates_to_sigkill(hull: Hull) -> None:
    hull("run", "-d", "--name", "stubborn", "busybox", "sleep", "300")
    hull("stop", "-t", "1", "stubborn")
    assert hull.state("stubborn")["ExitCode"] == 137
    hull("rm", "stubborn")


def test_oomkilled_when_only_a_child_was_killed(hull: Hull) -> None:
    proc = hull("run", "--name", "oom", "-m", "32m", "busybox", "sh", "-c",
                "dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo survived",
                check=False)
    assert proc.returncode == 0 and "survived" in proc.stdout
    state = hull.state("oom")
    assert state["OOMKilled"] is True and state["ExitCode"] == 0
    hull("rm", "oom")


def test_command_errors_map_to_docker_exit_codes(hull: Hull) -> None:
    proc = hull("run", "--rm", "busybox", "nosuchcommand", check=False)
    assert proc.returncode == 127 and "executable file not found" in proc.stderr
    proc = hull("run", "--rm", "busybox", "/etc/passwd", check=False)
    assert proc.returncode == 126
    proc = hull("run", "--rm", "-m", "12q", "busybox", "true", check=False)
    assert proc.returncode == 125 and "-m" in proc.stderr
    proc = hull("run", "--rm", "--cpus", "-1", "busybox", "true", check=False)
    assert proc.returncode == 125 and "--cpus" in proc.stderr
    proc = hull("run", "--rm", "--restart", "always", "busybox", "true", check=False)
    assert proc.returncode == 125 and "--restart and --rm" in proc.stderr
    proc = hull("run", "--rm", "nosuchimage", check=False)
    assert proc.returncode == 125 and "Unable to find image 'nosuchimage:latest'" in \
        proc.stderr
    proc = hull("stop", "ghost", check=False)
    assert proc.returncode == 1 and "No such container: ghost" in proc.stderr
    assert hull("ps", "-aq").stdout.strip() == ""


def test_same_name_twenty_times_only_one_wins(hull: Hull) -> None:
    def run(_: int) -> subprocess.CompletedProcess[str]:
        return hull("run", "-d", "--name", "only", "busybox", "sleep", "30", check=False)
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(run, range(20)))
    won = [r for r in results if r.returncode == 0]
    assert len(won) == 1
    assert all("already in use" in r.stderr for r in results if r.returncode != 0)
    assert len(hull("ps", "-aq").stdout.split()) == 1
    hull("rm", "-f", "only")


def test_a_killed_service_is_recovered(hull: Hull) -> None:
    """The engine service killed outright: the container runs on, the service its keeper
    starts takes it over and records its end with its real exit code."""
    hull("run", "-d", "--name", "orphan", "busybox", "sleep", "300")
    pid = int(hull.state("orphan")["Pid"])   # type: ignore[call-overload]
    old = hull.kill_service()
    assert Path(f"/proc/{pid}").exists()                 # the container lives on
    assert hull.state("orphan")["Running"] is True       # seen by a new service
    assert int((hull.root / "state" / "service.pid").read_text()) != old
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while hull.state("orphan")["Running"] and time.monotonic() < deadline:
        time.sleep(0.05)
    ended = hull.state("orphan")
    assert (ended["Status"], ended["ExitCode"], ended["Error"]) == ("exited", 137, "")
    hull("rm", "orphan")


def test_export_is_the_merged_filesystem(hull: Hull, tmp_path: Path) -> None:
    import tarfile
    hull("run", "--name", "changed", "busybox", "sh", "-c",
         "echo new > /new-file; rm /etc/group; echo x >> /etc/passwd; mkdir -p /data/sub")
    archive = tmp_path / "export.tar"
    hull("export", "-o", str(archive), "changed")
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        passwd = tar.extractfile("etc/passwd").read().decode()  # type: ignore[union-attr]
    assert {"new-file", "data/sub", "bin/busybox", "etc/hostname"} <= names
    assert "etc/group" not in names
    assert passwd.endswith("x\n") and passwd.startswith("root:")
    assert sum(1 for n in names if n == "etc/passwd") == 1
    hull("rm", "changed")


def test_exec_pause_rename_create_start_prune(hull: Hull) -> None:
    hull("run", "-d", "--name", "box", "busybox", "sleep", "300")
    out = hull("exec", "-e", "X=1", "-w", "/tmp", "-u", "nobody", "box", "sh", "-c",
               "echo $X; pwd; id -u; echo $$")
    lines = out.stdout.split()
    assert lines[:3] == ["1", "/tmp", "65534"] and lines[3] != "1"
    assert hull("exec", "box", "sh", "-c", "exit 6", check=False).returncode == 6
    assert hull("exec", "box", "nosuch", check=False).returncode == 126   # Docker's exec code
    caps = [hull("exec", *flag, "box", "grep", "CapEff", "/proc/self/status").stdout.split()[1]
            for flag in ([], ["--privileged"])]
    assert caps[0] == "00000000a80425fb" and int(caps[1], 16) > int(caps[0], 16)
    hull("pause", "box")
    assert "(Paused)" in hull("ps").stdout and hull.state("box")["Paused"] is True
    proc = hull("exec", "box", "true", check=False)
    assert proc.returncode != 0 and "paused" in proc.stderr
    hull("unpause", "box")
    assert hull.state("box")["Paused"] is False
    hull("rename", "box", "renamed")
    assert hull.state("renamed")["Running"] is True
    hull("stop", "-t", "0", "renamed")
    proc = hull("exec", "renamed", "true", check=False)
    assert proc.returncode != 0 and "not running" in proc.stderr
    cid = hull("create", "--name", "later", "busybox", "sh", "-c", "echo started-later").stdout
    assert hull.state("later")["Status"] == "created"
    assert hull("start", "-a", "later").stdout == "started-later\n"
    assert hull.state("later")["Status"] == "exited"
    pruned = hull("container", "prune", "-f").stdout
    assert cid.strip() in pruned and "Deleted Containers" in pruned
    assert hull("ps", "-aq").stdout.strip() == ""


def test_terminal_run(hull: Hull) -> None:
    """-it through script(1), which gives hull a terminal: tty inside, keys through, exit
    code back; -t -d output lands in the log."""
    cmd = f"{HULL} --root {hull.root} run -it --rm busybox sh -c 'tty; exit 3'"
    proc = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 3 and "/dev/pts/0" in proc.stdout
    shell = f"{HULL} --root {hull.root} run -it --rm busybox sh"
    # keys arrive once the shell is up (ash drops typeahead when it starts)
    typing = subprocess.Popen(["sh", "-c", "sleep 1.5; echo 'echo typed-$((2+3)); exit 5'; "
                               "sleep 5"], stdout=subprocess.PIPE)
    proc = subprocess.run(["script", "-qec", shell, "/dev/null"], capture_output=True,
                          text=True, timeout=60, stdin=typing.stdout)
    typing.kill()
    typing.wait()
    assert proc.returncode == 5 and "typed-5" in proc.stdout
    hull("run", "-t", "-d", "--name", "tty-bg", "busybox", "sh", "-c", "echo in-log; sleep 60")
    time.sleep(0.5)
    assert "in-log" in hull("logs", "tty-bg").stdout
    hull("rm", "-f", "tty-bg")


def test_follow_restart_labels_envfile_cidfile_stopsignal_prune(hull: Hull,
                                                               tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("# comment\nFROM_FILE=yes\n")
    cidfile = tmp_path / "cid"
    hull("run", "-d", "--name", "f", "--env-file", str(env_file), "-l", "team=core",
         "--cidfile", str(cidfile), "--stop-signal", "USR1", "--stop-timeout", "5",
         "busybox", "sh", "-c",
         "trap 'echo got-usr1; exit 9' USR1; echo $FROM_FILE; while :; do sleep 0.1; done")
    info = json.loads(hull("inspect", "f").stdout)[0]
    assert cidfile.read_text() == info["Id"]
    assert info["Config"]["Labels"] == {"team": "core"}
    assert info["Config"]["StopSignal"] == "USR1"
    proc = hull("run", "--cidfile", str(cidfile), "busybox", "true", check=False)
    assert proc.returncode == 125 and "container ID file found" in proc.stderr
    follow = subprocess.Popen([HULL, "--root", str(hull.root), "logs", "-f", "f"],
                              stdout=subprocess.PIPE, text=True, env=hull.env)
    time.sleep(0.5)
    hull("stop", "f")                      # USR1, the configured stop signal
    out, _ = follow.communicate(timeout=30)
    assert out.splitlines() == ["yes", "got-usr1"]
    assert hull.state("f")["ExitCode"] == 9
    hull("restart", "f")
    assert hull.state("f")["Running"] is True
    hull("stop", "f")
    pruned = hull("system", "prune", "-f").stdout
    assert "Deleted Containers" in pruned and hull("ps", "-aq").stdout.strip() == ""
    assert hull("images", "-q").stdout.strip()      # busybox is tagged: kept


def test_ps_filter_format_and_logs_window(hull: Hull) -> None:
    hull("run", "-d", "--name", "a1", "-l", "tier=web", "busybox", "sleep", "60")
    hull("run", "--name", "b2", "busybox", "sh", "-c", "echo early; exit 2", check=False)
    assert hull("ps", "--filter", "label=tier=web", "--format", "{{.Names}}").stdout == "a1\n"
    assert hull("ps", "-a", "--filter", "exited=2", "--format", "{{.Names}}").stdout == "b2\n"
    assert len(hull("ps", "-a", "--filter", "status=running", "-q").stdout.split()) == 1
    table = hull("ps", "-a", "--format", "table {{.Names}}\t{{.Status}}").stdout.splitlines()
    assert table[0].split() == ["NAMES", "STATUS"] and len(table) == 3
    proc = hull("ps", "--filter", "bogus=1", check=False)
    # Docker's daemon refuses it: exit 1, its message
    assert proc.returncode == 1 and "Invalid filter 'bogus'" in proc.stderr
    assert hull("logs", "--since", "1h", "b2").stdout == "early\n"
    assert hull("logs", "--until", "1h", "b2").stdout == ""
    hull("rm", "-f", "a1", "b2")


def test_exec_with_a_terminal(hull: Hull) -> None:
    hull("run", "-d", "--name", "tx", "busybox", "sleep", "60")
    cmd = f"{HULL} --root {hull.root} exec -it tx sh -c 'tty; exit 4'"
    for _ in range(2):   # twice: the first exec must leave nothing behind in the container
        proc = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL, env=hull.env)
        assert proc.returncode == 4 and "/dev/pts/" in proc.stdout
    assert hull("exec", "tx", "sh", "-c", "grep -c ' /dev/console ' /proc/self/mountinfo",
                check=False).stdout.strip() == "0"
    hull("rm", "-f", "tx")


def test_generated_names_never_collide(hull: Hull, monkeypatch: pytest.MonkeyPatch) -> None:
    """With one adjective and one surname left to draw from, the second and third
    containers still get names: a taken generated name is drawn again, then numbered."""
    from hull.engine import containers, create
    monkeypatch.setattr(create, "_NAMES", ("calm",))
    monkeypatch.setattr(create, "_SURNAMES", ("curie",))
    service = containers.ContainerService(str(hull.root))
    made = [create.create(service, create.RunOptions(image="busybox", command=["true"]))
            for _ in range(3)]
    names = [c.name for c in made]
    assert names[0] == "calm_curie" and len(set(names)) == 3
    assert all(n.startswith("calm_curie") for n in names)


def test_diff_lists_only_what_the_container_changed(hull: Hull) -> None:
    hull("run", "--name", "changer", "busybox", "sh", "-c",
         "echo x >> /etc/group; rm /etc/passwd; mkdir -p /new/dir; touch /new/dir/f; "
         "hostname > /dev/null")
    lines = hull("diff", "changer").stdout.splitlines()
    # /etc/hosts, /etc/hostname, /etc/resolv.conf and the runtime's mount points live in
    # the init layer: not the container's changes
    assert lines == ["C /etc", "C /etc/group", "D /etc/passwd", "A /new", "A /new/dir",
                     "A /new/dir/f"]
    hull("rm", "changer")


def test_commit_captures_only_the_rw_layer(hull: Hull) -> None:
    hull("run", "--name", "one", "busybox", "sh", "-c",
         "mkdir /data; touch /data/a /data/b; echo changed > /etc/group; rm /etc/passwd; "
         "echo 10.0.0.1 extra >> /etc/hosts; hostname > /dev/null")
    image = hull("commit", "-m", "first", "-a", "tester", "-c", 'CMD ["ls", "/data"]',
                 "-c", "ENV STAGE=1", "one", "committed:1").stdout.strip()
    assert image.startswith("sha256:")
    assert hull("run", "--rm", "committed:1").stdout.split() == ["a", "b"]
    out = hull("run", "--rm", "committed:1", "sh", "-c",
               "cat /etc/group; test -e /etc/passwd || echo no-passwd; echo $STAGE; "
               "grep -c extra /etc/hosts; true").stdout.split()
    # the deletion is a whiteout; the container's /etc/hosts edit stayed out of the layer
    assert out == ["changed", "no-passwd", "1", "0"]
    # a directory removed and made again is opaque: the lower a and b must not come back
    hull("run", "--name", "two", "committed:1", "sh", "-c",
         "rm -rf /data; mkdir /data; touch /data/c")
    hull("commit", "two", "committed:2")   # its Cmd is two's, as with docker
    assert hull("run", "--rm", "committed:2", "ls", "/data").stdout.split() == ["c"]
    info = json.loads(hull("image", "inspect", "committed:1").stdout)[0]
    assert info["Author"] == "tester" and info["Config"]["Cmd"] == ["ls", "/data"]
    history = hull("history", "committed:2").stdout
    assert "first" in history
    hull("rm", "one", "two")
    hull("rmi", "committed:2", "committed:1")
