"""`exec`: start one more process inside a running container.

    parent                        first (forked child)               target (in the container)
    become child subreaper
    fork ─────────────────────────►
    add first to the cgroup
    "go" ─────────────────────────►
                                  non-dumpable; open /proc/<pid>/ns/*,
                                  setns user first, mount last
                                  fork ───────────────────────────────►
         ◄───────────────── "pid" {pid}
                                  exit                                 pty?, identity,
                                                                       caps, seccomp
         ◄─────────────────────────────────────────────── "seccomp-fd"? (to the listener)
         ◄──────────────────────────────────────────── "ready" (after the exec lookup)
    pid file; --detach returns,                                        execve
    else wait and pass the exit code

The first child stays non-dumpable while it holds host state, so nothing in the container
can open it through /proc (CVE-2019-5736 class); execve resets that for the target.
"""

from __future__ import annotations

import os
import sys

from hull.errors import InvalidArgument
from hull.linux import namespaces as ns
from hull.linux import process as proc
from hull.runtime import procsetup
from hull.runtime.init import _kind, _message
from hull.runtime.spec import Linux, Process, parse_linux
from hull.runtime.state import State, StateStore
from hull.runtime.sync import Channel
from hull.suppress import suppress

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from typing import NoReturn

# join order: the user namespace first (it owns the others), the mount namespace last
JOIN_ORDER = ["user", "ipc", "uts", "net", "pid", "cgroup", "time", "mnt"]


def _namespace_fds(pid: int) -> list[tuple[int, int]]:
    out = []
    for name in JOIN_ORDER:
        flag = next(f for f, n in ns.NAMESPACES.values() if n == name)
        try:
            theirs = os.stat(f"/proc/{pid}/ns/{name}")
            ours = os.stat(f"/proc/self/ns/{name}")
        except FileNotFoundError:
            continue
        if (theirs.st_dev, theirs.st_ino) == (ours.st_dev, ours.st_ino):
            continue   # already there (and setns into one's own user namespace fails)
        out.append((os.open(f"/proc/{pid}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC), flag))
    return out


def _first(ch: Channel, st: State, process: Process, linux: Linux,
           console: socket.socket | None, preserve_fds: int) -> NoReturn:
    try:
        proc.prctl(proc.PR_SET_DUMPABLE, 0)
        ch.recv("go")
        from hull.runtime.init import preload, seal_imports
        preload(linux.seccomp, process.terminal)
        for fd, flag in _namespace_fds(st.pid):
            ns.setns(fd, flag)
            os.close(fd)
        seal_imports()   # the mount namespace is the container's now
        pid = os.fork()
        if pid == 0:
            _target(ch, process, linux, console, preserve_fds)
        ch.send("pid", pid=pid)
        os._exit(0)
    except BaseException as e:
        try:
            ch.send_error(_message(e), _kind(e))
        finally:
            os._exit(1)


def _target(ch: Channel, process: Process, linux: Linux, console: socket.socket | None,
            preserve_fds: int) -> NoReturn:
    try:
        os.chdir("/")
        if process.terminal:
            os.setsid()
            from hull.runtime.console import setup_pty
            if console is None:
                raise InvalidArgument("--tty needs --console-socket")
            setup_pty(console, process.console_size, console=False)
        procsetup.apply_rlimits(process)
        procsetup.apply_scheduling(process)
        procsetup.finalize(process, linux, preserve_fds, lambda fd: ch.send_fd("seccomp-fd", fd))
        exe = procsetup.find_executable(process.args[0], procsetup.env_dict(process.env),
                                        process.cwd)
        ch.send("ready")
        ch.close()
    except BaseException as e:
        try:
            ch.send_error(_message(e), _kind(e))
        finally:
            os._exit(1)
    try:
        procsetup.exec_now(process, exe)
    except BaseException as e:
        try:
            print(f"hull-runtime exec: {_message(e)}", file=sys.stderr)
        finally:
            os._exit(126)


def _sub_cgroups(st: State, specs: list[str]) -> dict[str, str] | None:
    """`exec --cgroup PATH` or `--cgroup CONTROLLERS:PATH` (runc's form): directories below
    the container's cgroup, which must exist. None means the container's own cgroup."""
    if not specs:
        return None
    paths: dict[str, str] = dict(st.cgroup.get("paths", {}))
    out = dict(paths)
    for spec in specs:
        controllers, sep, sub = spec.rpartition(":")
        if ".." in sub.split("/") or not sub.strip("/"):
            raise InvalidArgument(f"--cgroup {spec!r}: a path below the container's cgroup")
        keys = controllers.split(",") if sep else list(paths)
        for key in keys:
            if key not in paths:
                raise InvalidArgument(f"--cgroup {spec!r}: no {key!r} controller here")
            target = f"{paths[key]}/{sub.strip('/')}"
            if not os.path.isdir(target):
                raise InvalidArgument(f"--cgroup {spec!r}: {target} does not exist")
            out[key] = target
    return out


def start_process(st: State, process: Process, store: StateStore,
                  console_socket: str | None = None, preserve_fds: int = 0,
                  pid_file: str | None = None, cgroups: list[str] | None = None,
                  stdio: tuple[int, int, int] | None = None) -> int:
    """Start process in the container; returns its PID (a child of ours, as subreaper).
    stdio: its stdin, stdout and stderr (None: ours)."""
    from hull.cgroups import manager
    linux = parse_linux(st.config.get("linux"))
    store.prepare_seccomp(linux)
    targets = _sub_cgroups(st, cgroups or [])
    console = None
    if console_socket is not None:
        from hull.runtime.create import connect_console
        console = connect_console(console_socket)
    proc.prctl(proc.PR_SET_CHILD_SUBREAPER, 1)
    parent, child = Channel.pair()
    first = os.fork()
    if first == 0:
        parent.close()
        proc.use_stdio(stdio)
        _first(child, st, process, linux, console, preserve_fds)
    child.close()
    if console is not None:
        console.close()
    pid = 0
    try:
        if targets is not None:
            for directory in dict.fromkeys(targets.values()):
                with open(f"{directory}/cgroup.procs", "w") as f:
                    f.write(str(first))
        elif st.cgroup:
            manager.load(st.cgroup).add_process(first)
        parent.send("go")
        ready = False
        notify_fd = None
        while not (pid and ready):   # "pid" (first) and the target's messages may cross
            msg = parent.recv()
            if msg["type"] == "pid":
                pid = int(msg["pid"])
                os.waitpid(first, 0)
                first = 0
            elif msg["type"] == "seccomp-fd":
                notify_fd = msg["fds"][0]
            elif msg["type"] == "ready":
                ready = True
        if notify_fd is not None:
            from hull.runtime.seccomp_listener import send_notify_fd
            send_notify_fd(linux, st.oci(), pid, notify_fd)
    except BaseException:
        if pid:
            with suppress(ProcessLookupError, ChildProcessError):
                os.kill(pid, 9)
                os.waitpid(pid, 0)
        raise
    finally:
        parent.close()
        if first:
            with suppress(ChildProcessError):
                os.waitpid(first, 0)
    if pid_file is not None:
        from hull.runtime.create import _write_pid_file
        _write_pid_file(pid_file, pid)
    return pid
