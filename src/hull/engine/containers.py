"""Containers as a docker user sees them: create (image → rootfs → bundle), run under a
monitor, and the lifecycle commands. The runtime is called as a library."""

from __future__ import annotations

import os
import shutil

from hull.engine import rootfs as rootfs_mod
from hull.engine.monitor import now
from hull.engine.store import Container, ContainerStore
from hull.errors import FailedPrecondition, NotFound
from hull.image.store import ImageStore

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hull.engine.filters import Filters
    from hull.runtime.lifecycle import Runtime


class ContainerService:
    def __init__(self, root: str, state: str | None = None) -> None:
        self.root = root
        self.state_dir = state or os.environ.get("HULL_STATE") or \
            ("/run/hull" if root == "/var/lib/hull" else os.path.join(root, "state"))
        self.images = ImageStore(root)
        self.store = ContainerStore(root)
        from hull.engine.volumes import VolumeStore
        self.volumes = VolumeStore(root)
        self.proc_views: dict[str, Any] = {}   # in a monitor: the views it serves

    def close(self) -> None:
        """Before forking the monitor: with SQLite connections open across a fork, one
        process's close can drop the other's locks and delete the WAL it writes to."""
        self.images.close()
        self.store.db.close()

    def event(self, c: Container, action: str, **attributes: Any) -> None:
        from hull.engine import events
        events.emit(self.root, c, action, **attributes)

    def runtime(self) -> Runtime:
        from hull.runtime.lifecycle import Runtime
        return Runtime(os.path.join(self.state_dir, "runtime"))

    # ---- create -------------------------------------------------------------------------

    def remapped_copies(self) -> str:
        """Where layers shifted for remapped containers are kept (remapped_layers.py)."""
        return os.path.join(self.root, "remapped")

    def _rw_dir(self, cid: str) -> str:
        """The rw snapshot's directory (its upperdir fs/ and workdir work/)."""
        return os.path.dirname(self.images.snapshotter.upper_dir(cid))

    def shm_dir(self, cid: str) -> str:
        return os.path.join(self.store.dir(cid), "shm")


    # ---- run (called inside the monitor) ------------------------------------------------

    def start_in_runtime(self, cid: str, console_socket: str | None = None) -> int:
        c = self.store.get(cid)
        rt = self.runtime()
        from hull.trace import mark
        mark("monitor: starting")
        proc_view = self._start_proc_view(c, rt)
        mark("monitor: /proc view served")
        try:
            from hull.engine import bundle as bundles
            bundle = bundles.prepare(self, c, proc_view)
            try:
                from hull.runtime.create import CreateOptions
                st = rt.create(cid, bundle, CreateOptions(console_socket=console_socket))
                if bundles.own_network(c.host_config):
                    from hull.network import loopback
                    loopback.bring_up(st.pid)
                rt.start(cid)
            except BaseException:
                rootfs_mod.umount(os.path.join(bundle, "rootfs"))
                raise
        except BaseException:
            if proc_view:
                from hull.procfs.server import stop
                stop(proc_view)
            raise
        from hull.runtime.state import process_start_time
        me = os.getpid()
        self.store.update_state(cid, Status="running", Running=True, Pid=st.pid,
                                StartedAt=now(), ExitCode=0, Error="", MonitorPid=me,
                                MonitorStart=process_start_time(me) or 0)
        self.event(c, "start")
        return st.pid

    def _start_proc_view(self, c: Container, rt: Runtime) -> str:
        """Serve the container's own /proc files (hull.procfs) from this process, the
        monitor; returns their directory, or "" for the host's view."""
        if c.host_config.get("ProcView", "container") != "container":
            return ""
        from hull.procfs import server, support
        if support.fuse_missing():
            return ""   # the user was warned at create
        from hull.cgroups import manager

        def cgroup_paths() -> dict[str, str]:
            return manager.load(rt.state(c.id).cgroup).paths()
        view = server.ProcServer(os.path.join(self.store.dir(c.id), server.DIRECTORY),
                                 cgroup_paths, self._sysinfo_socket(c))
        view.start()
        self.proc_views[c.id] = view
        return view.directory

    def keep_proc_view(self, cid: str) -> None:
        """Once the container runs: its view's fds get a keeper (procfs/keeper.py)."""
        view = self.proc_views.get(cid)
        if view is not None:
            view.keep()

    def resume_proc_view(self, c: Container) -> None:
        """In the adopter of a container whose monitor died: serve its /proc view again,
        on the FUSE and seccomp connections the view's keeper held open meanwhile."""
        if c.host_config.get("ProcView", "container") != "container":
            return
        from hull.cgroups import manager
        from hull.procfs import server
        rt = self.runtime()

        def cgroup_paths() -> dict[str, str]:
            return manager.load(rt.state(c.id).cgroup).paths()
        server.resume(os.path.join(self.store.dir(c.id), server.DIRECTORY), cgroup_paths,
                      self._sysinfo_socket(c))

    def _sysinfo_socket(self, c: Container) -> str:
        """Where the monitor takes sysinfo(2) notifications; "" when the container has no
        seccomp filter to send them (unconfined, privileged). One short directory for
        every root: a unix socket's path must fit in 107 bytes."""
        hc = c.host_config
        from hull.engine.hostconfig import security_opt
        from hull.procfs.support import user_notification
        if hc.get("Privileged") or not user_notification() or \
                security_opt(hc.get("SecurityOpt") or [], "seccomp") == "unconfined":
            return ""
        return self._sysinfo_path(c.id)

    @staticmethod
    def _sysinfo_path(cid: str) -> str:
        return f"/run/hull-sysinfo/{cid[:32]}.sock"

    def record_exit(self, cid: str, code: int, error: str = "", started: bool = True
                    ) -> None:
        """What is known once the container's process is gone: exit code, OOM kill,
        finish time; the runtime's side cleaned up. A start that failed (started=False)
        leaves the status as it was — "created" for a container never run, as Docker
        shows it — with the exit code and the error."""
        oom = False
        rt = self.runtime()
        try:
            st = rt.state(cid)
            if st.cgroup:
                oom = rt.driver(st).oom_kills() > 0   # also when only a child was killed
            rt.delete(cid, force=True)
        except NotFound:
            pass
        rootfs_mod.umount(os.path.join(self.store.dir(cid), "rootfs"))
        rootfs_mod.umount(self.shm_dir(cid))
        self._stop_proc_view(cid)
        if not started:
            self.store.update_state(cid, Running=False, Paused=False, Pid=0, ExitCode=code,
                                    Error=error)
            return
        self.store.update_state(cid, Status="exited", Running=False, Paused=False, Pid=0,
                                ExitCode=code, FinishedAt=now(), OOMKilled=oom, Error=error)
        c = self.store.get(cid)
        if oom:
            self.event(c, "oom")
        self.event(c, "die", exitCode=code)

    def after_exit(self, cid: str) -> None:
        c = self.store.get(cid)
        if c.host_config.get("AutoRemove"):
            self._discard(c)
            self._remove_anonymous_volumes(c)   # docker run --rm does the same

    def _stop_proc_view(self, cid: str) -> None:
        """Unmount it and end its keeper. Never stat the mount point first: with nobody
        serving it, a stat would wait for an answer that does not come."""
        if self.store.get(cid).host_config.get("ProcView", "container") == "container":
            from hull.procfs.server import DIRECTORY, stop
            stop(os.path.join(self.store.dir(cid), DIRECTORY))
            try:   # the sysinfo agent's socket: its thread may not outlive the monitor
                os.unlink(self._sysinfo_path(cid))
            except FileNotFoundError:
                pass

    def _discard(self, c: Container) -> None:
        rootfs_mod.umount(os.path.join(self.store.dir(c.id), "rootfs"))
        rootfs_mod.umount(self.shm_dir(c.id))
        self._stop_proc_view(c.id)
        if os.path.exists(os.path.join(self.store.dir(c.id), "rw.img")):
            from hull.engine import rwlimit
            rwlimit.remove(self.store.dir(c.id), self._rw_dir(c.id))
        rootfs_mod.remove(self.images.snapshotter, c.id)
        if c.host_config.get("IdMappings"):
            from hull.engine.remapped_layers import sweep
            sweep(self.remapped_copies())
        shutil.rmtree(self.store.dir(c.id), ignore_errors=True)
        self.store.delete(c.id)
        try:
            self.images.get(c.image)
        except NotFound:   # its image was removed with -f: the layers it kept can go now
            self.images.gc()
        self.event(c, "destroy")

    # ---- lifecycle ----------------------------------------------------------------------

    def refresh(self, c: Container) -> Container:
        """A container recorded running whose monitor is gone (killed): adopt it. If the
        container has exited too, record what can still be known (not the exit code: only
        its parent could reap that) and clean up the runtime side. A container with a
        restart policy gets a new monitor (engine/restart.py) either way, and so does a
        running one with its own /proc view, whose files and sysinfo the monitor serves."""
        if c.state.get("Status") not in ("running", "paused"):
            return c
        from hull.runtime.state import process_start_time
        monitor = int(c.state.get("MonitorPid") or 0)
        if monitor and process_start_time(monitor) == c.state.get("MonitorStart"):
            return c   # the monitor is alive and will record the exit itself
        if c.state.get("Status") == "paused":
            return c
        from hull.engine import restart
        from hull.runtime.state import Status
        try:
            st = self.runtime().state(c.id)
            alive = st.status is not Status.STOPPED
        except NotFound:
            alive = False
        if not alive:
            self.record_exit(c.id, c.state.get("ExitCode") or 255, error=restart.UNKNOWN_EXIT)
        c = self.store.get(c.id)
        proc_view = c.host_config.get("ProcView", "container") == "container"
        if (alive and proc_view) or \
                (restart.policy(c)[0] != "no" and (alive or restart.should_restart(c))):
            restart.adopt(self, c)
            c = self.store.get(c.id)
        return c

    def containers(self, all_: bool) -> list[Container]:
        out = [self.refresh(c) for c in self.store.all()]
        return out if all_ else [c for c in out if c.state.get("Running")]

    def kill(self, name: str, sig: int) -> Container:
        c = self.refresh(self.store.get(name))
        if not c.state.get("Running"):
            raise FailedPrecondition(f"Container {c.short_id} is not running")
        self.runtime().kill(c.id, sig)
        self.event(c, "kill", signal=sig)
        return c

    def stop(self, name: str, timeout: int | None = None) -> Container:
        import time

        from hull.runtime.cli import parse_signal
        c = self.refresh(self.store.get(name))
        self.store.update_state(c.id, StoppedByUser=True)   # no restart policy applies now
        if not c.state.get("Running"):
            if c.state.get("Restarting"):
                self.store.update_state(c.id, Status="exited", Restarting=False)
            return c
        if timeout is None:
            timeout = int(c.config.get("StopTimeout", 10))
        if c.state.get("Paused"):
            self.pause(c.id, False)
        sig = parse_signal(c.config.get("StopSignal") or "SIGTERM")
        try:
            self.runtime().kill(c.id, sig)
            self.event(c, "kill", signal=sig)
        except (NotFound, FailedPrecondition):
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.store.get(c.id).state.get("Running"):
                self.event(c, "stop")
                return c
            time.sleep(0.05)
        try:
            self.runtime().kill(c.id, 9, all_processes=True)
        except (NotFound, FailedPrecondition):
            pass
        self.wait(c.id)
        self.event(c, "stop")
        return c

    def wait(self, name: str, timeout: float | None = None) -> int:
        import time
        c = self.store.get(name)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                c = self.refresh(self.store.get(c.id))
            except NotFound:
                return int(c.state.get("ExitCode", 0))   # --rm: gone after recording
            if c.state.get("Status") in ("exited", "created") and not c.state.get("Running"):
                return int(c.state.get("ExitCode", 0))
            if deadline is not None and time.monotonic() > deadline:
                raise FailedPrecondition(f"container {c.name} still running")
            time.sleep(0.05)

    def remove(self, name: str, force: bool = False, volumes: bool = False) -> Container:
        """rm [-f] [-v]: -v also removes the container's anonymous volumes."""
        c = self.refresh(self.store.get(name))
        if c.state.get("Running"):
            if not force:
                raise FailedPrecondition(f"You cannot remove a running container {c.id}. "
                                         "Stop the container before attempting removal or "
                                         "force remove")
            self.stop(c.id, timeout=0)
        self._discard(self.store.get(c.id))
        if volumes:
            self._remove_anonymous_volumes(c)
        return c

    def _remove_anonymous_volumes(self, c: Container) -> None:
        from hull.engine.volumes import ANONYMOUS
        for m in c.state.get("MountPoints") or []:
            if m["Type"] != "volume":
                continue
            try:
                if ANONYMOUS in (self.volumes.inspect(m["Name"]).get("Labels") or {}):
                    self.volumes.remove(m["Name"], self.volume_users(m["Name"]))
            except (NotFound, FailedPrecondition):
                pass   # gone already, or another container still uses it: keep it

    def volume_users(self, volume: str) -> list[str]:
        return [c.id for c in self.store.all()
                if any(m.get("Name") == volume for m in c.state.get("MountPoints") or [])]

    def pause(self, name: str, paused: bool) -> Container:
        c = self.refresh(self.store.get(name))
        if not c.state.get("Running"):
            raise FailedPrecondition(f"Container {c.id} is not running")
        if bool(c.state.get("Paused")) == paused:
            raise FailedPrecondition(f"Container {c.id} is {'already' if paused else 'not'} "
                                     "paused")
        rt = self.runtime()
        if paused:
            rt.pause(c.id)
        else:
            rt.resume(c.id)
        self.store.update_state(c.id, Paused=paused, Status="paused" if paused else "running")
        self.event(c, "pause" if paused else "unpause")
        return c

    def rename(self, name: str, new: str) -> None:
        import sqlite3
        c = self.store.get(name)
        from hull.engine.create import check_name
        check_name(new)
        try:
            self.store.db.execute("UPDATE containers SET name = ? WHERE id = ?", (new, c.id))
        except sqlite3.IntegrityError:
            owner = self.store.get(new).id
            raise FailedPrecondition(
                f'Error when allocating new name: Conflict. The container name "/{new}" is '
                f'already in use by container "{owner}". You have to remove (or rename) that '
                "container to be able to reuse that name.") from None
        old, c.name = c.name, new
        self.event(c, "rename", oldName=f"/{old}")

    def restart(self, name: str, timeout: int | None = None) -> None:
        from hull.engine import monitor
        c = self.stop(name, timeout)
        self.wait(c.id)
        notify = monitor.spawn(self, c.id, attach=False, stdin=False)
        first = monitor.read_message(notify)
        os.close(notify)
        if "error" in first:
            from hull.errors import HullError
            raise HullError(str(first["error"]))
        self.event(c, "restart")

    def log_path(self, cid: str) -> str:
        return os.path.join(self.store.dir(cid), f"{cid}-json.log")

    def _readable_log(self, name: str) -> str:
        from hull.engine import logfile
        c = self.store.get(name)
        if logfile.options(c.host_config)[0] == "none":
            raise FailedPrecondition('configured logging driver does not support reading')
        return self.log_path(c.id)

    def follow_logs(self, name: str) -> Any:
        """Log entries as they are written, until the container has stopped (logs -f)."""
        import time

        from hull.engine.logfile import Follower
        c = self.store.get(name)
        follower = Follower(self._readable_log(c.id))
        try:
            while True:
                entries = follower.poll()
                yield from entries
                try:
                    running = self.refresh(self.store.get(c.id)).state.get("Running")
                except NotFound:
                    running = False
                if not running and not entries:
                    return
                time.sleep(0.1)
        finally:
            follower.close()

    def prune(self, filters: Filters | None = None) -> tuple[list[str], int]:
        """`container prune`: every container not running (filtered by until=, label=,
        label!=); returns their IDs and the bytes their rw layers held."""
        from hull.engine import humanize
        until = filters.until() if filters else None
        removed, space = [], 0
        for c in self.containers(all_=True):
            if c.state.get("Running") or c.state.get("Restarting"):
                continue
            if until is not None and humanize.parse_time(c.created) > until:
                continue
            labels = c.config.get("Labels")
            if filters and (not filters.labels("label", labels) or
                            not filters.not_labels(labels)):
                continue
            space += self.sizes(c)[0]
            self._discard(c)
            removed.append(c.id)
        return removed, space

    def logs(self, name: str) -> list[dict[str, Any]]:
        """Every entry still kept, across the rotated files, oldest first."""
        from hull.engine import logfile
        return list(logfile.read(self._readable_log(name)))

    def sizes(self, c: Container) -> tuple[int, int]:
        """SizeRw (what the container wrote: its rw layer) and SizeRootFs (that plus the
        image), as `ps -s` and `inspect --size` show them."""
        try:
            rw = self.images.snapshotter.usage(c.id).size
        except NotFound:
            rw = 0
        try:
            base = self.images.get(c.image).size
        except NotFound:
            base = 0
        return rw, rw + base

    def inspect(self, name: str, size: bool = False) -> dict[str, Any]:
        from hull.engine.inspect import container_json
        return container_json(self, name, size)
