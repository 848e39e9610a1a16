"""The runtime side of `create`: validate, claim the ID, make the cgroup, fork the init and
walk it through the protocol drawn in init.py. On any failure everything made so far is
undone (process killed, cgroup removed, state directory deleted) before the error surfaces.
"""

from __future__ import annotations

import os

from hull.cgroups import manager
from hull.cgroups.resources import DeviceRule, Resources
from hull.errors import FailedPrecondition, InvalidArgument, Unavailable
from hull.record import record, replace
from hull.runtime import hooks, idmap
from hull.runtime.init import InitContext, stage1
from hull.runtime.spec import IdMapping, Spec, load
from hull.runtime.state import EXEC_FIFO, State, StateStore, Status, now_rfc3339, process_start_time
from hull.runtime.sync import Channel
from hull.suppress import suppress
from hull.trace import mark

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket

    from hull.cgroups.driver import CgroupDriver

SIGKILL = 9


@record
class CreateOptions:
    pid_file: str | None = None
    console_socket: str | None = None
    preserve_fds: int = 0
    no_pivot: bool = False
    no_new_keyring: bool = False
    systemd_cgroup: bool = False
    # the container process's stdin, stdout, stderr; None: those of the calling process
    stdio: tuple[int, int, int] | None = None


def _check_host_support(spec: Spec) -> None:
    if spec.process is None:
        raise InvalidArgument("process: required to create a container")
    if spec.linux.intel_rdt and not os.path.ismount("/sys/fs/resctrl"):
        raise Unavailable("linux.intelRdt: resctrl is not mounted on this host "
                          "(Intel RDT unsupported or /sys/fs/resctrl not mounted)")
    if spec.process.terminal and spec.linux.namespace("mount") is None:
        raise InvalidArgument("process.terminal: needs a mount namespace for /dev/pts")
    if spec.linux.namespace("time") and not os.path.exists("/proc/self/ns/time"):
        raise Unavailable("linux.namespaces: this kernel has no time namespace")


def create(store: StateStore, container_id: str, bundle: str,
           opts: CreateOptions) -> State:
    spec = load(bundle)
    _check_host_support(spec)
    from hull.cgroups.validate import check_host
    check_host(spec.linux.resources)
    mark("create: config loaded")
    state_dir = store.reserve(container_id)
    state = State(id=container_id, bundle=os.path.realpath(bundle), rootfs=spec.root_path,
                  created=now_rfc3339(), annotations=spec.annotations, config=spec.raw)
    driver = None
    pid = 0
    console = None
    try:
        driver = manager.new_driver(spec.linux.cgroups_path, container_id, opts.systemd_cgroup)
        driver.plan()
        state.cgroup = manager.save(driver)
        store.save(state)   # status "creating" before the cgroup exists: a crash from here
        driver.create()     # on leaves a record whose `delete` removes what it made
        driver.apply(with_default_device_rules(spec))
        mark("create: cgroup made")
        fifo = f"{state_dir}/{EXEC_FIFO}"
        os.mkfifo(fifo, 0o622)
        os.chmod(fifo, 0o622)   # not what umask left: the process's own user opens it to write
        root_uid = _host_id(spec.linux.uid_mappings, 0)
        root_gid = _host_id(spec.linux.gid_mappings, 0)
        if (root_uid, root_gid) != (0, 0):
            os.chown(fifo, root_uid, root_gid)
        if opts.console_socket is not None:
            console = connect_console(opts.console_socket)
        parent, child = Channel.pair()
        fifo_fd = os.open(fifo, os.O_PATH | os.O_CLOEXEC)
        ctx = InitContext(spec, child, fifo_fd, console, opts.stdio, opts.preserve_fds,
                          opts.no_pivot,
                          opts.no_new_keyring,
                          {k: str(v) for k, v in driver.paths().items()},
                          {"ociVersion": spec.oci_version, "id": container_id,
                           "status": "creating", "pid": 0, "bundle": state.bundle,
                           "annotations": spec.annotations})
        store.prepare_seccomp(spec.linux)
        first = os.fork()
        if first == 0:
            parent.close()
            stage1(ctx)
        child.close()
        os.close(fifo_fd)
        if console is not None:
            console.close()
            console = None
        pid = _drive(parent, first, spec, state, driver)
        state.pid = pid
        state.pid_start = process_start_time(pid) or 0
        state.status = Status.CREATED
        store.save(state)
        if opts.pid_file is not None:
            _write_pid_file(opts.pid_file, pid)
        return state
    except BaseException:
        if pid:
            with suppress(ProcessLookupError):
                os.kill(pid, SIGKILL)
        if driver is not None:
            with suppress(Exception):
                driver.kill_all(SIGKILL)
            with suppress(Exception):
                driver.destroy()
        with suppress(OSError):
            store.remove(container_id)
        raise
    finally:
        if console is not None:
            console.close()


def _drive(ch: Channel, first: int, spec: Spec, state: State, driver: CgroupDriver) -> int:
    """Walk the init through the protocol; returns the container's PID (in our namespace)."""
    pid = 0
    try:
        driver.add_process(first)
        mark("create: init in cgroup")
        new_userns = any(n.type == "user" and not n.path for n in spec.linux.namespaces)
        if new_userns:
            ch.recv("userns")
            _write_id_maps(first, spec)
            ch.send("mapped")
        if any(idmap.wanted(mnt) for mnt in spec.mounts):
            userns = spec.linux.namespace("user")
            source = f"/proc/{first}/ns/user" if new_userns else userns.path if userns else None
            for index, tree in idmap.make_mounts(spec, source).items():
                ch.send_fd("mount-fd", tree, index=index)
                os.close(tree)
        ch.send("go")
        ready = False
        while True:
            msg = ch.recv()
            if msg["type"] == "pid":
                pid = int(msg["pid"])
                state.pid = pid
                os.waitpid(first, 0)
                first = 0
                if ready:
                    return pid
            elif msg["type"] == "create-runtime":
                hook_state = {**state.oci(), "status": "created", "pid": pid}
                hooks.run("prestart", spec.hooks.get("prestart", []), hook_state)
                hooks.run("createRuntime", spec.hooks.get("createRuntime", []), hook_state)
                ch.send("continue")
            elif msg["type"] == "seccomp-fd":
                from hull.runtime.seccomp_listener import send_notify_fd
                send_notify_fd(spec.linux, {**state.oci(), "status": "creating", "pid": pid},
                               pid, msg["fds"][0])
            elif msg["type"] == "ready":
                mark("create: ready")
                if pid:
                    return pid
                # stage 2 said "ready" before stage 1 (descheduled right after its fork)
                ready = True   # said its pid: both come down the one channel, either first
            else:
                raise FailedPrecondition(f"protocol error: unexpected {msg['type']!r}")
    except BaseException:
        if pid:
            with suppress(ProcessLookupError):
                os.kill(pid, SIGKILL)
        raise
    finally:
        ch.close()
        if first:
            with suppress(ChildProcessError):
                os.waitpid(first, 0)


def _write_id_maps(pid: int, spec: Spec) -> None:
    for name, maps in (("uid_map", spec.linux.uid_mappings),
                       ("gid_map", spec.linux.gid_mappings)):
        try:
            with open(f"/proc/{pid}/{name}", "w") as f:
                f.write("".join(m.line() for m in maps))
        except OSError as e:
            raise InvalidArgument(f"linux.{'uid' if name == 'uid_map' else 'gid'}Mappings: "
                                  f"the kernel refused the mapping: {e.strerror}") from None


def _host_id(mappings: list[IdMapping], container_id: int) -> int:
    for m in mappings:
        if m.container_id <= container_id < m.container_id + m.size:
            return m.host_id + container_id - m.container_id
    return container_id


def connect_console(path: str) -> socket.socket:
    import socket
    console = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        console.connect(path)
    except OSError as e:
        console.close()
        raise InvalidArgument(f"--console-socket {path}: {e.strerror}") from None
    return console


def _write_pid_file(path: str, pid: int) -> None:
    head, tail = os.path.split(path)
    tmp = os.path.join(head, f".{tail}.tmp")
    with open(tmp, "w") as f:
        f.write(str(pid))
    os.replace(tmp, path)


# Appended after the config's own rules, as runc does, so a deny-all list still lets the
# container use the devices every container gets (and the ones linux.devices names).
_ALWAYS_ALLOWED = [("c", None, None, "m"), ("b", None, None, "m"),
                   ("c", 1, 3, "rwm"), ("c", 1, 5, "rwm"), ("c", 1, 7, "rwm"),
                   ("c", 1, 8, "rwm"), ("c", 1, 9, "rwm"), ("c", 5, 0, "rwm"),
                   ("c", 5, 1, "rwm"), ("c", 5, 2, "rwm"), ("c", 136, None, "rwm")]


def with_default_device_rules(spec: Spec) -> Resources:
    res = spec.linux.resources
    if not res.devices:
        return res
    extra = [DeviceRule(True, t, major, minor, access)
             for t, major, minor, access in _ALWAYS_ALLOWED]
    extra += [DeviceRule(True, "c" if d.type == "u" else d.type, d.major, d.minor, "rwm")
              for d in spec.linux.devices if d.type != "p"]
    return replace(res, devices=[*res.devices, *extra])
