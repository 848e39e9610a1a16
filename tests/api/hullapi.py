"""hull's Docker Engine API in a sealed environment (tests/api/environment.py): a private
root, state and cgroup parent under the environment's work directory, the service inside
its network namespace with docker.io mirrored to its registry, and a resolver file that
names only 127.0.0.1 (the host's is unreachable from the namespace anyway).

    with environment() as env, private_hull(env) as hull:
        run_report(hull.host, netns=env.netns, images=env.images)

On exit: containers are force-removed through the API, the `system service --socket`
command gets SIGTERM (by pid), the root's service is asked to leave (`--stop`, by its
pidfile) and waited for, then what it may have left (its cgroup parent, mounts under
its directory) is removed. Bridges and nftables tables it made live in the namespace
and go with it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker  # docker-py (a dev dependency)
from tests.api.environment import (
    Environment,
    entered,
    remove_cgroup,
    stop,
    unmount_under,
)

# this checkout's own launcher (scripts/install writes it next to the interpreter), not
# whichever `hull` PATH finds: another checkout's install may own /usr/local/bin/hull
HULL = os.environ.get("HULL_BIN") or str(Path(sys.executable).parent / "hull")


@dataclass
class Hull:
    dir: Path
    root: Path
    sock: Path
    proc: subprocess.Popen[bytes]
    cgroup_parent: str

    @property
    def host(self) -> str:
        return f"unix://{self.sock}"

    @property
    def log(self) -> Path:
        return self.dir / "hull.log"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:   # a zombie nobody reaps yet is gone for our purpose
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_for_ping(hull: Hull, netns: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with entered(netns):
                client = docker.APIClient(base_url=hull.host, version="1.24", timeout=5)
                try:
                    client.ping()
                    return
                finally:
                    client.close()
        except Exception:
            if hull.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("hull's API does not answer: "
                                   + hull.log.read_text()[-3000:]) from None
            time.sleep(0.2)


def _remove_containers(hull: Hull, netns: Path) -> None:
    """Every container, force-removed (running ones are killed), so the service can leave."""
    try:
        with entered(netns):
            client = docker.APIClient(base_url=hull.host, version="1.24", timeout=60)
            try:
                for c in client.containers(all=True):
                    try:
                        client.remove_container(c["Id"], force=True, v=True)
                    except docker.errors.APIError:
                        pass
            finally:
                client.close()
    except Exception as e:   # an engine that died: the cgroup sweep below still runs
        print(f"hullapi: removing containers: {e}")


def _stop_service(hull: Hull, env: dict[str, str], netns: Path) -> None:
    pidfile = hull.root / "state" / "service.pid"
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return
    argv = [HULL, "--root", str(hull.root), "system", "service", "--stop"]
    deadline = time.monotonic() + 60
    asked = 0
    while _alive(pid):
        if asked == 0 or (asked == 1 and time.monotonic() > deadline - 45):
            subprocess.run(argv, env=env, check=False, capture_output=True)
            asked += 1
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.1)


@contextmanager
def private_hull(env: Environment, hull_bin: str = HULL) -> Iterator[Hull]:
    """hull's API service in env's namespace, on a root of its own; everything it made is
    removed afterwards (see the module's docstring)."""
    tag = uuid.uuid4().hex[:8]
    base = env.workdir / f"hull-{tag}"
    base.mkdir()
    root = base / "root"
    resolv = base / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\n")
    cgroup_parent = f"/hull-test-api-{tag}"
    hull_env = {k: v for k, v in env.hull_env().items() if k != "HULL_STATE"}
    hull_env.update(HULL_CGROUP_PARENT=cgroup_parent, HULL_RESOLV_CONF=str(resolv),
                    HULL_ROOT=str(root))
    sock = base / "hull.sock"
    with ExitStack() as cleanup:
        cleanup.callback(remove_cgroup, cgroup_parent)
        cleanup.callback(unmount_under, base)
        argv = [hull_bin, "--root", str(root), "system", "service", "--socket",
                f"unix://{sock}", "--time", "0"]
        with open(base / "hull.log", "w") as log:
            proc = subprocess.Popen(env.command(argv), stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=hull_env)
        hull = Hull(base, root, sock, proc, cgroup_parent)
        cleanup.callback(_stop_service, hull, hull_env, env.netns)
        cleanup.callback(stop, proc)
        cleanup.callback(_remove_containers, hull, env.netns)
        _wait_for_ping(hull, env.netns)
        yield hull
