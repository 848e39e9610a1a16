"""One container's /proc view: a FUSE mount in its directory, served by a thread of its
monitor, whose files the runtime binds over /proc/meminfo, /proc/cpuinfo, … at start.

Why a thread of the monitor rather than one daemon for every container (lxcfs's design):
the monitor already lives exactly as long as the container and is the process hull
restarts or adopts when something goes wrong; a thread costs no new process, and a fault
in one container's view cannot take every container's /proc down at once.
"""

from __future__ import annotations

import os
import threading
import time

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


class ProcServer:
    """Serves the files of one container; cgroup_paths gives its cgroup directories once
    the runtime has made them (the first read comes after that). sysinfo_socket: where
    to take seccomp notification fds for sysinfo(2) (procfs/sysinfo.py), "" for none."""

    def __init__(self, directory: str, cgroup_paths: Callable[[], dict[str, str]],
                 sysinfo_socket: str = "", taken: tuple[int, list[int]] | None = None
                 ) -> None:
        """taken: the fds of a view already mounted, copied from its keeper (resume)."""
        self.directory = directory
        self.sysinfo_socket = sysinfo_socket
        self.taken = taken
        self.keeper = 0
        self.keeping = False
        self.notify: list[int] = []
        self.lock = threading.RLock()   # the set of fds and the keeper holding them
        self._paths = cgroup_paths
        self._cgroup: views.Cgroup | None = None
        self.started = time.monotonic()
        self.load = views.LoadAverage(self.cgroup)
        self.done = threading.Event()
        self.fd = -1

    def cgroup(self) -> views.Cgroup:
        if self._cgroup is None:
            self._cgroup = views.Cgroup(self._paths())
        return self._cgroup

    def uptime(self) -> float:
        return time.monotonic() - self.started

    def files(self) -> fuse.Files:
        cg = self.cgroup
        return fuse.Files({
            "meminfo": lambda: views.meminfo(cg()),
            "cpuinfo": lambda: views.cpuinfo(cg()),
            "stat": lambda: views.stat(cg(), self.uptime()),
            "uptime": lambda: views.uptime(cg(), self.uptime()),
            "loadavg": self.load.render,
            "diskstats": lambda: views.diskstats(cg()),
            "swaps": lambda: views.swaps(cg()),
            "cpu-online": lambda: views.cpu_online(cg()),
        })

    def start(self) -> None:
        notify: list[int] = []
        if self.taken is None:
            os.makedirs(self.directory, mode=0o755, exist_ok=True)
            self.fd = fuse.mount(self.directory)
        else:
            self.fd, notify = self.taken
            self.keeping = True   # an adopter: the container is long started
        self._keep(notify)
        files = self.files()
        threading.Thread(target=self._serve, args=(files,), name="procfs",
                         daemon=True).start()
        threading.Thread(target=self._sample, name="loadavg", daemon=True).start()
        if self.sysinfo_socket:
            from hull.procfs.sysinfo import Agent
            agent = Agent(self.sysinfo_socket, lambda: views.sysinfo(
                self.cgroup(), self.uptime(), self.load.loads), notify, self._keep, self.lock)
            threading.Thread(target=agent.run, args=(self.done.is_set,), name="sysinfo",
                             daemon=True).start()

    def keep(self) -> None:
        """Start keeping the fds (procfs/keeper.py). The monitor calls this once the
        container has started: a fork+exec less on the way to a running container."""
        self.keeping = True
        self._keep(self.notify)

    def _keep(self, notify_fds: list[int]) -> None:
        """A keeper holding the FUSE fd and these notification fds replaces the last."""
        from hull.procfs import keeper
        with self.lock:
            self.notify = list(notify_fds)
            if not self.keeping:
                return
            old = self.keeper or keeper.recorded(self.directory)
            self.keeper = keeper.spawn([self.fd, *self.notify])
            keeper.save(self.directory, self.keeper, self.fd, self.notify)
            keeper.end(old)

    def _serve(self, files: fuse.Files) -> None:
        try:
            fuse.serve(self.fd, files)
        finally:
            self.done.set()
            os.close(self.fd)

    def _sample(self) -> None:
        while not self.done.wait(5):
            try:
                self.load.sample()
            except (OSError, KeyError):
                pass   # the cgroup is not there yet, or gone

    def stop(self) -> None:
        stop(self.directory)
        self.done.wait(2)


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


def resume(directory: str, cgroup_paths: Callable[[], dict[str, str]],
           sysinfo_socket: str) -> ProcServer | None:
    """Serve a view whose monitor died, on the connections its keeper kept open."""
    from hull.procfs import keeper
    taken = keeper.take(directory)
    if taken is None:
        return None
    view = ProcServer(directory, cgroup_paths, sysinfo_socket, taken)
    view.start()
    return view
