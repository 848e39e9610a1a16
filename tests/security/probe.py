"""What a process inside a container may do: run by the host's python3 inside a container
(the host's /usr mounted read-only), it prints one JSON object. Used for hull's own
checks and to compare a default hull container with a default Docker container.

Every syscall is tried in a forked child with arguments the kernel rejects after the
seccomp filter has passed them (null pointers, bad descriptors), so nothing is changed:
"refused" means the call stopped at EPERM/EACCES/ENOSYS (the filter or a capability check),
anything else means the kernel got to look at the arguments.
"""

import ctypes
import errno
import json
import os
import socket
import sys

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

CLONE_NEWNS, CLONE_NEWUSER, SIGCHLD = 0x00020000, 0x10000000, 17
READ_IMPLIES_EXEC = 0x0400000

# x86_64 numbers; (number, args)
CALLS = {
    "keyctl": (250, (0, -3, 0)),              # KEYCTL_GET_KEYRING_ID of the session
    "add_key": (248, (0, 0, 0, 0, 0)),
    "request_key": (249, (0, 0, 0, 0)),
    "bpf": (321, (0, 0, 0)),
    "perf_event_open": (298, (0, 0, -1, -1, 0)),
    "open_by_handle_at": (304, (-1, 0, 0)),
    "unshare(NEWUSER)": (272, (CLONE_NEWUSER,)),
    "unshare(NEWNS)": (272, (CLONE_NEWNS,)),
    "setns": (308, (-1, 0)),
    "mount": (165, (0, 0, 0, 0, 0)),
    "umount2": (166, (0, 0)),
    "sethostname": (170, (0, 0)),
    "setdomainname": (171, (0, 0)),
    "pivot_root": (155, (0, 0)),
    "kexec_load": (246, (0, 0, 0, 0)),
    "init_module": (175, (0, 0, 0)),
    "finit_module": (313, (-1, 0, 0)),
    "delete_module": (176, (0, 0)),
    "swapon": (167, (0, 0)),
    "swapoff": (168, (0,)),
    "userfaultfd": (323, (0,)),
    "io_uring_setup": (425, (0, 0)),
    "personality(READ_IMPLIES_EXEC)": (135, (READ_IMPLIES_EXEC,)),
    "personality(query)": (135, (0xFFFFFFFF,)),
    "clone3": (435, (0, 0)),
    "clone(NEWNS)": (56, (CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0)),
    "clone(NEWUSER)": (56, (CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)),
    "acct": (163, (0,)),
    "reboot": (169, (0, 0, 0, 0)),
    "settimeofday": (164, (0, 0)),
    "iopl": (172, (3,)),
    "ioperm": (173, (0, 1, 1)),
    "syslog": (103, (10, 0, 0)),
    "vhangup": (153, ()),
    "quotactl": (179, (0, 0, 0, 0)),
    "lookup_dcookie": (212, (0, 0, 0)),
    "move_pages": (279, (0, 0, 0, 0, 0, 0)),
    "get_mempolicy": (239, (0, 0, 0, 0, 0)),
    "kcmp": (312, (0, 0, -1, 0, 0)),
    "fanotify_init": (300, (0, 0)),
    "open_tree": (428, (-1, 0, 0)),
    "fsopen": (430, (0, 0)),
    "process_vm_readv": (310, (0, 0, 0, 0, 0, 0)),
    "ptrace": (101, (0x4206, 0, 0, 0)),        # PTRACE_SEIZE of pid 0: ESRCH if reached
    "chroot": (161, (0,)),
    "getpid": (39, ()),
}
REFUSED = {errno.EPERM, errno.EACCES, errno.ENOSYS}


def try_call(number, args):
    """Run the call in a child; its exit code carries errno (0: the call succeeded)."""
    pid = os.fork()
    if pid == 0:
        result = libc.syscall(ctypes.c_long(number), *[ctypes.c_long(a) for a in args])
        if result == 0 and number == 56:   # the clone child itself
            os._exit(0)
        os._exit(ctypes.get_errno() if result == -1 else 0)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def socket_family(family):
    try:
        socket.socket(family, socket.SOCK_SEQPACKET if family == 38 else socket.SOCK_STREAM,
                      0).close()
        return 0
    except OSError as e:
        return e.errno


def verdict(err):
    return "refused" if err in REFUSED else "reached"


def status_fields():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs",
                       "Seccomp"):
                out[key] = value.strip()
    return out


def mounts():
    """Options of /proc, /sys and the cgroup mounts, from mountinfo."""
    out = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            target = fields[4]
            if target in ("/proc", "/sys", "/dev") or target.startswith("/sys/fs/cgroup"):
                out[target] = sorted(set(fields[5].split(",")) - {"relatime"})
    return out


def masked(path):
    """'hidden' when nothing of the host's can be read there."""
    try:
        if os.path.isdir(path):
            return "hidden" if not os.listdir(path) else "visible"
        with open(path, "rb") as f:
            return "hidden" if not f.read(64) else "visible"
    except OSError as e:
        return "hidden" if e.errno in (errno.ENOENT, errno.EACCES, errno.EPERM) else \
            errno.errorcode.get(e.errno, str(e.errno))


def writable(path):
    try:
        with open(path, "w"):
            return "writable"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


MASKED = ["/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
          "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list",
          "/proc/timer_stats", "/sys/firmware", "/sys/devices/virtual/powercap"]
READ_ONLY = ["/proc/sys/kernel/core_pattern", "/proc/sysrq-trigger", "/proc/sys/vm/drop_caches",
             "/proc/irq/default_smp_affinity", "/sys/kernel/uevent_helper",
             "/sys/fs/cgroup/cgroup.procs"]


def session_keyring():
    """The serial of this process's session keyring (KEYCTL_GET_KEYRING_ID), or -errno."""
    serial = libc.syscall(ctypes.c_long(250), ctypes.c_long(0), ctypes.c_long(-3),
                          ctypes.c_long(0))
    return serial if serial >= 0 else -ctypes.get_errno()


def main():
    report = {
        "session_keyring": session_keyring(),
        "status": status_fields(),
        "syscalls": {name: verdict(try_call(n, a)) for name, (n, a) in CALLS.items()},
        "clone3_errno": errno.errorcode.get(try_call(435, (0, 0)), "?"),
        "sockets": {"AF_ALG": verdict(socket_family(38)),
                    "AF_VSOCK": verdict(socket_family(40)),
                    "AF_INET": verdict(socket_family(socket.AF_INET))},
        "mounts": mounts(),
        "masked": {p: masked(p) for p in MASKED},
        "writes": {p: writable(p) for p in READ_ONLY},
    }
    json.dump(report, sys.stdout)


main()
