"""Containers as a docker user sees them: create (image → rootfs → bundle), run under a
monitor, and the lifecycle commands. The runtime is called as a library."""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import secrets
import shutil

from hull.engine import ocispec, userns
from hull.engine import rootfs as rootfs_mod
from hull.engine.monitor import now
from hull.engine.store import Container, ContainerStore
from hull.errors import FailedPrecondition, HullError, InvalidArgument, NotFound
from hull.image.store import ImageStore
from hull.record import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    import tarfile
    from collections.abc import Iterator
    from typing import IO, Any

    from hull.engine.filters import Filters
    from hull.engine.userns import IdMap
    from hull.runtime.lifecycle import Runtime

_NAMES = ("brave", "calm", "eager", "gentle", "happy", "jolly", "keen", "lucid", "merry",
          "nimble", "proud", "quiet", "sharp", "swift", "vivid", "witty")
_SURNAMES = ("curie", "darwin", "euler", "gauss", "hopper", "lovelace", "noether", "pascal",
             "ritchie", "thompson", "torvalds", "turing")


@record
class RunOptions:
    image: str
    command: list[str] = field(default_factory=list)
    name: str | None = None
    env: list[str] = field(default_factory=list)
    workdir: str | None = None
    user: str | None = None
    hostname: str | None = None
    entrypoint: str | None = None
    memory: int | None = None
    nano_cpus: int | None = None
    pids_limit: int | None = None
    cpuset_cpus: str | None = None
    network: str = "none"
    read_only: bool = False
    auto_remove: bool = False
    interactive: bool = False
    tty: bool = False
    cgroup_parent: str = "/hull"
    labels: dict[str, str] = field(default_factory=dict)
    stop_signal: str | None = None
    stop_timeout: int | None = None
    domainname: str = ""
    health_flags: dict[str, Any] = field(default_factory=dict)   # --health-*, as given
    # further HostConfig fields, already checked by hostconfig.py (Binds/Mounts/Tmpfs as
    # MountPoints in "MountPoints"; Devices, Ulimits, Sysctls, CapAdd, SecurityOpt, …)
    host: dict[str, Any] = field(default_factory=dict)


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

    def create(self, opts: RunOptions) -> Container:
        image = self.images.resolve(opts.image)
        cfg = (self.images.config(image).get("config") or {})
        if opts.network not in ("none", "host"):
            raise InvalidArgument(f"--network {opts.network!r}: only none and host exist "
                                  "until networking lands")
        cid = secrets.token_hex(32)
        name = opts.name or f"{secrets.choice(_NAMES)}_{secrets.choice(_SURNAMES)}"
        check_name(name.removeprefix("/"))
        entrypoint = [opts.entrypoint] if opts.entrypoint else (cfg.get("Entrypoint") or [])
        if opts.entrypoint == "":
            entrypoint = []
        cmd = opts.command or (cfg.get("Cmd") or [] if not opts.entrypoint else [])
        args = list(entrypoint) + list(cmd)
        if not args:
            raise InvalidArgument("no command specified")
        env = _merge_env(cfg.get("Env") or [], opts.env)
        hostname = opts.hostname or cid[:12]
        if opts.workdir:
            if not opts.workdir.startswith("/"):
                raise InvalidArgument(f"the working directory '{opts.workdir}' is invalid, "
                                      "it needs to be an absolute path")
            opts.workdir = posixpath.normpath(opts.workdir)
        config: dict[str, Any] = {"Hostname": hostname, "User": opts.user or
                  cfg.get("User", ""), "Env": env, "Cmd": cmd, "Entrypoint": entrypoint or None,
                  "WorkingDir": opts.workdir or cfg.get("WorkingDir", ""), "Image": opts.image,
                  "Labels": {**(cfg.get("Labels") or {}), **opts.labels},
                  "OpenStdin": opts.interactive, "Tty": opts.tty,
                  "StopSignal": opts.stop_signal or cfg.get("StopSignal") or "SIGTERM",
                  **({"StopTimeout": opts.stop_timeout} if opts.stop_timeout is not None
                     else {})}
        host = dict(opts.host)
        mount_points = host.pop("MountPoints", [])
        mount_points = mount_points + self._volumes_from(host.get("VolumesFrom") or [],
                                                         mount_points)
        for raw in cfg.get("Volumes") or {}:   # the image's VOLUME entries
            # cleaned as Docker does: "/../../etc" names the container's /etc (and is
            # resolved inside the root anyway when mounted)
            dest = posixpath.normpath(posixpath.join("/", raw))
            dest = "/" + dest.lstrip("/")
            if not any(m["Destination"] == dest for m in mount_points):
                mount_points.append({"Type": "volume", "Name": "", "Source": "",
                                     "Destination": dest, "Driver": "local", "Mode": "",
                                     "RW": True, "Propagation": ""})
        for ref in (host.get("IpcMode"), host.get("PidMode")):
            if ref and ref.startswith("container:"):
                try:   # docker checks at create; a missing one is an engine error (125)
                    self.store.get(ref.split(":", 1)[1])
                except NotFound as e:
                    raise HullError(str(e)) from None
        if opts.memory and not host.get("MemorySwap"):
            # Docker's default: as much swap as memory (memory+swap = twice the memory),
            # or no swap limit where the kernel cannot account swap
            from hull.cgroups.hierarchy import swap_accounting
            host["MemorySwap"] = opts.memory * 2 if swap_accounting() else -1
        host_config = {"AutoRemove": opts.auto_remove, "Memory": opts.memory or 0,
                       "NanoCpus": opts.nano_cpus or 0, "PidsLimit": opts.pids_limit,
                       "CpusetCpus": opts.cpuset_cpus or "", "NetworkMode": opts.network,
                       "CgroupParent": opts.cgroup_parent,
                       "ReadonlyRootfs": opts.read_only, **host}
        if opts.domainname:
            config["Domainname"] = opts.domainname
        check = cfg.get("Healthcheck")
        if opts.health_flags:
            from hull.engine import health
            check = health.from_flags(check, **opts.health_flags)
        if check:
            config["Healthcheck"] = check
        container = Container(cid, name, image.id, opts.image, now(), config, host_config,
                              {"Status": "created", "Running": False, "Paused": False,
                               "Restarting": False, "OOMKilled": False, "Dead": False,
                               "Pid": 0, "ExitCode": 0, "Error": "",
                               "StartedAt": "0001-01-01T00:00:00Z",
                               "FinishedAt": "0001-01-01T00:00:00Z"})
        self._claim_name(container, generated=not opts.name)
        made: list[str] = []
        try:
            os.makedirs(self.store.dir(cid), mode=0o711)
            container.state["MountPoints"] = self._volumes(mount_points, made)
            self.store.update_state(cid, MountPoints=container.state["MountPoints"])
            rootfs_mod.prepare(self.images.snapshotter, cid, self.images.top_snapshot(image),
                               hostname)
            self._limit_rw_layer(container)
            idmap = userns.of(host_config)
            if idmap is not None:   # the rw layer's root belongs to the container's root
                os.chown(self.images.snapshotter.upper_dir(cid), *idmap.root)
        except BaseException:
            self._discard(container)
            for volume in made:
                self.volumes.remove(volume, [])
            raise
        self.event(container, "create")
        return container

    def remapped_copies(self) -> str:
        """Where layers shifted for remapped containers are kept (remapped_layers.py)."""
        return os.path.join(self.root, "remapped")

    def _rw_dir(self, cid: str) -> str:
        """The rw snapshot's directory (its upperdir fs/ and workdir work/)."""
        return os.path.dirname(self.images.snapshotter.upper_dir(cid))

    def _limit_rw_layer(self, c: Container) -> None:
        size = (c.host_config.get("StorageOpt") or {}).get("size")
        if not size:
            return
        from hull.engine import rwlimit
        from hull.engine.hostconfig import size as parse_size
        if getattr(self.images.snapshotter, "whiteouts", "") != "overlay":
            raise InvalidArgument("--storage-opt size needs the overlay snapshotter")
        rwlimit.create(self.store.dir(c.id), self._rw_dir(c.id),
                       parse_size(size, "--storage-opt size") or 0)

    def _volumes_from(self, sources: list[str], own: list[dict[str, Any]]
                      ) -> list[dict[str, Any]]:
        """--volumes-from X[:ro|rw]: X's volumes and bind mounts at the same places (its
        mode unless one is given); this container's own mounts win a clash."""
        out: list[dict[str, Any]] = []
        for spec in sources:
            name, _, mode = spec.partition(":")
            if mode not in ("", "ro", "rw"):
                raise InvalidArgument(f"--volumes-from {spec}: mode must be ro or rw")
            try:
                donor = self.store.get(name)
            except NotFound as e:
                raise HullError(str(e)) from None   # docker: an engine error at create
            for m in donor.state.get("MountPoints") or []:
                if m["Type"] == "tmpfs" or any(o["Destination"] == m["Destination"]
                                               for o in own + out):
                    continue
                out.append({**m, "RW": m["RW"] if not mode else mode == "rw"})
        return out

    def _claim_name(self, container: Container, generated: bool) -> None:
        """Insert the record: the name is claimed here, atomically. A generated name that is
        taken is drawn again, with a number added after a few tries (as docker does)."""
        from hull.errors import AlreadyExists
        for attempt in range(64):
            try:
                self.store.insert(container)
                return
            except AlreadyExists:
                if not generated or attempt == 63:
                    raise
            name = f"{secrets.choice(_NAMES)}_{secrets.choice(_SURNAMES)}"
            container.name = name + (str(secrets.randbelow(10 * attempt)) if attempt > 5
                                     else "")

    def _volumes(self, mount_points: list[dict[str, Any]], made: list[str]
                 ) -> list[dict[str, Any]]:
        """Give each volume mount point its volume, creating the missing ones (their names
        go to `made`, so a failed create takes them back)."""
        out = []
        for m in mount_points:
            m = dict(m)
            if m["Type"] == "volume":
                meta, new = self.volumes.create(m["Name"], anonymous=not m["Name"])
                if new:
                    made.append(meta["Name"])
                m.update(Name=meta["Name"], Source=meta["Mountpoint"])
            out.append(m)
        return out

    def _oci_mounts(self, c: Container, rootfs: str) -> list[dict[str, Any]]:
        from hull.engine.volumes import copy_up
        out = []
        for m in c.state.get("MountPoints") or []:
            if m["Type"] == "tmpfs":
                out.append(ocispec.tmpfs_mount(m["Destination"], m.get("TmpfsOptions") or []))
                continue
            if m["Type"] == "volume":
                copy_up(rootfs, m["Destination"], m["Source"])
                idmap = userns.of(c.host_config)
                if idmap is not None and os.stat(m["Source"]).st_uid == 0 and \
                        not os.listdir(m["Source"]):
                    os.chown(m["Source"], *idmap.root)   # as Docker gives it to remapped root
            options = ["rbind", "rw" if m["RW"] else "ro"]
            if m.get("Propagation"):
                options.append(m["Propagation"])
            out.append({"destination": m["Destination"], "type": "bind",
                        "source": m["Source"], "options": options})
        for dest, opts in (c.host_config.get("Tmpfs") or {}).items():
            out.append(ocispec.tmpfs_mount(dest, [o for o in opts.split(",") if o]))
        return out

    @staticmethod
    def _proc_mounts(proc_view: str) -> list[dict[str, Any]]:
        if not proc_view:
            return []
        from hull.procfs.server import oci_mounts
        return oci_mounts(proc_view)

    def shm_dir(self, cid: str) -> str:
        return os.path.join(self.store.dir(cid), "shm")

    def _mount_shm(self, c: Container) -> None:
        """--ipc shareable: /dev/shm is a tmpfs on the host side (as Docker makes it), so
        that containers joining this one's IPC namespace can bind the same one."""
        from hull.linux.mount import MS_NODEV, MS_NOEXEC, MS_NOSUID, mount
        path = self.shm_dir(c.id)
        os.makedirs(path, exist_ok=True)
        if not os.path.ismount(path):
            mount("shm", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  f"mode=1777,size={c.host_config.get('ShmSize') or 67108864}")

    def _joined_namespaces(self, c: Container) -> dict[str, str]:
        """--ipc/--pid container:X: the namespaces of X's init, which must be running."""
        out = {}
        for ns, mode in (("ipc", c.host_config.get("IpcMode")),
                         ("pid", c.host_config.get("PidMode"))):
            if mode and mode.startswith("container:"):
                other = self.refresh(self.store.get(mode.split(":", 1)[1]))
                if not other.state.get("Running"):
                    raise HullError(f"cannot join the {ns} namespace of "
                                             f"{other.name}: container is not running")
                if ns == "ipc" and other.host_config.get("IpcMode") != "shareable":
                    raise HullError(f"joining IPC of container {other.name}: "
                                             "non-shareable IPC (hint: use --ipc shareable "
                                             "for the donor container)")
                out[ns] = f"/proc/{other.state['Pid']}/ns/{ns}"
                if ns == "ipc":
                    out["shm"] = self.shm_dir(other.id)
        return out

    def _bundle(self, c: Container, proc_view: str = "") -> str:
        """Mount the rootfs and write config.json for the runtime; proc_view: the directory
        of the container's /proc files, bound over the kernel's."""
        bundle = self.store.dir(c.id)
        target = os.path.join(bundle, "rootfs")
        from hull.engine import rwlimit
        rwlimit.mount(bundle, self._rw_dir(c.id))   # after a reboot
        rootfs_mod.mount(self.images.snapshotter, c.id, target,
                         userns.of(c.host_config), self.remapped_copies())
        try:
            hc = c.host_config
            _make_workdir(target, c.config.get("WorkingDir") or "", userns.of(hc))
            uid, gid, groups = _resolve_user(target, c.config.get("User") or "",
                                             hc.get("GroupAdd") or [])
            seccomp = None
            if not hc.get("Privileged"):
                from hull.engine import seccomp_profile
                seccomp = seccomp_profile.for_container(hc.get("SecurityOpt") or [],
                                                        ocispec.capabilities(hc))
            sysinfo_socket = self._sysinfo_socket(c) if proc_view else ""
            if seccomp is not None and sysinfo_socket:
                from hull.procfs.server import with_sysinfo
                seccomp = with_sysinfo(seccomp, sysinfo_socket)
            if hc.get("IpcMode") == "shareable":
                self._mount_shm(c)
            spec = ocispec.build(
                config=c.config, host=hc, shm=self.shm_dir(c.id), rootfs=target, uid=uid,
                gid=gid, groups=groups,
                cgroups_path=f"{hc.get('CgroupParent') or '/hull'}/{c.id}",
                mounts=self._oci_mounts(c, target) + self._proc_mounts(proc_view),
                ns_paths=self._joined_namespaces(c), seccomp=seccomp)
            from hull import fastjson
            with open(os.path.join(bundle, "config.json"), "w") as f:
                f.write(fastjson.dumps(spec))
        except BaseException:
            rootfs_mod.umount(target)
            raise
        return bundle

    # ---- run (called inside the monitor) ------------------------------------------------

    def start_in_runtime(self, cid: str, console_socket: str | None = None) -> int:
        c = self.store.get(cid)
        rt = self.runtime()
        from hull.trace import mark
        mark("monitor: starting")
        proc_view = self._start_proc_view(c, rt)
        mark("monitor: /proc view served")
        try:
            bundle = self._bundle(c, proc_view)
            try:
                from hull.runtime.create import CreateOptions
                st = rt.create(cid, bundle, CreateOptions(console_socket=console_socket))
                if _own_network(c.host_config):
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

    def export(self, name: str, out: IO[bytes]) -> None:
        """The container's merged filesystem as a tar (`docker export`). The tree is read
        through a read-only view of the container's snapshots; links are archived as
        links, never followed."""
        import tempfile

        from hull.image.layer import write_stream
        from hull.linux.mounts import mount_all, unmount
        c = self.store.get(name)
        sn = self.images.snapshotter
        key = f"export-{secrets.token_hex(8)}"
        target = tempfile.mkdtemp(prefix="hull-export-")
        try:
            # a view needs a committed parent: the rw layer is still active, so view its
            # parent (image + init) and overlay the rw layer's files on top in the tar
            mount_all(sn.view(key, f"{c.id}-init"), target)
            upper = sn.upper_dir(c.id)
            with write_stream(out) as tar:
                _add_tree(tar, target, skip=_rw_entries(upper))
                _add_tree(tar, upper, whiteouts=True, ids=userns.of(c.host_config))
        finally:
            try:
                unmount(target)
            except OSError:
                pass
            os.rmdir(target)
            try:
                sn.remove(key)
            except NotFound:
                pass

    def exec(self, name: str, cmd: list[str], env: list[str], user: str | None,
             workdir: str | None, detach: bool, tty: bool = False,
             interactive: bool = False, privileged: bool = False) -> int:
        """Run one more process in a running container (its output goes to the caller, not
        to the container's log, as with docker exec)."""
        from hull.runtime.spec import parse_process
        c = self.refresh(self.store.get(name))
        if not c.state.get("Running"):
            raise FailedPrecondition(f"Container {c.id} is not running")
        if c.state.get("Paused"):
            raise FailedPrecondition(f"Container {c.id} is paused, unpause the container "
                                     "before exec")
        if not cmd:
            raise InvalidArgument("exec: no command given")
        rt = self.runtime()
        st = rt.state(c.id)
        base = st.config.get("process") or {}
        uid, gid = base.get("user", {}).get("uid", 0), base.get("user", {}).get("gid", 0)
        groups: list[int] = []
        if user:
            uid, gid, groups = _resolve_user(os.path.join(self.store.dir(c.id), "rootfs"), user,
                                         c.host_config.get("GroupAdd") or [])
        caps = base.get("capabilities")
        if privileged:   # every capability hull itself holds, as docker exec --privileged
            caps = {k: ocispec.capabilities({"Privileged": True})
                    for k in ("bounding", "effective", "permitted")}
        process = parse_process({
            "args": cmd, "env": ocispec.process_env(c.config, tty, env),
            "cwd": workdir or base.get("cwd", "/"),
            "user": {"uid": uid, "gid": gid, "additionalGids": groups},
            "capabilities": caps,
            "noNewPrivileges": bool(base.get("noNewPrivileges")), "terminal": tty})
        from hull.runtime.waiting import reap, wait_forwarding
        self.event(c, f"exec_start: {' '.join(cmd)}")
        if not tty:
            with _stdin_unless(interactive):
                pid = _start_exec(st, process, rt.store)
            return 0 if detach else wait_forwarding(pid)
        import socket
        import tempfile

        from hull.engine.attach import proxy_master, socket_path
        from hull.runtime.console import receive_master
        tmp = tempfile.mkdtemp(prefix="hull-exec-")
        path, dirfd = socket_path(tmp, "console.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(path)
            listener.listen(1)
            pid = _start_exec(st, process, rt.store, console_socket=path)
            master = receive_master(listener)
        finally:
            listener.close()
            os.close(dirfd)
            shutil.rmtree(tmp, ignore_errors=True)
        try:
            proxy_master(master, forward_stdin=interactive)
        finally:
            os.close(master)
        return 0 if detach else reap(pid)

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

    def commit(self, name: str, repo: str | None, message: str = "", author: str = "",
               changes: list[str] | None = None, pause: bool = True) -> str:
        """`docker commit`: the rw layer — only what the container changed, deletions as
        whiteouts — becomes a new layer on top of the container's image. The init layer's
        /etc/hosts, /etc/hostname and /etc/resolv.conf never go in, even if changed."""

        from hull.engine.images import _changes
        from hull.image.archive import new_image, store_plain_layer
        from hull.image.layer import write_stream
        from hull.image.reference import parse
        c = self.refresh(self.store.get(name))
        ref = parse(repo) if repo else None   # a bad name fails before any work
        config = _changes(changes or [], {k: v for k, v in c.config.items()
                                          if k in _IMAGE_CONFIG_KEYS})
        upper = self.images.snapshotter.upper_dir(c.id)
        freeze = pause and c.state.get("Running") and not c.state.get("Paused")
        if freeze:
            self.pause(c.id, True)

        idmap = userns.of(c.host_config)

        def write_layer(out: Any) -> None:
            with write_stream(out) as tar:
                _layer_from_upper(tar, upper, idmap)
        try:
            layer = store_plain_layer(self.images, write_layer)
            base = self.images.get(c.image)
            if getattr(self.images.snapshotter, "whiteouts", "") == "overlay":
                from hull.engine.commit_snapshot import snapshot_from_upper
                from hull.image.manifest import chain_ids
                chains = chain_ids([*self.images.diff_ids(base), layer["digest"]])
                snapshot_from_upper(self.images, upper,
                                    chains[-2] if len(chains) > 1 else None, chains[-1],
                                    INIT_FILES, idmap)
            cmd = " ".join((c.config.get("Entrypoint") or []) + (c.config.get("Cmd") or []))
            image = new_image(self.images, base, ref, config, cmd, message, author, layer,
                              layer["digest"])
        finally:
            if freeze:
                self.pause(c.id, False)
        self.event(c, "commit", comment=message)
        return image.id

    def diff(self, name: str) -> list[tuple[str, str]]:
        """`docker diff`: what the rw layer changed, as (A|C|D, path) sorted by path. A path
        is C when a lower layer (image or init) has it, A when not; overlay whiteouts
        (0:0 character devices) are D."""
        import stat as st
        c = self.store.get(name)
        sn = self.images.snapshotter
        upper = sn.upper_dir(c.id)
        lowers = next((o[len("lowerdir="):].split(":") for m in sn.mounts(c.id)
                       for o in m.options if o.startswith("lowerdir=")), [])
        out = []
        for top, dirs, files, dir_fd in os.fwalk(upper):
            for name_ in dirs + files:
                rel = "/" + os.path.relpath(os.path.join(top, name_), upper)
                try:
                    info = os.stat(name_, dir_fd=dir_fd, follow_symlinks=False)
                except FileNotFoundError:
                    continue   # removed by the running container meanwhile
                if rel in INIT_FILES:
                    continue   # the engine's, not the container's change
                if st.S_ISCHR(info.st_mode) and info.st_rdev == 0:
                    out.append(("D", rel))
                elif any(os.path.lexists(low + rel) for low in lowers):
                    out.append(("C", rel))
                else:
                    out.append(("A", rel))
        return sorted(out, key=lambda e: e[1])

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


def _start_exec(st: Any, process: Any, store: Any, console_socket: str | None = None) -> int:
    """The exec'd process started; any failure to start it (no such command, a missing
    working directory) is Docker's: exit 126, "OCI runtime exec failed"."""
    from hull.errors import CannotInvoke
    from hull.runtime.execute import start_process
    try:
        return start_process(st, process, store, console_socket=console_socket)
    except (HullError, OSError) as e:
        why = f"{e.strerror}: {e.filename}" if isinstance(e, OSError) and e.strerror else e
        raise CannotInvoke("OCI runtime exec failed: exec failed: unable to start container "
                           f"process: {why}: unknown") from None


@contextlib.contextmanager
def _stdin_unless(interactive: bool) -> Iterator[None]:
    """exec without -i: the process's stdin is /dev/null, not the caller's (Docker's)."""
    if interactive:
        yield
        return
    saved = os.dup(0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(devnull, 0)
        yield
    finally:
        os.dup2(saved, 0)
        os.close(saved)
        os.close(devnull)


_NAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_NAME_REST = _NAME_START | frozenset("_.-")


def check_name(name: str) -> None:
    """Docker's rule for container names, [a-zA-Z0-9][a-zA-Z0-9_.-]+ in ASCII — except that
    hull also takes a one-character name (Docker wants two): nothing Docker accepts is
    refused, and `--name c` in a quick test works."""
    if not name or name[0] not in _NAME_START or not set(name) <= _NAME_REST:
        raise FailedPrecondition(f"Invalid container name ({name}), only "
                                 "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")


def _merge_env(image_env: list[str], extra: list[str]) -> list[str]:
    """Config.Env as Docker's daemon merges it: the -e variables first, in their order,
    then the image's that they do not name; a bare NAME (the client found no such
    variable in its own environment) keeps the image's NAME out."""
    out: dict[str, str] = {}
    named = {item.partition("=")[0] for item in extra}
    for item in extra:
        key, eq, value = item.partition("=")
        if eq:
            out[key] = value
    for item in image_env:
        key, eq, value = item.partition("=")
        if eq and key not in named:
            out[key] = value
    if "PATH" not in out:
        out["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    return [f"{k}={v}" for k, v in out.items()]


def _own_network(host: dict[str, Any]) -> bool:
    """Whether the container gets a network namespace of its own (not the host's, not
    another container's)."""
    mode = str(host.get("NetworkMode") or "none")
    return mode != "host" and not mode.startswith("container:")


def _make_workdir(rootfs: str, workdir: str, idmap: IdMap | None) -> None:
    """-w /new/dir: created (owned by the container's root) when the image lacks it, as
    Docker does at every start; resolved inside the rootfs, links never leaving it."""
    if workdir in ("", "/"):
        return
    from hull.linux import fs
    root_fd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            fd = fs.open_in_root(root_fd, workdir, os.O_PATH | os.O_DIRECTORY)
        except FileNotFoundError:
            fd = fs.mkdir_all_in_root(root_fd, workdir)
            if idmap is not None:
                os.chown(fs.fd_path(fd), *idmap.root)
        except NotADirectoryError:
            raise InvalidArgument(f"Cannot mkdir: {workdir} is not a directory") from None
        os.close(fd)
    finally:
        os.close(root_fd)


def _resolve_user(rootfs: str, user: str, group_add: list[str]) -> tuple[int, int, list[int]]:
    """user[:group] by number or by name in the image's /etc/passwd and /etc/group (read as
    text inside the rootfs, never executed); supplementary groups are the primary group,
    the named user's memberships in /etc/group and --group-add, as Docker has them."""
    name, _, group = user.partition(":")

    def table(path: str) -> list[list[str]]:
        from hull.linux import fs
        root_fd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fd = fs.open_in_root(root_fd, path, os.O_RDONLY)
        except OSError:
            return []
        finally:
            os.close(root_fd)
        with os.fdopen(fd) as f:
            return [line.strip().split(":") for line in f if line.count(":") >= 2]
    groups_table: list[list[str]] | None = None

    def gid_of(g: str) -> int:
        nonlocal groups_table
        if g.isdigit():
            return int(g)
        if groups_table is None:
            groups_table = table("/etc/group")
        entry = next((e for e in groups_table if e[0] == g), None)
        if entry is None:
            raise InvalidArgument(f"unable to find group {g}: no matching entries in group "
                                  "file")
        return int(entry[2])
    uid = gid = 0
    login = name or "root"
    if name.isdigit():
        uid = int(name)
        passwd = table("/etc/passwd")
        entry = next((e for e in passwd if len(e) > 3 and e[2] == name), None)
        gid, login = (int(entry[3]), entry[0]) if entry else (0, "")
    elif name:
        entry = next((e for e in table("/etc/passwd") if e[0] == name), None)
        if entry is None or len(entry) < 4:
            raise InvalidArgument(f"unable to find user {name}: no matching entries in passwd "
                                  "file")
        uid, gid = int(entry[2]), int(entry[3])
    if group:
        gid = gid_of(group)
    extra: list[int] = []
    if login:
        if groups_table is None:
            groups_table = table("/etc/group")
        extra = [int(e[2]) for e in groups_table
                 if len(e) > 3 and login in e[3].split(",") and e[2].isdigit()]
    for g in group_add:
        extra.append(gid_of(g))
    # the primary group leads the supplementary list, as in a Docker container's `id`
    extra = [gid, *extra]
    return uid, gid, [g for i, g in enumerate(extra) if g not in extra[:i]]


_IMAGE_CONFIG_KEYS = ("User", "Env", "Cmd", "Entrypoint", "WorkingDir", "Labels",
                      "StopSignal", "ExposedPorts", "Volumes", "Healthcheck", "OnBuild",
                      "Shell", "StopTimeout")
INIT_FILES = ("/etc/hosts", "/etc/hostname", "/etc/resolv.conf")


def _layer_from_upper(tar: tarfile.TarFile, upper: str, ids: IdMap | None = None) -> None:
    """The rw layer as an image layer tar: overlay's whiteouts (0:0 character devices)
    become .wh.NAME files, opaque directories get a .wh..wh..opq entry; hard links stay
    links (tarfile tracks inodes); nothing is followed."""
    import stat as st
    for top, dirs, files, dir_fd in os.fwalk(upper):
        dirs.sort()
        for name in sorted(dirs) + sorted(files):
            path = _at(dir_fd, name)
            rel = os.path.relpath(os.path.join(top, name), upper)
            if "/" + rel in INIT_FILES:
                continue
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                continue   # removed by the running container meanwhile
            if st.S_ISCHR(info.st_mode) and info.st_rdev == 0:
                entry = tarfile_info(os.path.join(os.path.dirname(rel), ".wh." + name))
                tar.addfile(entry)
                continue
            _add_entry(tar, path, rel, ids)
            if name in dirs:
                try:
                    opaque = os.getxattr(path, "trusted.overlay.opaque") == b"y"
                except OSError:
                    opaque = False
                if opaque:
                    tar.addfile(tarfile_info(os.path.join(rel, ".wh..wh..opq")))


def _at(dir_fd: int, name: str) -> str:
    """A path to `name` in the directory open as dir_fd. The walks over a container's
    layer (diff, commit, export) use os.fwalk, which opens each directory by fd without
    following links; naming entries through that fd keeps a directory swapped for a
    symlink mid-walk (a running container can do that) from sending hull out of the tree."""
    return f"/proc/self/fd/{dir_fd}/{name}"


def _add_entry(tar: tarfile.TarFile, path: str, arcname: str, ids: IdMap | None = None
               ) -> None:
    """One file as it is on disk (links as links, never followed); left out if it was
    removed since the directory was listed. ids: a remapped container's file, whose host
    owner is written as the container's."""
    try:
        entry = tar.gettarinfo(path, arcname=arcname)
        if ids is not None:
            entry.uid, entry.gid = ids.to_container(entry.uid, entry.gid)
            entry.uname = entry.gname = ""
        # never through a link: the file could have been swapped for one since the lstat
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC) if entry.isreg() \
            else -1
    except FileNotFoundError:
        return
    except OSError as e:
        if e.errno == errno.ELOOP:
            return   # swapped for a symlink: what is there now is not this file
        raise
    if fd >= 0:
        with os.fdopen(fd, "rb") as f:
            if os.fstat(fd).st_size != entry.size:
                raise FailedPrecondition(f"{arcname} changed while it was archived")
            tar.addfile(entry, f)
    else:
        tar.addfile(entry)


def tarfile_info(name: str) -> tarfile.TarInfo:
    import tarfile as tf
    entry = tf.TarInfo(name)
    entry.mode = 0o600
    return entry


def _rw_entries(upper: str) -> tuple[set[str], set[str]]:
    """Paths the read-write layer changes (written or whited out), whose lower versions an
    export leaves out, and its opaque directories, whose whole lower subtree it leaves out."""
    changed, opaque = set(), set()
    for top, dirs, files, dir_fd in os.fwalk(upper):
        for name in dirs + files:
            rel = os.path.relpath(os.path.join(top, name), upper)
            changed.add(rel)
            if name in dirs:
                try:
                    if os.getxattr(_at(dir_fd, name), "trusted.overlay.opaque",
                                   follow_symlinks=False) == b"y":
                        opaque.add(rel)
                except OSError:
                    pass
    return changed, opaque


def _add_tree(tar: tarfile.TarFile, root: str,
              skip: tuple[set[str], set[str]] | None = None, whiteouts: bool = False,
              ids: IdMap | None = None) -> None:
    import stat as st
    changed, opaque = skip or (set(), set())
    for top, dirs, files, dir_fd in os.fwalk(root):
        rel_top = os.path.relpath(top, root)
        if rel_top in opaque:
            dirs[:] = []
            continue   # the rw layer replaced this directory wholesale
        dirs.sort()
        for name in sorted(dirs) + sorted(files):
            path = _at(dir_fd, name)
            rel = os.path.relpath(os.path.join(top, name), root)
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                continue   # removed by the running container meanwhile
            if whiteouts and st.S_ISCHR(info.st_mode) and info.st_rdev == 0:
                continue   # an overlay whiteout: the file is deleted, so not exported
            if rel in changed:
                continue   # the rw layer's version (or its deletion) decides
            _add_entry(tar, path, rel, ids)
