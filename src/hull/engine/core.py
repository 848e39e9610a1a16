"""The engine's core for one root: its stores (containers, images, volumes), events, the
runtime (called as a library), and what the engine service's supervision does with them —
start a container (bundle, runtime create + start, with the stdio it is given), record
its exit, discard it. Healthchecks and restart policies build on this alone; the
lifecycle commands (containers.py) build on it and on them."""

from __future__ import annotations

import os
import shutil

from hull.engine import rootfs as rootfs_mod
from hull.engine.humanize import now
from hull.engine.store import Container, ContainerStore
from hull.errors import FailedPrecondition, NotFound
from hull.image.store import ImageStore

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hull.engine.networking import Networks
    from hull.runtime.lifecycle import Runtime


class Engine:
    """Everything below the lifecycle: what supervising a container needs."""

    def __init__(self, root: str, state: str | None = None) -> None:
        self.root = root
        self.state_dir = state or os.environ.get("HULL_STATE") or \
            ("/run/hull" if root == "/var/lib/hull" else os.path.join(root, "state"))
        self.images = ImageStore(root)
        self.store = ContainerStore(root)
        from hull.engine.volumes import VolumeStore
        self.volumes = VolumeStore(root)
        self._networks: Networks | None = None

    def event(self, c: Container, action: str, **attributes: Any) -> None:
        from hull.engine import events
        events.emit(self.root, c, action, **attributes)

    @property
    def networks(self) -> Networks:
        """Networks, addresses, published ports and hull's firewall table (made on
        first use: most commands never touch them)."""
        if self._networks is None:
            from hull.engine.networking import Networks
            self._networks = Networks(self)
        return self._networks

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


    # ---- run (in the engine service's start job) -----------------------------------------

    def start_in_runtime(self, cid: str, proc_view: str = "",
                         stdio: tuple[int, int, int] | None = None,
                         console_socket: str | None = None) -> int:
        """Mount the rootfs, write the bundle, create and start the container with this
        stdio (its stdin, stdout, stderr); proc_view: the directory of its /proc files,
        already served. Returns its PID, recorded as running."""
        c = self.store.get(cid)
        test = (c.config.get("Healthcheck") or {}).get("Test") or []
        extra: dict[str, Any] = \
            {"Health": {"Status": "starting", "FailingStreak": 0, "Log": []}} \
            if test and test[0] != "NONE" else {}   # as Docker's State has it from the start
        rt = self._clear_runtime(cid)
        from hull.engine import bundle as bundles
        from hull.engine import networking
        net = networking.prepare(self, c)
        try:
            bundle = bundles.prepare(self, c, proc_view, net.mounts)
        except BaseException:
            networking.release(self, cid)
            raise
        try:
            from hull.runtime.create import CreateOptions
            st = rt.create(cid, bundle, CreateOptions(console_socket=console_socket,
                                                      stdio=stdio))
            network_settings = networking.plumb(self, net, st.pid) \
                if bundles.own_network(c.host_config) else {}
            rt.start(cid)
        except BaseException:
            networking.release(self, cid)
            rootfs_mod.umount(os.path.join(bundle, "rootfs"))
            raise
        if network_settings:
            extra["NetworkSettings"] = network_settings
        self.store.update_state(cid, Status="running", Running=True, Pid=st.pid,
                                StartedAt=now(), ExitCode=0, Error="", **extra)
        self.event(c, "start")
        return st.pid

    def _clear_runtime(self, cid: str) -> Runtime:
        """Delete what the runtime still holds of a container the engine says is not
        running: a start killed midway (service SIGKILLed) leaves a "creating" record and
        its cgroup, which would make the next create refuse the ID and leak the cgroup."""
        rt = self.runtime()
        try:
            rt.delete(cid, force=True)
        except NotFound:
            pass
        return rt

    @staticmethod
    def wants_proc_view(c: Container) -> bool:
        """Whether the container gets its own /proc files (hull.procfs) where FUSE works
        (the user was warned at create where it does not: ProcView says "host" then)."""
        if c.host_config.get("ProcView", "container") != "container":
            return False
        from hull.procfs import support
        return not support.fuse_missing()

    def sysinfo_socket(self, c: Container) -> str:
        """Where the service takes sysinfo(2) notifications; "" when the container has no
        seccomp filter to send them (unconfined, privileged). One short directory for
        every root: a unix socket's path must fit in 107 bytes."""
        hc = c.host_config
        from hull.engine.securityopt import security_opt
        from hull.procfs.support import user_notification
        if hc.get("Privileged") or not hc.get("ProcViewSysinfo", True) or \
                not user_notification() or \
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
        network = self._release_network(cid)
        if not started:
            self.store.update_state(cid, Running=False, Paused=False, Pid=0, ExitCode=code,
                                    Error=error, **network)
            return
        self.store.update_state(cid, Status="exited", Running=False, Paused=False, Pid=0,
                                ExitCode=code, FinishedAt=now(), OOMKilled=oom, Error=error,
                                **network)
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
            try:   # the sysinfo socket, should the service not have removed it
                os.unlink(self._sysinfo_path(cid))
            except FileNotFoundError:
                pass

    def _release_network(self, cid: str) -> dict[str, Any]:
        """A container that stopped gives its addresses and host ports back; the State
        change that says so (NetworkSettings without addresses), for the exit's update."""
        from hull.engine import networking
        c = self.store.get(cid)
        if not networking.own_network(str(c.host_config.get("NetworkMode") or "none")):
            return {}
        networking.release(self, cid)
        return {"NetworkSettings": networking.stopped_settings(c.state)}

    def _discard(self, c: Container) -> None:
        self._clear_runtime(c.id)
        from hull.engine import networking
        if networking.own_network(str(c.host_config.get("NetworkMode") or "none")):
            networking.release(self, c.id)
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
        # the record first: a command waiting on the container's lock finds it gone
        self.store.delete(c.id)
        shutil.rmtree(self.store.dir(c.id), ignore_errors=True)
        try:
            self.images.get(c.image)
        except NotFound:   # its image was removed with -f: the layers it kept can go now
            self.images.gc()
        self.event(c, "destroy")

    # ---- lifecycle ----------------------------------------------------------------------

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

    def log_path(self, cid: str) -> str:
        return os.path.join(self.store.dir(cid), f"{cid}-json.log")

    def _readable_log(self, name: str) -> str:
        from hull.engine import logfile
        c = self.store.get(name)
        if logfile.options(c.host_config)[0] == "none":
            raise FailedPrecondition('configured logging driver does not support reading')
        return self.log_path(c.id)

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

