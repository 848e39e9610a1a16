"""hull's default seccomp profile: an allowlist equal to Docker's default.

Capabilities already stop most dangerous calls, but the kernel's capability checks are
spread over hundreds of code paths and several (keyctl, userfaultfd, io_uring, unprivileged
user namespaces, AF_ALG sockets) need no capability at all and have been the entry point of
real container escapes. An allowlist shrinks that surface to the calls ordinary programs
make; everything else fails with EPERM, as Docker's default does, so software that probes
for a feature falls back instead of crashing.

The profile is written in Docker's JSON format (the one `--security-opt seccomp=FILE`
accepts), so `seccomp_profile.to_oci` resolves its capability- and architecture-dependent
rules exactly as it does for a user's file, and `hull system seccomp-profile` can print it
as the starting point of a custom one.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# ---- allowed for every container, grouped by what they are for -------------------------

_FILES = """
    access chdir chmod chown chown32 creat faccessat faccessat2 fchdir fchmod fchmodat
    fchmodat2 fchown fchown32 fchownat fstat fstat64 fstatat64 fstatfs fstatfs64
    futimesat getcwd getdents getdents64 lchown lchown32 link linkat lstat lstat64 mkdir
    mkdirat mknod mknodat newfstatat open openat openat2 readlink readlinkat rename renameat
    renameat2 rmdir stat stat64 statfs statfs64 statx symlink symlinkat truncate truncate64
    umask unlink unlinkat utime utimensat utimensat_time64 utimes name_to_handle_at
    listmount statmount
"""
_XATTRS = """
    fgetxattr flistxattr fremovexattr fsetxattr getxattr getxattrat lgetxattr listxattr
    listxattrat llistxattr lremovexattr lsetxattr removexattr removexattrat setxattr
    setxattrat
"""
_FD_IO = """
    cachestat close close_range copy_file_range dup dup2 dup3 fadvise64 fadvise64_64
    fallocate fcntl fcntl64 fdatasync flock fsync ftruncate ftruncate64 ioctl _llseek lseek
    pipe pipe2 pread64 preadv preadv2 pwrite64 pwritev pwritev2 read readahead readv
    sendfile sendfile64 splice sync sync_file_range syncfs tee vmsplice write writev
    io_cancel io_destroy io_getevents io_pgetevents io_pgetevents_time64 io_setup io_submit
    ioprio_get ioprio_set
"""
_WAITING = """
    epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait
    epoll_wait_old eventfd eventfd2 inotify_add_watch inotify_init inotify_init1
    inotify_rm_watch fanotify_mark _newselect poll ppoll ppoll_time64 pselect6
    pselect6_time64 select futex futex_requeue futex_time64 futex_wait futex_waitv futex_wake
    get_robust_list set_robust_list membarrier rseq
"""
_MEMORY = """
    brk madvise map_shadow_stack memfd_create memfd_secret mincore mlock mlock2 mlockall mmap
    mmap2 mprotect mremap mseal msync munlock munlockall munmap pkey_alloc pkey_free
    pkey_mprotect remap_file_pages
"""
_PROCESSES = """
    execve execveat exit exit_group fork vfork wait4 waitid waitpid kill tgkill tkill
    pidfd_open pidfd_send_signal process_mrelease getpid getppid gettid getpgid getpgrp
    getsid setpgid setsid prctl get_thread_area set_thread_area
    set_tid_address capget capset seccomp landlock_add_rule landlock_create_ruleset
    landlock_restrict_self getrlimit setrlimit prlimit64 ugetrlimit getrusage times
    uretprobe riscv_hwprobe restart_syscall uname sysinfo getrandom getcpu
"""
_SIGNALS = """
    alarm pause rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn
    rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sigaltstack
    signalfd signalfd4 sigprocmask sigreturn
"""
_TIME = """
    adjtimex clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime
    clock_gettime64 clock_nanosleep clock_nanosleep_time64 gettimeofday nanosleep time
    getitimer setitimer timer_create timer_delete timer_getoverrun timer_gettime
    timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime
    timerfd_gettime64 timerfd_settime timerfd_settime64
"""
_IDENTITY = """
    getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getresgid
    getresgid32 getresuid getresuid32 getuid getuid32 setfsgid setfsgid32 setfsuid
    setfsuid32 setgid setgid32 setgroups setgroups32 setregid setregid32 setresgid
    setresgid32 setresuid setresuid32 setreuid setreuid32 setuid setuid32
"""
_SCHEDULING = """
    getpriority setpriority sched_get_priority_max sched_get_priority_min sched_getaffinity
    sched_getattr sched_getparam sched_getscheduler sched_rr_get_interval
    sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam
    sched_setscheduler sched_yield
"""
_IPC = """
    ipc msgctl msgget msgrcv msgsnd semctl semget semop semtimedop semtimedop_time64 shmat
    shmctl shmdt shmget mq_getsetattr mq_notify mq_open mq_timedreceive
    mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink
"""
_SOCKETS = """
    accept accept4 bind connect getpeername getsockname getsockopt listen recv recvfrom
    recvmmsg recvmmsg_time64 recvmsg send sendmmsg sendmsg sendto setsockopt shutdown
    socketcall socketpair
"""

# ---- allowed only with a capability (Docker's cap-gated groups) ------------------------

_WITH_CAPABILITY = {
    # mount, namespaces, hostname, BPF, perf, fanotify, quota: the kernel checks
    # CAP_SYS_ADMIN, but in the init user namespace these are also the paths of most
    # escapes, so without the capability they are refused before the kernel looks.
    "CAP_SYS_ADMIN": """
        bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie
        lsm_get_self_attr lsm_list_modules lsm_set_self_attr mount mount_setattr move_mount
        open_tree perf_event_open quotactl quotactl_fd setdomainname sethostname setns
        syslog umount umount2 unshare""",
    "CAP_DAC_READ_SEARCH": "open_by_handle_at",
    "CAP_SYS_BOOT": "reboot",
    "CAP_SYS_CHROOT": "chroot",
    "CAP_SYS_MODULE": "delete_module init_module finit_module",
    "CAP_SYS_PACCT": "acct",
    "CAP_SYS_PTRACE": "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev "
                      "ptrace",
    "CAP_SYS_RAWIO": "iopl ioperm",
    "CAP_SYS_TIME": "settimeofday stime clock_settime clock_settime64",
    "CAP_SYS_TTY_CONFIG": "vhangup",
    "CAP_SYS_NICE": "get_mempolicy mbind set_mempolicy set_mempolicy_home_node",
    "CAP_SYSLOG": "syslog",
    "CAP_BPF": "bpf",
    "CAP_PERFMON": "perf_event_open",
}

# ---- architecture-only calls (Go's architecture names, as Docker's format uses) --------

_ARCH_ONLY = {
    ("amd64", "x32"): "arch_prctl",
    ("amd64", "x32", "x86"): "modify_ldt",
    ("arm", "arm64"): "arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint "
                      "cacheflush set_tls",
}

# ---- never allowed by the default, whatever the capabilities ---------------------------
# Not rules (the default action refuses them); listed so tests can prove they stay out,
# and so a reader sees what the allowlist is keeping away from containers.
ALWAYS_REFUSED_TEXT = """
    add_key keyctl request_key kexec_file_load kexec_load create_module get_kernel_syms
    query_module nfsservctl pivot_root swapon swapoff userfaultfd io_uring_setup
    io_uring_enter io_uring_register uselib ustat sysfs _sysctl afs_syscall vm86 vm86old
    move_pages
"""

# socket(2) families: every one except AF_ALG (38, the kernel crypto API, a long series of
# local privilege escalations) and AF_VSOCK (40, talks to the hypervisor).
AF_ALG, AF_VSOCK = 38, 40

# clone(2) flags that create namespaces; without CAP_SYS_ADMIN clone may not set any of them
# (clone3 hides its flags in memory seccomp cannot read, so it gets ENOSYS and libcs fall
# back to clone).
CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS = 0x00020000, 0x02000000, 0x04000000
CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID = 0x08000000, 0x10000000, 0x20000000
CLONE_NEWNET = 0x40000000
NAMESPACE_FLAGS = (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC
                   | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET)

# personality(2) values programs actually use: PER_LINUX, PER_LINUX32, UNAME26,
# PER_LINUX32|UNAME26, and the 0xffffffff query. Other personalities (READ_IMPLIES_EXEC,
# ADDR_NO_RANDOMIZE…) weaken the process's own protections and are refused.
_PERSONALITIES = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)

ENOSYS = 38


def _names(text: str) -> list[str]:
    return text.split()


def _arg(index: int, op: str, value: int, value_two: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {"index": index, "value": value, "op": op}
    if value_two:
        out["valueTwo"] = value_two
    return out


def _allow(names: str | list[str], **extra: Any) -> dict[str, Any]:
    listed = _names(names) if isinstance(names, str) else names
    return {"names": listed, "action": "SCMP_ACT_ALLOW", **extra}


def all_names() -> set[str]:
    """Every syscall this module names, allowed or refused: the calls hull knows are real."""
    return {n for rule in profile()["syscalls"] for n in rule["names"]} | \
        set(_names(ALWAYS_REFUSED_TEXT))


def profile() -> dict[str, Any]:
    """The default profile in Docker's JSON format."""
    everyone = (_FILES + _XATTRS + _FD_IO + _WAITING + _MEMORY + _PROCESSES + _SIGNALS + _TIME
                + _IDENTITY + _SCHEDULING + _IPC + _SOCKETS)
    rules: list[dict[str, Any]] = [_allow(everyone)]
    # ptrace is safe for everyone on kernels >= 4.8, where seccomp filters can no longer
    # be bypassed by a tracer rewriting syscalls. (Docker >= 23 also allows
    # process_vm_readv/writev there; hull keeps them behind CAP_SYS_PTRACE as Docker 20.10,
    # Debian 12's, does: a default hull container is never looser than either.)
    rules.append(_allow("ptrace", includes={"minKernel": "4.8"}))
    rules += [_allow(["socket"], args=[_arg(0, "SCMP_CMP_LT", AF_ALG)]),
              _allow(["socket"], args=[_arg(0, "SCMP_CMP_EQ", AF_ALG + 1)]),
              _allow(["socket"], args=[_arg(0, "SCMP_CMP_GT", AF_VSOCK)])]
    rules += [_allow(["personality"], args=[_arg(0, "SCMP_CMP_EQ", p)])
              for p in _PERSONALITIES]
    rules += [_allow(names, includes={"arches": list(arches)})
              for arches, names in _ARCH_ONLY.items()]
    rules += [_allow(names, includes={"caps": [cap]})
              for cap, names in _WITH_CAPABILITY.items()]
    rules.append(_allow(["clone"], args=[_arg(0, "SCMP_CMP_MASKED_EQ", NAMESPACE_FLAGS, 0)],
                        excludes={"caps": ["CAP_SYS_ADMIN"]}))
    rules.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS,
                  "excludes": {"caps": ["CAP_SYS_ADMIN"]}})
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,   # EPERM
        "archMap": [
            {"architecture": "SCMP_ARCH_X86_64",
             "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
        ],
        "syscalls": rules,
    }
