"""The Runtime: the OCI operations on containers kept under one state root.

This is the library the engine calls directly and `hull-runtime` puts a runc-compatible
command line on. Each operation loads the state fresh (status recomputed from the kernel),
checks the transition on the Status enum, and acts.
"""

from __future__ import annotations

import os
import select
import time

from hull.cgroups import manager
from hull.cgroups.resources import parse as parse_resources
from hull.errors import FailedPrecondition, HullError
from hull.runtime import hooks
from hull.runtime.create import CreateOptions, create
from hull.runtime.spec import parse_hooks
from hull.runtime.state import EXEC_FIFO, State, StateStore, Status
from hull.suppress import suppress

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hull.cgroups.driver import CgroupDriver

SIGKILL = 9


class Runtime:
    def __init__(self, root: str, systemd_cgroup: bool = False) -> None:
        self.store = StateStore(root)
        self.systemd_cgroup = systemd_cgroup

    # ---- create / start -------------------------------------------------------------------

    def create(self, container_id: str, bundle: str, opts: CreateOptions | None = None) -> State:
        opts = opts or CreateOptions()
        opts.systemd_cgroup = opts.systemd_cgroup or self.systemd_cgroup
        return create(self.store, container_id, bundle, opts)

    def start(self, container_id: str) -> None:
        st = self.state(container_id)
        st.status.require(st.status.can_start, "start", container_id)
        fifo = f"{self.store.dir(container_id)}/{EXEC_FIFO}"
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            # the init's blocked open(O_WRONLY) returns now; wait for its byte or its death
            pidfd = _pidfd(st.pid)
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            if pidfd is not None:
                poller.register(pidfd, select.POLLIN)
            started = False
            while True:
                events = dict(poller.poll(1000))
                if fd in events:
                    data = os.read(fd, 64)
                    if data:
                        started = True
                    elif started:
                        break   # end-of-file: the init has exec'd the user process
                if not started and ((pidfd is not None and pidfd in events)
                                    or not st.alive()):
                    raise FailedPrecondition(f"container {container_id} init exited before "
                                             "start")
        finally:
            os.close(fd)
            if "pidfd" in locals() and pidfd is not None:
                os.close(pidfd)
            with suppress(FileNotFoundError):
                os.unlink(fifo)
        spec_hooks = parse_hooks(st.config.get("hooks"))
        if spec_hooks.get("poststart"):
            st.status = Status.RUNNING
            hooks.run("poststart", spec_hooks["poststart"], st.oci(), fatal=False)

    # ---- observe --------------------------------------------------------------------------

    def state(self, container_id: str) -> State:
        return self.store.load(container_id)

    def containers(self) -> list[State]:
        out = []
        for cid in self.store.ids():
            with suppress(HullError, OSError, ValueError):
                out.append(self.store.load(cid))
        return out

    def driver(self, st: State) -> CgroupDriver:
        return manager.load(st.cgroup)

    def pids(self, container_id: str) -> list[int]:
        st = self.state(container_id)
        return self.driver(st).pids() if st.cgroup else []

    # ---- signals and teardown -------------------------------------------------------------

    def kill(self, container_id: str, sig: int, all_processes: bool = False) -> None:
        st = self.state(container_id)
        if not all_processes:
            st.status.require(st.status.can_kill, "kill", container_id)
            os.kill(st.pid, sig)
            return
        if st.status is Status.STOPPED and not self.driver(st).pids():
            st.status.require(False, "kill", container_id)
        self.driver(st).kill_all(sig)

    def delete(self, container_id: str, force: bool = False) -> None:
        st = self.state(container_id)
        if st.status in (Status.RUNNING, Status.PAUSED) and not force:
            raise FailedPrecondition(f"cannot delete container {container_id} that is not "
                                     f"stopped: it is {st.status.value} (use --force)")
        driver = self.driver(st) if st.cgroup else None
        if st.status is not Status.STOPPED or (driver and driver.pids()):
            self._kill_everything(st, driver)
        if driver is not None:
            driver.destroy()
        self.store.remove(container_id)
        spec_hooks = parse_hooks(st.config.get("hooks"))
        if spec_hooks.get("poststop"):
            st.status = Status.STOPPED
            hooks.run("poststop", spec_hooks["poststop"], st.oci(), fatal=False)

    def _kill_everything(self, st: State, driver: CgroupDriver | None) -> None:
        if driver is not None:
            if driver.frozen():
                with suppress(Exception):
                    driver.freeze(False)
            with suppress(OSError, HullError):
                driver.kill_all(SIGKILL)
        if st.alive():
            with suppress(ProcessLookupError):
                os.kill(st.pid, SIGKILL)
        wait_gone(st.pid, st.pid_start)
        deadline = time.monotonic() + 5
        while driver is not None and driver.pids() and time.monotonic() < deadline:
            time.sleep(0.005)

    # ---- pause, resume, update ------------------------------------------------------------

    def pause(self, container_id: str) -> None:
        st = self.state(container_id)
        st.status.require(st.status.can_pause, "pause", container_id)
        self.driver(st).freeze(True)

    def resume(self, container_id: str) -> None:
        st = self.state(container_id)
        st.status.require(st.status.can_resume, "resume", container_id)
        self.driver(st).freeze(False)

    def update(self, container_id: str, resources: dict[str, Any]) -> None:
        st = self.state(container_id)
        if st.status is Status.STOPPED:
            st.status.require(False, "update", container_id)
        parsed = parse_resources(resources)
        from hull.cgroups.validate import check_host
        check_host(parsed)
        self.driver(st).apply(parsed)
        linux = st.config.setdefault("linux", {})
        merged = _merge(linux.get("resources") or {}, resources)
        linux["resources"] = merged
        self.store.save(st)


def _merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    out = dict(old)
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _pidfd(pid: int) -> int | None:
    from hull.linux.process import pidfd_open
    try:
        return pidfd_open(pid)
    except OSError:
        return None


def wait_gone(pid: int, start: int, timeout: float = 10.0) -> None:
    """Wait until a process (not necessarily our child) has exited."""
    from hull.runtime.state import process_start_time
    pidfd = _pidfd(pid)
    if pidfd is not None:
        try:
            if process_start_time(pid) == start:
                select.select([pidfd], [], [], timeout)
        finally:
            os.close(pidfd)
        return
    deadline = time.monotonic() + timeout
    while process_start_time(pid) == start and time.monotonic() < deadline:
        time.sleep(0.002)
