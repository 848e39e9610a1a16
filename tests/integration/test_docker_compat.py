"""Behaviour Docker users' scripts depend on, checked on real containers from inside and
outside: what `ps` lists, images a container uses surviving rmi and prune (and their layers
on disk), the environment and filesystem a container starts with, refusals with Docker's
exit codes. tests/clients/test_cli_parity.py compares the same commands with a real
dockerd; these hold on their own, with what can only be seen on hull's side."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from tests.conftest import HULL, HullCLI
from tests.integration.conftest import hull  # noqa: F401

pytestmark = pytest.mark.root


def _names(out: str) -> list[str]:
    return out.split()


def test_ps_lists_running_only_unless_asked(hull: HullCLI) -> None:  # noqa: F811
    hull("run", "-d", "--name", "web", "busybox", "sleep", "60")
    hull("run", "--name", "web-old", "busybox", "true")
    hull("create", "--name", "fresh", "busybox", "true")
    ps = lambda *a: _names(hull("ps", "--format", "{{.Names}}", *a).stdout)  # noqa: E731
    assert ps("-f", "name=web") == ["web"]             # a filter alone does not imply -a
    assert ps("-a", "-f", "name=^web$") == ["web"]     # names match as regular expressions
    assert ps("-a", "-f", "name=^/web-") == ["web-old"]
    assert ps("-f", "status=exited") == ["web-old"]    # a status filter does imply -a
    assert ps("-f", "status=created") == ["fresh"]
    assert ps("-a", "-f", "exited=0") == ["web-old"]   # never-started containers excluded
    assert ps("-n", "2") == ["fresh", "web-old"]       # newest first, every state
    assert ps("--latest") == ["fresh"]
    assert ps("-a", "-f", "before=fresh") == ["web-old", "web"]
    assert ps("-a", "-f", "since=web") == ["fresh", "web-old"]
    for bad, message in (("status=bogus", "Invalid filter 'status=bogus'"),
                         ("bogus=1", "Invalid filter 'bogus'")):
        proc = hull("ps", "-f", bad, check=False)
        assert proc.returncode == 1 and message in proc.stderr and proc.stdout == ""
    rows = [json.loads(line) for line in hull("ps", "--format", "json").stdout.splitlines()]
    assert [r["Names"] for r in rows] == ["web"] and rows[0]["State"] == "running"


def test_images_in_use_survive_rmi_and_prune(hull: HullCLI) -> None:  # noqa: F811
    image = json.loads(hull("image", "inspect", "busybox").stdout)[0]
    layer = Path(image["GraphDriver"]["Data"]["UpperDir"])
    hull("run", "-d", "--name", "user", "busybox", "sleep", "60")
    proc = hull("rmi", "busybox", check=False)
    assert proc.returncode == 1 and "container" in proc.stderr and "must force" in proc.stderr
    prune = hull("image", "prune", "-af")
    assert "deleted" not in prune.stdout
    assert hull("images", "-q").stdout.strip() == image["Id"].split(":")[1][:12]
    # -f untags it, but an image a running container uses is never deleted
    assert hull("rmi", "-f", "busybox").stdout.startswith("Untagged: busybox:latest")
    assert hull("images", "-q").stdout.strip() == image["Id"].split(":")[1][:12]
    assert hull("exec", "user", "echo", "alive").stdout == "alive\n"
    hull("stop", "-t", "0", "user")
    # stopped: a prune still keeps it; rmi -f of its ID deletes the image, not the layers
    hull("image", "prune", "-af")
    assert hull("images", "-q").stdout.strip() != ""
    hull("rmi", "-f", image["Id"])
    assert hull("images", "-q").stdout.strip() == ""
    assert (layer / "bin" / "busybox").exists()
    assert hull("start", "user").returncode == 0
    assert hull("exec", "user", "echo", "still").stdout == "still\n"
    hull("rm", "-f", "user")
    assert not layer.exists()   # the last user gone: the layers go too


def test_missing_objects_with_force_exit_zero(hull: HullCLI) -> None:  # noqa: F811
    for args in (("rm", "-f", "nosuch"), ("rmi", "-f", "nosuch")):
        proc = hull(*args, check=False)
        assert proc.returncode == 0 and "No such" in proc.stderr
    for args in (("rm", "nosuch"), ("rmi", "nosuch")):
        assert hull(*args, check=False).returncode == 1


def test_process_environment_and_identity(hull: HullCLI) -> None:  # noqa: F811
    env = dict(line.split("=", 1) for line in
               hull("run", "--rm", "--hostname", "box", "busybox", "env").stdout.split())
    assert env["HOME"] == "/root" and env["HOSTNAME"] == "box" and "TERM" not in env
    assert "HOME=/nonexistent" in hull("run", "--rm", "-u", "nobody", "busybox", "env").stdout
    assert "HOME=/\n" in hull("run", "--rm", "-u", "1234", "busybox", "env").stdout
    assert "HOME=/x\n" in hull("run", "--rm", "-e", "HOME=/x", "busybox", "env").stdout
    # a terminal brings TERM=xterm, in run and in exec (script(1) gives hull a terminal)
    out = subprocess.run(["script", "-qec", f"{HULL} --root {hull.root} run --rm -t busybox "
                          "sh -c 'echo T=$TERM'", "/dev/null"], capture_output=True,
                         text=True, env=hull.env, timeout=60).stdout
    assert "T=xterm" in out
    assert hull("run", "--rm", "-u", "nobody", "busybox", "id").stdout.strip() == \
        "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)"
    assert hull("run", "--rm", "--group-add", "777", "busybox", "id", "-G").stdout.split() \
        == ["0", "777"]


def test_workdir_is_created_and_checked(hull: HullCLI) -> None:  # noqa: F811
    assert hull("run", "--rm", "-w", "/new/dir", "busybox", "pwd").stdout == "/new/dir\n"
    proc = hull("run", "--rm", "-w", "/etc/passwd", "busybox", "pwd", check=False)
    assert proc.returncode == 125 and "not a directory" in proc.stderr
    proc = hull("run", "--rm", "-w", "relative", "busybox", "pwd", check=False)
    assert proc.returncode == 125 and "absolute path" in proc.stderr
    assert hull("ps", "-aq").stdout == ""


def test_loopback_is_up_and_init_layer_files(hull: HullCLI) -> None:  # noqa: F811
    out = hull("run", "--rm", "busybox", "sh", "-c",
               "ip -o link show lo; ping -c1 -W2 127.0.0.1 >/dev/null && echo pong; "
               "readlink /etc/mtab; test -f /.dockerenv && echo dockerenv").stdout
    assert "<LOOPBACK,UP" in out.splitlines()[0]
    assert "pong" in out and "/proc/mounts" in out and "dockerenv" in out
    hull("run", "--name", "quiet", "busybox", "true")
    assert hull("diff", "quiet").stdout == ""   # the init layer is not the container's change


def test_failed_start_stays_created(hull: HullCLI) -> None:  # noqa: F811
    proc = hull("run", "--name", "bad", "busybox", "nosuchcmd", check=False)
    assert proc.returncode == 127
    proc = hull("run", "-d", "--name", "bad2", "busybox", "nosuchcmd", check=False)
    assert proc.returncode == 127 and len(proc.stdout.strip()) == 64
    for name in ("bad", "bad2"):
        state = hull.state(name)
        assert state["Status"] == "created" and state["ExitCode"] == 127
        assert "nosuchcmd" in state["Error"]
        assert hull("ps", "-a", "-f", f"name=^{name}$", "--format",
                    "{{.Status}}").stdout == "Created\n"


def test_tty_with_piped_stdin_is_refused(hull: HullCLI) -> None:  # noqa: F811
    proc = hull("run", "-it", "--rm", "busybox", "cat", input="x\n", timeout=30, check=False)
    assert proc.returncode == 1 and proc.stderr.strip() == "the input device is not a TTY"
    hull("run", "-d", "--name", "t", "busybox", "sleep", "60")
    proc = hull("exec", "-it", "t", "cat", input="x\n", timeout=30, check=False)
    assert proc.returncode == 1 and proc.stderr.strip() == "the input device is not a TTY"
    assert len(_names(hull("ps", "-aq").stdout)) == 1   # the refused run created nothing


def test_relative_bind_source_is_the_clients(hull: HullCLI, tmp_path: Path) -> None:  # noqa: F811
    cwd = tmp_path / "project"
    cwd.mkdir()
    proc = subprocess.run([HULL, "--root", str(hull.root), "run", "--rm", "-v", "./data:/x",
                           "busybox", "sh", "-c", "echo hi > /x/f"], cwd=cwd, env=hull.env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert (cwd / "data" / "f").read_text() == "hi\n"


def test_commit_message_is_the_image_comment(hull: HullCLI) -> None:  # noqa: F811
    hull("run", "--name", "src", "busybox", "touch", "/x")
    hull("commit", "-m", "added x", "src", "me/x:1")
    assert hull("image", "inspect", "-f", "{{.Comment}}", "me/x:1").stdout == "added x\n"


def test_bad_input_exit_codes_and_no_traceback(hull: HullCLI) -> None:  # noqa: F811
    hull("run", "-d", "--name", "c1", "busybox", "sleep", "60")
    hull("create", "--name", "c2", "busybox", "true")
    cases = [(("nosuchcmd",), 1), (("rm",), 1), (("logs",), 1), (("ps", "--bogus"), 125),
             (("stop", "-t", "x", "c1"), 125), (("rename", "c1", "c2"), 1),
             (("kill", "-s", "BOGUS", "c1"), 1), (("tag", "busybox", "BAD:1"), 1),
             (("inspect", "-f", "{{.Nope}}", "c1"), 1), (("inspect", "-f", "{{.X", "c1"), 64),
             (("inspect", "--type", "bogus", "c1"), 1), (("ps", "--format", "{{.Nope}}"), 1)]
    for args, code in cases:
        proc = hull(*args, check=False)
        assert proc.returncode == code, (args, proc.returncode, proc.stderr)
        assert "Traceback" not in proc.stderr and proc.stderr.strip(), args
    proc = hull("cp", "-", "c1:/", input="this is not a tar archive\n", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "tar" in proc.stderr


def test_system_df_counts_what_is_there(hull: HullCLI) -> None:  # noqa: F811
    hull("run", "-d", "--name", "a", "-v", "vol:/data", "busybox", "sh", "-c",
         "head -c 300000 /dev/zero > /data/z; head -c 200000 /dev/zero > /w; sleep 60")
    hull("run", "--name", "b", "busybox", "true")
    hull("volume", "create", "spare")
    rows = {r["Type"]: r for r in map(json.loads, hull("system", "df", "--format",
                                                           "json").stdout.splitlines())}
    assert rows["Images"]["TotalCount"] == "1" and rows["Images"]["Active"] == "1"
    assert rows["Containers"]["TotalCount"] == "2" and rows["Containers"]["Active"] == "1"
    assert rows["Local Volumes"]["TotalCount"] == "2" and rows["Local Volumes"]["Active"] == "1"
    assert rows["Local Volumes"]["Size"].endswith("kB") and rows["Containers"]["Size"] != "0B"
    # a second tag of the same image does not count its layers twice
    hull("tag", "busybox", "busybox:two")
    again = {r["Type"]: r for r in map(json.loads, hull("system", "df", "--format",
                                                            "json").stdout.splitlines())}
    assert again["Images"]["Size"] == rows["Images"]["Size"]
    verbose = hull("system", "df", "-v").stdout
    assert "Images space usage:" in verbose and "spare" in verbose


def test_info_version_and_help(hull: HullCLI) -> None:  # noqa: F811
    hull("run", "-d", "--name", "x", "busybox", "sleep", "60")
    assert hull("info", "--format", "{{.Containers}} {{.ContainersRunning}} {{.Images}}"
                ).stdout == "1 1 1\n"
    assert hull("system", "info", "--format", "{{.Driver}}").stdout.strip() in ("overlay2",
                                                                                  "vfs")
    version = json.loads(hull("version", "--format", "json").stdout)
    assert version["Client"]["Version"] == version["Server"]["Version"]
    assert hull("version", "--format", "{{.Server.Version}}").stdout.strip() == \
        version["Client"]["Version"]
    help_text = hull("help", "ps").stdout
    assert help_text.startswith("Usage:  hull ps [OPTIONS]")
    flag_lines = [line for line in help_text.splitlines() if line.lstrip().startswith("-")]
    assert flag_lines and all(len(line.split("  ")) > 1 and line.split()[-1] for line in
                              flag_lines)
