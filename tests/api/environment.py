"""A sealed place to run an engine behind the Docker Engine API: a network namespace of its
own with only `lo` up, a local registry in it holding stand-ins for the public images
(tests/api/standins.py) as docker.io's mirror, and, on request, a private dockerd.

Nothing here can reach beyond the machine: the namespace has no interface but `lo` (and
whatever bridges an engine makes inside it), so when an engine falls back from the mirror
to registry-1.docker.io, or a test names a public host, the lookup fails in the namespace
(the resolver's address is unreachable) and no packet leaves.

    with environment() as env:                       # netns + registry + stand-ins
        with private_dockerd(env) as dockerd:        # unix:// socket, engine in the netns
            ...
        hull = env.command(["hull", "system", "service", "--socket", "unix:///…"])
        subprocess.Popen(hull, env=env.hull_env())   # hull in the same netns, same mirror

or from a shell: `python -m tests.api.environment [--dockerd]` (prints how to reach it and
waits for Ctrl-C). Needs root. Daemons are stopped by PID; every mount under the work
directory, the cgroup parent and the namespace are removed afterwards.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import docker  # docker-py (a dev dependency)
from tests.api import standins
from tests.registry import hull_env, run_registry

CLONE_NEWNET = 0x40000000
CGROUP_ROOT = Path("/sys/fs/cgroup")
# variables that would send a daemon's or a client's traffic elsewhere or aim a client at
# another engine: never passed on
_DROPPED_ENV = ("http_proxy", "https_proxy", "ftp_proxy", "all_proxy", "no_proxy")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in _DROPPED_ENV and not k.startswith("DOCKER_")}
    env.update(extra)
    return env


@contextmanager
def entered(netns: Path) -> Iterator[None]:
    """The calling thread in the namespace for the block: sockets it opens, and processes it
    starts (fork copies the calling thread's namespaces), are in it."""
    libc = ctypes.CDLL(None, use_errno=True)
    with open("/proc/thread-self/ns/net") as own, open(netns) as target:
        if libc.setns(target.fileno(), CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {netns}")
        try:
            yield
        finally:
            if libc.setns(own.fileno(), CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back to the original namespace")


@contextmanager
def network_namespace(prefix: str = "hull-api") -> Iterator[Path]:
    """A named namespace (/run/netns/NAME) with only `lo`, up."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield Path("/run/netns") / name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


def unmount_under(prefix: Path) -> None:
    for _ in range(3):
        targets = [line.split()[1] for line in Path("/proc/self/mounts").read_text()
                   .splitlines() if line.split()[1].startswith(str(prefix) + "/")]
        if not targets:
            return
        for target in sorted(targets, key=len, reverse=True):
            subprocess.run(["umount", "-l", target], check=False, capture_output=True)


def remove_cgroup(parent: str) -> None:
    """Kill what still runs under `parent` (a container whose shim went with a crashed
    engine), then remove it and what is under it in every hierarchy, deepest first."""
    for _ in range(50):
        pids = {int(pid) for base in CGROUP_ROOT.iterdir()
                for procs in (base / parent.strip("/")).rglob("cgroup.procs")
                for pid in procs.read_text().split()}
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)
    from tests.clients.conftest import _remove_cgroup_tree
    for base in CGROUP_ROOT.iterdir():
        if (base / parent.strip("/")).is_dir():
            _remove_cgroup_tree(base / parent.strip("/"))


def stop(proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class Environment:
    workdir: Path
    netns: Path                 # /run/netns/NAME
    registry: str               # "127.0.0.1:PORT", only reachable inside netns
    images: list[standins.Image] = field(default_factory=list)

    @property
    def mirror(self) -> str:
        return f"http://{self.registry}"

    def entered(self) -> AbstractContextManager[None]:
        """The calling thread in the namespace for a `with` block (see entered())."""
        return entered(self.netns)

    def command(self, argv: list[str]) -> list[str]:
        """argv run inside the namespace (only the network namespace changes)."""
        return ["nsenter", f"--net={self.netns}", "--", *argv]

    def hull_env(self) -> dict[str, str]:
        """Environment for hull in this namespace: docker.io mirrored to the registry and
        mirror-only (HULL_REGISTRIES_CONFIG), a private DOCKER_CONFIG."""
        base = self.workdir / "hull"
        base.mkdir(exist_ok=True)
        return {k: v for k, v in hull_env(base, self.registry).items()
                if k.lower() not in _DROPPED_ENV}

    def image_archive(self) -> bytes:
        return standins.docker_archive(self.images)


@contextmanager
def environment(workdir: Path | None = None) -> Iterator[Environment]:
    """Namespace, registry in it with the stand-in images pushed; all removed afterwards."""
    if os.geteuid() != 0:
        raise PermissionError("tests.api.environment needs root (network namespaces)")
    own_dir = workdir is None
    work = Path(tempfile.mkdtemp(prefix="hull-api-env-")) if workdir is None else workdir
    work.mkdir(parents=True, exist_ok=True)
    work.chmod(0o755)
    try:
        with ExitStack() as stack:
            netns = stack.enter_context(network_namespace())
            with entered(netns):    # the registry process and its port in the namespace
                registry = stack.enter_context(run_registry(work / "registry"))
                images = standins.build()
                standins.push(registry, images)
            yield Environment(work, netns, registry, images)
    finally:
        unmount_under(work)
        if own_dir:
            shutil.rmtree(work, ignore_errors=True)


@dataclass
class Dockerd:
    dir: Path
    sock: Path
    proc: subprocess.Popen[bytes]
    containerd: subprocess.Popen[bytes]
    cgroup_parent: str

    @property
    def host(self) -> str:
        return f"unix://{self.sock}"


def _wait_for_socket(path: Path, proc: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start: {log.read_text()[-3000:]}")
        time.sleep(0.1)


def _shims_of(containerd_sock: Path) -> list[int]:
    """containerd-shim processes serving our containerd (their command line names its
    socket)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and b"containerd-shim" in argv[0] and str(containerd_sock).encode() in argv:
            pids.append(int(proc.name))
    return pids


@contextmanager
def private_dockerd(env: Environment, *, bridge: bool = False) -> Iterator[Dockerd]:
    """A dockerd of its own (data-root, exec-root, socket, pidfile, containerd and its
    namespace, cgroup parent) in env's namespace, with docker.io mirrored to env's registry.
    Never iptables (--iptables=false: nothing to NAT to, and it would load br_netfilter into
    the host's kernel); no default bridge either unless bridge=True (docker0 is then made
    inside the namespace)."""
    for binary in ("dockerd", "containerd"):
        if shutil.which(binary) is None:
            raise FileNotFoundError(f"{binary} is not installed (scripts/install installs it)")
    tag = uuid.uuid4().hex[:8]
    base = env.workdir / f"dockerd-{tag}"
    base.mkdir()
    cgroup_parent = f"/hull-api-dockerd-{tag}"
    daemon_env = clean_env()
    ctd_sock = base / "containerd.sock"
    (base / "containerd.toml").write_text(
        f'version = 2\nroot = "{base}/containerd-root"\nstate = "{base}/containerd-state"\n'
        f'[grpc]\n  address = "{ctd_sock}"\n'
        '[plugins."io.containerd.grpc.v1.cri"]\n  disable = true\n')
    sock = base / "docker.sock"
    with ExitStack() as cleanup:
        cleanup.callback(remove_cgroup, cgroup_parent)
        cleanup.callback(unmount_under, base)
        with entered(env.netns), open(base / "containerd.log", "w") as log:
            containerd = subprocess.Popen(
                ["containerd", "--config", str(base / "containerd.toml")], stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=daemon_env)

        def stop_containerd() -> None:
            stop(containerd)
            for pid in _shims_of(ctd_sock):   # left only if a container outlived dockerd
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        cleanup.callback(stop_containerd)
        _wait_for_socket(ctd_sock, containerd, "containerd", base / "containerd.log")
        argv = ["dockerd", "--data-root", f"{base}/data", "--exec-root", f"{base}/exec",
                "--host", f"unix://{sock}", "--pidfile", f"{base}/docker.pid",
                "--containerd", str(ctd_sock), "--containerd-namespace", f"hull-api-{tag}",
                "--containerd-plugins-namespace", f"hull-api-{tag}-plugins",
                "--cgroup-parent", cgroup_parent,
                "--registry-mirror", env.mirror, "--insecure-registry", env.registry,
                "--iptables=false", "--ip6tables=false"]
        if not bridge:
            argv += ["--bridge=none"]
        with entered(env.netns), open(base / "dockerd.log", "w") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=daemon_env)
        cleanup.callback(stop, proc)
        _wait_for_socket(sock, proc, "dockerd", base / "dockerd.log")
        _wait_for_ping(sock, proc, base / "dockerd.log")
        yield Dockerd(base, sock, proc, containerd, cgroup_parent)


def _wait_for_ping(sock: Path, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            client = docker.APIClient(base_url=f"unix://{sock}", version="1.24", timeout=5)
            try:
                client.ping()
                return
            finally:
                client.close()
        except Exception:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dockerd does not answer: {log.read_text()[-3000:]}")\
                    from None
            time.sleep(0.2)


def registry_catalog(env: Environment) -> str:
    with entered(env.netns), urllib.request.urlopen(f"{env.mirror}/v2/_catalog",
                                                     timeout=5) as resp:
        return str(resp.read().decode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dockerd", action="store_true", help="also start a private dockerd")
    parser.add_argument("--bridge", action="store_true",
                        help="give that dockerd its default bridge (inside the namespace)")
    args = parser.parse_args()
    stopped = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopped
        stopped = True
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with environment() as env, ExitStack() as stack:
        print(f"netns:     {env.netns}   (run a command in it: nsenter --net={env.netns} -- CMD)")
        print(f"registry:  {env.mirror}  {registry_catalog(env)}")
        config = env.hull_env()["HULL_REGISTRIES_CONFIG"]
        print(f"hull:      HULL_REGISTRIES_CONFIG={config}")
        if args.dockerd:
            dockerd = stack.enter_context(private_dockerd(env, bridge=args.bridge))
            print(f"dockerd:   DOCKER_HOST={dockerd.host}   (log {dockerd.dir}/dockerd.log)")
        print("Ctrl-C stops it all.", flush=True)
        while not stopped:
            time.sleep(0.5)
    sys.exit(0)


if __name__ == "__main__":
    main()
