"""A ctypes binding to libseccomp: build a filter from rules and load it.

libseccomp is the library made for this job (it knows every architecture's syscall table
and compiles argument conditions to BPF); hull only translates OCI names to its calls.

Compiling a Docker-sized allowlist for x86_64 with its 32-bit sub-architectures takes
libseccomp ~13 ms, plus ~9 ms to load it through ctypes — more than the rest of a
container's start. Every container of an engine uses the same few profiles, so `prepare`
keeps each compiled program in a cache and `load` hands a cached program to
the kernel with one seccomp(2) call, without libseccomp.
"""

from __future__ import annotations

import ctypes
from functools import cache

from hull.linux.libc import cstr
from hull.record import field, record

SCMP_ACT_KILL_PROCESS = 0x80000000
SCMP_ACT_KILL_THREAD = 0x00000000
SCMP_ACT_TRAP = 0x00030000
SCMP_ACT_NOTIFY = 0x7FC00000
SCMP_ACT_LOG = 0x7FFC0000
SCMP_ACT_ALLOW = 0x7FFF0000


def act_errno(errno: int) -> int:
    return 0x00050000 | (errno & 0xFFFF)


def act_trace(msg: int) -> int:
    return 0x7FF00000 | (msg & 0xFFFF)


# OCI compare op -> libseccomp enum scmp_compare
OPERATORS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
             "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}

# OCI architecture name -> libseccomp token name (seccomp_arch_resolve_name)
ARCHES = {
    "SCMP_ARCH_X86": "x86", "SCMP_ARCH_X86_64": "x86_64", "SCMP_ARCH_X32": "x32",
    "SCMP_ARCH_ARM": "arm", "SCMP_ARCH_AARCH64": "aarch64", "SCMP_ARCH_MIPS": "mips",
    "SCMP_ARCH_MIPS64": "mips64", "SCMP_ARCH_MIPS64N32": "mips64n32",
    "SCMP_ARCH_MIPSEL": "mipsel", "SCMP_ARCH_MIPSEL64": "mipsel64",
    "SCMP_ARCH_MIPSEL64N32": "mipsel64n32", "SCMP_ARCH_PPC": "ppc",
    "SCMP_ARCH_PPC64": "ppc64", "SCMP_ARCH_PPC64LE": "ppc64le", "SCMP_ARCH_S390": "s390",
    "SCMP_ARCH_S390X": "s390x", "SCMP_ARCH_PARISC": "parisc", "SCMP_ARCH_PARISC64": "parisc64",
    "SCMP_ARCH_RISCV64": "riscv64",
}

# OCI filter flag -> libseccomp filter attribute set to 1
_FLAG_ATTRS = {
    "SECCOMP_FILTER_FLAG_TSYNC": 4,        # SCMP_FLTATR_CTL_TSYNC
    "SECCOMP_FILTER_FLAG_LOG": 6,          # SCMP_FLTATR_CTL_LOG
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 7,   # SCMP_FLTATR_CTL_SSB
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": 10,  # SCMP_FLTATR_CTL_WAITKILL (2.6+)
}
_SCMP_FLTATR_API_TSKIP = 5
_SCMP_FLTATR_CTL_NNP = 3


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


class _Fprog(ctypes.Structure):   # struct sock_fprog
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]


@record
class Condition:
    index: int
    op: str
    value: int
    value_two: int = 0


@record
class Rule:
    names: list[str]
    action: int
    conditions: list[Condition] = field(default_factory=list)


@record
class Filter:
    default_action: int
    architectures: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    program: bytes = b""   # the compiled BPF, when `prepare` found or made it


@cache
def _lib() -> ctypes.CDLL:
    lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
    lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_syscall_resolve_name_arch.argtypes = [ctypes.c_uint32, ctypes.c_char_p]
    lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                           ctypes.c_uint, ctypes.POINTER(_ArgCmp)]
    lib.seccomp_notify_fd.argtypes = [ctypes.c_void_p]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    return lib


def available() -> bool:
    try:
        _lib()
    except OSError:
        return False
    return True


def syscall_number(name: str) -> int:
    """The native syscall number, or -1 (NR_SCMP_ERROR) when this arch has no such call."""
    return int(_lib().seccomp_syscall_resolve_name(cstr(name)))


def known_syscall(name: str, arches: list[str]) -> bool:
    """Whether any of these OCI architectures (the native one when none) has the call."""
    lib = _lib()
    tokens = [lib.seccomp_arch_resolve_name(cstr(ARCHES[a])) for a in arches if a in ARCHES]
    if not tokens:
        return syscall_number(name) != -1
    return any(lib.seccomp_syscall_resolve_name_arch(t, cstr(name)) != -1 for t in tokens)


def _rc(value: int, what: str) -> None:
    if value < 0:
        import os
        raise OSError(-value, f"seccomp {what}: {os.strerror(-value)}")


# seccomp(2) SECCOMP_SET_MODE_FILTER flags for the OCI flags, and the listener flag
_KERNEL_FLAGS = {"SECCOMP_FILTER_FLAG_TSYNC": 1, "SECCOMP_FILTER_FLAG_LOG": 2,
                 "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4,
                 "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": 32}
_NEW_LISTENER = 8
_SET_MODE_FILTER = 1


def _uses_notify(spec: Filter) -> bool:
    return any(r.action == SCMP_ACT_NOTIFY for r in spec.rules) and \
        spec.default_action != SCMP_ACT_NOTIFY


def prepare(spec: Filter, cache_dir: str) -> None:
    """Fill spec.program from the cache in cache_dir, compiling (and caching) it on a miss.
    The key covers the whole filter and the kernel release; the cache lives under the
    runtime's state root (a tmpfs: emptied at boot, when libseccomp may have changed)."""
    import hashlib
    import os
    key = hashlib.sha256(f"{spec!r} {os.uname().release}".encode()).hexdigest()
    path = os.path.join(cache_dir, key + ".bpf")
    try:
        with open(path, "rb") as f:
            program = f.read()
        if program and len(program) % 8 == 0:   # whole struct sock_filter entries
            spec.program = program
            return
    except FileNotFoundError:
        pass
    spec.program = compile_program(spec)
    os.makedirs(cache_dir, mode=0o700, exist_ok=True)
    scratch = f"{path}.{os.getpid()}"
    with open(scratch, "wb") as f:
        f.write(spec.program)
    os.rename(scratch, path)


def compile_program(spec: Filter) -> bytes:
    """The filter as the kernel's BPF (struct sock_filter[]), through libseccomp."""
    import os
    lib = _lib()
    ctx = _build(spec)
    try:
        fd = os.memfd_create("seccomp-bpf", os.MFD_CLOEXEC)
        try:
            _rc(lib.seccomp_export_bpf(ctx, fd), "export")
            size = os.lseek(fd, 0, os.SEEK_END)
            return os.pread(fd, size, 0)
        finally:
            os.close(fd)
    finally:
        lib.seccomp_release(ctx)


def _install(spec: Filter) -> int | None:
    """seccomp(SECCOMP_SET_MODE_FILTER) with the compiled program."""
    from hull.linux.libc import syscall
    flags = sum(_KERNEL_FLAGS[f] for f in spec.flags if f in _KERNEL_FLAGS)
    notify = _uses_notify(spec)
    if notify:
        flags |= _NEW_LISTENER
    prog = _Fprog(len(spec.program) // 8, spec.program)
    result = syscall("seccomp", ctypes.c_uint(_SET_MODE_FILTER), ctypes.c_uint(flags),
                     ctypes.byref(prog))
    return result if notify else None


def load(spec: Filter) -> int | None:
    """Load the filter into this process (the prepared program if there is one, else
    compiled now); returns the notify fd if any rule uses SCMP_ACT_NOTIFY, else None."""
    if spec.program:
        return _install(spec)
    lib = _lib()
    ctx = _build(spec)
    try:
        _rc(lib.seccomp_load(ctx), "load")
        if _uses_notify(spec):
            fd = lib.seccomp_notify_fd(ctx)
            _rc(fd, "notify fd")
            return int(fd)
        return None
    finally:
        lib.seccomp_release(ctx)


def _build(spec: Filter) -> int:
    """A libseccomp context holding the filter; the caller releases it."""
    lib = _lib()
    ctx = lib.seccomp_init(spec.default_action)
    if not ctx:
        raise OSError("seccomp_init failed (invalid default action?)")
    try:
        _rc(lib.seccomp_attr_set(ctx, _SCMP_FLTATR_API_TSKIP, 1), "attr tskip")
        # libseccomp sets no_new_privs itself before loading unless told not to; that is
        # the spec's process.noNewPrivileges to decide (the runtime loads the filter while
        # it still holds CAP_SYS_ADMIN when it is off, as runc does).
        _rc(lib.seccomp_attr_set(ctx, _SCMP_FLTATR_CTL_NNP, 0), "attr nnp")
        for arch in spec.architectures:
            token = lib.seccomp_arch_resolve_name(cstr(ARCHES[arch]))
            rc = lib.seccomp_arch_add(ctx, token)
            if rc not in (0, -17):   # -EEXIST: the native arch is already in
                _rc(rc, f"arch {arch}")
        for flag in spec.flags:
            _rc(lib.seccomp_attr_set(ctx, _FLAG_ATTRS[flag], 1), f"flag {flag}")
        for rule in spec.rules:
            if rule.action == spec.default_action:
                continue   # libseccomp refuses rules equal to the default action
            conds = (_ArgCmp * max(1, len(rule.conditions)))()
            for i, cond in enumerate(rule.conditions):
                conds[i] = _ArgCmp(cond.index, OPERATORS[cond.op], cond.value, cond.value_two)
            for name in rule.names:
                number = syscall_number(name)
                if number == -1:
                    continue   # unknown on this architecture: skipped, as runc does
                _rc(lib.seccomp_rule_add_array(ctx, rule.action, number,
                                               len(rule.conditions), conds), f"rule {name}")
    except BaseException:
        lib.seccomp_release(ctx)
        raise
    return int(ctx)
