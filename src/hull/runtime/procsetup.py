"""The last steps before execve, shared by a container's init and by `exec`: rlimits,
scheduling, identity, capabilities, no_new_privs, seccomp, and the executable lookup.

The order is runc's and matters: seccomp is loaded while CAP_SYS_ADMIN is still held unless
no_new_privs is set (then it is loaded last, right before execve, so the runtime's own
code runs unfiltered); capabilities are dropped around the uid switch with KEEPCAPS.
"""

from __future__ import annotations

import os
import resource
import stat

from hull.errors import CannotInvoke, CommandNotFound, HullError, Unavailable
from hull.linux import capabilities as caps
from hull.linux import process as proc
from hull.runtime.spec import RLIMITS, Linux, Process

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import NoReturn

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def env_dict(env: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in env:
        key, sep, value = item.partition("=")
        if sep:
            out[key] = value
    return out


def find_executable(name: str, env: dict[str, str], cwd: str) -> str:
    """Resolve args[0] as execve would after PATH lookup, inside the current root.
    Raises CommandNotFound (127) or CannotInvoke (126) with runc's wording."""
    if "/" in name:
        candidates = [name if name.startswith("/") else os.path.join(cwd, name)]
    else:
        candidates = [os.path.join(d or ".", name)
                      for d in env.get("PATH", DEFAULT_PATH).split(":")]
    denied = None
    for path in candidates:
        try:
            st = os.stat(path)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode):
            denied = path
            continue
        if not st.st_mode & 0o111:
            denied = path
            continue
        return path
    if denied is not None:
        raise CannotInvoke(f"exec: {name!r}: permission denied")
    if "/" in name:
        raise CommandNotFound(f"exec: {name!r}: no such file or directory")
    raise CommandNotFound(f"exec: {name!r}: executable file not found in $PATH")


def apply_rlimits(process: Process) -> None:
    for rl in process.rlimits:
        try:
            resource.setrlimit(RLIMITS[rl.type], (_rlim(rl.soft), _rlim(rl.hard)))
        except (ValueError, OSError) as e:
            hard_now = resource.getrlimit(RLIMITS[rl.type])[1]
            raise Unavailable(
                f"process.rlimits: cannot set {rl.type} to soft={rl.soft} hard={rl.hard}: "
                f"{getattr(e, 'strerror', None) or e} (the current hard limit is "
                f"{'unlimited' if hard_now == resource.RLIM_INFINITY else hard_now}; raising "
                "it needs CAP_SYS_RESOURCE)") from None


def _rlim(value: int) -> int:
    return resource.RLIM_INFINITY if value < 0 or value >= 2**64 - 1 else value


def apply_scheduling(process: Process) -> None:
    if process.oom_score_adj is not None:
        try:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write(str(process.oom_score_adj))
        except PermissionError:
            raise Unavailable(f"process.oomScoreAdj: cannot set {process.oom_score_adj}: "
                              "lowering it needs CAP_SYS_RESOURCE") from None
    if process.io_priority is not None:
        klass, prio = process.io_priority
        proc.ioprio_set_self(proc.IOPRIO_CLASSES[klass], prio)
    if process.scheduler is not None:
        s = process.scheduler
        attr = proc.SchedAttr()
        attr.sched_policy = proc.SCHED_POLICIES[s["policy"]]
        attr.sched_flags = sum(proc.SCHED_FLAGS[f] for f in s.get("flags") or [])
        attr.sched_nice = int(s.get("nice", 0))
        attr.sched_priority = int(s.get("priority", 0))
        attr.sched_runtime = int(s.get("runtime", 0))
        attr.sched_deadline = int(s.get("deadline", 0))
        attr.sched_period = int(s.get("period", 0))
        proc.sched_setattr_self(attr)


def apply_lsm(process: Process) -> None:
    """AppArmor/SELinux: applied when the LSM is active; ignored when absent, as runc does."""
    if process.apparmor_profile and os.path.exists("/sys/kernel/security/apparmor"):
        with open("/proc/self/attr/apparmor/exec", "w") as f:
            f.write(f"exec {process.apparmor_profile}")
    if process.selinux_label and os.path.exists("/sys/fs/selinux/enforce"):
        with open("/proc/self/attr/exec", "w") as f:
            f.write(process.selinux_label)


def _load_seccomp(linux: Linux) -> int | None:
    if linux.seccomp is None:
        return None
    from hull.linux import seccomp
    return seccomp.load(linux.seccomp)


def finalize(process: Process, linux: Linux, preserve_fds: int,
             on_notify_fd: Callable[[int], None] | None = None) -> None:
    """Drop to the process's identity and privileges; everything before execve but execve.

    The order is runc's: seccomp is loaded while CAP_SYS_ADMIN is still held unless
    no_new_privs is set, in which case it is loaded last, so that as little of the
    runtime's own code as possible runs under the user's filter. A notify fd (a filter with
    SCMP_ACT_NOTIFY) goes to on_notify_fd, which passes it to the runtime for the listener.
    """
    proc.close_range_cloexec(3 + preserve_fds)
    if not any(item.startswith("HOME=") for item in process.env):
        process.env.append(f"HOME={home_of(process.user.uid)}")
    apply_lsm(process)
    notify_fd = None
    if not process.no_new_privileges:
        notify_fd = _load_seccomp(linux)
    c = process.capabilities
    if c is not None:
        caps.drop_bounding(caps.to_mask(c.get("bounding", [])))
        proc.prctl(proc.PR_SET_KEEPCAPS, 1)
    user = process.user
    os.setgroups(user.additional_gids)
    os.setresgid(user.gid, user.gid, user.gid)
    os.setresuid(user.uid, user.uid, user.uid)
    if c is not None:
        proc.prctl(proc.PR_SET_KEEPCAPS, 0)
        caps.capset(caps.to_mask(c.get("effective", [])), caps.to_mask(c.get("permitted", [])),
                    caps.to_mask(c.get("inheritable", [])))
        caps.set_ambient(caps.to_mask(c.get("ambient", [])))
    if user.umask is not None:
        os.umask(user.umask)
    os.chdir(process.cwd)
    _check_cwd_inside(process.cwd)
    if process.no_new_privileges:
        proc.prctl(proc.PR_SET_NO_NEW_PRIVS, 1)
        notify_fd = _load_seccomp(linux)
    if notify_fd is not None:
        if on_notify_fd is not None:
            on_notify_fd(notify_fd)
        os.close(notify_fd)


def home_of(uid: int) -> str:
    """HOME for a process whose env lacks it, as runc sets it: the user's home in the
    container's /etc/passwd, else "/". Read as plain text with a size cap; a FIFO or
    device put there by the image is not opened for reading."""
    try:
        fd = os.open("/etc/passwd", os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return "/"
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return "/"
        text = os.read(fd, 1 << 20).decode(errors="replace")
    finally:
        os.close(fd)
    for line in text.splitlines():
        entry = line.split(":")
        if len(entry) >= 6 and entry[2] == str(uid):
            return entry[5] or "/"
    return "/"


def _check_cwd_inside(cwd: str) -> None:
    """process.cwd must end up inside the container's root. A cwd such as
    /proc/self/fd/N through a descriptor still open at this point would leave the process
    in a host directory (CVE-2024-21626): the kernel's getcwd() then reports the path as
    unreachable from our root, which glibc (and so os.getcwd) turns into ENOENT."""
    try:
        where = os.getcwd()
    except FileNotFoundError:
        where = ""
    if not where.startswith("/"):
        raise HullError(f"process.cwd {cwd!r} is outside the container's root: refusing to "
                        "start (possible breakout through a leaked descriptor)")


def exec_now(process: Process, exe: str) -> NoReturn:
    try:
        os.execve(exe, process.args, env_dict(process.env))
    except OSError as e:
        raise CannotInvoke(f"exec {process.args[0]!r}: {e.strerror}") from None
