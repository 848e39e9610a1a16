"""`run` flags, each observed in a real container: from inside (what the process sees) and,
where there is an outside, from the host (cgroup files, mounts, volumes, inspect)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from tests.conftest import HullCLI, one_problem

pytestmark = pytest.mark.root
Hull = HullCLI


def run(hull: Hull, *args: str) -> str:
    return hull("run", "--rm", *args).stdout


def cap_eff(text: str) -> int:
    return int(next(line for line in text.splitlines() if line.startswith("CapEff:"))
               .split()[1], 16)


def test_capabilities_add_drop_privileged(hull: Hull) -> None:
    default = cap_eff(run(hull, "busybox", "cat", "/proc/self/status"))
    assert default == 0xA80425FB                       # Docker's default set
    added = cap_eff(run(hull, "--cap-add", "sys_admin", "--cap-drop", "NET_RAW", "busybox",
                        "cat", "/proc/self/status"))
    assert added == (default | 1 << 21) & ~(1 << 13)
    only = cap_eff(run(hull, "--cap-drop", "ALL", "--cap-add", "CHOWN", "busybox", "cat",
                       "/proc/self/status"))
    assert only == 1
    host_bounding = int(next(line for line in Path("/proc/self/status").read_text()
                             .splitlines() if line.startswith("CapBnd:")).split()[1], 16)
    out = run(hull, "--privileged", "busybox", "sh", "-c",
              "cat /proc/self/status; grep ' /sys ' /proc/mounts; ls /dev; cat /proc/keys")
    assert cap_eff(out) == host_bounding
    assert "sysfs /sys sysfs rw" in out                # --privileged: /sys writable
    assert "loop0" in out or "vda" in out or "sda" in out   # host devices appear


def test_security_opts(hull: Hull, tmp_path: Path) -> None:
    out = run(hull, "--security-opt", "no-new-privileges", "busybox", "grep", "NoNewPrivs",
              "/proc/self/status")
    assert out.split() == ["NoNewPrivs:", "1"]
    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW",
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
                    {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": []}],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                     # applies only to containers with CAP_SYS_ADMIN: not this one
                     {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO",
                      "includes": {"caps": ["CAP_SYS_ADMIN"]}}]}))
    proc = hull("run", "--rm", "--security-opt", f"seccomp={profile}", "busybox", "sh", "-c",
                "mkdir /made; echo mkdir=$?; rmdir /mnt 2>/dev/null; echo rmdir=$?",
                check=False)
    assert "mkdir=1" in proc.stdout and "Operation not permitted" in proc.stderr
    assert "rmdir=0" in proc.stdout or "rmdir=1" in proc.stdout   # not blocked by seccomp
    masked = run(hull, "busybox", "sh", "-c", "cat /proc/keys | wc -c")
    unmasked = run(hull, "--security-opt", "systempaths=unconfined", "busybox", "sh", "-c",
                   "cat /proc/keys | wc -c")
    assert masked.strip() == "0" and int(unmasked) > 0


def test_limits_sysctls_and_user(hull: Hull) -> None:
    out = run(hull, "--ulimit", "nofile=100:200", "--sysctl", "net.ipv4.ip_forward=1",
              "--sysctl", "kernel.shmmax=123456", "--oom-score-adj", "300", "--domainname",
              "example.org", "--group-add", "10", "--group-add", "nogroup", "busybox", "sh", "-c",
              "ulimit -n; ulimit -Hn; cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax"
              " /proc/self/oom_score_adj /proc/sys/kernel/domainname; id -G")
    lines = out.split("\n")
    assert lines[:6] == ["100", "200", "1", "123456", "300", "example.org"]
    assert set(lines[6].split()) == {"0", "10", "65534"}   # nogroup: by name from the image
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text() != "" \
        and Path("/proc/sys/kernel/domainname").read_text().strip() != "example.org"


def test_resource_flags_reach_the_cgroup(hull: Hull) -> None:
    if not Path("/sys/fs/cgroup/memory").is_dir():
        pytest.skip("v1 file names; the v2 suite checks its own")
    root_dev = os.stat("/").st_dev
    cid = hull("run", "-d", "--cpu-shares", "512", "--cpu-period", "50000", "--cpu-quota",
               "25000", "--cpuset-mems", "0", "-m", "64m", "--memory-reservation", "32m",
               "--memory-swappiness", "10", "--oom-kill-disable", "--pids-limit", "20",
               "busybox", "sleep", "60").stdout.strip()
    parent = hull.env["HULL_CGROUP_PARENT"] if hull.env else "/hull"
    base = Path("/sys/fs/cgroup")
    expect = {"cpu/cpu.shares": "512", "cpu/cpu.cfs_period_us": "50000",
              "cpu/cpu.cfs_quota_us": "25000", "cpuset/cpuset.mems": "0",
              "memory/memory.limit_in_bytes": str(64 << 20),
              "memory/memory.soft_limit_in_bytes": str(32 << 20),
              "memory/memory.swappiness": "10", "pids/pids.max": "20"}
    for path, value in expect.items():
        controller, name = path.split("/")
        outside = (base / controller / parent.lstrip("/") / cid / name).read_text().strip()
        inside = hull("exec", cid, "cat", f"/sys/fs/cgroup/{path}").stdout.strip()
        assert outside == inside == value, path
    assert "oom_kill_disable 1" in hull("exec", cid, "cat",
                                        "/sys/fs/cgroup/memory/memory.oom_control").stdout
    host = json.loads(hull("inspect", cid).stdout)[0]["HostConfig"]
    assert (host["CpuShares"], host["MemoryReservation"], host["PidsLimit"]) == \
        (512, 32 << 20, 20)
    hull("rm", "-f", cid)
    del root_dev


def test_namespace_modes(hull: Hull) -> None:
    out = run(hull, "--pid", "host", "--uts", "host", "busybox", "sh", "-c",
              f"test -d /proc/{os.getpid()} && echo seen; hostname")
    assert out.split() == ["seen", os.uname().nodename]
    hull("run", "-d", "--name", "donor", "--ipc", "shareable", "busybox", "sh", "-c",
         "echo hi > /dev/shm/note; exec sleep 60")
    time.sleep(0.3)
    out = run(hull, "--ipc", "container:donor", "--pid", "container:donor", "busybox", "sh",
              "-c", "cat /dev/shm/note; ps -o comm")
    assert out.split()[0] == "hi" and "sleep" in out.split()
    hull("run", "-d", "--name", "private", "busybox", "sleep", "60")
    proc = hull("run", "--rm", "--ipc", "container:private", "busybox", "true", check=False)
    assert proc.returncode == 125 and "non-shareable IPC" in proc.stderr
    hull("rm", "-f", "donor", "private")


def test_bind_mounts_tmpfs_and_read_only(hull: Hull, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "in").write_text("from host\n")
    proc = hull("run", "--rm", "--read-only", "-v", f"{data}:/data", "-v",
                f"{data}:/ro:ro", "--tmpfs", "/scratch:size=1m", "--mount",
                "type=tmpfs,target=/t,tmpfs-size=2m", "busybox", "sh", "-c",
                "cat /data/in; echo out > /data/out; echo x > /ro/x; echo ro=$?; "
                "echo y > /scratch/y && echo scratch ok; touch /etc/z; echo rootfs=$?; "
                "df -k /t | tail -1", check=False)
    lines = proc.stdout.splitlines()
    assert lines[:4] == ["from host", "ro=1", "scratch ok", "rootfs=1"], proc.stdout
    assert lines[4].split()[1] == "2048"
    assert (data / "out").read_text() == "out\n" and not (data / "x").exists()


def test_volumes_named_anonymous_and_copy_up(hull: Hull) -> None:
    # a new named volume over /etc starts with the image's /etc (Docker's copy-up)
    out = run(hull, "-v", "conf:/etc", "busybox", "sh", "-c", "cat /etc/group | head -1; "
              "echo kept > /etc/mine")
    assert out.startswith("root:x:0:")
    assert run(hull, "-v", "conf:/cfg", "busybox", "cat", "/cfg/mine") == "kept\n"
    info = json.loads(hull("volume", "inspect", "conf").stdout)[0]
    assert Path(info["Mountpoint"], "mine").read_text() == "kept\n"
    # inspect shows the mount point; rm -v removes the anonymous volume, not the named one
    hull("create", "--name", "c", "-v", "conf:/conf", "-v", "/anon", "busybox", "true")
    mounts = json.loads(hull("inspect", "c").stdout)[0]["Mounts"]
    assert {m["Destination"]: m["Type"] for m in mounts} == {"/conf": "volume",
                                                             "/anon": "volume"}
    anon = next(m["Name"] for m in mounts if m["Destination"] == "/anon")
    proc = hull("volume", "rm", "conf", check=False)
    assert proc.returncode == 1 and "in use" in proc.stderr
    hull("rm", "-v", "c")
    names = hull("volume", "ls", "-q").stdout.split()
    assert "conf" in names and anon not in names
    hull("volume", "rm", "conf")
    assert hull("volume", "ls", "-q").stdout.split() == []


def test_init_reaps_and_forwards_signals(hull: Hull) -> None:
    out = run(hull, "--init", "busybox", "sh", "-c",
              "(sleep 0.2 &); sleep 0.6; ps -o pid,stat,comm")
    rows = [line.split() for line in out.splitlines()[1:]]
    assert rows[0][0] == "1" and rows[0][2] == "docker-init"
    assert not any("Z" in r[1] for r in rows), out          # the orphan was reaped
    # sleep as PID 1 ignores SIGTERM (the kernel protects PID 1): stop needs SIGKILL; under
    # --init the signal is forwarded to sleep, which dies of it
    hull("run", "-d", "--name", "plain", "busybox", "sleep", "60")
    hull("run", "-d", "--name", "inited", "--init", "busybox", "sleep", "60")
    hull("stop", "-t", "2", "plain", "inited")
    assert hull.state("plain")["ExitCode"] == 137
    assert hull.state("inited")["ExitCode"] == 143
    hull("rm", "plain", "inited")


def test_devices(hull: Hull) -> None:
    out = run(hull, "--device", "/dev/zero:/dev/myzero:r", "busybox", "sh", "-c",
              "head -c 3 /dev/myzero | wc -c; mknod /tmp/fuse c 10 229; "
              "cat /tmp/fuse 2>&1 | grep -c 'not permitted'")
    assert out.split() == ["3", "1"]               # fuse: mknod works, the cgroup denies it
    out = run(hull, "--device", "/dev/fuse", "busybox", "sh", "-c",
              "exec 3<>/dev/fuse && echo opened")
    assert out.strip() == "opened"


@pytest.mark.parametrize("flags, message", [
    (["--ulimit", "nofile=x"], "--ulimit"),
    (["--sysctl", "kernel.panic=1"], "--sysctl kernel.panic"),
    (["--cap-add", "NOPE"], "--cap-add"),
    (["--security-opt", "seccomp=/no/such.json"], "seccomp"),
    (["--mount", "type=bind,source=/no/such,target=/x"], "--mount"),
    (["-v", "relative/dir:/x"], "-v"),
    (["--device", "/no/such"], "--device"),
    (["--ipc", "sideways"], "--ipc"),
    (["--pid", "container:missing"], "No such container: missing"),
    (["-p", "99999:80"], "invalid hostPort: 99999"),
    (["--network", "nope"], "network nope not found"),
    (["--memory-swap", "10m", "-m", "20m"], "Minimum memoryswap limit should be larger"),
    (["-m", "1m"], "Minimum memory limit allowed is 6MB"),   # the engine's words, as the API's
    (["--blkio-weight", "5"], "--blkio-weight"),
    (["-v", "/tmp:/x", "--tmpfs", "/x"], "Duplicate mount point"),
])
def test_bad_flags_leave_nothing(hull: Hull, flags: list[str], message: str) -> None:
    proc = hull("run", "--rm", "-v", "newvol:/v", *flags, "busybox", "true", check=False)
    assert proc.returncode == 125, proc.stderr
    assert message in proc.stderr and one_problem(proc.stderr)
    assert hull("ps", "-aq").stdout == "" and hull("volume", "ls", "-q").stdout == ""


def test_volumes_from(hull: Hull, tmp_path: Path) -> None:
    bind = tmp_path / "bind"
    bind.mkdir()
    hull("create", "--name", "donor", "-v", "named:/named", "-v", "/anon", "-v",
         f"{bind}:/bind:ro", "--tmpfs", "/scratch", "busybox", "true")
    out = run(hull, "--volumes-from", "donor", "busybox", "sh", "-c",
              "echo x > /named/f && echo y > /anon/f && echo named=ok; "
              "touch /bind/f 2>/dev/null || echo bind=ro; grep -c ' /scratch ' /proc/mounts; "
              "true")
    assert out.split() == ["named=ok", "bind=ro", "0"]
    out = run(hull, "--volumes-from", "donor:ro", "-v", "own:/anon", "busybox", "sh", "-c",
              "cat /named/f; touch /named/g 2>/dev/null || echo named=ro; ls /anon | wc -l")
    assert out.split() == ["x", "named=ro", "0"]      # its own /anon won the clash
    donor = json.loads(hull("inspect", "donor").stdout)[0]["Mounts"]
    anon = next(m for m in donor if m["Destination"] == "/anon")
    assert (Path(anon["Source"]) / "f").read_text() == "y\n"
    proc = hull("run", "--rm", "--volumes-from", "nosuch", "busybox", "true", check=False)
    assert proc.returncode == 125 and "No such container: nosuch" in proc.stderr
    proc = hull("run", "--rm", "--volumes-from", "donor:rx", "busybox", "true", check=False)
    assert proc.returncode == 125 and "--volumes-from" in proc.stderr
    assert hull("ps", "-aq").stdout.split() == [hull("ps", "-aq", "-f", "name=donor")
                                                 .stdout.strip()]


def test_storage_opt_size_limits_the_rw_layer(hull: Hull) -> None:
    hull("run", "-d", "--name", "small", "--storage-opt", "size=20m", "busybox", "sleep",
         "300")
    full = hull("exec", "small", "sh", "-c",
                "dd if=/dev/zero of=/big bs=1M count=30 2>&1; echo rc=$?", check=False)
    assert "No space left on device" in full.stdout and "rc=1" in full.stdout
    # the host and another container are not limited by it
    other = run(hull, "busybox", "sh", "-c", "dd if=/dev/zero of=/big bs=1M count=30 2>&1 "
                "&& echo rc=$?")
    assert "rc=0" in other
    hull("exec", "small", "sh", "-c", "rm /big && echo kept > /kept")
    assert ("A", "/kept") in [tuple(line.split()) for line in
                              hull("diff", "small").stdout.splitlines()]
    hull("stop", "-t", "0", "small")
    info = json.loads(hull("inspect", "small").stdout)[0]
    img = hull.root / "containers" / info["Id"] / "rw.img"
    # a reboot takes the mount away: start must mount the container's filesystem again
    device = os.popen(f"losetup -j {img}").read().split(":")[0]
    mountpoint = next(line.split()[1] for line in Path("/proc/self/mounts").read_text()
                      .splitlines() if line.split()[0] == device)
    subprocess.run(["umount", mountpoint], check=True)
    hull("start", "small")
    assert hull("exec", "small", "cat", "/kept").stdout == "kept\n"
    full = hull("exec", "small", "sh", "-c",
                "dd if=/dev/zero of=/big bs=1M count=30 2>&1; echo rc=$?", check=False)
    assert "No space left on device" in full.stdout
    assert info["HostConfig"]["StorageOpt"] == {"size": "20m"}
    img = hull.root / "containers" / info["Id"] / "rw.img"
    assert img.exists() and os.stat(img).st_blocks * 512 < 20 << 20   # sparse
    hull("rm", "-f", "small")
    assert not img.exists()
    assert str(img) not in os.popen("losetup -a").read()
    for value, message in (("size=12q", "--storage-opt size"), ("size=1m", "at least 8MB"),
                           ("color=red", "unknown option 'color'")):
        proc = hull("run", "--rm", "--storage-opt", value, "busybox", "true", check=False)
        assert proc.returncode == 125 and message in proc.stderr, proc
    assert hull("ps", "-aq").stdout == ""
