"""attach and the detach keys: with a terminal (through script(1)) and without one."""

from __future__ import annotations

import subprocess
import time

import pytest
from tests.conftest import HULL, HullCLI

pytestmark = pytest.mark.root
Hull = HullCLI


def typed(script: str) -> subprocess.Popen[bytes]:
    """A keyboard: `script` is a shell program whose output becomes the keys."""
    return subprocess.Popen(["sh", "-c", script], stdout=subprocess.PIPE)


def through_terminal(cmd: str, keys: subprocess.Popen[bytes],
                     hull: Hull) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True,
                              text=True, timeout=60, stdin=keys.stdout, env=hull.env)
    finally:
        keys.kill()
        keys.wait()


def test_detach_with_ctrl_p_ctrl_q_then_attach_again(hull: Hull) -> None:
    # ash drops typeahead while it starts: keys come after a pause
    keys = typed(r"sleep 1.5; printf 'echo first-$((1+1))\n'; sleep 0.5; printf '\020\021'; "
                 "sleep 5")
    proc = through_terminal(f"{HULL} --root {hull.root} run -it --name box busybox sh",
                            keys, hull)
    assert proc.returncode == 0 and "first-2" in proc.stdout, proc
    assert hull.state("box")["Running"]                    # detached, not stopped
    keys = typed(r"sleep 1; printf 'echo again-$((2+2)); exit 7\n'; sleep 5")
    proc = through_terminal(f"{HULL} --root {hull.root} attach box", keys, hull)
    assert proc.returncode == 7 and "again-4" in proc.stdout, proc
    assert hull.state("box")["ExitCode"] == 7
    # a custom sequence; a lone ctrl-p that is not followed by the rest goes through
    hull("start", "box")
    keys = typed(r"sleep 1; printf 'echo x\020y\n'; sleep 0.5; printf '\030'; sleep 5")
    proc = through_terminal(f"{HULL} --root {hull.root} attach --detach-keys ctrl-x box",
                            keys, hull)
    assert proc.returncode == 0 and "read escape sequence" in proc.stdout, proc
    assert hull.state("box")["Running"]
    hull("rm", "-f", "box")


def test_attach_without_terminal_keeps_streams_apart(hull: Hull) -> None:
    hull("run", "-d", "-i", "--name", "pipe", "busybox", "sh", "-c",
         "read line; echo got-$line; echo on-stderr >&2; exit 2")
    time.sleep(0.3)
    proc = subprocess.run([HULL, "--root", str(hull.root), "attach", "pipe"], input="hello\n",
                          capture_output=True, text=True, timeout=60, env=hull.env)
    assert proc.returncode == 2, proc
    assert proc.stdout == "got-hello\n" and proc.stderr == "on-stderr\n"
    assert "got-hello" in hull("logs", "pipe").stdout
    proc = hull("attach", "pipe", check=False)
    assert proc.returncode == 1 and "stopped container" in proc.stderr
    hull("rm", "pipe")
