"""The engine's StepRunner for `build`: a RUN step is a short-lived container on the
runtime, with the engine's defaults — default capabilities, seccomp profile, masked paths,
its own cgroup under the build's parent, and the network the step asks for (the default
bridge with its own address and /etc files, none, or the host's) — whose output the builder
reads from a pipe. Unlike a `run` container it has no record, no log and no supervisor: the
build's worker waits for it as the subreaper of its processes, and every trace of it
(runtime state, cgroup, address) is gone when run() returns or raises."""

from __future__ import annotations

import os
import secrets

from hull.engine import ocispec
from hull.engine.bundle import _make_workdir, resolve_user
from hull.engine.store import Container

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from hull.build.steps import StepSpec
    from hull.engine.core import Engine

BUILD_CGROUP_PARENT = "/hull"


class EngineStepRunner:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def run(self, spec: StepSpec, output: Callable[[bytes], None]) -> int:
        from hull.engine import networking
        from hull.linux import process as proc
        cid = f"build-{os.getpid()}-{secrets.token_hex(20)}"   # the pid: see building._sweep
        mode = {"default": "bridge", "": "bridge"}.get(spec.network, spec.network)
        host: dict[str, Any] = {"NetworkMode": mode, "ShmSize": spec.shm_size or 0,
                                "Ulimits": spec.ulimits, "ExtraHosts": spec.extra_hosts}
        config: dict[str, Any] = {"Hostname": spec.hostname, "Env": spec.env,
                                  "Cmd": spec.args, "WorkingDir": spec.cwd}
        c = Container(cid, cid, "", "", "", config, host, {})
        bundle = self.engine.store.dir(cid)
        os.makedirs(bundle, mode=0o711)
        rt = self.engine.runtime()
        try:
            net = networking.prepare(self.engine, c)
            _make_workdir(spec.rootfs, spec.cwd, None)
            uid, gid, groups = resolve_user(spec.rootfs, spec.user, [])
            from hull.engine import seccomp_profile
            seccomp = seccomp_profile.for_container([], ocispec.capabilities(host))
            oci = ocispec.build(
                config=config, host=host, shm="", rootfs=spec.rootfs, uid=uid, gid=gid,
                groups=groups,
                cgroups_path=f"{spec.cgroup_parent or BUILD_CGROUP_PARENT}/{cid}",
                mounts=net.mounts + spec.mounts, ns_paths={}, seccomp=seccomp)
            from hull import fastjson
            with open(os.path.join(bundle, "config.json"), "w") as f:
                f.write(fastjson.dumps(oci))
            proc.prctl(proc.PR_SET_CHILD_SUBREAPER, 1)
            read_end, write_end = os.pipe2(os.O_CLOEXEC)
            try:
                null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    from hull.runtime.create import CreateOptions
                    st = rt.create(cid, bundle, CreateOptions(
                        stdio=(null, write_end, write_end)))
                finally:
                    os.close(null)
                    os.close(write_end)
                    write_end = -1
                if mode == "bridge" or mode == "none":
                    networking.plumb(self.engine, net, st.pid)
                rt.start(cid)
                return _pump(read_end, st.pid, output)
            finally:
                os.close(read_end)
                if write_end >= 0:
                    os.close(write_end)
        finally:
            _cleanup(self.engine, rt, cid, bundle, mode)


def _pump(fd: int, pid: int, output: Callable[[bytes], None]) -> int:
    """The step's output until its PID 1 has exited and every other process of the step
    (killed with its PID namespace then) has closed the pipe; PID 1's exit code."""
    import select

    from hull.runtime.waiting import reap
    pidfd = os.pidfd_open(pid)
    code: int | None = None
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        poller.register(pidfd, select.POLLIN)
        while True:
            for ready, _ in poller.poll():
                if ready == pidfd:
                    code = reap(pid)
                    poller.unregister(pidfd)
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    return code if code is not None else reap(pid)
                output(chunk)
    finally:
        os.close(pidfd)


def _cleanup(engine: Engine, rt: Any, cid: str, bundle: str, mode: str) -> None:
    import shutil

    from hull.engine import networking
    from hull.errors import NotFound
    try:
        rt.delete(cid, force=True)   # kills what is left (a Ctrl-C mid-step) and its cgroup
    except NotFound:
        pass
    if mode == "bridge":
        networking.release(engine, cid)
    shutil.rmtree(bundle, ignore_errors=True)
