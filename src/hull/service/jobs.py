"""Work the service must not do in its loop, in processes forked from it.

A job is a forked child running one function with a channel back to the service (a
SOCK_SEQPACKET socketpair: runtime/sync.py's typed messages, fds attached). Starting a
container (rootfs, runtime create: tens of milliseconds), recording an exit and removing
a --rm container (umounts, cgroups, SQLite), and each health probe are jobs: the loop
goes on moving other containers' output meanwhile, and two starts use both cores.

The service has one thread when it forks (checked at each fork), and the child closes
every descriptor of the service's it does not need, so a job holds no client's socket,
no other container's pipe and not the listener.
"""

from __future__ import annotations

import os
import signal

from hull.runtime.sync import Channel

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

    from hull.service.loop import Loop


class Job:
    """The service's side of one job."""

    def __init__(self, pid: int, channel: Channel) -> None:
        self.pid, self.channel = pid, channel
        self.closed = False

    def send(self, msg_type: str, **data: Any) -> None:
        try:
            self.channel.send(msg_type, **data)
        except OSError:
            pass   # the job is gone: its end shows in the exit callback

    def close(self, loop: Loop) -> None:
        if not self.closed:
            self.closed = True
            loop.forget(self.channel.fileno())
            self.channel.close()


def one_thread() -> None:
    """DESIGN.md's rule, checked at every fork: a fork of a process that runs threads can
    leave the child with a lock some other thread held."""
    threads = len(os.listdir("/proc/self/task"))
    if threads != 1:
        raise RuntimeError(f"the engine service runs {threads} threads; it forks with one")


def spawn(loop: Loop, body: Callable[[Channel], None], keep: list[int],
          on_message: Callable[[Job, dict[str, Any]], None],
          on_exit: Callable[[Job, int], None]) -> Job:
    """Fork a job running body(channel); keep: fds the job needs besides its channel.
    on_message(job, message) for each message it sends, on_exit(job, wait status) once
    it has ended (after its last message)."""
    one_thread()
    ours, theirs = Channel.pair()
    pid = os.fork()
    if pid == 0:
        ours.close()
        _in_child(theirs, keep, body)
    theirs.close()
    job = Job(pid, ours)
    ended: list[int] = []

    def readable() -> None:
        try:
            msg = job.channel.recv(eof=True)
        except (OSError, ValueError):
            msg = {}
        except Exception as e:   # an {"type": "error"} message: the job's own report
            msg = {"type": "error", "message": str(e)}
        if not msg:   # end of file: the job has closed its end (it is ending)
            job.close(loop)
            if ended:
                on_exit(job, ended[0])
            return
        on_message(job, msg)

    def exited(status: int) -> None:
        ended.append(status)
        if job.closed:
            on_exit(job, status)
        # else: its last messages are still to be read; end-of-file follows them

    loop.add_reader(ours.fileno(), readable)
    loop.watch_child(pid, exited)
    return job


def _in_child(channel: Channel, keep: list[int], body: Callable[[Channel], None]
              ) -> NoReturn:
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_DFL)
        close_all_but({0, 1, 2, channel.fileno(), *keep})
        body(channel)
        code = 0
    except BaseException:
        import traceback
        try:
            channel.send_error(traceback.format_exc(limit=8).strip().splitlines()[-1])
        except Exception:
            pass
        from hull.service.log import log
        log(traceback.format_exc())
    finally:
        os._exit(code)


def close_all_but(keep: set[int]) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass   # the listing's own fd
