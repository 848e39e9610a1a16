"""Image builds from a Dockerfile: `hull build` side by side with docker's classic builder,
docker's BuildKit (built into dockerd 20.10, DOCKER_BUILDKIT=1) and `podman build`
(buildah, with --layers so it caches per step as docker does) — each a fresh end-to-end
CLI invocation, timed from spawn to exit, in rotating order, medians and pairwise ratios.

    python -m bench.build [--runs N] [--files N] [--context-files N] [--quick]

What is measured, and why:
- cold: a 10-step Dockerfile (ENV, LABEL, WORKDIR, COPY of a 1,000-file directory, four
  RUN steps, CMD) with --no-cache: every step runs and every layer is written — the cost
  of the builder's own machinery per step (RUN containers, layer snapshots and commits,
  the image's config). Target hull/docker classic ≤ 0.5.
- warm: the same build again, every step a cache hit: what a no-op rebuild costs (context
  hashing, cache lookups, the image written). Target ≤ 100 ms.
- one changed file: a 10,000-file context, `COPY . /ctx` and a RUN that counts the files;
  one file's content changes before each build (not --no-cache): how fast the builder
  finds the change in a big context and rebuilds from there. Target hull/docker ≤ 0.3.
- memory: the peak RSS, PSS and private (USS) memory of hull's build worker (the process
  the engine service forks for the command, identified as the service's child with the
  service's own command line) during one cold build, sampled every 5 ms; for context, how
  much dockerd's RSS grows during the same build and the peak of the `podman build`
  process.

Every engine builds FROM the same busybox rootfs (scripts/busybox-rootfs), imported into
each as localhost/busybox:bench: nothing is pulled, and a name that failed to resolve
locally could only reach a registry on 127.0.0.1. Every build runs with --network none
(the bench's dockerd has no bridge). Each engine has private state under one scratch
directory in /var/lib and its own cgroup parent: a dockerd of our own (root, exec root,
socket, pidfile, containerd namespace), podman with its own storage and configuration,
hull with its own --root; all are stopped by pid and removed at the end. docker is driven
by Debian's 20.10 client (/usr/bin/docker), which matches the dockerd and has BuildKit's
client built in (a newer client found first on PATH would need the buildx plugin).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import scratch, timed, write_result
from bench.engines import HULL, REPO
from bench.lifecycle import rotating, table

IMAGE = "localhost/busybox:bench"
ENGINES = ("hull", "docker", "docker-buildkit", "podman")
DOCKER = "/usr/bin/docker"
CGROUPS = {"hull": "/hull-bench-build", "docker": "/hull-bench-build-docker",
           "podman": "/hull-bench-build-podman"}

COLD_DOCKERFILE = """\
FROM {image}
ENV APP=/app GREETING=hello
LABEL org.example.bench=build
WORKDIR /app
COPY files/ /app/files/
RUN mkdir -p /out && echo "$GREETING from $APP" > /out/greeting
RUN cat /app/files/*/* > /out/all.txt && wc -c /out/all.txt
RUN find /app/files -type f | wc -l > /out/count && test "$(cat /out/count)" -eq {files}
RUN for i in 1 2 3 4 5 6 7 8; do echo "$i" >> /out/seq; done && ls -l /out
CMD ["cat", "/out/count"]
"""

CONTEXT_DOCKERFILE = """\
FROM {image}
COPY . /ctx
RUN find /ctx -type f | wc -l > /count && test "$(cat /count)" -eq {files}
"""


def _tree(root: Path, count: int, dirs: int) -> None:
    """count small files (~100 bytes) spread over dirs subdirectories."""
    for d in range(dirs):
        (root / f"d{d:02d}").mkdir(parents=True)
    for i in range(count):
        (root / f"d{i % dirs:02d}" / f"f{i:05d}.txt").write_text(f"{i:05d} " * 16 + "\n")


def contexts(work: Path, files: int, context_files: int) -> tuple[Path, Path]:
    """The cold/warm build's context (a files/ directory, four subdirectories) and the big
    context (100 files a directory), each with its Dockerfile."""
    cold = work / "ctx-cold"
    _tree(cold / "files", files, 4)
    (cold / "Dockerfile").write_text(COLD_DOCKERFILE.format(image=IMAGE, files=files))
    big = work / "ctx-big"
    _tree(big, context_files, max(1, context_files // 100))
    (big / "Dockerfile").write_text(CONTEXT_DOCKERFILE.format(image=IMAGE,
                                                              files=context_files + 1))
    return cold, big


class Builders:
    """hull, a private dockerd (classic and BuildKit) and podman, each with the busybox
    image; unavailable engines are left out with the reason."""

    def __init__(self, work: Path, wanted: tuple[str, ...]) -> None:
        sys.path.insert(0, str(REPO))
        self.work, self.wanted = work, wanted
        self.hull_root = work / "hull"
        self.hull_env = {**os.environ, "HULL_CGROUP_PARENT": CGROUPS["hull"]}
        self.docker_dir = work / "docker"
        self.docker_env = {**os.environ, "DOCKER_CONFIG": str(work / "docker-config")}
        self.dockerd: subprocess.Popen[bytes] | None = None
        self.podman: Any = None
        self.names: list[str] = []
        self.unavailable: dict[str, str] = {}

    def __enter__(self) -> Builders:
        rootfs, tar = self.work / "rootfs", self.work / "busybox.tar"
        subprocess.run([str(REPO / "scripts" / "busybox-rootfs"), str(rootfs)], check=True)
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tar), "."], check=True)
        if "hull" in self.wanted:
            self.run("hull", "import", str(tar), IMAGE)
            self.names.append("hull")
        if {"docker", "docker-buildkit"} & set(self.wanted):
            self._start_dockerd()
            self.run("docker", "import", str(tar), IMAGE)
            self.names += [e for e in ("docker", "docker-buildkit") if e in self.wanted]
        if "podman" in self.wanted:
            if shutil.which("podman") is None:
                self.unavailable["podman"] = "podman is not installed"
            else:
                from tests.clients.conftest import Podman
                self.podman = Podman(self.work)
                self.run("podman", "import", str(tar), IMAGE)
                self.names.append("podman")
        self._probe()
        return self

    def _start_dockerd(self) -> None:
        d = self.docker_dir
        d.mkdir()
        with (d / "dockerd.log").open("w") as log:
            self.dockerd = subprocess.Popen(
                ["dockerd", "--data-root", f"{d}/data", "--exec-root", f"{d}/exec",
                 "--host", f"unix://{d}/docker.sock", "--pidfile", f"{d}/docker.pid",
                 "--bridge=none", "--iptables=false", "--ip6tables=false",
                 "--containerd-namespace", "hull-bench-build",
                 "--containerd-plugins-namespace", "hull-bench-build-plugins",
                 "--cgroup-parent", CGROUPS["docker"]],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while self.run("docker", "version", check=False).returncode != 0:
            if self.dockerd.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("dockerd did not start: " +
                                   (d / "dockerd.log").read_text()[-2000:])
            time.sleep(0.1)

    def _probe(self) -> None:
        """A one-RUN build with each engine: one that fails (BuildKit wanting a frontend
        image from the internet, say) is reported as unavailable and left out; hull's
        failing ends the suite."""
        probe = self.work / "ctx-probe"
        probe.mkdir()
        (probe / "Dockerfile").write_text(f"FROM {IMAGE}\nRUN echo probe > /probe\n")
        for engine in list(self.names):
            try:
                proc = subprocess.run(self.build(engine, probe, "probe", no_cache=True),
                                      env=self.env(engine), capture_output=True, text=True,
                                      timeout=120, stdin=subprocess.DEVNULL)
                reason = "" if proc.returncode == 0 else \
                    f"exit {proc.returncode}: {proc.stderr.strip()[-500:]}"
            except subprocess.TimeoutExpired:
                reason = "a one-step build did not finish in 120 s"
            if reason and engine == "hull":
                raise RuntimeError(f"hull build fails: {reason}")
            if reason:
                self.names.remove(engine)
                self.unavailable[engine] = reason
                print(f"{engine} unavailable: {reason}", file=sys.stderr)

    def __exit__(self, *exc: object) -> None:
        from tests.clients.conftest import _remove_cgroup_tree
        from tests.conftest import HullCLI
        if "hull" in self.wanted:
            HullCLI(self.hull_root, self.hull_env).stop_service()
        if self.dockerd is not None:
            self.dockerd.send_signal(signal.SIGTERM)
            try:
                self.dockerd.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.dockerd.kill()
                self.dockerd.wait()
        for base in Path("/sys/fs/cgroup").iterdir():
            for parent in CGROUPS.values():
                if (base / parent.lstrip("/")).is_dir():
                    _remove_cgroup_tree(base / parent.lstrip("/"))

    def cmd(self, engine: str, *args: str) -> list[str]:
        if engine == "hull":
            return [HULL, "--root", str(self.hull_root), *args]
        if engine in ("docker", "docker-buildkit"):
            return [DOCKER, "-H", f"unix://{self.docker_dir}/docker.sock", *args]
        pm = self.podman.dir
        return ["podman", "--root", f"{pm}/root", "--runroot", f"{pm}/run", "--tmpdir",
                f"{pm}/tmp", "--runtime", "runc", *args]

    def env(self, engine: str) -> dict[str, str]:
        if engine == "hull":
            return self.hull_env
        if engine == "podman":
            env: dict[str, str] = self.podman.env
            return env
        return {**self.docker_env, "DOCKER_BUILDKIT": "1" if engine.endswith("kit") else "0"}

    def run(self, engine: str, *args: str, check: bool = True
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.cmd(engine, *args), env=self.env(engine), text=True,
                              capture_output=True, check=check, stdin=subprocess.DEVNULL)

    def build(self, engine: str, context: Path, tag: str, no_cache: bool) -> list[str]:
        """The build command line: tagged localhost/bench-build:ENGINE-TAG (docker's two
        builders share one image store), no network for RUN."""
        args = ["build", "--network", "none", "-t", f"localhost/bench-build:{engine}-{tag}"]
        if no_cache:
            args.append("--no-cache")
        if engine == "podman":
            args += ["--layers", "--cgroup-parent", CGROUPS["podman"]]
        return self.cmd(engine, *args, str(context))

    def timed_build(self, engine: str, context: Path, tag: str, no_cache: bool) -> float:
        """One build, timed. The dirty pages the previous build (of any engine) left are
        written out first, untimed, so that no engine's first fsync pays for writing the
        previous engine's 10,000 files."""
        os.sync()
        return timed(self.build(engine, context, tag, no_cache), env=self.env(engine))

    def service_pid(self) -> int:
        return int((self.hull_root / "state" / "service.pid").read_text())


def _with_samples(samples: dict[str, list[float]]) -> dict[str, Any]:
    """Medians, min–max and pairwise ratios hull/other, with the raw samples."""
    out = table(samples)
    for engine, values in samples.items():
        out[engine]["samples_ms"] = [round(v, 1) for v in values]
    return out


def bench_cold_warm(b: Builders, context: Path, runs: int) -> dict[str, Any]:
    engines = tuple(b.names)
    cold = rotating(engines, runs, lambda e, i: b.timed_build(e, context, "cold", True))
    warm = rotating(engines, runs, lambda e, i: b.timed_build(e, context, "cold", False))
    return {"cold": _with_samples(cold), "warm": _with_samples(warm)}


def bench_one_changed(b: Builders, context: Path, files: int, runs: int) -> dict[str, Any]:
    """Build once (the cache warm), then per run: change one file's content, rebuild with
    every engine in rotating order (each sees exactly that one change)."""
    engines = tuple(b.names)
    for e in engines:
        b.timed_build(e, context, "context", False)
    dirs = max(1, files // 100)
    samples: dict[str, list[float]] = {e: [] for e in engines}
    for i in range(runs):
        n = (i * 7919 + 1) % files
        (context / f"d{n % dirs:02d}" / f"f{n:05d}.txt").write_text(f"changed in run {i}\n")
        for e in engines[i % len(engines):] + engines[:i % len(engines)]:
            samples[e].append(b.timed_build(e, context, "context", False))
    return _with_samples(samples)


# ---- memory --------------------------------------------------------------------------------

def _kib(path: str, keys: tuple[str, ...]) -> dict[str, int]:
    out = {}
    for line in Path(path).read_text().splitlines():
        name, _, value = line.partition(":")
        if name in keys:
            out[name] = int(value.split()[0])
    return out


class Peak(threading.Thread):
    """The largest RSS, VmHWM, PSS and USS (private clean + dirty) of whichever process
    pid() names, read from /proc every 5 ms (smaps_rollup every 20 ms) until stop()."""

    def __init__(self, pid: Callable[[], int | None]) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.done = threading.Event()
        self.peak = {"rss_kib": 0, "hwm_kib": 0, "pss_kib": 0, "uss_kib": 0}
        self.samples = 0

    def run(self) -> None:
        n = 0
        while not self.done.is_set():
            pid = self.pid()
            if pid is not None:
                try:
                    st = _kib(f"/proc/{pid}/status", ("VmRSS", "VmHWM"))
                    self._max("rss_kib", st.get("VmRSS", 0))
                    self._max("hwm_kib", st.get("VmHWM", 0))
                    if n % 4 == 0:
                        sm = _kib(f"/proc/{pid}/smaps_rollup",
                                  ("Pss", "Private_Clean", "Private_Dirty"))
                        self._max("pss_kib", sm.get("Pss", 0))
                        self._max("uss_kib", sm.get("Private_Clean", 0) +
                                  sm.get("Private_Dirty", 0))
                    self.samples += 1
                except (OSError, ValueError):
                    pass
            n += 1
            self.done.wait(0.005)

    def _max(self, key: str, value: int) -> None:
        self.peak[key] = max(self.peak[key], value)

    def stop(self) -> dict[str, int]:
        self.done.set()
        self.join()
        return {**self.peak, "samples": self.samples}


def _hull_worker(service: int) -> Callable[[], int | None]:
    """The service's child running the command: forked, so with the service's cmdline."""
    own = Path(f"/proc/{service}/cmdline").read_bytes()

    def find() -> int | None:
        try:
            children = Path(f"/proc/{service}/task/{service}/children").read_text().split()
        except OSError:
            return None
        for child in children:
            try:
                if Path(f"/proc/{child}/cmdline").read_bytes() == own:
                    return int(child)
            except OSError:
                continue
        return None
    return find


def bench_memory(b: Builders, context: Path) -> dict[str, Any]:
    """One cold build per engine, its builder's memory sampled meanwhile."""
    return dict(_memory(b, engine, context) for engine in b.names)


def _memory(b: Builders, engine: str, context: Path) -> tuple[str, dict[str, Any]]:
    procs: list[subprocess.Popen[bytes]] = []
    if engine == "hull":
        service = b.service_pid()
        name, pid = "hull build worker", _hull_worker(service)
    elif engine == "podman":
        name, pid = "podman build process", lambda: procs[0].pid if procs else None
    else:
        assert b.dockerd is not None
        dockerd = b.dockerd.pid
        before = _kib(f"/proc/{dockerd}/status", ("VmRSS",))["VmRSS"]
        name, pid = f"dockerd ({engine})", lambda: dockerd
    sampler = Peak(pid)
    sampler.start()
    start = time.perf_counter()
    procs.append(subprocess.Popen(b.build(engine, context, "memory", no_cache=True),
                                  env=b.env(engine), stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    code = procs[0].wait()
    ms = round((time.perf_counter() - start) * 1000, 1)
    peak = sampler.stop()
    if code != 0:
        return name, {"error": f"build exited {code}"}
    if engine.startswith("docker"):
        return name, {"rss_before_kib": before, "peak_rss_kib": peak["rss_kib"],
                      "rss_growth_kib": peak["rss_kib"] - before,
                      "samples": peak["samples"], "build_ms": ms}
    out = {"peak_rss_kib": peak["hwm_kib"], "peak_pss_kib": peak["pss_kib"],
           "peak_uss_kib": peak["uss_kib"]}
    if engine == "hull":
        out["service_rss_kib"] = _kib(f"/proc/{service}/status", ("VmRSS",)).get("VmRSS", 0)
    return name, {**out, "samples": peak["samples"], "build_ms": ms}


def main(argv: list[str] | None = None) -> int:
    import argparse
    p = argparse.ArgumentParser(prog="python -m bench.build",
                                description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--files", type=int, default=1000, help="files COPYed by the cold build")
    p.add_argument("--context-files", type=int, default=10000,
                   help="files of the one-changed-file context")
    p.add_argument("--engines", default=",".join(ENGINES))
    p.add_argument("--quick", action="store_true",
                   help="a smoke run: --runs 1 --files 40 --context-files 200")
    p.add_argument("--out", default=str(REPO / "bench" / "results" / "build.json"))
    args = p.parse_args(argv)
    if args.quick:
        args.runs, args.files, args.context_files = 1, 40, 200
    wanted = tuple(e for e in args.engines.split(",") if e)
    unknown = set(wanted) - set(ENGINES)
    if unknown or "hull" not in wanted:
        p.error(f"unknown engines: {', '.join(sorted(unknown))}" if unknown else
                "hull is what is measured: --engines must name it")
    result: dict[str, Any] = {
        "suite": "build", "command": "python -m bench.build " +
        " ".join(argv if argv is not None else sys.argv[1:]),
        "setup": {"cold_files": args.files, "context_files": args.context_files,
                  "runs": args.runs, "base_image": IMAGE, "network": "none",
                  "docker_client": DOCKER,
                  "cold_dockerfile": COLD_DOCKERFILE.format(image=IMAGE, files=args.files)}}
    with scratch("build") as work:
        cold_ctx, big_ctx = contexts(work, args.files, args.context_files)
        with Builders(work, wanted) as b:
            result["engines"] = list(b.names)
            result["unavailable"] = b.unavailable
            result.update(bench_cold_warm(b, cold_ctx, args.runs))
            result["one_changed_file"] = bench_one_changed(b, big_ctx, args.context_files,
                                                           args.runs)
            result["memory"] = bench_memory(b, cold_ctx)
    write_result(result, args.out)
    print(_summary_table(result), file=sys.stderr)
    return 0


def _summary_table(result: dict[str, Any]) -> str:
    engines = result["engines"]
    lines = ["", f"{'median ms':<26}" + "".join(f"{e:>17}" for e in engines)]
    for case in ("cold", "warm", "one_changed_file"):
        block = result[case]
        lines.append(f"{case:<26}" + "".join(f"{block[e]['median_ms']:>17}"
                                              for e in engines))
        lines.append(f"{'':<26}" + ", ".join(f"{k.removeprefix('ratio ')} {v}"
                                             for k, v in block.items()
                                             if k.startswith("ratio")))
    for name, mem in result["memory"].items():
        lines.append(f"{name}: " + ", ".join(f"{k} {v}" for k, v in mem.items()))
    for name, reason in result["unavailable"].items():
        lines.append(f"{name}: unavailable ({reason})")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
