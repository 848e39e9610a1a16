"""The root's keeper: the small process above the engine service that outlives it.

A service killed outright (SIGKILL, the OOM killer, a bug) would take along what only it
holds: the read ends of its containers' output pipes (each container would then die of
SIGPIPE at its next write), their pty masters (SIGHUP), and, as their parent, their exit
statuses (their PID 1s would be reparented to the host's init, which reaps them unseen).
The keeper holds all of it too:

    keeper   subreaper; holds service.lock, the listening socket, a copy of every running
      │      container's stdio fds; reaps orphaned PID 1s and keeps their exit statuses
      └─ service   the event loop (server.py); the containers' PID 1s are its children
           └─ containers' PID 1s, jobs, command workers

When the service dies by a signal or an error, the keeper starts a new one at once on the
same listener (clients queue in its backlog meanwhile). The new one takes the fds and the
exits back ("recover"): what the containers printed meanwhile waited in their pipes (1 MiB
each; a writer blocks beyond that) and goes to their logs, and an exit that happened
meanwhile is recorded with its real code. A service that leaves on its own (idle, drained,
--stop) ends the keeper too; one that hands the root to a newer version first tells the
keeper to let go of the lock and the listener ("release").

Messages are JSON on a SOCK_SEQPACKET pair, fds attached:
    service → keeper   ready (it serves) · hold {cid, tty} + fds · drop {cid} · release
                       recover
                       exited {cid, status} (reaped; kept until) · recorded {cid}
                       handover {python, src}: the next service is that build's
    keeper → service   exit {pid, status, start} (an orphan reaped) · held {cid, tty} + fds
                       … exits [[pid, status, start], …] · recovered

The keeper is standard library only, one thread, no engine import (a few MiB): it is the
one process whose failure nothing repairs, so it does as little as it can.
"""

from __future__ import annotations

import array
import fcntl
import json
import os
import select
import signal
import socket
import sys
import time

KEEPER_FD = "HULL_KEEPER_FD"      # the service's end of the pair
LISTEN_FD = "HULL_LISTEN_FD"      # the listening socket the keeper bound (or systemd passed)
LOCK_FD = "HULL_LOCK_FD"          # service.lock, flocked by the keeper
MAX_FDS = 253                     # SCM_MAX_FD: a view holds one fd per exec'd filter
FAILED_STARTS = 5                 # services in a row that die before they serve: give up
KEPT_EXITS = 4096


def send(sock: socket.socket, message: dict[str, object], fds: list[int] | None = None
         ) -> None:
    data = json.dumps(message).encode()
    if fds:
        sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                               array.array("i", fds).tobytes())])
    else:
        sock.send(data)


def receive(sock: socket.socket) -> tuple[dict[str, object] | None, list[int]]:
    """The next message and its fds (close-on-exec); (None, []) at end of file."""
    data, ancillary, _, _ = sock.recvmsg(65536, socket.CMSG_SPACE(MAX_FDS * 4),
                                         socket.MSG_CMSG_CLOEXEC)
    fds = array.array("i")
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
    if not data:
        for fd in fds:
            os.close(fd)
        return None, []
    message: dict[str, object] = json.loads(data)
    return message, list(fds)


def stat_field(pid: int, number: int) -> int:
    """Field `number` (1-based, as proc(5) counts) of /proc/PID/stat, zombies included;
    0 when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
        return int(data[data.rindex(b")") + 2:].split()[number - 3])
    except (OSError, ValueError, IndexError):
        return 0


def start_time(pid: int) -> int:
    """Field 22 of /proc/PID/stat: which process this pid was."""
    return stat_field(pid, 22)


class Keeper:
    def __init__(self, root: str, state: str, service_argv: list[str]) -> None:
        self.root, self.state, self.service_argv = root, state, service_argv
        self.lock_fd = -1
        self.listener: socket.socket | None = None
        self.held: dict[str, tuple[dict[str, object], list[int]]] = {}
        self.exits: dict[int, tuple[int, int]] = {}   # pid -> (wait status, start time)
        self.ended: dict[str, int] = {}   # cid -> wait status the service reaped, until
        #                                   its finish job has recorded it
        self.service = 0
        self.conn: socket.socket | None = None
        self.released = False
        self.failed_starts = 0   # services in a row that ended before "ready"
        self.ready = False
        self.next_argv: list[str] = []   # a handover: the build to start next

    # ---- the root ---------------------------------------------------------------------

    def claim(self) -> bool:
        """Take the root's service lock and its listening socket; False when another
        keeper has them."""
        from hull.service import protocol
        os.makedirs(self.state, mode=0o711, exist_ok=True)
        self.lock_fd = os.open(os.path.join(self.state, protocol.LOCKFILE),
                               os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self.lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.lock_fd)
            return False
        self.listener = _activated_socket() or _bind(self.state, protocol.SOCKET)
        return True

    def release(self) -> None:
        """The service has handed the root over: a newer keeper may claim it."""
        self.released = True
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        if self.lock_fd >= 0:
            os.close(self.lock_fd)
            self.lock_fd = -1

    # ---- the service ------------------------------------------------------------------

    def start_service(self) -> None:
        assert self.listener is not None
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.set_inheritable(False)
        env = dict(os.environ, HULL_STATE=self.state, **{
            KEEPER_FD: str(theirs.fileno()), LISTEN_FD: str(self.listener.fileno()),
            LOCK_FD: str(self.lock_fd)})
        pid = os.fork()
        if pid == 0:
            try:
                for fd in (theirs.fileno(), self.listener.fileno(), self.lock_fd):
                    os.set_inheritable(fd, True)
                signal.set_wakeup_fd(-1)
                os.execve(self.service_argv[0], self.service_argv, env)
            finally:
                os._exit(127)
        theirs.close()
        self.service, self.conn = pid, ours
        self.ready = False

    def _service_ended(self, status: int) -> bool:
        """Whether the keeper should go on (a new service started) after its service
        ended with this wait status."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        self.service = 0
        if self.next_argv:   # an upgrade: the new build takes over, as after a crash
            self.service_argv, self.next_argv = self.next_argv, []
            _log(self.state, f"handing the root over to {self.service_argv[3]!r}")
            self.start_service()
            return True
        deliberate = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        if deliberate or self.released:
            return False
        self.failed_starts = 0 if self.ready else self.failed_starts + 1
        if self.failed_starts >= FAILED_STARTS:   # broken, not killed: do not loop
            _log(self.state, f"the engine service fails as it starts ({status:#x}); "
                 "giving up")
            return False
        _log(self.state, f"the engine service ended ({status:#x}); starting another")
        self.start_service()
        return True

    # ---- messages ---------------------------------------------------------------------

    def _message(self) -> None:
        assert self.conn is not None
        try:
            message, fds = receive(self.conn)
        except (OSError, ValueError):
            message, fds = None, []
        if message is None:   # the service closed its end: it is ending
            self.conn.close()
            self.conn = None
            return
        op = message.get("op")
        if op == "hold":
            self._drop(str(message["cid"]))
            self.held[str(message["cid"])] = ({"tty": bool(message.get("tty"))}, fds)
            return
        for fd in fds:
            os.close(fd)
        if op == "drop":
            self._drop(str(message["cid"]))
        elif op == "exited":
            self.ended[str(message["cid"])] = int(message["status"])  # type: ignore[call-overload]
        elif op == "recorded":
            self.ended.pop(str(message["cid"]), None)
        elif op == "ready":
            self.ready = True
        elif op == "release":
            self.release()
        elif op == "handover":
            self.next_argv = argv_for("from hull.cli.main import entry; entry()", self.root,
                                      ["system", "service"], str(message["python"]),
                                      str(message["src"]))
        elif op == "recover":
            for cid, (meta, held) in self.held.items():
                send(self.conn, {"held": cid, **meta}, held)
            send(self.conn, {"exits": [[p, s, t] for p, (s, t) in self.exits.items()],
                             "ended": self.ended})
            send(self.conn, {"recovered": True})

    def _drop(self, cid: str) -> None:
        _, fds = self.held.pop(cid, ({}, []))
        for fd in fds:
            os.close(fd)

    # ---- children ---------------------------------------------------------------------

    def reap(self) -> bool:
        """Every child that ended; False once the keeper should leave."""
        go_on = True
        while True:
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                break
            if info is None or not info.si_pid:
                break
            pid = info.si_pid
            started = start_time(pid)   # read before the reap frees the pid
            _, status = os.waitpid(pid, 0)
            if pid == self.service:
                go_on = self._service_ended(status)
                continue
            self.exits[pid] = (status, started)   # an orphaned container PID 1 (or job)
            while len(self.exits) > KEPT_EXITS:
                del self.exits[next(iter(self.exits))]
            if self.conn is not None:
                try:
                    send(self.conn, {"exit": pid, "status": status, "start": started})
                except OSError:
                    pass
        return go_on

    def run(self) -> int:
        wake_r, wake_w = socket.socketpair()
        for end in (wake_r, wake_w):
            end.setblocking(False)
        signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda _s, _f: None)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._forward)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        self.start_service()
        while self.service:
            watched: list[socket.socket] = [wake_r] + ([self.conn] if self.conn else [])
            try:
                ready, _, _ = select.select(watched, [], [])
            except InterruptedError:
                continue
            if self.conn is not None and self.conn in ready:
                self._message()
            if wake_r in ready:
                try:
                    while wake_r.recv(512):
                        pass
                except (BlockingIOError, InterruptedError):
                    pass
                if not self.reap():
                    break
        for cid in list(self.held):
            self._drop(cid)
        return 0

    def _forward(self, signum: int, _frame: object) -> None:
        """SIGTERM to the keeper is SIGTERM to the service (systemd stops the unit)."""
        if self.service:
            try:
                os.kill(self.service, signum)
            except ProcessLookupError:
                pass


def _bind(state: str, name: str) -> socket.socket:
    """The root-only listening socket at <state>/<name> (a dead service's one replaced)."""
    dirfd = os.open(state, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            os.unlink(os.path.join(state, name))
        except FileNotFoundError:
            pass
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        old = os.umask(0o177)   # root only, as the service's peer check also insists
        try:
            listener.bind(f"/proc/self/fd/{dirfd}/{name}")
        finally:
            os.umask(old)
        listener.listen(128)
        return listener
    finally:
        os.close(dirfd)


def _activated_socket() -> socket.socket | None:
    """The listening socket systemd passes (LISTEN_FDS=1, fd 3), if it passed one to us."""
    if os.environ.get("LISTEN_PID") != str(os.getpid()) or \
            os.environ.get("LISTEN_FDS") != "1":
        return None
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(name, None)
    os.set_inheritable(3, False)
    return socket.socket(fileno=3)


def _log(state: str, text: str) -> None:
    from hull.service import protocol
    try:
        with open(os.path.join(state, protocol.LOGFILE), "a") as f:
            f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {os.getpid()} keeper: {text}\n")
    except OSError:
        pass


def argv_for(module_call: str, root: str, extra: list[str], python: str = "",
             src: str = "") -> list[str]:
    """An interpreter command line that runs module_call with hull's sources on its path,
    and --root root plus extra as its arguments; this build's unless python and src say
    another's."""
    src = src or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return [python or sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {src!r}); "
            f"{module_call}", "--root", root, *extra]


def keeper_argv(root: str, extra: list[str]) -> list[str]:
    """The keeper's command line (`… keeper --root ROOT [service arguments]`, as ps
    shows it)."""
    argv = argv_for("from hull.service.keeper import main; main()", root, extra)
    return [*argv[:4], "keeper", *argv[4:]]


def main() -> None:
    """python -c '…keeper import main; main()' keeper --root ROOT [service arguments…]:
    keep the root's service, in this process (which a client started detached, or
    systemd)."""
    from hull.service import protocol
    args = sys.argv[1:]
    if args and args[0] == "keeper":
        args = args[1:]
    root = os.path.abspath(args[1])
    state = os.path.abspath(protocol.state_dir(root))
    keeper = Keeper(root, state, argv_for("from hull.cli.main import entry; entry()", root,
                                          ["system", "service", *args[2:]]))
    if not keeper.claim():
        sys.exit(0)   # another keeper has the root: its service serves
    from hull.linux import process as proc
    proc.prctl(proc.PR_SET_CHILD_SUBREAPER, 1)   # a dead service's orphans come to us
    sys.exit(keeper.run())


class KeeperLink:
    """The service's side of the pair: what it tells its keeper, and asks it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.pending: list[dict[str, object]] = []   # exits that came during recover()

    def tell(self, op: str, fds: list[int] | None = None, **fields: object) -> None:
        try:
            send(self.sock, {"op": op, **fields}, fds)
        except OSError:
            pass   # the keeper is gone: the service goes on without one

    def recover(self) -> tuple[dict[str, tuple[bool, list[int]]], dict[int, tuple[int, int]],
                               dict[str, int]]:
        """What the keeper holds for a new service: {cid: (tty, fds)}, the exits it
        reaped {pid: (wait status, start time)}, and those the dead service had reaped
        but not recorded {cid: wait status}."""
        held: dict[str, tuple[bool, list[int]]] = {}
        exits: dict[int, tuple[int, int]] = {}
        ended: dict[str, int] = {}
        self.tell("recover")
        while True:
            try:
                message, fds = receive(self.sock)
            except (OSError, ValueError):
                message, fds = None, []
            if message is None or message.get("recovered"):
                return held, exits, ended
            if "held" in message:
                held[str(message["held"])] = (bool(message.get("tty")), fds)
            elif "exits" in message:
                for pid, status, started in message["exits"]:  # type: ignore[attr-defined]
                    exits[int(pid)] = (int(status), int(started))
                ended = {str(k): int(v) for k, v in
                         message.get("ended", {}).items()}  # type: ignore[attr-defined]
            elif "exit" in message:
                self.pending.append(message)

    def next_exit(self) -> dict[str, object] | None:
        """An orphan's exit the keeper reports ({exit: pid, status, start}); None when the
        keeper has gone."""
        if self.pending:
            return self.pending.pop(0)
        while True:
            try:
                message, fds = receive(self.sock)
            except BlockingIOError:
                return {}
            except (OSError, ValueError):
                return None
            for fd in fds:
                os.close(fd)
            if message is None or "exit" in message:
                return message
