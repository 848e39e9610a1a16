"""hull, docker and podman side by side for a benchmark: each on private state under one
scratch directory, each with the same busybox rootfs as its `busybox` image, docker and
podman on runc (their default), none of them touching the machine's own engines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
HULL = str(REPO / ".venv" / "bin" / "hull")
ENGINES = ("hull", "docker", "podman")


class Engines:
    def __init__(self, work: Path, names: tuple[str, ...] = ENGINES) -> None:
        sys.path.insert(0, str(REPO))
        self.work, self.names = work, names
        self.hull_root = work / "hull"
        self.hull_env = {**os.environ, "HULL_CGROUP_PARENT": "/hull-bench"}
        self.docker: Any = None
        self.podman: Any = None

    def __enter__(self) -> Engines:
        from tests.clients.conftest import Docker, Podman
        rootfs = self.work / "rootfs"
        subprocess.run([str(REPO / "scripts" / "busybox-rootfs"), str(rootfs)], check=True)
        tar = self.work / "busybox.tar"
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tar), "."], check=True)
        if "hull" in self.names:
            self.run("hull", "image", "bootstrap")
        if "podman" in self.names:
            self.podman = Podman(self.work)
            self.run("podman", "import", str(tar), "localhost/busybox:latest")
        if "docker" in self.names:
            self.docker = Docker(self.work)
            self.run("docker", "import", str(tar), "busybox:latest")
        return self

    def __exit__(self, *exc: object) -> None:
        from tests.clients.conftest import _remove_cgroup_tree, _stop
        for name in self.names:
            ids = self.run(name, "ps", "-aq", check=False).stdout.split()
            if ids:
                self.run(name, "rm", "-f", *ids, check=False)
        if "hull" in self.names:
            self.stop_hull_service()
            parent = self.hull_env["HULL_CGROUP_PARENT"].lstrip("/")   # ours: it goes too
            for base in Path("/sys/fs/cgroup").iterdir():
                if (base / parent).is_dir():
                    _remove_cgroup_tree(base / parent)
        if self.docker is not None:
            _stop(self.docker.proc)

    def stop_hull_service(self) -> None:
        """hull's engine service for the bench's root, stopped and gone (for a cold
        start, and at the end)."""
        from tests.conftest import HullCLI
        HullCLI(self.hull_root, self.hull_env).stop_service()

    def cmd(self, engine: str, *args: str) -> list[str]:
        if engine == "hull":
            return [HULL, "--root", str(self.hull_root), *args]
        if engine == "docker":
            return ["docker", "-H", f"unix://{self.docker.sock}", *args]
        return ["podman", "--root", f"{self.podman.dir}/root", "--runroot",
                f"{self.podman.dir}/run", "--tmpdir", f"{self.podman.dir}/tmp", "--runtime",
                "runc", *args]

    def env(self, engine: str) -> dict[str, str] | None:
        return self.hull_env if engine == "hull" else \
            self.podman.env if engine == "podman" else None

    def image(self, engine: str) -> str:
        return "localhost/busybox" if engine == "podman" else "busybox"

    def run_cmd(self, engine: str, *args: str) -> list[str]:
        """`run ARGS…` with what each engine needs to match the others: hull and docker
        without a network (the bench's dockerd has no bridge; bench/network.py measures
        what hull's bridge adds), podman with its own default, as in every earlier run."""
        extra = ["--network", "none"] if engine in ("docker", "hull") else []
        return self.cmd(engine, "run", *extra, *args)

    def start(self, engine: str, *args: str) -> None:
        """`run ARGS…`, checked, output discarded (-d containers for a benchmark)."""
        subprocess.run(self.run_cmd(engine, *args), env=self.env(engine), check=True,
                       capture_output=True, stdin=subprocess.DEVNULL)

    def run(self, engine: str, *args: str, check: bool = True
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.cmd(engine, *args), env=self.env(engine), text=True,
                              capture_output=True, check=check, stdin=subprocess.DEVNULL)

    def engine_processes(self, engine: str) -> list[int]:
        """The PIDs of the engine's own processes (not the containers'): hull's service,
        keeper, the output relays of containers with a /proc view and any view's own
        keeper; dockerd, a containerd it started and the shims of its namespace; podman's
        conmons."""
        out, keepers = [], []
        for pid in [int(p) for p in os.listdir("/proc") if p.isdigit()]:
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            text = b" ".join(cmdline).decode(errors="replace")
            if self._owns(engine, pid, ppid, text):
                out.append(pid)
            elif engine == "hull" and text.strip() in ("/bin/sleep infinity", "/usr/bin/cat",
                                                       "/bin/cat"):
                keepers.append((pid, ppid))   # a view's keeper, an output relay
        return out + [pid for pid, ppid in keepers if ppid in out]


    def _owns(self, engine: str, pid: int, ppid: int, text: str) -> bool:
        if engine == "hull":
            return str(self.hull_root) in text and "hull" in text
        if engine == "docker":
            return self.docker is not None and (
                self.docker.proc.pid in (pid, ppid) or
                ("containerd-shim" in text and "hull-test" in text))
        return text.startswith("/usr/bin/conmon") and str(self.podman.dir) in text


def pss_kib(pids: list[int]) -> int:
    """Proportional set size of processes, summed (shared pages split among sharers)."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total
