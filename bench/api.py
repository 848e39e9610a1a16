"""The Docker Engine API: hull's (`hull system service --socket`) side by side with a private
dockerd, both driven by the same clients in one run, rotating order, medians and pairwise
ratios.

    python -m bench.api [--runs N] [--containers N] [--quick]

What is measured, and why:
- run: `docker run --rm --network none busybox true` through each socket, with the same
  docker command (Debian's 20.10, which matches the dockerd): what a Docker user's
  everyday command costs end to end — create, attach, wait, start, the exit, the removal.
  Target hull/dockerd ≤ 0.5. `--network none` for both: the bench's dockerd runs without a
  bridge (it must not change the host's firewall), so both skip network setup.
- list: GET /containers/json?all=1 with N (200) containers present, on one kept-alive
  connection as clients use it (docker-py's session, the docker command's transport), p50
  and p90 of 50 requests; also with a new connection per request. Target p50 ≤ 0.5.
- memory: the engine service's PSS with the API on, after the runs (its per-connection
  workers are separate processes and are not counted: they exit with their connection),
  and the `system service` command's own.
- concurrency: 100 clients sending GET /_ping at the same moment, each on its own
  connection: how many got 200, and the time until the last answer.

Each engine has private state under one scratch directory in /var/lib (hull's --root; the
dockerd's data, exec root, socket, pidfile and containerd namespace), its own cgroup
parent, and the same busybox rootfs (scripts/busybox-rootfs) as its `busybox` image; both
are stopped by pid and removed at the end.
"""

from __future__ import annotations

import http.client
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import scratch, timed, write_result
from bench.engines import HULL, REPO, pss_kib
from bench.lifecycle import rotating, table

DOCKER = "/usr/bin/docker"
ENGINES = ("hull", "dockerd")
HULL_CGROUP = "/hull-bench-api"


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=60)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(60)
        self.sock.connect(self.path)


class Sockets:
    """hull's API and a private dockerd, each with the busybox image."""

    def __init__(self, work: Path) -> None:
        sys.path.insert(0, str(REPO))
        self.work = work
        self.hull_root = work / "hull"
        self.hull_env = {**os.environ, "HULL_CGROUP_PARENT": HULL_CGROUP}
        self.hull_env.pop("HULL_STATE", None)
        self.paths = {"hull": str(work / "hull-api.sock")}
        self.api: subprocess.Popen[bytes] | None = None
        self.docker: Any = None

    def __enter__(self) -> Sockets:
        from tests.clients.conftest import Docker
        from tests.conftest import HullCLI
        HullCLI(self.hull_root, self.hull_env)("image", "bootstrap")
        self.api = subprocess.Popen(
            [HULL, "--root", str(self.hull_root), "system", "service", "--socket",
             f"unix://{self.paths['hull']}", "--time", "0"], env=self.hull_env,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rootfs = self.work / "rootfs"
        subprocess.run([str(REPO / "scripts" / "busybox-rootfs"), str(rootfs)], check=True)
        tar = self.work / "busybox.tar"
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tar), "."], check=True)
        self.docker = Docker(self.work)
        self.paths["dockerd"] = str(self.docker.sock)
        self.docker("import", str(tar), "busybox:latest")
        deadline = time.monotonic() + 30
        while self.client("hull", "version", check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError("hull's API did not come up")
            time.sleep(0.1)
        return self

    def __exit__(self, *exc: object) -> None:
        from tests.clients.conftest import _stop
        from tests.conftest import HullCLI
        for engine in ENGINES:
            ids = self.client(engine, "ps", "-aq", check=False).stdout.split()
            for start in range(0, len(ids), 100):
                self.client(engine, "rm", "-f", *ids[start:start + 100], check=False)
        if self.api is not None:
            self.api.terminate()
            self.api.wait(timeout=30)
        HullCLI(self.hull_root, self.hull_env).stop_service()
        if self.docker is not None:
            _stop(self.docker.proc)
        from tests.clients.conftest import _remove_cgroup_tree
        for base in Path("/sys/fs/cgroup").iterdir():
            if (base / HULL_CGROUP.lstrip("/")).is_dir():
                _remove_cgroup_tree(base / HULL_CGROUP.lstrip("/"))

    def command(self, engine: str, *args: str) -> list[str]:
        return [DOCKER, "-H", f"unix://{self.paths[engine]}", *args]

    def client(self, engine: str, *args: str, check: bool = True
               ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(engine, *args), text=True, capture_output=True,
                              check=check, stdin=subprocess.DEVNULL, env=self.client_env())

    def client_env(self) -> dict[str, str]:
        config = self.work / "docker-config"
        config.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        return {**env, "DOCKER_CONFIG": str(config)}

    def service_pid(self) -> int:
        return int((self.hull_root / "state" / "service.pid").read_text())


def bench_run(s: Sockets, runs: int) -> dict[str, Any]:
    def measure(engine: str, _i: int) -> float:
        return timed(s.command(engine, "run", "--rm", "--network", "none", "busybox", "true"),
                     env=s.client_env())
    return table(rotating(ENGINES, runs, measure))


def bench_list(s: Sockets, count: int, requests: int) -> dict[str, Any]:
    for engine in ENGINES:
        for _ in range(count):
            s.client(engine, "create", "--network", "none", "busybox", "true")
    out: dict[str, Any] = {"containers": count}
    kept: dict[str, list[float]] = {}
    fresh: dict[str, list[float]] = {}
    for engine in ENGINES:
        conn = UnixHTTPConnection(s.paths[engine])
        kept[engine] = []
        for i in range(requests + 1):
            start = time.perf_counter()
            conn.request("GET", "/containers/json?all=1")
            body = conn.getresponse().read()
            if i:
                kept[engine].append((time.perf_counter() - start) * 1000)
        assert body.count(b'"Id"') == count, body[:200]
        conn.close()
        fresh[engine] = []
        for _ in range(requests):
            start = time.perf_counter()
            one = UnixHTTPConnection(s.paths[engine])
            one.request("GET", "/containers/json?all=1")
            one.getresponse().read()
            one.close()
            fresh[engine].append((time.perf_counter() - start) * 1000)
    for name, samples in (("kept-alive", kept), ("new connection", fresh)):
        out[name] = {e: {"p50_ms": round(statistics.median(v), 2),
                         "p90_ms": round(sorted(v)[int(len(v) * 0.9) - 1], 2)}
                     for e, v in samples.items()}
        out[name]["ratio hull/dockerd (p50)"] = round(
            statistics.median(samples["hull"]) / statistics.median(samples["dockerd"]), 2)
    return out


def bench_concurrency(s: Sockets, clients: int) -> dict[str, Any]:
    out: dict[str, Any] = {"clients": clients}
    for engine in ENGINES:
        statuses: list[int] = []
        lock = threading.Lock()
        barrier = threading.Barrier(clients)

        def one(path: str, statuses: list[int], lock: threading.Lock,
                barrier: threading.Barrier) -> None:
            barrier.wait()
            try:
                conn = UnixHTTPConnection(path)
                conn.request("GET", "/_ping")
                status = conn.getresponse().status
                conn.close()
            except OSError:
                status = 0
            with lock:
                statuses.append(status)
        threads = [threading.Thread(target=one, args=(s.paths[engine], statuses, lock, barrier))
                   for _ in range(clients)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        out[engine] = {"ok": statuses.count(200), "errors": clients - statuses.count(200),
                       "all_answered_ms": round((time.perf_counter() - start) * 1000, 1)}
    return out


def bench_memory(s: Sockets) -> dict[str, Any]:
    assert s.api is not None
    service = s.service_pid()
    return {"service_pss_mib": round(pss_kib([service]) / 1024, 1),
            "system_service_command_pss_mib": round(pss_kib([s.api.pid]) / 1024, 1),
            "dockerd_pss_mib": round(pss_kib([s.docker.proc.pid]) / 1024, 1)}


def main(argv: list[str] | None = None) -> int:
    import argparse
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--containers", type=int, default=200)
    p.add_argument("--requests", type=int, default=50)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", default=str(REPO / "bench" / "results" / "api.json"))
    args = p.parse_args(argv)
    if args.quick:
        args.runs, args.containers, args.requests = 2, 10, 5
    with scratch("api") as work, Sockets(work) as s:
        result: dict[str, Any] = {"client": subprocess.run(
            [DOCKER, "--version"], capture_output=True, text=True).stdout.strip(),
            "command": "python -m bench.api " + " ".join(argv if argv is not None
                                                         else sys.argv[1:])}
        result["run --rm true"] = bench_run(s, args.runs)
        result["GET /containers/json"] = bench_list(s, args.containers, args.requests)
        result["100 concurrent pings"] = bench_concurrency(s, 100)
        result["memory"] = bench_memory(s)
    if not args.quick:
        write_result(result, args.out)
    else:
        print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
