"""The container side of `create`: what runs in the forked children until execve.

Message sequence on the sync socket (parent = the runtime process):

    parent                         stage-1 (forked child)           stage-2 (container PID 1)
    fork ──────────────────────────►
    add stage-1 to the cgroup      setns(joined namespaces, user first)
      (meanwhile →)                unshare(CLONE_NEWUSER)?
         ◄────────────────── "userns"
    write uid_map / gid_map
    "mapped" ──────────────────────►
                                   unshare(the other new namespaces but cgroup)
    idmapped mounts? "mount-fd" ───►
    "go" ──────────────────────────►
                                   unshare(CLONE_NEWCGROUP)
                                   fork ─────────────────────────────►
         ◄────────────────── "pid" {pid}
                                   exit
                                                                    mounts, devices (pre-pivot)
         ◄─────────────────────────────────────────────── "create-runtime"
    prestart + createRuntime hooks
    "continue" ──────────────────────────────────────────────────────►
                                                                    createContainer hooks,
                                                                    pivot_root, hostname,
                                                                    sysctl, masks, pty,
                                                                    identity, caps, seccomp
         ◄───────────────────────────────────────────────── "seccomp-fd"? (to the listener)
         ◄────────────────────────────────────────────────────── "ready" (after exec lookup)
    pid file, state "created", exit
                                                                    open(exec.fifo, O_WRONLY)
                                                                    …blocks until `start`…
                                                                    startContainer hooks,
                                                                    execve
"""

from __future__ import annotations

import _socket
import os
import sys

from hull.errors import CannotInvoke, CommandNotFound, HullError
from hull.linux import namespaces as ns
from hull.linux import process as proc
from hull.record import field, record
from hull.runtime.spec import Spec
from hull.runtime.sync import Channel
from hull.trace import mark

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from typing import Any, NoReturn

    from hull.linux.seccomp import Filter


@record
class InitContext:
    spec: Spec
    channel: Channel
    fifo_fd: int   # O_PATH from the runtime: a userns root may not reach the path
    console: socket.socket | None
    stdio: tuple[int, int, int] | None   # the process's 0, 1, 2; None: the runtime's own
    preserve_fds: int
    no_pivot: bool
    no_new_keyring: bool
    cgroup_dirs: dict[str, str]
    hook_state: dict[str, Any]
    mount_fds: dict[int, int] = field(default_factory=dict)   # idmapped, by mount index


def _kind(e: BaseException) -> str:
    if isinstance(e, CommandNotFound):
        return "not-found"
    if isinstance(e, CannotInvoke):
        return "cannot-invoke"
    return "error"


def _message(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        return e.strerror + (f": {e.filename}" if e.filename else "")
    return str(e) or type(e).__name__


def stage1(ctx: InitContext) -> NoReturn:
    ch = ctx.channel
    try:
        proc.prctl(proc.PR_SET_DUMPABLE, 0)
        proc.use_stdio(ctx.stdio)
        linux = ctx.spec.linux
        joined = sorted((n for n in linux.namespaces if n.path), key=lambda n: n.type != "user")
        fds = [(os.open(n.path, os.O_RDONLY | os.O_CLOEXEC), n) for n in joined]
        for fd, n in fds:
            try:
                ns.setns(fd, ns.NAMESPACES[n.type][0])
            except OSError as e:
                raise HullError(f"linux.namespaces: cannot join {n.type} namespace {n.path}: "
                                f"{e.strerror}") from None
            os.close(fd)
        new = [n.type for n in linux.namespaces if not n.path]
        if "user" in new:
            ns.unshare(ns.CLONE_NEWUSER)
            ch.send("userns")
            ch.recv("mapped")
            os.setresgid(0, 0, 0)
            os.setresuid(0, 0, 0)
        # Everything but the cgroup namespace is made while the runtime is still moving us
        # into the cgroup (a v1 migration waits for an RCU grace period, ~15 ms): the two
        # overlap. The cgroup namespace must wait, its root is the cgroup we are in.
        flags = 0
        for kind in new:
            if kind not in ("user", "cgroup"):
                flags |= ns.NAMESPACES[kind][0]
        if flags:
            ns.unshare(flags)
        mark("stage1: namespaces")
        from hull.runtime import hooks, procsetup, rootfs  # noqa: F401 - loaded for stage 2
        while True:   # idmapped mounts, made by the runtime, may come before "go"
            msg = ch.recv()
            if msg["type"] == "go":
                mark("stage1: go")
                break
            if msg["type"] == "mount-fd":
                ctx.mount_fds[int(msg["index"])] = msg["fds"][0]
        if "cgroup" in new:
            ns.unshare(ns.CLONE_NEWCGROUP)
        if linux.time_offsets:
            with open("/proc/self/timens_offsets", "w") as f:
                for clock, (secs, nsecs) in linux.time_offsets.items():
                    f.write(f"{clock} {secs} {nsecs}\n")
        pid = os.fork()
        if pid == 0:
            stage2(ctx)
        ch.send("pid", pid=pid)
        os._exit(0)
    except BaseException as e:
        ch.send_error(_message(e), _kind(e))
    finally:
        os._exit(1)   # a forked child never returns into the runtime's stack


def stage2(ctx: InitContext) -> NoReturn:
    from hull.runtime import hooks, procsetup, rootfs
    spec, ch = ctx.spec, ctx.channel
    assert spec.process is not None
    process = spec.process
    try:
        os.setsid()
        if not ctx.no_new_keyring:
            try:
                proc.join_new_session_keyring(None)
            except OSError:
                pass   # keyrings disabled or blocked by seccomp on the host: not fatal
        fifo_fd = ctx.fifo_fd
        new_mnt = any(n.type == "mount" and not n.path for n in spec.linux.namespaces)
        in_userns = spec.linux.namespace("user") is not None
        new_cgroupns = any(n.type == "cgroup" and not n.path for n in spec.linux.namespaces)
        if new_mnt:
            rootfs.prepare(spec, in_userns, ctx.cgroup_dirs, new_cgroupns, ctx.mount_fds)
        mark("stage2: mounts")
        ch.send("create-runtime")
        ch.recv("continue")
        if spec.hooks.get("createContainer"):
            hooks.run_in_process("createContainer", spec.hooks["createContainer"],
                                 ctx.hook_state)
        preload(spec.linux.seccomp, process.terminal)
        if new_mnt:
            rootfs.pivot(str(spec.root_path), ctx.no_pivot)
            rootfs.apply_root_propagation(spec)
        else:
            os.chroot(str(spec.root_path))
            os.chdir("/")
        seal_imports()
        if spec.hostname:
            _socket.sethostname(spec.hostname)
        if spec.domainname:
            proc.setdomainname(spec.domainname)
        if spec.linux.sysctl:
            _sysctl(spec.linux.sysctl)
        if new_mnt:
            rootfs.finish(spec)   # read-only /proc/sys etc. only after sysctl wrote there
        mark("stage2: pivoted, masked")
        if spec.linux.personality is not None:
            proc.personality(spec.linux.personality)
        procsetup.apply_rlimits(process)
        procsetup.apply_scheduling(process)
        if process.terminal:
            from hull.runtime.console import setup_pty  # preloaded: no file is read
            if ctx.console is None:
                raise HullError("process.terminal is true but no --console-socket was given")
            setup_pty(ctx.console, process.console_size)
        procsetup.finalize(process, spec.linux, ctx.preserve_fds,
                           lambda fd: ch.send_fd("seccomp-fd", fd))
        # looked up as the process's own user, and before `create` returns, so a missing
        # command is a create-time error (as in runc)
        exe = procsetup.find_executable(process.args[0], procsetup.env_dict(process.env),
                                        process.cwd)
        ch.send("ready")
        ch.close()
        mark("stage2: ready")
    except BaseException as e:
        try:
            ch.send_error(_message(e), _kind(e))
        finally:
            os._exit(1)
    try:
        # the rendezvous with `start`: this open blocks until start opens the FIFO to read.
        # The write end stays open (close-on-exec): `start` reads until end-of-file, which
        # comes at execve, so poststart hooks run after the process has really started.
        wfd = os.open(f"/proc/self/fd/{fifo_fd}", os.O_WRONLY | os.O_CLOEXEC)
        os.write(wfd, b"0")
        if spec.hooks.get("startContainer"):
            hooks.run_in_process("startContainer", spec.hooks["startContainer"],
                                 {**ctx.hook_state, "status": "running"})
        procsetup.exec_now(process, exe)
    except BaseException as e:
        try:
            print(f"hull-runtime: container init: {_message(e)}", file=sys.stderr)
        finally:
            os._exit(127 if isinstance(e, CommandNotFound) else
                     126 if isinstance(e, CannotInvoke) else 1)


def preload(seccomp: Filter | None, terminal: bool) -> None:
    """Import and dlopen now, while "/" is still the host's, everything needed after the
    switch to the container's root: a lazy import or dlopen later would read the file from
    the container's filesystem and run it with the runtime's privileges."""
    import hull.errors
    import hull.linux.fs
    import hull.runtime.procsetup
    if seccomp is not None:
        from hull.linux import seccomp as sc
        if not seccomp.program:   # compiled here after all: libseccomp is needed
            sc._lib()
    if terminal:
        import hull.runtime.console  # noqa: F401


def seal_imports() -> None:
    """From here on no module may be loaded from disk: the disk is the container's.
    Only the built-in and frozen importers stay (no file is read through them)."""
    sys.path.clear()
    sys.path_importer_cache.clear()
    sys.meta_path[:] = [f for f in sys.meta_path
                        if getattr(f, "__name__", "") in ("BuiltinImporter", "FrozenImporter")]


def _sysctl(values: dict[str, str]) -> None:
    from hull.errors import Unavailable
    from hull.linux.fs import PROC_SUPER_MAGIC, fs_magic
    if fs_magic("/proc/sys") != PROC_SUPER_MAGIC:
        raise Unavailable("linux.sysctl: /proc/sys in the container is not procfs; refusing "
                          "to write through it")
    for key, value in values.items():
        path = "/proc/sys/" + key.replace(".", "/")
        try:
            with open(path, "w") as f:
                f.write(value)
        except OSError as e:
            raise HullError(f"linux.sysctl: cannot set {key}={value}: {e.strerror}") from None
