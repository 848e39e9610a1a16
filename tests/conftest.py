"""Shared fixtures: a busybox rootfs built once from Debian's busybox-static, bundles made
from it, and a hull-runtime with its own temporary --root that deletes what a test leaves."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
# No test may reach a public registry, not even by a DNS lookup: these are mirror-only for
# every hull command the suite runs (tests that need a registry run one on 127.0.0.1).
os.environ["HULL_MIRROR_ONLY"] = "docker.io,quay.io,ghcr.io,gcr.io,registry.k8s.io"
# each test root gets its own engine service (started by the first hull command): it
# leaves 2 s after that root's last command instead of 5 minutes, and whatever is left
# at the end of the session is stopped (stop_test_services)
os.environ.setdefault("HULL_SERVICE_IDLE_EXIT", "2")
HULL_RUNTIME = str(Path(sys.executable).parent / "hull-runtime")
IS_ROOT = os.geteuid() == 0


def _cgroup2_host() -> bool:
    return Path("/sys/fs/cgroup/cgroup.controllers").exists()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_root = pytest.mark.skip(reason="needs root and a real kernel (namespaces, mounts, "
                                 "cgroups)")
    skip_v2 = pytest.mark.skip(reason="needs a cgroup v2 host: run scripts/cgroup2-tests")
    skip_v1 = pytest.mark.skip(reason="needs a cgroup v1 or hybrid host")
    for item in items:
        if "root" in item.keywords and not IS_ROOT:
            item.add_marker(skip_root)
        if ("cgroup_v2" in item.keywords or "only_v2" in item.keywords) and \
                not _cgroup2_host():
            item.add_marker(skip_v2)
        if "only_v1" in item.keywords and _cgroup2_host():
            item.add_marker(skip_v1)


_skipped_privileged: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not report.skipped:
        return
    v2 = _cgroup2_host()
    if ("only_v1" in report.keywords and v2) or ("only_v2" in report.keywords and not v2):
        return   # the other cgroup version's suite runs it
    if "cgroup_v2" in report.keywords:
        if _cgroup2_host():   # elsewhere scripts/cgroup2-tests runs them in a VM
            _skipped_privileged.append(report.nodeid)
    elif "root" in report.keywords:
        _skipped_privileged.append(report.nodeid)


def stop_test_services(base: str) -> list[int]:
    """SIGTERM to every engine service this session started (a root under its base
    temporary directory: another pytest session's services are not ours) that has not
    left on its own yet; returns their pids."""
    import signal
    mine = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"system" in args and b"service" in args and b"--root" in args:
            root = args[args.index(b"--root") + 1].decode(errors="replace")
            if root.startswith(base.rstrip("/") + "/"):
                mine.append(int(entry.name))
    for pid in mine:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    return mine


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """As root on this machine kind the privileged suite must really run: a skip there
    means a missing dependency or a broken fixture, and CI must fail, not pass quietly.
    And no test may leave a cgroup behind: every test container lives under /hull-test."""
    base = session.config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
    stop_test_services(str(base))
    parents = leftover_cgroups("/hull-test")
    leaked = [str(p) for d in parents for p in Path(d).iterdir() if p.is_dir()]
    if IS_ROOT and leaked:
        print("\ncgroups left behind by the suite:\n  " + "\n  ".join(leaked))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    for d in parents:   # the shared parent stays between containers, as with runc
        try:
            os.rmdir(d)
        except OSError:
            pass
    if os.environ.get("HULL_REQUIRE_PRIVILEGED") and _skipped_privileged:
        print("\nprivileged tests were skipped although HULL_REQUIRE_PRIVILEGED is set:\n  "
              + "\n  ".join(_skipped_privileged))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("busybox") is None:
        pytest.skip("busybox-static is not installed (scripts/install installs it)")
    root = tmp_path_factory.mktemp("busybox") / "rootfs"
    subprocess.run([str(REPO / "scripts" / "busybox-rootfs"), str(root)], check=True)
    return root


class Bundle:
    """A bundle directory whose config.json a test edits through .config before use."""

    def __init__(self, path: Path, config: dict[str, Any]) -> None:
        self.path = path
        self.config = config

    def write(self) -> Path:
        (self.path / "config.json").write_text(json.dumps(self.config))
        return self.path

    @property
    def process(self) -> dict[str, Any]:
        p: dict[str, Any] = self.config["process"]
        return p

    @property
    def linux(self) -> dict[str, Any]:
        lx: dict[str, Any] = self.config["linux"]
        return lx


@pytest.fixture
def bundle(tmp_path: Path, busybox_rootfs: Path, runtime: RuntimeCLI) -> Bundle:
    return make_bundle(tmp_path / "bundle", busybox_rootfs, runtime)


def make_bundle(path: Path, rootfs: Path, runtime: RuntimeCLI) -> Bundle:
    from hull.runtime.defaults import default_spec
    spec = default_spec(args=["true"], terminal=False)
    spec["root"] = {"path": str(rootfs), "readonly": True}
    spec["hostname"] = "hull-test"
    cgroup = f"/hull-test/{os.getpid()}-{path.parent.name}-{path.name}"
    spec["linux"]["cgroupsPath"] = cgroup
    runtime.cgroups.append(cgroup)
    path.mkdir()
    return Bundle(path, spec)


class RuntimeCLI:
    """Runs hull-runtime (or runc, for comparison) with a private --root."""

    def __init__(self, root: Path, binary: str = HULL_RUNTIME) -> None:
        self.root = root
        self.binary = binary
        self.cgroups: list[str] = []

    def __call__(self, *args: str, check: bool = True, input: str | None = None,
                 timeout: float = 60, **kw: Any) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([self.binary, "--root", str(self.root), *args], text=True,
                              capture_output=True, input=input, timeout=timeout, **kw)
        if check and proc.returncode != 0:
            raise AssertionError(f"{self.binary} {' '.join(args)} failed "
                                 f"({proc.returncode}): {proc.stderr}")
        return proc

    def run(self, bundle: Bundle, cid: str = "t", **kw: Any) -> subprocess.CompletedProcess[str]:
        return self("run", "--bundle", str(bundle.write()), cid, **kw)

    def detached(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """create / run -d: the container keeps its stdio, so give it a file, not the pipe
        that capture_output would wait on until the container exits."""
        log = self.root.parent / "container-output"
        with open(log, "a") as out:
            proc = subprocess.run([self.binary, "--root", str(self.root), *args], text=True,
                                  stdin=subprocess.DEVNULL, stdout=out, stderr=out, timeout=60)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed: {log.read_text()}")
        return proc

    def state(self, cid: str) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self("state", cid).stdout)
        return out

    def ids(self) -> list[str]:
        out = self("list", "--format", "json").stdout
        return [c["id"] for c in json.loads(out or "[]")]


HULL = str(Path(sys.executable).parent / "hull")


def one_problem(stderr: str) -> str:
    """A refusal's one line naming the problem (returned); only Docker's own pointer to the
    command's help ("Run 'hull run --help' for more information") may follow it."""
    import re
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert lines, "no message at all"
    extra = [line for line in lines[1:] if not re.fullmatch(
        r"(Run|See) 'hull [\w -]+ --help' for more information|Usage:  hull .*", line)]
    assert not extra, stderr
    return lines[0]


class HullCLI:
    """The hull command line on its own --root (and, optionally, environment)."""

    def __init__(self, root: Path, env: dict[str, str] | None = None) -> None:
        self.root = root
        self.env = env

    def __call__(self, *args: str, check: bool = True, input: str | None = None,
                 timeout: float = 300) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([HULL, "--root", str(self.root), *args], text=True,
                              capture_output=True, input=input, env=self.env, timeout=timeout,
                              stdin=None if input is not None else subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise AssertionError(f"hull {' '.join(args)}: {proc.returncode}: {proc.stderr}")
        return proc

    def state(self, name: str) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self("inspect", name).stdout)[0]["State"]
        return out

    def kill_service(self) -> int:
        """SIGKILL this root's engine service, as an OOM kill or a crash would; its pid,
        once it has gone."""
        import signal
        pid = self._signal_service(signal.SIGKILL)
        assert pid, "no engine service runs"
        return pid

    def stop_service(self) -> None:
        """Stop this root's engine service (by its pidfile) and wait until it has left:
        before its filesystem is unmounted, or to leave nothing running."""
        import signal
        self._signal_service(signal.SIGTERM)

    def _signal_service(self, signum: int) -> int:
        """Send signum to the service named by the pidfile and wait (up to 30 s) until it
        has ended; its pid, or 0 when none runs."""
        import time
        state = Path((self.env or os.environ).get("HULL_STATE") or self.root / "state")
        try:
            pid = int((state / "service.pid").read_text())
            os.kill(pid, signum)
        except (OSError, ValueError):
            return 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if "State:\tZ" in Path(f"/proc/{pid}/status").read_text():
                    break
            except OSError:
                break
            time.sleep(0.02)
        return pid


def leftover_cgroups(cgroup: str) -> list[str]:
    """The container's cgroup directory wherever it could be: under each v1 hierarchy, or
    directly under the v2 root."""
    root = Path("/sys/fs/cgroup")
    bases = [root] + [p for p in root.iterdir() if p.is_dir()]
    return [str(b / cgroup.lstrip("/")) for b in bases if (b / cgroup.lstrip("/")).exists()]


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[RuntimeCLI]:
    rt = RuntimeCLI(tmp_path / "runtime-root")
    yield rt
    for cid in rt.ids() if rt.root.exists() else []:
        rt("delete", "--force", cid, check=False)
    # the compiled-seccomp cache is meant to outlive containers
    leaked = [p for p in rt.root.iterdir() if p.name != "@seccomp"] if rt.root.exists() \
        else []
    assert not leaked, f"state left behind: {leaked}"
    mounts = [line for line in Path("/proc/self/mounts").read_text().splitlines()
              if str(tmp_path) in line]
    assert not mounts, f"mounts left behind: {mounts}"
    cgroups = [p for cg in rt.cgroups for p in leftover_cgroups(cg)]
    assert not cgroups, f"cgroups left behind: {cgroups}"
