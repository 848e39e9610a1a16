"""The per-container monitor: the engine's supervisor, without a daemon (conmon's job).

    hull run ──fork──► M0 ──setsid, fork──► monitor (survives the CLI)
                        exit                 mount rootfs, runtime create + start
       ◄────────────── {"ok", "pid"} or {"error", "code"} ── on the notify pipe
                                             stdout/stderr → <id>-json.log (+ the attached
                                             terminal in the foreground), reap PID 1 as
                                             child subreaper, record ExitCode, FinishedAt,
                                             OOMKilled (the cgroup's OOM-kill counter),
                                             delete from the runtime, --rm cleanup
       ◄────────────── {"exit": code} ──

If the CLI dies the monitor goes on; if the monitor is killed the container goes on
(it is not the container's parent's only link: a later hull command finds the process
gone or alive through the runtime state).
"""

from __future__ import annotations

import contextlib
import os
import select

from hull import fastjson
from hull.engine.humanize import now

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, NoReturn

    from hull.engine.core import Engine
    from hull.engine.logfile import LogWriter




def spawn(service: Engine, cid: str, attach: bool, stdin: bool) -> int:
    """Start the monitor; returns the read end of its notify pipe. The service's database
    connections are closed first (the monitor opens its own); reopen a service after."""
    service.close()
    r, w = os.pipe()
    first = os.fork()
    if first == 0:
        try:
            os.close(r)
            os.setsid()
            if os.fork() == 0:
                _main(service.root, service.state_dir, cid, w, attach, stdin, adopt=False)
        finally:
            os._exit(0)
    os.close(w)
    os.waitpid(first, 0)
    return r


def spawn_adopter(root: str, state_dir: str, cid: str) -> int:
    """A monitor for an orphaned container, in a fresh interpreter: the command that found
    the orphan may hold SQLite connections of its own, and a forked child that opens the
    same database would share their in-memory lock state without the kernel's locks (so
    the parent could delete the WAL the child writes to). Returns the notify pipe."""
    import subprocess
    import sys
    r, w = os.pipe()
    subprocess.Popen([sys.executable, "-I", "-m", "hull.engine.monitor", root, state_dir,
                      cid, str(w)], pass_fds=[w], stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)
    os.close(w)
    return r


def read_message(fd: int) -> dict[str, Any]:
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        buf += chunk
    if not buf:
        return {}
    result: dict[str, Any] = fastjson.loads(buf)
    return result


def _send(fd: int, **msg: Any) -> None:
    try:
        os.write(fd, (fastjson.dumps(msg) + "\n").encode())
    except OSError:
        pass   # the CLI is gone: the container is still ours to supervise


def _main(root: str, state_dir: str, cid: str, notify: int, attach: bool,
          stdin: bool, adopt: bool) -> NoReturn:
    code = 125
    try:
        # fresh database connections: SQLite's must never cross a fork()
        from hull.engine.core import Engine
        service = Engine(root, state_dir)
        if adopt:
            _adopt(service, cid, notify)
        else:
            service.store.update_state(cid, StoppedByUser=False)   # a user's start
            code = _supervise(service, cid, notify, attach, stdin)
        os.close(notify)   # the CLI has its answer; restarts are ours alone
        notify = -1
        _restarts(service, cid)
    except BaseException as e:   # whatever happens, the record must not say "running"
        _send(notify, error=str(e) or type(e).__name__, code=getattr(e, "exit_code", 125))
        try:
            import traceback
            with open(os.path.join(root, "containers", cid, "monitor.log"), "a") as log:
                traceback.print_exc(file=log)
            Engine(root, state_dir).record_exit(cid, code, error=str(e))
        except BaseException:
            pass
    finally:
        os._exit(0)


def _restarts(service: Engine, cid: str) -> None:
    """The restart policy, for as long as it asks for another run (engine/restart.py)."""
    from hull.engine import restart
    from hull.errors import NotFound
    delay = restart.INITIAL_DELAY / 2
    while True:
        try:
            c = service.store.get(cid)
        except NotFound:
            return
        if not restart.should_restart(c) or \
                c.state.get("Error") not in ("", restart.UNKNOWN_EXIT):
            return   # a start that failed is not retried (docker run reports it instead)
        delay = restart.next_delay(c, delay)
        if not restart.wait_to_restart(service, cid, delay):
            return
        _supervise(service, cid, -1, attach=False, stdin=False)


def _adopt(service: Engine, cid: str, notify: int) -> None:
    """Take over a container whose monitor was killed: wait for it to end (it is not our
    child, so its exit code is lost) and record that, then the policy decides."""
    import select as sel

    from hull.runtime.state import process_start_time
    devnull = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):   # hold nothing of the hull command that started us
        os.dup2(devnull, fd)
    os.close(devnull)
    c = service.store.get(cid)
    me = os.getpid()
    pid = int(c.state.get("Pid") or 0)
    if c.state.get("Running") and pid:
        service.store.update_state(cid, MonitorPid=me,
                                   MonitorStart=process_start_time(me) or 0)
        try:   # before answering: the command that woke us may read /proc or exec next
            service.resume_proc_view(c)
        except OSError:
            pass   # the keeper is gone too: the container's /proc reads fail, nothing else
        _send(notify, ok=True, pid=pid)
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            fd = -1
        if fd >= 0:
            sel.select([fd], [], [])
            os.close(fd)
        from hull.engine.restart import UNKNOWN_EXIT
        service.record_exit(cid, 255, error=UNKNOWN_EXIT)
    else:
        _send(notify, ok=True, pid=0)


def _supervise(service: Engine, cid: str, notify: int, attach: bool,
               stdin: bool) -> int:
    c = service.store.get(cid)
    if c.config.get("Tty"):
        return _supervise_tty(service, cid, notify, attach)
    from hull.engine.attach import Decoder, frame_stream
    from hull.linux import process as proc
    proc.prctl(proc.PR_SET_CHILD_SUBREAPER, 1)
    devnull = os.open("/dev/null", os.O_RDWR)
    attach_out = os.dup(1) if attach else -1
    attach_err = os.dup(2) if attach else -1
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    stdin_w = -1
    if not stdin:
        if c.config.get("OpenStdin"):   # -d -i: stdin stays open for `attach` to feed
            in_r, stdin_w = os.pipe()
            os.dup2(in_r, 0)
            os.close(in_r)
        else:
            os.dup2(devnull, 0)
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    os.close(out_w)
    os.close(err_w)
    listener = _attach_listener(service.store.dir(cid))
    try:
        pid = service.start_in_runtime(cid)
    except BaseException as e:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        listener.close()
        code = getattr(e, "exit_code", 125)
        service.record_exit(cid, code, error=str(e), started=False)
        service.after_exit(cid)
        _send(notify, error=str(e), code=code)
        return int(code)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)   # only the container holds the pipes now: EOF when it is done
    os.dup2(devnull, 2)
    _send(notify, ok=True, pid=pid)
    service.keep_proc_view(cid)
    checker = _health_checker(service, cid, c.config)
    clients: dict[int, tuple[Any, Decoder]] = {}
    with _log_writer(service, cid) as log:
        streams = {out_r: ("stdout", attach_out, 1), err_r: ("stderr", attach_err, 2)}
        while streams:
            ready, _, _ = select.select([*streams, listener.fileno(), *clients], [], [])
            if listener.fileno() in ready:
                conn, _ = listener.accept()
                clients[conn.fileno()] = (conn, Decoder())
            for kind, value in _client_messages(ready, clients):
                if kind == "data" and stdin_w >= 0:
                    try:
                        os.write(stdin_w, value)
                    except OSError:
                        pass   # the container closed its stdin
            for fd in [f for f in ready if f in streams]:
                data = os.read(fd, 65536)
                name, copy, number = streams[fd]
                if not data:
                    del streams[fd]
                    os.close(fd)
                    continue
                log.write(name, data, now())
                if copy >= 0:
                    try:
                        os.write(copy, data)
                    except OSError:
                        streams[fd] = (name, -1, number)   # the terminal went away
                for conn, _ in list(clients.values()):
                    try:
                        conn.sendall(frame_stream(number, data))
                    except OSError:
                        pass
    _stop_serving(checker, clients, listener)
    if stdin_w >= 0:
        os.close(stdin_w)
    from hull.runtime.waiting import reap
    code = reap(pid)
    service.record_exit(cid, code)
    service.after_exit(cid)     # --rm: `run` returns once the container is gone
    _send(notify, exit=code)
    return code


def _client_messages(ready: list[int], clients: dict[int, tuple[Any, Any]]
                     ) -> list[tuple[str, Any]]:
    """What the ready attach clients sent (keys, window sizes); closed ones are dropped."""
    out = []
    for fd in [f for f in ready if f in clients]:
        conn, decoder = clients[fd]
        data = conn.recv(65536)
        if not data:
            conn.close()
            del clients[fd]
            continue
        out += decoder.feed(data)
    return out


def _health_checker(service: Engine, cid: str, config: dict[str, Any]) -> Any:
    """The health thread, for containers that have a check (others import nothing)."""
    if not config.get("Healthcheck"):
        return None
    from hull.engine import health
    return health.start(service.root, cid, config)


def _stop_serving(checker: Any, clients: dict[int, tuple[Any, Any]], listener: Any) -> None:
    """The container's output is done: no more health checks, attach clients or listener."""
    if checker:
        checker.stop()
    for conn, _ in clients.values():
        conn.close()
    listener.close()


@contextlib.contextmanager
def _log_writer(service: Engine, cid: str) -> Iterator[LogWriter]:
    from hull.engine import logfile
    c = service.store.get(cid)
    driver, max_size, max_file = logfile.options(c.host_config)
    log = logfile.LogWriter(service.log_path(cid), max_size, max_file,
                            enabled=driver != "none")
    try:
        yield log
    finally:
        log.close()


def _attach_listener(cdir: str) -> Any:
    """<container dir>/attach.sock, where `attach` clients connect."""
    import socket

    from hull.engine.attach import socket_path
    path = os.path.join(cdir, "attach.sock")
    if os.path.exists(path):
        os.unlink(path)
    short, _ = socket_path(cdir, "attach.sock")   # the fd lives as long as we do
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(short)
    listener.listen(4)
    return listener


def _supervise_tty(service: Engine, cid: str, notify: int, attach: bool) -> int:
    """-t: the container's stdio is a pty made inside it; its master comes to us over a
    console socket, its output goes to the log and to attached clients (attach.py)."""
    import socket

    from hull.engine.attach import Decoder, set_size
    from hull.linux import process as proc
    from hull.runtime.console import receive_master
    proc.prctl(proc.PR_SET_CHILD_SUBREAPER, 1)
    devnull = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    from hull.engine.attach import socket_path
    cdir = service.store.dir(cid)
    if os.path.exists(os.path.join(cdir, "console.sock")):
        os.unlink(os.path.join(cdir, "console.sock"))
    console_path, _ = socket_path(cdir, "console.sock")   # the fd lives as long as we do
    console = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    console.bind(console_path)
    console.listen(1)
    listener = _attach_listener(cdir)
    try:
        pid = service.start_in_runtime(cid, console_socket=console_path)
        master = receive_master(console)
    except BaseException as e:
        code = getattr(e, "exit_code", 125)
        service.record_exit(cid, code, error=str(e), started=False)
        service.after_exit(cid)
        _send(notify, error=str(e), code=code)
        return int(code)
    finally:
        console.close()
    _send(notify, ok=True, pid=pid)
    service.keep_proc_view(cid)
    checker = _health_checker(service, cid, service.store.get(cid).config)
    clients: dict[int, tuple[socket.socket, Decoder]] = {}
    backlog: bytearray | None = bytearray()   # output before the first client attaches
    with _log_writer(service, cid) as log:
        while True:
            watch = [master, listener.fileno(), *clients]
            ready, _, _ = select.select(watch, [], [])
            if listener.fileno() in ready:
                conn, _ = listener.accept()
                clients[conn.fileno()] = (conn, Decoder())
                if backlog:
                    conn.sendall(bytes(backlog))
                backlog = None
            for kind, value in _client_messages(ready, clients):
                if kind == "data":
                    os.write(master, value)
                else:
                    set_size(master, *value)
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError:    # EIO: every slave end closed, the container is done
                    data = b""
                if not data:
                    break
                log.write("stdout", data, now())
                if backlog is not None and len(backlog) < (1 << 20):
                    backlog += data
                for conn, _ in list(clients.values()):
                    try:
                        conn.sendall(data)
                    except OSError:
                        pass
    if attach and backlog is not None:
        # a foreground client is on its way but the container was faster: hand it what
        # was printed before letting go
        listener.settimeout(10)
        try:
            conn, _ = listener.accept()
            conn.sendall(bytes(backlog))
            conn.close()
        except OSError:
            pass
    _stop_serving(checker, clients, listener)
    os.close(master)
    from hull.runtime.waiting import reap
    code = reap(pid)
    service.record_exit(cid, code)
    service.after_exit(cid)
    _send(notify, exit=code)
    return code


if __name__ == "__main__":   # spawn_adopter's process
    import sys
    _main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), attach=False, stdin=False,
          adopt=True)
