"""hull-runtime runs real containers: each test observes a config field from inside the
container and, where it shows there, from the host."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import Bundle, RuntimeCLI, one_problem

pytestmark = pytest.mark.root


def sh(bundle: Bundle, script: str) -> None:
    bundle.process["args"] = ["sh", "-c", script]


def test_pid1_hostname_and_exit_code(runtime: RuntimeCLI, bundle: Bundle) -> None:
    sh(bundle, "echo pid=$$; hostname; exit 7")
    proc = runtime.run(bundle, check=False)
    assert proc.returncode == 7, proc.stderr
    assert proc.stdout.split() == ["pid=1", "hull-test"]


def test_domainname(runtime: RuntimeCLI, bundle: Bundle) -> None:
    bundle.config["domainname"] = "example.test"
    sh(bundle, "cat /proc/sys/kernel/domainname")
    assert runtime.run(bundle).stdout.strip() == "example.test"


def test_capabilities_and_no_new_privileges(runtime: RuntimeCLI, bundle: Bundle) -> None:
    caps = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"]
    bundle.process["capabilities"] = {"bounding": caps, "effective": caps, "permitted": caps,
                                      "inheritable": [], "ambient": []}
    bundle.process["noNewPrivileges"] = True
    sh(bundle, "grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status")
    out = dict(line.split(":\t") for line in runtime.run(bundle).stdout.splitlines())
    mask = (1 << 0) | (1 << 5) | (1 << 13)
    assert int(out["CapEff"], 16) == mask
    assert int(out["CapBnd"], 16) == mask
    assert out["NoNewPrivs"] == "1"


def test_ambient_capabilities_survive_uid_change(runtime: RuntimeCLI, bundle: Bundle) -> None:
    caps = ["CAP_NET_BIND_SERVICE"]
    bundle.process["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted",
                                                        "inheritable", "ambient")}
    bundle.process["user"] = {"uid": 1000, "gid": 1000}
    sh(bundle, "grep -E '^(CapAmb|CapEff)' /proc/self/status")
    out = dict(line.split(":\t") for line in runtime.run(bundle).stdout.splitlines())
    assert int(out["CapAmb"], 16) == 1 << 10
    assert int(out["CapEff"], 16) == 1 << 10


def test_user_groups_umask_env_cwd(runtime: RuntimeCLI, bundle: Bundle) -> None:
    bundle.process["user"] = {"uid": 1000, "gid": 1001, "additionalGids": [5, 27],
                              "umask": 0o027}
    bundle.process["env"] = ["PATH=/bin", "GREETING=hello world"]
    bundle.process["cwd"] = "/tmp"
    sh(bundle, "id -u; id -g; id -G; umask; echo $GREETING; pwd")
    lines = runtime.run(bundle).stdout.splitlines()
    assert lines[0] == "1000"
    assert lines[1] == "1001"
    assert set(lines[2].split()) == {"1001", "5", "27"}
    assert lines[3] == "0027"
    assert lines[4] == "hello world"
    assert lines[5] == "/tmp"


def test_rlimits(runtime: RuntimeCLI, bundle: Bundle) -> None:
    bundle.process["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654},
                                 {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]
    sh(bundle, "ulimit -n; ulimit -Hn; ulimit -c")
    assert runtime.run(bundle).stdout.split() == ["321", "654", "0"]


def test_rlimit_above_hard_limit_is_a_clear_error(runtime: RuntimeCLI, bundle: Bundle) -> None:
    import resource
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        pytest.skip("the hard RLIMIT_NOFILE is unlimited here")
    bundle.process["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": hard + 1,
                                  "hard": hard + 1}]
    proc = runtime.run(bundle, check=False)
    assert proc.returncode != 0
    assert "RLIMIT_NOFILE" in proc.stderr and "CAP_SYS_RESOURCE" in proc.stderr
    assert one_problem(proc.stderr)


def test_readonly_root_and_tmpfs_mount_flags(runtime: RuntimeCLI, bundle: Bundle) -> None:
    bundle.config["mounts"].append({"destination": "/scratch", "type": "tmpfs",
                                    "source": "tmpfs",
                                    "options": ["nosuid", "noexec", "nodev", "size=1m"]})
    sh(bundle, "touch /x 2>/dev/null && echo root-rw || echo root-ro; "
               "touch /scratch/y && echo scratch-rw; grep ' /scratch ' /proc/self/mountinfo")
    out = runtime.run(bundle).stdout.splitlines()
    assert out[0] == "root-ro"
    assert out[1] == "scratch-rw"
    opts = out[2].split()[5].split(",")
    assert {"rw", "nosuid", "nodev", "noexec"} <= set(opts)


def test_bind_mount_readonly_and_propagation(runtime: RuntimeCLI, bundle: Bundle,
                                             tmp_path: Path) -> None:
    src = tmp_path / "data"
    src.mkdir()
    (src / "file").write_text("from the host\n")
    bundle.config["mounts"].append({"destination": "/data", "type": "bind",
                                    "source": str(src), "options": ["rbind", "ro", "rprivate"]})
    sh(bundle, "cat /data/file; touch /data/new 2>/dev/null || echo denied; "
               "grep ' /data ' /proc/self/mountinfo")
    out = runtime.run(bundle).stdout.splitlines()
    assert out[0] == "from the host"
    assert out[1] == "denied"
    assert out[2].split()[5].startswith("ro")
    assert "shared:" not in out[2] and "master:" not in out[2]
    assert not (src / "new").exists()


def test_bind_mount_target_symlink_stays_inside_rootfs(runtime: RuntimeCLI, tmp_path: Path,
                                                       busybox_rootfs: Path) -> None:
    import shutil

    from tests.conftest import make_bundle
    rootfs = tmp_path / "rootfs"
    shutil.copytree(busybox_rootfs, rootfs, symlinks=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    # an image symlink pointing at a host path: the mount must land inside the rootfs
    os.symlink(str(outside), rootfs / "escape")
    b = make_bundle(tmp_path / "b", rootfs, runtime)
    b.config["root"]["path"] = str(rootfs)
    b.config["mounts"].append({"destination": "/escape/sub", "type": "tmpfs",
                               "source": "tmpfs"})
    sh(b, "test -d /escape/sub && echo ok")
    assert runtime.run(b).stdout.strip() == "ok"
    assert list(outside.iterdir()) == []
    assert (rootfs / str(outside).lstrip("/") / "sub").is_dir()


def test_masked_and_readonly_paths(runtime: RuntimeCLI, bundle: Bundle) -> None:
    sh(bundle, "cat /proc/kcore | wc -c; ls /proc/acpi | wc -l; "
               "echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo w || echo ro")
    assert runtime.run(bundle).stdout.split() == ["0", "0", "ro"]


def test_default_devices_and_links(runtime: RuntimeCLI, bundle: Bundle) -> None:
    sh(bundle, "for d in null zero full random urandom tty; do stat -c '%n %t:%T' /dev/$d; done;"
               " readlink /dev/fd; readlink /dev/stdin; readlink /dev/ptmx")
    out = runtime.run(bundle).stdout.splitlines()
    assert out[:6] == ["/dev/null 1:3", "/dev/zero 1:5", "/dev/full 1:7", "/dev/random 1:8",
                       "/dev/urandom 1:9", "/dev/tty 5:0"]
    assert out[6:9] == ["/proc/self/fd", "/proc/self/fd/0", "pts/ptmx"]


def test_config_devices_and_device_cgroup(runtime: RuntimeCLI, bundle: Bundle) -> None:
    bundle.linux["devices"] = [{"path": "/dev/mine", "type": "c", "major": 1, "minor": 5,
                                "fileMode": 0o644, "uid": 12, "gid": 34}]
    caps = ["CAP_MKNOD", "CAP_DAC_OVERRIDE"]
    bundle.process["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted")}
    # both nodes can be made ("c *:* m"), but only the listed/default one can be opened:
    # 10:237 (loop-control) is denied by the device cgroup
    sh(bundle, "stat -c '%t:%T %a %u %g' /dev/mine; head -c 3 /dev/mine | wc -c; "
               "mknod /dev/z2 c 1 5 && head -c 2 /dev/z2 | wc -c; "
               "mknod /dev/lc c 10 237 && (cat /dev/lc 2>&1 || true)")
    out = runtime.run(bundle).stdout.splitlines()
    assert out[0] == "1:5 644 12 34"
    assert out[1:3] == ["3", "2"]
    assert "Operation not permitted" in out[3]


@pytest.fixture
def public_rootfs(busybox_rootfs: Path) -> Iterator[Path]:
    """A rootfs whose path an unprivileged host uid can walk (pytest's tmp is root-only)."""
    import shutil
    import tempfile
    top = Path(tempfile.mkdtemp(prefix="hull-userns-"))
    top.chmod(0o755)
    shutil.copytree(busybox_rootfs, top / "rootfs", symlinks=True)
    yield top / "rootfs"
    shutil.rmtree(top)


def test_user_namespace_mappings(runtime: RuntimeCLI, bundle: Bundle,
                                 public_rootfs: Path) -> None:
    bundle.config["root"]["path"] = str(public_rootfs)
    bundle.linux["namespaces"].append({"type": "user"})
    bundle.linux["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.linux["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    sh(bundle, "cat /proc/self/uid_map /proc/self/gid_map; id -u; "
               "stat -c %u /bin/busybox")
    out = runtime.run(bundle).stdout.split()
    assert out[:6] == ["0", "100000", "65536", "0", "100000", "65536"]
    assert out[6] == "0"
    assert out[7] == "65534"   # host root's file seen as the overflow uid


def test_sysctl_in_ipc_and_net_namespaces(runtime: RuntimeCLI, bundle: Bundle) -> None:
    bundle.linux["sysctl"] = {"kernel.msgmax": "4321", "net.ipv4.ip_forward": "1"}
    sh(bundle, "cat /proc/sys/kernel/msgmax /proc/sys/net/ipv4/ip_forward")
    assert runtime.run(bundle).stdout.split() == ["4321", "1"]
    assert Path("/proc/sys/kernel/msgmax").read_text().strip() != "4321"


def test_oom_score_adj_and_personality(runtime: RuntimeCLI, bundle: Bundle) -> None:
    bundle.process["oomScoreAdj"] = 500
    bundle.linux["personality"] = {"domain": "LINUX32"}
    sh(bundle, "cat /proc/self/oom_score_adj; uname -m")
    assert runtime.run(bundle).stdout.split() == ["500", "i686"]


def test_time_namespace_offsets(runtime: RuntimeCLI, bundle: Bundle) -> None:
    bundle.linux["namespaces"].append({"type": "time"})
    bundle.linux["timeOffsets"] = {"boottime": {"secs": 86400 * 365, "nanosecs": 0}}
    sh(bundle, "cut -d. -f1 /proc/uptime")
    inside = int(runtime.run(bundle).stdout)
    host = int(float(Path("/proc/uptime").read_text().split()[0]))
    assert inside - host >= 86400 * 365 - 5


def test_join_existing_network_namespace(runtime: RuntimeCLI, bundle: Bundle,
                                         tmp_path: Path, busybox_rootfs: Path) -> None:
    from tests.conftest import make_bundle
    sh(bundle, "sleep 30")
    runtime.detached("run", "-d", "--bundle", str(bundle.write()), "first")
    pid = runtime.state("first")["pid"]
    second = make_bundle(tmp_path / "second", busybox_rootfs, runtime)
    second.linux["namespaces"] = [
        {"type": "network", "path": f"/proc/{pid}/ns/net"} if n["type"] == "network" else n
        for n in second.linux["namespaces"]]
    sh(second, "readlink /proc/self/ns/net")
    assert runtime.run(second, cid="second").stdout.strip() == os.readlink(f"/proc/{pid}/ns/net")
    runtime("delete", "--force", "first")


def test_no_pivot(runtime: RuntimeCLI, bundle: Bundle) -> None:
    sh(bundle, "ls /bin/busybox && cat /proc/self/mountinfo | wc -l")
    proc = runtime("run", "--no-pivot", "--bundle", str(bundle.write()), "np")
    assert "/bin/busybox" in proc.stdout


def test_seccomp_errno_and_argument_conditions(runtime: RuntimeCLI, bundle: Bundle) -> None:
    bundle.linux["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 28},
            {"names": ["chmod"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 1, "value": 0o777, "op": "SCMP_CMP_EQ"}]},
            {"names": ["fchmodat", "fchmodat2"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 2, "value": 0o777, "op": "SCMP_CMP_EQ"}]},
        ],
    }
    bundle.config["mounts"].append({"destination": "/w", "type": "tmpfs", "source": "tmpfs"})
    bundle.process["noNewPrivileges"] = False
    sh(bundle, "mkdir /w/d 2>&1; touch /w/f; chmod 755 /w/f && echo 755-ok; "
               "chmod 777 /w/f 2>&1; grep Seccomp: /proc/self/status")
    out = runtime.run(bundle).stdout
    assert "No space left on device" in out
    assert "755-ok" in out
    assert "Operation not permitted" in out
    assert "Seccomp:\t2" in out


def test_seccomp_kill_process(runtime: RuntimeCLI, bundle: Bundle) -> None:
    bundle.linux["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                               "syscalls": [{"names": ["uname"],
                                             "action": "SCMP_ACT_KILL_PROCESS"}]}
    bundle.process["args"] = ["uname"]
    proc = runtime.run(bundle, check=False)
    assert proc.returncode == 128 + 31   # SIGSYS


def test_io_priority_and_scheduler(runtime: RuntimeCLI, bundle: Bundle) -> None:
    bundle.process["ioPriority"] = {"class": "IOPRIO_CLASS_IDLE", "priority": 0}
    bundle.process["scheduler"] = {"policy": "SCHED_BATCH", "nice": 5}
    sh(bundle, "cut -d' ' -f19,41 /proc/self/stat; ionice -p $$ 2>/dev/null || true")
    out = runtime.run(bundle).stdout.split()
    assert out[:2] == ["5", "3"]   # nice 5, policy SCHED_BATCH


def test_apparmor_and_selinux_ignored_when_absent(runtime: RuntimeCLI, bundle: Bundle) -> None:
    if os.path.exists("/sys/kernel/security/apparmor"):
        pytest.skip("AppArmor is active here: the profile would be applied")
    bundle.process["apparmorProfile"] = "docker-default"
    bundle.process["selinuxLabel"] = "system_u:system_r:container_t:s0"
    sh(bundle, "echo ran")
    assert runtime.run(bundle).stdout.strip() == "ran"


def test_preserve_fds(runtime: RuntimeCLI, bundle: Bundle, tmp_path: Path) -> None:
    secret = tmp_path / "passed"
    secret.write_text("passed through fd 3\n")
    leak = open(tmp_path / "leak", "w")  # noqa: SIM115 - fd 4 must leak without cloexec
    fd3 = os.open(secret, os.O_RDONLY)
    try:
        os.dup2(fd3, 3, inheritable=True)
        os.dup2(leak.fileno(), 4, inheritable=True)
        sh(bundle, "cat <&3; ls /proc/self/fd | sort -n | tr '\\n' ' '")
        proc = runtime("run", "--preserve-fds", "1", "--bundle", str(bundle.write()), "pf",
                       pass_fds=(3, 4))
    finally:
        os.close(fd3)
        leak.close()
    lines = proc.stdout.splitlines()
    assert lines[0] == "passed through fd 3"
    # ls itself opens one directory fd (the last number); fd 4 must not have leaked in
    fds = lines[1].split()
    assert fds[:4] == ["0", "1", "2", "3"]
    assert len(fds) == 5


def test_executable_not_found_and_not_executable(runtime: RuntimeCLI, bundle: Bundle) -> None:
    bundle.process["args"] = ["no-such-command"]
    proc = runtime.run(bundle, check=False)
    assert proc.returncode == 127
    assert "executable file not found in $PATH" in proc.stderr
    assert runtime.ids() == []
    bundle.process["args"] = ["/etc/passwd"]
    proc = runtime.run(bundle, check=False, cid="t2")
    assert proc.returncode == 126
    assert "permission denied" in proc.stderr


def test_annotations_in_state(runtime: RuntimeCLI, bundle: Bundle) -> None:
    bundle.config["annotations"] = {"org.example.key": "value"}
    sh(bundle, "sleep 30")
    runtime.detached("create", "--bundle", str(bundle.write()), "ann")
    assert runtime.state("ann")["annotations"] == {"org.example.key": "value"}
    runtime("delete", "--force", "ann")


def test_mount_types_proc_sysfs_cgroup(runtime: RuntimeCLI, bundle: Bundle) -> None:
    sh(bundle, "awk '{print $5, $9}' /proc/self/mountinfo")
    mounts = dict(line.split() for line in runtime.run(bundle).stdout.splitlines())
    assert mounts["/proc"] == "proc"
    assert mounts["/sys"] == "sysfs"
    assert mounts["/dev/pts"] == "devpts"
    assert mounts["/dev/mqueue"] == "mqueue"
    assert "/sys/fs/cgroup" in mounts


def test_seccomp_notify_listener(runtime: RuntimeCLI, bundle: Bundle, tmp_path: Path) -> None:
    """A seccomp agent at listenerPath receives the notify fd with the container's state and
    answers the container's mkdir with ENOANO (an errno nothing else would produce)."""
    import fcntl
    import socket
    import struct
    import threading
    seen: dict[str, object] = {}
    sock_path = str(tmp_path / "agent.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sock_path)
    server.listen(1)
    server.settimeout(30)

    def agent() -> None:
        conn, _ = server.accept()
        with conn:
            msg, fds, _, _ = socket.recv_fds(conn, 65536, 1)
        seen["state"] = json.loads(msg)
        notify = fds[0]
        seen["fd"] = os.readlink(f"/proc/self/fd/{notify}")
        req = bytearray(80)
        fcntl.ioctl(notify, 0xC0502100, req)          # SECCOMP_IOCTL_NOTIF_RECV
        notif_id, pid = struct.unpack_from("<QI", req)
        seen["syscall_pid"] = pid
        fcntl.ioctl(notify, 0xC0182101, struct.pack("<QqiI", notif_id, 0, -55, 0))  # NOTIF_SEND
        os.close(notify)

    thread = threading.Thread(target=agent, daemon=True)
    thread.start()
    bundle.linux["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": sock_path,
        "listenerMetadata": "agent-metadata",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}
    bundle.config["mounts"].append({"destination": "/w", "type": "tmpfs", "source": "tmpfs"})
    bundle.process["args"] = ["mkdir", "/w/d"]   # PID 1 itself makes the call
    proc = runtime.run(bundle, check=False)
    thread.join(10)
    server.close()
    assert proc.returncode == 1 and "No anode" in proc.stderr
    state = seen["state"]
    assert isinstance(state, dict)
    assert state["fds"] == ["seccompFd"] and state["metadata"] == "agent-metadata"
    assert state["state"]["id"] == "t" and state["pid"] == seen["syscall_pid"]
    assert "seccomp" in str(seen["fd"])


@pytest.fixture
def owned_dir() -> Iterator[Path]:
    """A host directory (walkable by any uid) with files owned by host uids 0 and 1000."""
    import shutil
    import tempfile
    top = Path(tempfile.mkdtemp(prefix="hull-idmap-"))
    top.chmod(0o755)
    (top / "root-file").write_text("r")
    (top / "user-file").write_text("u")
    os.chown(top / "user-file", 1000, 1000)
    yield top
    shutil.rmtree(top)


def test_idmapped_mount_with_the_container_user_namespace(
        runtime: RuntimeCLI, bundle: Bundle, public_rootfs: Path, owned_dir: Path) -> None:
    bundle.config["root"]["path"] = str(public_rootfs)
    for target in ("plain", "mapped"):   # the rootfs is host root's: make mount points
        (public_rootfs / target).mkdir()
    bundle.linux["namespaces"].append({"type": "user"})
    bundle.linux["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.linux["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.config["mounts"] += [
        {"destination": "/plain", "type": "bind", "source": str(owned_dir),
         "options": ["bind"]},
        {"destination": "/mapped", "type": "bind", "source": str(owned_dir),
         "options": ["bind", "idmap", "ro"]}]
    sh(bundle, "stat -c '%n %u' /plain/root-file /plain/user-file /mapped/root-file "
               "/mapped/user-file; touch /mapped/x 2>/dev/null || echo ro")
    out = runtime.run(bundle).stdout.splitlines()
    # without idmap the host's owners are outside the container's range: the overflow uid
    assert out[:2] == ["/plain/root-file 65534", "/plain/user-file 65534"]
    # idmapped through the container's own mapping, host root is the container's root
    assert out[2:4] == ["/mapped/root-file 0", "/mapped/user-file 1000"]
    assert out[4] == "ro"


def test_idmapped_mount_with_its_own_mappings(runtime: RuntimeCLI, bundle: Bundle,
                                              owned_dir: Path) -> None:
    bundle.config["mounts"].append(
        {"destination": "/mapped", "type": "bind", "source": str(owned_dir),
         "options": ["rbind"],
         "uidMappings": [{"containerID": 0, "hostID": 5000, "size": 2000}],
         "gidMappings": [{"containerID": 0, "hostID": 5000, "size": 2000}]})
    sh(bundle, "stat -c '%n %u' /mapped/root-file /mapped/user-file")
    out = runtime.run(bundle).stdout.splitlines()
    # on-disk uid k shows as 5000 + k through the mount's own mapping
    assert out == ["/mapped/root-file 5000", "/mapped/user-file 6000"]


def test_idmap_without_any_mapping_is_an_error(runtime: RuntimeCLI, bundle: Bundle,
                                               owned_dir: Path) -> None:
    bundle.config["mounts"].append({"destination": "/mapped", "type": "bind",
                                    "source": str(owned_dir), "options": ["bind", "idmap"]})
    proc = runtime.run(bundle, check=False)
    assert proc.returncode != 0 and "mounts[7]: an idmapped mount needs" in proc.stderr
    assert runtime.ids() == []


def test_rootfs_propagation(runtime: RuntimeCLI, bundle: Bundle) -> None:
    sh(bundle, "awk '$5 == \"/\"' /proc/self/mountinfo")
    default = runtime.run(bundle).stdout
    assert default and "shared:" not in default   # default: slave, nothing goes back
    bundle.linux["rootfsPropagation"] = "rshared"
    assert "shared:" in runtime.run(bundle, cid="t2").stdout


def test_no_new_keyring_keeps_the_callers_session_keyring(runtime: RuntimeCLI,
                                                          bundle: Bundle) -> None:
    sh(bundle, "cat /proc/self/stat > /dev/null; echo ok")
    assert runtime("run", "--no-new-keyring", "--bundle", str(bundle.write()), "k").stdout \
        .strip() == "ok"
