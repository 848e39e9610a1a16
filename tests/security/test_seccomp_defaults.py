"""Default confinement equal to Docker's: capabilities, the seccomp allowlist (hull's own,
seccomp_default.py), masked and read-only kernel files, /proc and /sys mount flags; and the
switches that change it (unconfined, --cap-add, --privileged, no-new-privileges, a
profile file). Each call the filter refuses is shown to reach the kernel without it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import HullCLI, one_problem
from tests.security.probing import probe

from hull.engine import seccomp_default

pytestmark = pytest.mark.root

DOCKER_CAPS = "00000000a80425fb"
# refused in a default container whatever the kernel says: the filter or a missing cap
MUST_REFUSE = ["keyctl", "add_key", "request_key", "bpf", "perf_event_open",
               "open_by_handle_at", "unshare(NEWUSER)", "unshare(NEWNS)", "setns", "mount",
               "umount2", "sethostname", "setdomainname", "pivot_root", "kexec_load",
               "init_module", "finit_module", "delete_module", "swapon", "swapoff",
               "userfaultfd", "io_uring_setup", "personality(READ_IMPLIES_EXEC)", "clone3",
               "clone(NEWNS)", "clone(NEWUSER)", "acct", "reboot", "settimeofday", "iopl",
               "ioperm", "syslog", "vhangup", "quotactl", "lookup_dcookie", "move_pages",
               "get_mempolicy", "kcmp", "fanotify_init", "open_tree", "fsopen"]
# allowed by Docker's default too: programs need them
MUST_REACH = ["getpid", "personality(query)", "ptrace", "chroot"]
# refused by the filter alone: without it the kernel lets an unprivileged root reach them
FILTER_ONLY = ["keyctl", "add_key", "request_key", "io_uring_setup", "clone3",
               "clone(NEWUSER)", "unshare(NEWUSER)", "personality(READ_IMPLIES_EXEC)",
               "move_pages", "get_mempolicy", "kcmp", "open_tree"]


def test_default_container(hull: HullCLI) -> None:
    r = probe(hull)
    st = r["status"]
    assert (st["CapEff"], st["CapPrm"], st["CapBnd"]) == (DOCKER_CAPS,) * 3
    assert (st["CapInh"], st["CapAmb"]) == ("0" * 16,) * 2
    assert st["Seccomp"] == "2" and st["NoNewPrivs"] == "0"
    refused = [n for n in MUST_REFUSE if r["syscalls"][n] != "refused"]
    assert not refused, refused
    assert all(r["syscalls"][n] == "reached" for n in MUST_REACH), r["syscalls"]
    assert r["clone3_errno"] == "ENOSYS"   # so libcs fall back to clone
    assert r["sockets"] == {"AF_ALG": "refused", "AF_VSOCK": "refused", "AF_INET": "reached"}
    assert set(r["masked"].values()) == {"hidden"}, r["masked"]
    assert "writable" not in r["writes"].values(), r["writes"]
    for target in ("/proc", "/sys"):
        assert {"nosuid", "nodev", "noexec"} <= set(r["mounts"][target]), r["mounts"]
    assert "ro" in r["mounts"]["/sys"]
    cgroup_mounts = {t: o for t, o in r["mounts"].items() if t.startswith("/sys/fs/cgroup")}
    assert cgroup_mounts and all("ro" in o for o in cgroup_mounts.values()), cgroup_mounts


def _own_session_keyring() -> int:
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return int(libc.syscall(ctypes.c_long(250), ctypes.c_long(0), ctypes.c_long(-3),
                            ctypes.c_long(0)))


def test_the_filter_is_what_refuses(hull: HullCLI) -> None:
    r = probe(hull, "--security-opt", "seccomp=unconfined")
    # each container has a session keyring of its own (keys are not namespaced)
    other = probe(hull, "--security-opt", "seccomp=unconfined")["session_keyring"]
    assert r["session_keyring"] > 0 and other > 0
    assert len({r["session_keyring"], other, _own_session_keyring()}) == 3
    assert r["status"]["Seccomp"] == "0"
    assert [n for n in FILTER_ONLY if r["syscalls"][n] != "reached"] == []
    assert r["clone3_errno"] != "ENOSYS"
    assert r["sockets"]["AF_VSOCK"] == "reached"


def test_cap_sys_admin_opens_its_group_only(hull: HullCLI) -> None:
    r = probe(hull, "--cap-add", "SYS_ADMIN")
    calls = r["syscalls"]
    assert [n for n in ("mount", "umount2", "setns", "unshare(NEWNS)", "clone(NEWNS)",
                        "sethostname", "open_tree", "fsopen") if calls[n] != "reached"] == []
    assert r["clone3_errno"] != "ENOSYS"
    # the groups of other capabilities and the always-refused calls stay shut
    assert [n for n in ("keyctl", "add_key", "io_uring_setup", "kexec_load", "init_module",
                        "iopl", "acct") if calls[n] != "refused"] == []


def test_privileged_and_no_new_privileges(hull: HullCLI) -> None:
    st = probe(hull, "--privileged")["status"]
    assert st["Seccomp"] == "0" and int(st["CapEff"], 16) > int(DOCKER_CAPS, 16)
    st = probe(hull, "--security-opt", "no-new-privileges")["status"]
    assert st["NoNewPrivs"] == "1" and st["Seccomp"] == "2"


def test_profile_file(hull: HullCLI, tmp_path: Path) -> None:
    """A profile in Docker's format (here hull's default minus mkdir) is kept with the
    container at create: the file can go away. Unknown names are warned about and
    skipped; a malformed profile or an unknown capability creates nothing."""
    profile = json.loads(hull("system", "seccomp-profile").stdout)
    names = profile["syscalls"][0]["names"]
    names.remove("mkdir")
    names.remove("mkdirat")
    names.append("no_such_call")
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(profile))
    made = hull("create", "--name", "custom", "--security-opt", f"seccomp={path}", "busybox",
                "sh", "-c", "mkdir /x; echo rc=$?")
    assert "no_such_call" in made.stderr and "mkdir" not in made.stderr
    path.unlink()
    assert "rc=1" in hull("start", "-a", "custom").stdout
    path.write_text("{")
    for bad in (["--security-opt", f"seccomp={path}"], ["--cap-add", "NO_SUCH_CAP"],
                ["--security-opt", f"seccomp={tmp_path}/missing.json"]):
        proc = hull("run", "--name", "bad", *bad, "busybox", "true", check=False)
        assert proc.returncode == 125 and one_problem(proc.stderr), proc
    assert hull("ps", "-aq", "--filter", "name=bad").stdout == ""


def test_profile_never_allows_the_refused_list() -> None:
    """Whatever capabilities a container has, the default profile allows none of the calls
    Docker's profile never allows, on either architecture hull writes it for."""
    from hull.engine import seccomp_profile
    everything = [f"CAP_{c}" for c in ("SYS_ADMIN", "SYS_MODULE", "SYS_BOOT", "SYS_PTRACE",
                                       "SYS_RAWIO", "SYS_TIME", "SYS_NICE", "SYSLOG", "BPF")]
    spec = seccomp_profile.to_oci(seccomp_default.profile(), everything)
    allowed = {n for rule in spec["syscalls"] if rule["action"] == "SCMP_ACT_ALLOW"
               for n in rule["names"]}
    refused = seccomp_default.ALWAYS_REFUSED_TEXT.split()
    assert not allowed & set(refused)
    arches = {m["architecture"]: m["subArchitectures"]
              for m in seccomp_default.profile()["archMap"]}
    assert set(arches) == {"SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"}


@pytest.mark.parametrize("machine,native,absent,present", [
    ("x86_64", ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
     ["cacheflush", "set_tls"], ["arch_prctl", "modify_ldt"]),
    ("aarch64", ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
     ["arch_prctl", "modify_ldt"], ["cacheflush", "set_tls"]),
])
def test_profile_for_each_architecture(monkeypatch: pytest.MonkeyPatch, machine: str,
                                       native: list[str], absent: list[str],
                                       present: list[str]) -> None:
    """The profile resolves for both architectures hull writes it for, and libseccomp
    compiles the result (it knows every architecture's table, not only this host's)."""
    import os

    from hull.engine import seccomp_profile
    from hull.linux import seccomp
    from hull.runtime.spec import parse_linux
    real = os.uname()
    fake = os.uname_result((real.sysname, real.nodename, real.release, real.version,
                            machine))
    monkeypatch.setattr(os, "uname", lambda: fake)
    spec = seccomp_profile.to_oci(seccomp_default.profile(), ["CAP_CHOWN"])
    monkeypatch.undo()
    assert spec["architectures"] == native
    names = {n for rule in spec["syscalls"] for n in rule["names"]}
    assert not names & set(absent) and set(present) <= names
    linux = parse_linux({"seccomp": spec})
    assert linux.seccomp is not None
    assert len(seccomp.compile_program(linux.seccomp)) > 8 * 100
