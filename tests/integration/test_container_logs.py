"""Log rotation: on by default, `--log-opt max-size/max-file` honoured, `logs` and `logs -f`
reading across the rotated files, `--log-driver none`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from tests.conftest import HULL, HullCLI, one_problem

pytestmark = pytest.mark.root
Hull = HullCLI


def log_files(hull: Hull, name: str) -> list[Path]:
    cid = hull("inspect", "-f", "{{.Id}}", name).stdout.strip()
    return sorted((hull.root / "containers" / cid).glob(f"{cid}-json.log*"))


def test_rotation_keeps_max_file_files_of_max_size(hull: Hull) -> None:
    hull("run", "-d", "--name", "rot", "--log-opt", "max-size=1k", "--log-opt", "max-file=3",
         "busybox", "sh", "-c", "for i in $(seq 1 300); do echo line$i; done")
    hull("wait", "rot")
    files = log_files(hull, "rot")
    assert len(files) == 3, files
    assert all(f.stat().st_size <= 1024 for f in files)
    lines = hull("logs", "rot").stdout.split()
    # what is kept is the newest part of the output, in order, without a gap
    first = int(lines[0][4:])
    assert first > 1 and lines == [f"line{i}" for i in range(first, 301)]
    assert json.loads(hull("inspect", "rot").stdout)[0]["HostConfig"]["LogConfig"] == \
        {"Type": "json-file", "Config": {"max-size": "1k", "max-file": "3"}}


def test_rotation_is_on_by_default(hull: Hull) -> None:
    # 24 MiB of output passes the default max-size (20 MiB): the first part is rotated
    hull("run", "--name", "big", "busybox", "sh", "-c",
         "head -c 25165824 /dev/zero | tr '\\0' x | fold -w 4095")
    files = log_files(hull, "big")
    assert len(files) == 2, files
    assert all(f.stat().st_size <= 20 << 20 for f in files)
    assert len(hull("logs", "big").stdout.splitlines()) == 25165824 // 4095 + 1


def test_follow_reads_across_rotations(hull: Hull) -> None:
    hull("run", "-d", "--name", "slow", "--log-opt", "max-size=512", "--log-opt",
         "max-file=100", "busybox", "sh", "-c",
         "sleep 0.5; for i in $(seq 1 80); do echo line$i; usleep 20000; done")
    follow = subprocess.run([HULL, "--root", str(hull.root), "logs", "-f", "slow"],
                            capture_output=True, text=True, timeout=60)
    assert follow.stdout.split() == [f"line{i}" for i in range(1, 81)]
    assert len(log_files(hull, "slow")) > 5


def test_log_driver_none_and_bad_options(hull: Hull) -> None:
    hull("run", "--name", "quiet", "--log-driver", "none", "busybox", "echo", "hi")
    assert log_files(hull, "quiet") == []
    proc = hull("logs", "quiet", check=False)
    assert proc.returncode == 1 and "does not support reading" in proc.stderr
    for flags, message in ((["--log-opt", "color=red"], "unknown log opt 'color'"),
                           (["--log-opt", "max-size=12q"], "max-size"),
                           (["--log-opt", "max-file=0"], "max-file"),
                           (["--log-driver", "syslog"], "--log-driver")):
        proc = hull("run", "--name", "bad", *flags, "busybox", "true", check=False)
        assert proc.returncode == 125, proc
        assert message in proc.stderr and one_problem(proc.stderr)
        assert hull("ps", "-aq", "--filter", "name=bad").stdout == ""
