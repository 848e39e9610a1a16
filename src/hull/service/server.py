"""The engine service of one root: a single-threaded event loop (loop.py) that runs every
command for the thin clients and supervises every container (supervisor.py).

    thin client ──connect──► listener (<state>/hull.sock, root only)
                              │ a command line + the client's stdin/stdout/stderr
                              ▼
                        fork ─► worker: the command, on the client's fds (worker.py)
                              │ the worker's end (SIGCHLD) ──► "exit N" to the client
                              │
                              │ or a supervision call (start, attach, wait a container)
                              ▼
                        supervisor.py: jobs start containers, the loop moves their output

One service per root: it holds <state>/service.lock (flock) while it listens, so of two
started at once one serves and the other leaves. The first command that finds no service
starts one (connect.py); the service leaves on its own once it supervises nothing and no
command has run for its idle time (HULL_SERVICE_IDLE_EXIT seconds, "service-idle-exit" in
engine.json, default IDLE_EXIT; 0 never), or on SIGTERM once nothing runs — it stops
listening at once, so a newer service can already take the root over.

The service is every container's subreaper: a container's PID 1 (forked by a start job,
whose intermediate process exits) becomes its child, so it reaps it and knows the exit
code. Everything a command needs is imported before the first fork (preload), so a worker
starts with the engine in memory; the service starts no thread, so every fork is from a
single-threaded process.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import time

from hull.service import protocol
from hull.service.log import log

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

IDLE_EXIT = 300.0   # seconds without a command before the service leaves
PRELOAD = ("hull.cli.main", "hull.cli.containers", "hull.cli.run", "hull.cli.runflags",
           "hull.cli.ps", "hull.cli.images", "hull.cli.observe", "hull.cli.volumes",
           "hull.cli.inspect", "hull.cli.system", "hull.cli.template", "hull.cli.helptext",
           "hull.engine.containers", "hull.engine.create", "hull.engine.bundle",
           "hull.engine.execute", "hull.engine.listing", "hull.engine.health",
           "hull.engine.inspect", "hull.engine.images", "hull.engine.hostconfig",
           "hull.engine.ocispec", "hull.engine.seccomp_profile", "hull.engine.logfile",
           "hull.engine.attach", "hull.engine.events", "hull.engine.restart",
           "hull.runtime.lifecycle", "hull.runtime.create", "hull.runtime.init",
           "hull.runtime.spec", "hull.runtime.console", "hull.network.loopback",
           "hull.engine.networking", "hull.engine.networks", "hull.network.links",
           "hull.network.firewall", "hull.network.nft", "hull.network.ports",
           "hull.network.store", "hull.network.dns", "hull.cli.networks",
           "hull.procfs.views", "hull.procfs.sysinfo", "hull.procfs.keeper",
           "hull.service.supervision", "hull.cli.build", "hull.engine.building",
           "hull.engine.buildsteps", "hull.build.builder", "hull.build.dispatch",
           "hull.build.context", "hull.build.copying", "hull.build.frontend.instructions",
           "hull.api.server", "hull.api.routes", "hull.api.containers", "hull.api.streams",
           "hull.api.images", "hull.api.execs", "hull.api.system", "hull.api.resources",
           "hull.api.archive", "hull.api.build", "hull.api.versions", "hull.api.listen",
           "hull.engine.createspec", "hull.engine.about", "hull.engine.volumes",
           "hull.engine.settings", "hull.engine.remapped_layers", "hull.linux.capabilities",
           "hull.procfs.support", "hull.procfs.server", "hull.snapshot.overlay",
           "hull.service.supervision", "sqlite3", "json", "tarfile", "http", "platform")


class Upgrade(Exception):
    """A client of another version came: this service hands the root over."""


class Command:
    """One client's command line: its connection and the worker running it."""

    def __init__(self, conn: socket.socket, pid: int) -> None:
        self.conn: socket.socket | None = conn
        self.pid = pid
        self.buf = b""


class Service:
    def __init__(self, root: str, state: str, idle_exit: float,
                 command: Callable[[list[str]], int]) -> None:
        from hull.procfs.server import ViewServer
        from hull.service.loop import Loop
        from hull.service.supervisor import Supervisor
        self.root, self.state, self.idle_exit = root, state, idle_exit
        self.command = command   # the command line's main(argv) (hull.cli.main.main)
        self.loop = Loop()
        self.views = ViewServer(self.loop)
        self.supervisor = Supervisor(self.loop, self.views, root, state)
        from hull.service.dnsserver import DnsServer
        self.dns = DnsServer(self.loop, root)
        self.supervisor.on_started = self.dns.started
        from hull.service.apihost import ApiHost
        self.api = ApiHost(self.loop, root, state, self._activity)
        self.commands: dict[int, Command] = {}   # by worker pid
        self.listener: socket.socket | None = None
        self.lock_fd = -1
        self.draining = False
        self.handover: list[str] = []   # [python, src] of the build that takes over
        self.last_activity = time.monotonic()

    # ---- taking the root --------------------------------------------------------------

    def claim(self) -> None:
        """Take what the keeper (keeper.py) claimed for this root: the listening socket
        and the service lock, and the pair to talk to it."""
        from hull.service import keeper
        fds = [int(os.environ.pop(name)) for name in
               (keeper.LISTEN_FD, keeper.LOCK_FD, keeper.KEEPER_FD)]
        for fd in fds:
            os.set_inheritable(fd, False)
        self.listener = socket.socket(fileno=fds[0])
        self.lock_fd = fds[1]
        self.supervisor.keeper = keeper.KeeperLink(socket.socket(fileno=fds[2]))

    def listen(self) -> None:
        """Take commands from now on (the listener queued them meanwhile)."""
        assert self.listener is not None
        self.listener.setblocking(False)
        self.loop.add_reader(self.listener, self.accept)
        _write(os.path.join(self.state, protocol.PIDFILE), f"{os.getpid()}\n")
        if self.supervisor.keeper is not None:
            self.supervisor.keeper.tell("ready")

    def release(self) -> None:
        """Stop listening and let the root go (drain: what runs, runs to its end); the
        keeper lets go of its copies of the lock and the listener too."""
        if self.listener is not None:
            if self.supervisor.keeper is not None:
                self.supervisor.keeper.tell("release")
            self.loop.forget(self.listener)
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

    def busy(self) -> bool:
        return bool(self.commands) or self.supervisor.busy() or self.api.busy()

    def _activity(self) -> None:
        self.last_activity = time.monotonic()

    def run(self) -> None:
        while True:
            if self.handover:
                self.api.close()
            if self.handover and not self.commands and not self.supervisor.in_flight():
                assert self.supervisor.keeper is not None
                self.supervisor.keeper.tell("handover", python=self.handover[0],
                                            src=self.handover[1])
                return   # not released: the keeper keeps the root for the next build
            busy = self.busy()
            if self.draining and not busy:
                break
            timeout = None
            if not busy and self.idle_exit > 0 and not self.draining:
                timeout = self.last_activity + self.idle_exit - time.monotonic()
                if timeout <= 0:
                    break
            self.loop.run_once(timeout)
            if busy:
                self.last_activity = time.monotonic()
        self.release()

    def drain(self) -> None:
        self.draining = True
        self.api.close()   # the command holding the API socket hands it to the next service
        self.release()

    def accept(self) -> None:
        assert self.listener is not None
        try:
            conn, _ = self.listener.accept()
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
            log(f"request refused: {type(e).__name__}: {e}")
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
        kind, request, fds = _receive(conn)
        if kind == protocol.CALL:
            import json
            message = json.loads(request)
            if message.get("op") == "api":
                self.api.add(conn, fds, message)
            else:
                self.supervisor.request(conn, message, fds)
            return
        try:
            version, cwd, argv, env = protocol.decode_request(request)
            from hull import __version__
            version, _, build = version.partition("\n")
            if version != __version__:
                self._upgrade(version, build.split("\n"))
            from hull.service.jobs import one_thread
            one_thread()
            pid = os.fork()
            if pid == 0:
                from hull.service.jobs import close_all_but
                close_all_but({0, 1, 2, *fds})
                from hull.service.worker import run
                run(self.command, argv, env, cwd, fds)
        finally:
            for fd in fds:   # the service must hold none of the client's stdio
                os.close(fd)
        conn.setblocking(False)
        job = Command(conn, pid)
        self.commands[pid] = job
        self.loop.watch_child(pid, lambda status: self.ended(job, status))
        self.loop.add_reader(conn, lambda: self.client_says(job))

    def _upgrade(self, version: str, build: list[str]) -> None:
        """A client of another version. Under a keeper, with the client's build known:
        hand over — stop accepting, let the commands running here end, and leave; the
        keeper starts the client's build on the same listener, which takes the containers
        over as after a crash (nothing lost) and answers the client's retry. Otherwise
        stop listening so that the client starts a service of its version — once this one
        supervises nothing; until then it serves the client itself."""
        if self.supervisor.keeper is not None and len(build) == 2 and \
                all(os.path.isabs(p) for p in build):
            if not self.handover:
                log(f"a client of version {version} came: handing over to {build[1]}")
                self.handover = build
                assert self.listener is not None
                self.loop.remove_reader(self.listener)
            raise Upgrade(version)
        if self.supervisor.supervises():
            log(f"a client of version {version} came; serving it (containers running here)")
            return
        log(f"a client of version {version} came: draining for an upgrade")
        self.drain()
        raise Upgrade(version)

    def client_says(self, job: Command) -> None:
        if job.conn is None:
            return
        try:
            data = job.conn.recv(4096)
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

    def ended(self, job: Command, status: int) -> None:
        self.commands.pop(job.pid, None)
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

    def _forget_conn(self, job: Command) -> None:
        if job.conn is None:
            return
        self.loop.forget(job.conn)
        job.conn.close()
        job.conn = None


def _receive(conn: socket.socket) -> tuple[bytes, bytes, list[int]]:
    """(kind, payload, fds): a command line with the client's three stdio fds (MAGIC), or
    a supervision call with at most one (CALL)."""
    head_size = len(protocol.MAGIC) + 4
    head, fds, _, _ = socket.recv_fds(conn, head_size, 3)
    got = head
    try:
        while len(got) < head_size:
            more = conn.recv(head_size - len(got))
            if not more:
                break
            got += more
        kind = got[:len(protocol.MAGIC)]
        if not ((kind == protocol.MAGIC and len(fds) == 3) or
                (kind == protocol.CALL and len(fds) <= 1)):
            raise ValueError("not a hull request")
        size = int.from_bytes(got[len(protocol.MAGIC):head_size], "big")
        if size > protocol.MAX_REQUEST:
            raise ValueError("request too large")
        payload = b""
        while len(payload) < size:
            chunk = conn.recv(size - len(payload))
            if not chunk:
                raise ValueError("request cut short")
            payload += chunk
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    return kind, payload, list(fds)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _write(path: str, text: str) -> None:
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


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
            log(f"preload {name}: {e}")
    if prepare is not None:
        prepare()
    import gc  # what is loaded now is never collected: a forked worker's or job's
    gc.collect()   # collector then leaves those objects' pages alone (no copy on write)
    gc.freeze()


def serve(root: str, state: str, command: Callable[[list[str]], int],
          idle_exit: float | None = None, prepare: Callable[[], None] | None = None) -> int:
    """Run the service for root in this process, under the keeper that started it, until
    it is idle or told to stop. command is what a worker runs (the command line's main,
    passed in: the service sits below the CLI it serves, which starts it)."""
    from hull.linux import process as proc
    from hull.service.log import open_log
    service = Service(root, state, idle_exit_setting() if idle_exit is None else idle_exit,
                      command)
    service.claim()
    open_log(os.path.join(state, protocol.LOGFILE))
    proc.prctl(proc.PR_SET_CHILD_SUBREAPER, 1)   # containers' PID 1s become our children

    def on_term() -> None:
        if service.draining:   # a second SIGTERM: leave now, containers or not
            raise SystemExit(0)
        service.drain()
    service.loop.install_signals(on_term)
    preload(prepare)
    service.listen()   # commands run while the survey goes on: a cold start waits less
    service.supervisor.recover()
    service.dns.sync()
    log(f"serving {root} (idle exit {service.idle_exit:g} s)")
    try:
        service.run()
        service.dns.close()
        if not service.handover:
            service.release()   # left on its own: the keeper leaves with it
            # nothing runs, and no new service took the root over since it was let go
            if not service.supervisor.supervises() and \
                    not os.path.exists(os.path.join(state, protocol.SOCKET)):
                _network_teardown(root)
    except Exception:   # a bug: on record, and the keeper starts another service
        import traceback
        log(f"the service failed:\n{traceback.format_exc()}")
        raise
    finally:
        log("left")   # by an exception: not released, so the keeper starts another
    return 0


def _network_teardown(root: str) -> None:
    """Leaving with no container running: hull's bridges and firewall table go too, so
    an idle host carries nothing of hull's (the next start makes them again)."""
    try:
        if not os.path.exists(os.path.join(root, "metadata.db")):
            # the root was removed under it: its default bridge and table, by name
            from hull.engine.networks import teardown_by_name
            teardown_by_name(root)
            return
        from hull.engine.containers import ContainerService
        from hull.engine.networks import teardown
        teardown(ContainerService(root))
    except Exception as e:   # the host keeps a bridge: said, not fatal
        log(f"network teardown failed: {type(e).__name__}: {e}")
