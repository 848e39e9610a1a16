"""v2 device access control: cgroup v2 has no devices.allow file; the rules become a small
eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE) attached to the container's cgroup, as runc and
crun do. Semantics follow v1's list: the last rule that matches a request decides, and a
request no rule matches is denied.
"""

from __future__ import annotations

import ctypes
import os
import struct

from hull.cgroups.resources import DeviceRule
from hull.errors import Unavailable
from hull.linux.libc import syscall

BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 2
_DEV_TYPE = {"b": 1, "c": 2}
_ACCESS = {"m": 1, "r": 2, "w": 4}

# registers: r1 ctx; r2 device type; r3 requested access; r4 major; r5 minor
_PRELUDE = [(0x61, 2, 1, 0, 0), (0x54, 2, 0, 0, 0xFFFF), (0x61, 3, 1, 0, 0),
            (0x74, 3, 0, 0, 16), (0x61, 4, 1, 4, 0), (0x61, 5, 1, 8, 0)]


def _insn(code: int, dst: int, src: int, off: int, imm: int) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, ctypes.c_int32(imm).value)


def program(rules: list[DeviceRule]) -> bytes:
    """The filter's bytecode: rules checked from last to first, first match returns."""
    insns = list(_PRELUDE)
    for rule in reversed(rules):
        access = sum(_ACCESS[c] for c in rule.access)
        checks: list[tuple[int, int, int]] = []   # (opcode, register, imm) jumping to "next"
        if rule.type != "a":
            checks.append((0x55, 2, _DEV_TYPE[rule.type]))
        if rule.major is not None and rule.major >= 0:
            checks.append((0x55, 4, rule.major))
        if rule.minor is not None and rule.minor >= 0:
            checks.append((0x55, 5, rule.minor))
        block: list[tuple[int, int, int, int, int]] = []
        size = len(checks) + 3 + 2   # checks, access test (3), verdict (2)
        for i, (op, reg, imm) in enumerate(checks):
            block.append((op, reg, 0, size - i - 1, imm))
        # allow: every requested bit must be in the rule; deny: any requested bit is
        block.append((0xBF, 1, 3, 0, 0))                     # r1 = r3
        if rule.allow:
            block.append((0x54, 1, 0, 0, ~access & 0xFFFF))  # r1 &= ~access
            block.append((0x55, 1, 0, 2, 0))                 # if r1 != 0 goto next
        else:
            block.append((0x54, 1, 0, 0, access))            # r1 &= access
            block.append((0x15, 1, 0, 2, 0))                 # if r1 == 0 goto next
        block.append((0xB7, 0, 0, 0, 1 if rule.allow else 0))   # r0 = verdict
        block.append((0x95, 0, 0, 0, 0))                     # exit
        insns += block
    insns += [(0xB7, 0, 0, 0, 0), (0x95, 0, 0, 0, 0)]        # no rule matched: deny
    return b"".join(_insn(*i) for i in insns)


def apply(cgroup: str, rules: list[DeviceRule]) -> None:
    code = program(rules)
    license_ = ctypes.create_string_buffer(b"Apache")
    insns = ctypes.create_string_buffer(code, len(code))
    log = ctypes.create_string_buffer(65536)
    attr = ctypes.create_string_buffer(128)
    struct.pack_into("<IIQQIIQ", attr, 0, BPF_PROG_TYPE_CGROUP_DEVICE, len(code) // 8,
                     ctypes.addressof(insns), ctypes.addressof(license_), 1, len(log),
                     ctypes.addressof(log))
    try:
        prog = syscall("bpf", ctypes.c_int(BPF_PROG_LOAD), attr, ctypes.c_uint(128))
    except OSError as e:
        detail = log.value.decode(errors="replace").strip().splitlines()
        raise Unavailable(f"linux.resources.devices: cannot load the eBPF device filter: "
                          f"{e.strerror}" + (f" ({detail[-1]})" if detail else "")) from None
    dirfd = os.open(cgroup, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        attach = ctypes.create_string_buffer(128)
        struct.pack_into("<IIII", attach, 0, dirfd, prog, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)
        try:
            syscall("bpf", ctypes.c_int(BPF_PROG_ATTACH), attach, ctypes.c_uint(128))
        except OSError as e:
            raise Unavailable(f"linux.resources.devices: cannot attach the eBPF device "
                              f"filter to {cgroup}: {e.strerror}") from None
    finally:
        os.close(dirfd)
        os.close(prog)   # the attachment holds the program now
