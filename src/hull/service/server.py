"""The engine service of one root: a single-threaded event loop that runs every command for
the thin clients.

    thin client ──connect──► listener (<state>/hull.sock, root only)
                              │ request + the client's stdin/stdout/stderr
                              ▼
                        fork ─► worker: the command, on the client's fds (worker.py)
                              │ the worker's pidfd tells the loop it has ended
                              ▼
                        "exit N" to the client

One service per root: it holds <state>/service.lock (flock) while it listens, so of two
started at once one serves and the other leaves. The first command that finds no service
starts one (client.py); the service leaves on its own once no command has run for its
idle time (HULL_SERVICE_IDLE_EXIT seconds, "service-idle-exit" in engine.json, default
IDLE_EXIT; 0 never), or on SIGTERM — then it stops listening at once and leaves when its
last command ends (a newer service can already take the root over: that is an upgrade).

Everything a command needs is imported here before the first fork (preload), so a worker
starts with the engine in memory; the service itself opens no database and starts no
thread, so every fork is from a single-threaded process with nothing half-held.
"""

from __future__ import annotations

import fcntl
import os
import selectors
import signal
import socket
import struct
import time

from hull.service import protocol

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

IDLE_EXIT = 300.0   # seconds without a command before the service leaves
PRELOAD = ("hull.cli.main", "hull.cli.containers", "hull.cli.run", "hull.cli.runflags",
           "hull.cli.ps", "hull.cli.images", "hull.cli.observe", "hull.cli.volumes",
           "hull.cli.inspect", "hull.cli.system", "hull.cli.template", "hull.cli.helptext",
           "hull.engine.containers", "hull.engine.create", "hull.engine.bundle",
           "hull.engine.execute", "hull.engine.listing", "hull.engine.monitor",
           "hull.engine.inspect", "hull.engine.images", "hull.engine.hostconfig",
           "hull.engine.ocispec", "hull.engine.seccomp_profile", "hull.engine.logfile",
           "hull.engine.attach", "hull.engine.events", "hull.runtime.lifecycle",
           "hull.runtime.create", "hull.runtime.init", "hull.runtime.spec",
           "hull.network.loopback", "sqlite3", "json", "tarfile")


class Upgrade(Exception):
    """A client of another version came: this service hands the root over."""


class Job:
    """One client's command: its connection and the worker running it."""

    def __init__(self, conn: socket.socket, pid: int, pidfd: int) -> None:
        self.conn: socket.socket | None = conn
        self.pid, self.pidfd = pid, pidfd
        self.buf = b""


class Service:
    def __init__(self, root: str, state: str, idle_exit: float,
                 command: Callable[[list[str]], int]) -> None:
        self.root, self.state, self.idle_exit = root, state, idle_exit
        self.command = command   # the command line's main(argv) (hull.cli.main.main)
        self.sel = selectors.DefaultSelector()
        self.jobs: dict[int, Job] = {}          # by pidfd
        self.by_conn: dict[int, Job] = {}       # by connection fd
        self.listener: socket.socket | None = None
        self.lock_fd = -1
        self.draining = False
        self.last_activity = time.monotonic()

    # ---- taking the root --------------------------------------------------------------

    def claim(self) -> bool:
        """Take the root's service lock and listen on its socket; False when another
        service has it."""
        os.makedirs(self.state, mode=0o711, exist_ok=True)
        self.lock_fd = os.open(os.path.join(self.state, protocol.LOCKFILE),
                               os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self.lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.lock_fd)
            return False
        inherited = _activated_socket()
        if inherited is not None:   # systemd's socket activation: the listener is ours
            self._listen_on(inherited)
            return True
        dirfd = os.open(self.state, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            path = f"/proc/self/fd/{dirfd}/{protocol.SOCKET}"
            try:
                os.unlink(os.path.join(self.state, protocol.SOCKET))   # a dead one's
            except FileNotFoundError:
                pass
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            old = os.umask(0o177)   # root only, as the peer check also insists
            try:
                listener.bind(path)
            finally:
                os.umask(old)
            listener.listen(128)
        finally:
            os.close(dirfd)
        self._listen_on(listener)
        return True

    def _listen_on(self, listener: socket.socket) -> None:
        listener.setblocking(False)
        self.listener = listener
        self.sel.register(listener, selectors.EVENT_READ, self.accept)
        _write(os.path.join(self.state, protocol.PIDFILE), f"{os.getpid()}\n")

    def release(self) -> None:
        """Stop listening and let the root go (drain: the running commands finish)."""
        if self.listener is not None:
            self.sel.unregister(self.listener)
            self.listener.close()
            self.listener = None
            for name in (protocol.SOCKET, protocol.PIDFILE):
                try:
                    os.unlink(os.path.join(self.state, name))
                except FileNotFoundError:
                    pass
        if self.lock_fd >= 0:
            os.close(self.lock_fd)
            self.lock_fd = -1

    # ---- the loop ---------------------------------------------------------------------

    def run(self) -> None:
        while self.jobs or not self.draining:
            timeout = None
            if not self.jobs and self.idle_exit > 0:
                timeout = self.last_activity + self.idle_exit - time.monotonic()
                if timeout <= 0:
                    break
            for key, _ in self.sel.select(timeout):
                callback: Callable[[Any], None] = key.data
                callback(key.fileobj)
        self.release()

    def accept(self, listener: socket.socket) -> None:
        try:
            conn, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        self.last_activity = time.monotonic()
        try:
            self._start(conn)
        except Upgrade:
            try:
                conn.sendall(b"retry\n")   # the client starts a service of its version
            except OSError:
                pass
            conn.close()
        except Exception as e:   # a bad request never takes the service down
            _log(f"request refused: {type(e).__name__}: {e}")
            try:
                conn.sendall(f"error {e}\n".encode())
            except OSError:
                pass
            conn.close()

    def _start(self, conn: socket.socket) -> None:
        uid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                  12))[1]
        if uid != 0:
            raise PermissionError("only root may use the engine service")
        conn.settimeout(5.0)   # the request comes right after connect
        request, fds = _receive(conn)
        try:
            version, cwd, argv, env = protocol.decode_request(request)
            from hull import __version__
            if version != __version__:
                self._upgrade(version)
            _one_thread()
            pid = os.fork()
            if pid == 0:
                self._in_worker(conn)
                from hull.service.worker import run
                run(self.command, argv, env, cwd, fds)
        finally:
            for fd in fds:   # the service must hold none of the client's stdio
                os.close(fd)
        conn.setblocking(False)
        pidfd = os.pidfd_open(pid)
        job = Job(conn, pid, pidfd)
        self.jobs[pidfd] = job
        self.by_conn[conn.fileno()] = job
        self.sel.register(pidfd, selectors.EVENT_READ, self.ended)
        self.sel.register(conn, selectors.EVENT_READ, self.client_says)

    def _in_worker(self, conn: socket.socket) -> None:
        """In the forked worker: nothing of the service's stays open."""
        self.sel.close()
        if self.listener is not None:
            self.listener.close()
        if self.lock_fd >= 0:
            os.close(self.lock_fd)
        for job in self.jobs.values():
            os.close(job.pidfd)
            if job.conn is not None:
                job.conn.close()
        conn.close()

    def _upgrade(self, version: str) -> None:
        """A client of another version: this service stops listening (its commands run
        to their end) so that one of the client's version takes the root."""
        _log(f"a client of version {version} came: draining for an upgrade")
        self.draining = True
        self.release()
        raise Upgrade(version)

    def client_says(self, conn: socket.socket) -> None:
        job = self.by_conn.get(conn.fileno())
        if job is None:
            return
        try:
            data = conn.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            # the client was killed outright (it forwards any signal it can catch): its
            # command goes the same way, as when the command ran in the client itself
            self._forget_conn(job)
            _signal(job.pid, signal.SIGKILL)
            return
        job.buf += data
        while b"\n" in job.buf:
            line, _, job.buf = job.buf.partition(b"\n")
            word, _, arg = line.decode(errors="replace").partition(" ")
            if word == "signal" and arg.isdigit():
                _signal(job.pid, int(arg))

    def ended(self, pidfd: int) -> None:
        job = self.jobs.pop(pidfd)
        self.sel.unregister(pidfd)
        os.close(pidfd)
        _, status = os.waitpid(job.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        code = 128 - code if code < 0 else code
        if job.conn is not None:
            try:
                job.conn.setblocking(True)
                job.conn.sendall(f"exit {code}\n".encode())
            except OSError:
                pass
            self._forget_conn(job)
        self.last_activity = time.monotonic()

    def _forget_conn(self, job: Job) -> None:
        if job.conn is None:
            return
        self.by_conn.pop(job.conn.fileno(), None)
        self.sel.unregister(job.conn)
        job.conn.close()
        job.conn = None


def _receive(conn: socket.socket) -> tuple[bytes, list[int]]:
    """The request and the three fds that come with it."""
    head, fds, _, _ = socket.recv_fds(conn, len(protocol.MAGIC) + 4, 3)
    got = head
    while len(got) < len(protocol.MAGIC) + 4:
        more = conn.recv(len(protocol.MAGIC) + 4 - len(got))
        if not more:
            break
        got += more
    if not got.startswith(protocol.MAGIC) or len(fds) != 3:
        for fd in fds:
            os.close(fd)
        raise ValueError("not a hull request")
    size = int.from_bytes(got[len(protocol.MAGIC):], "big")
    if size > protocol.MAX_REQUEST:
        for fd in fds:
            os.close(fd)
        raise ValueError("request too large")
    payload = b""
    while len(payload) < size:
        chunk = conn.recv(size - len(payload))
        if not chunk:
            for fd in fds:
                os.close(fd)
            raise ValueError("request cut short")
        payload += chunk
    return payload, list(fds)


def _activated_socket() -> socket.socket | None:
    """The listening socket systemd passes (LISTEN_FDS=1, fd 3), if it passed one to us."""
    if os.environ.get("LISTEN_PID") != str(os.getpid()) or \
            os.environ.get("LISTEN_FDS") != "1":
        return None
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(name, None)
    os.set_inheritable(3, False)
    return socket.socket(fileno=3)


def _one_thread() -> None:
    """DESIGN.md's rule, checked at every fork: a fork of a process that runs threads can
    leave the child with a lock some other thread held."""
    threads = len(os.listdir("/proc/self/task"))
    if threads != 1:
        _log(f"refusing to fork: {threads} threads")
        raise RuntimeError(f"the engine service runs {threads} threads; it forks with one")


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _write(path: str, text: str) -> None:
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


_LOG_PATH = ""


def _log(text: str) -> None:
    if not _LOG_PATH:
        return
    try:
        with open(_LOG_PATH, "a") as f:
            f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {os.getpid()} {text}\n")
    except OSError:
        pass


def idle_exit_setting() -> float:
    """HULL_SERVICE_IDLE_EXIT, else engine.json's "service-idle-exit", else IDLE_EXIT."""
    from hull.engine.settings import setting
    value = setting("service-idle-exit", "HULL_SERVICE_IDLE_EXIT")
    try:
        return float(value) if value not in (None, "") else IDLE_EXIT
    except ValueError:
        return IDLE_EXIT


def preload(prepare: Callable[[], None] | None) -> None:
    """Everything a command needs, imported (and with prepare, built) once: the workers
    inherit it."""
    import importlib
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError as e:   # an optional module missing only costs that import later
            _log(f"preload {name}: {e}")
    if prepare is not None:
        prepare()


def serve(root: str, state: str, command: Callable[[list[str]], int],
          idle_exit: float | None = None, prepare: Callable[[], None] | None = None) -> int:
    """Run the service for root in this process until it is idle or told to stop; 0 also
    when another service already has the root. command is what a worker runs (the command
    line's main, passed in: the service sits below the CLI it serves, which starts it)."""
    global _LOG_PATH
    service = Service(root, state, idle_exit_setting() if idle_exit is None else idle_exit,
                      command)
    if not service.claim():
        return 0
    _LOG_PATH = os.path.join(state, protocol.LOGFILE)

    def drain(_signum: int, _frame: object) -> None:
        service.draining = True
        service.release()
    signal.signal(signal.SIGTERM, drain)
    signal.signal(signal.SIGINT, drain)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    # a signal must end the wait in select(): its handler runs, then the loop looks again
    wake_r, wake_w = socket.socketpair()
    for end in (wake_r, wake_w):
        end.setblocking(False)
    signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)
    service.sel.register(wake_r, selectors.EVENT_READ, lambda s: s.recv(512))
    preload(prepare)
    _log(f"serving {root} (idle exit {service.idle_exit:g} s)")
    try:
        service.run()
    finally:
        service.release()
        _log("left")
    return 0
