"""Every container's /proc view, served by the engine service from its one event loop (as
one lxcfs serves all containers): a FUSE mount in each container's directory, whose files
the runtime binds over /proc/meminfo, /proc/cpuinfo, … at start, and the sysinfo(2)
notifications of the container's seccomp filter (sysinfo.py).

The loop hands a readable /dev/fuse fd to `serve_one` and a readable notification fd to
`sysinfo.answer`; the one timer samples every view's load average each 5 s. A view's fds
are also held outside the service, so the container's /proc survives it: by the root's
keeper (service/keeper.py, through `holder`), or, with no keeper to hold them, by a
`sleep` of the view's own (keeper.py here).
"""

from __future__ import annotations

import os
import time
from typing import Protocol

from hull.errors import HullError
from hull.procfs import fuse, views

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

# file in the FUSE directory → where the container sees it
TARGETS = {"meminfo": "/proc/meminfo", "cpuinfo": "/proc/cpuinfo", "stat": "/proc/stat",
           "uptime": "/proc/uptime", "loadavg": "/proc/loadavg",
           "diskstats": "/proc/diskstats", "swaps": "/proc/swaps",
           "cpu-online": "/sys/devices/system/cpu/online"}
DIRECTORY = "procfs"   # in the container's directory


def with_sysinfo(seccomp: dict[str, Any], socket_path: str) -> dict[str, Any]:
    """The container's OCI seccomp filter, with sysinfo(2) sent to the agent at
    socket_path instead of the kernel."""
    rules = [{**r, "names": [n for n in r["names"] if n != "sysinfo"]}
             for r in seccomp.get("syscalls") or []]
    rules = [r for r in rules if r["names"]]
    rules.append({"names": ["sysinfo"], "action": "SCMP_ACT_NOTIFY"})
    return {**seccomp, "syscalls": rules, "listenerPath": socket_path}


def oci_mounts(directory: str) -> list[dict[str, Any]]:
    return [{"destination": target, "type": "bind", "source": f"{directory}/{name}",
             "options": ["bind", "ro", "nosuid", "nodev", "noexec"]}
            for name, target in TARGETS.items()]


class Reactor(Protocol):
    """What a view server needs of the loop that drives it (hull.service.loop.Loop)."""

    def add_reader(self, obj: int, callback: Callable[[], None]) -> None: ...

    def remove_reader(self, obj: int) -> None: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Any: ...


class View:
    """One container's files; cgroup_paths gives its cgroup directories once the runtime
    has made them (the first read comes after that)."""

    def __init__(self, directory: str, fd: int, cgroup_paths: Callable[[], dict[str, str]],
                 sysinfo_path: str) -> None:
        self.directory, self.fd, self.sysinfo_path = directory, fd, sysinfo_path
        self.listener: Any = None
        self.notify: list[int] = []
        self.keeper = 0
        self._paths = cgroup_paths
        self._cgroup: views.Cgroup | None = None
        self.started = time.monotonic()
        self.load = views.LoadAverage(self.cgroup)
        cg = self.cgroup
        self.files = fuse.Files({
            "meminfo": lambda: views.meminfo(cg()),
            "cpuinfo": lambda: views.cpuinfo(cg()),
            "stat": lambda: views.stat(cg(), self.uptime()),
            "uptime": lambda: views.uptime(cg(), self.uptime()),
            "loadavg": self.load.render,
            "diskstats": lambda: views.diskstats(cg()),
            "swaps": lambda: views.swaps(cg()),
            "cpu-online": lambda: views.cpu_online(cg()),
        })

    def cgroup(self) -> views.Cgroup:
        if self._cgroup is None:
            self._cgroup = views.Cgroup(self._paths())
        return self._cgroup

    def uptime(self) -> float:
        return time.monotonic() - self.started

    def sysinfo(self) -> bytes:
        return views.sysinfo(self.cgroup(), self.uptime(), self.load.loads)


class ViewServer:
    """The views of every container, by key (the container's ID)."""

    SAMPLE_EVERY = 5.0

    def __init__(self, reactor: Reactor) -> None:
        self.reactor = reactor
        self.views: dict[str, View] = {}
        self.sampler: Any = None
        # holder(key, fds) keeps copies of a view's fds ([] : let go of them); None: each
        # view gets a `sleep` keeper of its own
        self.holder: Callable[[str, list[int]], None] | None = None

    def open(self, key: str, directory: str, cgroup_paths: Callable[[], dict[str, str]],
             sysinfo_path: str = "", taken: tuple[int, list[int]] | None = None) -> View:
        """Mount and serve a view (taken: the fds of one mounted already, from its keeper);
        sysinfo_path: where to take notification fds, "" for none."""
        notify: list[int] = []
        if taken is None:
            os.makedirs(directory, mode=0o755, exist_ok=True)
            fd = fuse.mount(directory)
        else:
            fd, notify = taken
        os.set_blocking(fd, False)
        view = View(directory, fd, cgroup_paths, sysinfo_path)
        self.views[key] = view
        self.reactor.add_reader(fd, lambda: self._request(key))
        if sysinfo_path:
            from hull.procfs.sysinfo import listen
            view.listener = listen(sysinfo_path)
            self.reactor.add_reader(view.listener.fileno(), lambda: self._accept(key))
        for n in notify:
            self._add_notify(key, view, n)
        if taken is not None:
            self.keep(key)
        if self.sampler is None:
            self.sampler = self.reactor.call_later(self.SAMPLE_EVERY, self._sample)
        return view

    def keep(self, key: str) -> None:
        """A keeper (keeper.py) holds the view's fds from now on, replacing the last one.
        Called once the container runs: a process spawn less on the way to it."""
        view = self.views.get(key)
        if view is None:
            return
        if self.holder is not None:
            self.holder(key, [view.fd, *view.notify])
            view.keeper = -1   # held: new notification fds are held too
            return
        from hull.procfs import keeper
        old = view.keeper or keeper.recorded(view.directory)
        view.keeper = keeper.spawn([view.fd, *view.notify])
        keeper.save(view.directory, view.keeper, view.fd, view.notify)
        keeper.end(old)

    def close(self, key: str) -> None:
        """Stop serving (the mount itself is removed by `stop`)."""
        view = self.views.pop(key, None)
        if view is None:
            return
        if view.keeper == -1 and self.holder is not None:
            self.holder(key, [])
        self.reactor.remove_reader(view.fd)
        os.close(view.fd)
        for n in view.notify:
            self.reactor.remove_reader(n)
            os.close(n)
        if view.listener is not None:
            self.reactor.remove_reader(view.listener.fileno())
            view.listener.close()
            try:
                os.unlink(view.sysinfo_path)
            except FileNotFoundError:
                pass

    def _request(self, key: str) -> None:
        view = self.views[key]
        if not fuse.serve_one(view.fd, view.files):
            self.close(key)

    def _accept(self, key: str) -> None:
        from hull.procfs.sysinfo import accept_fds
        view = self.views[key]
        fds = accept_fds(view.listener)
        for n in fds:
            self._add_notify(key, view, n)
        if fds and view.keeper:
            self.keep(key)

    def _add_notify(self, key: str, view: View, fd: int) -> None:
        view.notify.append(fd)
        self.reactor.add_reader(fd, lambda: self._notification(key, fd))

    def _notification(self, key: str, fd: int) -> None:
        from hull.procfs import sysinfo
        view = self.views[key]
        if sysinfo.finished(fd):   # every process of that filter is gone
            self.reactor.remove_reader(fd)
            view.notify.remove(fd)
            os.close(fd)
            return
        sysinfo.answer(fd, view.sysinfo)

    def _sample(self) -> None:
        for view in self.views.values():
            try:
                view.load.sample()
            except (OSError, KeyError, HullError):
                pass   # the cgroup (or the runtime's record of it) is not there yet, or gone
        self.sampler = self.reactor.call_later(self.SAMPLE_EVERY, self._sample) \
            if self.views else None


def stop(directory: str) -> None:
    """Unmount a view (the serving thread sees the end and exits) and end its keeper;
    nothing if there is none."""
    from hull.linux import mount as m
    from hull.procfs import keeper
    try:
        m.umount(directory, m.MNT_DETACH)
    except OSError:
        pass
    keeper.kill(directory)
