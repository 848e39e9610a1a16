"""What the service's jobs do (jobs.py forks them; supervisor.py reads their messages).
Each opens its own database connections: SQLite's must never cross a fork.

    start   (restart: only if the policy still asks, under the container's lock)
            "view" {directory, sysinfo} ──► the loop serves the view ──► "view-ready"
            stdio: pipes, the requester's stdin, or a console socket for the pty master
            runtime create + start with that stdio ──► "started" {pid, …} + the read ends
            on failure: the record says so (Created, ExitCode, Error) ──► "failed"
    finish  exit code, OOMKilled, runtime and mounts cleaned, --rm removal; the restart
            policy's verdict ──► "finished" {restart: delay or None}
    probe   one health check in the container, its result in State.Health
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from hull.engine.core import Engine
    from hull.engine.store import Container
    from hull.runtime.sync import Channel

PIPE_SIZE = 1 << 20   # each output pipe holds this much while nobody reads it


def cgroup_paths(state: str, cid: str) -> Callable[[], dict[str, str]]:
    """The container's cgroup directories, read when first needed (by its /proc view)."""
    def paths() -> dict[str, str]:
        from hull.cgroups import manager
        from hull.runtime.state import StateStore
        return manager.load(StateStore(os.path.join(state, "runtime")).load(cid).cgroup).paths()
    return paths


def start(channel: Channel, root: str, state: str, cid: str, stdin_fd: int | None,
          restart: bool) -> None:
    from hull.engine.core import Engine
    engine = Engine(root, state)
    if restart:
        from hull.engine import locks
        from hull.errors import NotFound
        try:
            with locks.hold(engine.store.dir(cid), cid, lambda: _exists(engine, cid)):
                if not _restart_wanted(engine, cid):
                    channel.send("skipped")
                    return
                _start(channel, engine, cid, stdin_fd)
        except NotFound:
            channel.send("skipped")
        return
    _start(channel, engine, cid, stdin_fd)


def _exists(engine: Engine, cid: str) -> bool:
    from hull.errors import NotFound
    try:
        engine.store.get(cid)
        return True
    except NotFound:
        return False


def _restart_wanted(engine: Engine, cid: str) -> bool:
    """The policy asked for this start when the container ended; does it still (no stop
    or rm since)? Counts the restart when it does."""
    from hull.engine.restart import should_restart
    c = engine.store.get(cid)
    if not c.state.get("Restarting") or not should_restart(c):
        if c.state.get("Restarting"):
            engine.store.update_state(cid, Status="exited", Restarting=False)
        return False
    engine.store.update_state(cid, Restarting=False,
                              RestartCount=int(c.state.get("RestartCount") or 0) + 1)
    return True


def _start(channel: Channel, engine: Engine, cid: str, stdin_fd: int | None) -> None:
    c = engine.store.get(cid)
    try:
        view = _view(channel, engine, c)
        if c.config.get("Tty"):
            pid, fds = _start_with_terminal(engine, c, view)
        else:
            pid, fds = _start_with_pipes(engine, c, view, stdin_fd)
    except BaseException as e:
        code = int(getattr(e, "exit_code", 125))
        engine.record_exit(cid, code, error=str(e), started=False)
        engine.after_exit(cid)
        channel.send("failed", error=str(e), code=code)
        return
    from hull.engine import health
    check = c.config.get("Healthcheck")
    interval = health.interval(check) if health.command(check) else 0
    channel.send_fds("started", fds, pid=pid, tty=bool(c.config.get("Tty")),
                     log=engine.log_path(cid), host_config=c.host_config,
                     health_interval=interval)


def _view(channel: Channel, engine: Engine, c: Container) -> str:
    """Ask the loop to serve the container's /proc view; its directory, or "" for none."""
    if not engine.wants_proc_view(c):
        return ""
    from hull.procfs.server import DIRECTORY
    directory = os.path.join(engine.store.dir(c.id), DIRECTORY)
    channel.send("view", directory=directory, sysinfo=engine.sysinfo_socket(c))
    reply = channel.recv()
    if reply["type"] != "view-ready":
        from hull.errors import HullError
        raise HullError(f"cannot serve the container's /proc view: {reply.get('error')}")
    return directory


def _start_with_pipes(engine: Engine, c: Container, view: str, stdin_fd: int | None
                      ) -> tuple[int, list[int]]:
    """stdout and stderr into pipes the service reads; stdin the requester's (run -i),
    a pipe the service writes to (-d -i: for `attach`), or /dev/null."""
    import fcntl
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    for fd in (out_r, err_r):
        try:
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        except OSError:
            pass   # above /proc/sys/fs/pipe-max-size: the default size does too
    keep: list[int] = []
    if stdin_fd is not None:
        stdin = stdin_fd
    elif c.config.get("OpenStdin"):
        stdin, stdin_w = os.pipe()
        keep.append(stdin_w)
    else:
        stdin = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    if view:   # the container's ends of stdout/stderr are relays' (see _relay)
        out_w, err_w = _relay(out_w), _relay(err_w)
    try:
        pid = engine.start_in_runtime(c.id, view, stdio=(stdin, out_w, err_w))
    except BaseException:
        for fd in (out_r, err_r, *keep):
            os.close(fd)
        raise
    finally:
        for fd in (stdin, out_w, err_w):
            os.close(fd)   # only the container holds the write ends: EOF when it is done
    return pid, [out_r, err_r, *keep]


def _relay(to_service: int) -> int:
    """A pipe whose read end a `cat` copies into to_service (closed here); its write end,
    for the container. Why: a container that sendfile()s one of its /proc view's files to
    a stdout pipe (busybox `cat /proc/meminfo`) makes the kernel hold that pipe's lock
    while the service answers the FUSE read — on kernels before the splice rework (Debian
    12's 6.1) for the whole read. Were the service the pipe's reader, its read would wait
    for that lock and the FUSE answer would never come: the whole service would hang. The
    relay takes that wait instead; the service reads the relay's pipe."""
    import shutil

    from hull.procfs.keeper import inherited
    read_end, write_end = os.pipe()
    cat = shutil.which("cat") or "/bin/cat"
    try:
        os.posix_spawn(cat, [cat], {}, file_actions=[
            (os.POSIX_SPAWN_DUP2, read_end, 0), (os.POSIX_SPAWN_DUP2, to_service, 1),
            (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
            *((os.POSIX_SPAWN_CLOSE, fd) for fd in inherited() if fd > 2)])
    finally:
        os.close(read_end)
        os.close(to_service)
    return write_end


def _start_with_terminal(engine: Engine, c: Container, view: str) -> tuple[int, list[int]]:
    """-t: the container makes its pty; the master comes back over a console socket."""
    import socket

    from hull.engine.attach import socket_path
    from hull.runtime.console import receive_master
    cdir = engine.store.dir(c.id)
    try:
        os.unlink(os.path.join(cdir, "console.sock"))
    except FileNotFoundError:
        pass
    path, dirfd = socket_path(cdir, "console.sock")
    console = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        console.bind(path)
        console.listen(1)
        devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            pid = engine.start_in_runtime(c.id, view, stdio=(devnull, devnull, devnull),
                                          console_socket=path)
        finally:
            os.close(devnull)
        master = receive_master(console)
    finally:
        console.close()
        os.close(dirfd)
        try:
            os.unlink(os.path.join(cdir, "console.sock"))
        except FileNotFoundError:
            pass
    return pid, [master]


def finish(channel: Channel, root: str, state: str, cid: str, code: int, unknown: bool,
           delay: float) -> None:
    from hull.engine import restart
    from hull.engine.core import Engine
    from hull.errors import NotFound
    engine = Engine(root, state)
    try:
        engine.record_exit(cid, code, error=restart.UNKNOWN_EXIT if unknown else "")
        engine.after_exit(cid)
        c = engine.store.get(cid)
    except NotFound:
        channel.send("finished", restart=None)   # removed meanwhile (rm -f, --rm)
        return
    if not restart.should_restart(c):
        channel.send("finished", restart=None)
        return
    engine.store.update_state(cid, Status="restarting", Restarting=True)
    channel.send("finished",
                 restart=restart.next_delay(c, delay or restart.INITIAL_DELAY / 2))


def probe(channel: Channel, root: str, state: str, cid: str, pid: int) -> None:
    from hull.engine import health
    from hull.engine.core import Engine
    health.check_once(Engine(root, state), cid, pid)


def survey(channel: Channel, root: str, state: str) -> None:
    """What a new service finds (after a service was killed, or a reboot): containers
    recorded running, alive or not, and those the restart policy wants started again."""
    from hull.engine import reconcile, restart
    from hull.engine.core import Engine
    from hull.errors import NotFound
    from hull.runtime.state import Status
    engine = Engine(root, state)
    rt = engine.runtime()
    booted = reconcile.boot_time()
    found = []
    for c in engine.store.all():
        status = c.state.get("Status")
        if status in ("running", "paused"):
            try:
                st = rt.state(c.id)
                alive, started = st.status is not Status.STOPPED, st.pid_start
            except NotFound:
                alive, started = False, 0
            view = engine.wants_proc_view(c)
            found.append({"cid": c.id, "pid": int(c.state.get("Pid") or 0), "alive": alive,
                          "pid_start": started, "tty": bool(c.config.get("Tty")),
                          "log": engine.log_path(c.id), "host_config": c.host_config,
                          "view": os.path.join(engine.store.dir(c.id), "procfs") if view
                          else "", "sysinfo": engine.sysinfo_socket(c) if view else "",
                          "health_interval": _health_interval(c)})
        elif status == "restarting":
            found.append({"cid": c.id, "restart": True})
        elif status == "exited":
            if reconcile.stopped_before_boot(c, booted):
                engine.store.update_state(c.id, StoppedByUser=False)
                c = engine.store.get(c.id)
            if restart.should_restart(c):   # a reboot, or a service killed mid-restart
                engine.store.update_state(c.id, Status="restarting", Restarting=True)
                found.append({"cid": c.id, "restart": True})
    running = {str(f["cid"]) for f in found if f.get("alive")}
    try:
        engine.networks.restore(running)
    except Exception as e:   # the containers' supervision matters more: said, not fatal
        from hull.service.log import log
        log(f"network restore failed: {type(e).__name__}: {e}")
    channel.send("survey", containers=found)


def _health_interval(c: Container) -> float:
    from hull.engine import health
    check = c.config.get("Healthcheck")
    return health.interval(check) if health.command(check) else 0.0
