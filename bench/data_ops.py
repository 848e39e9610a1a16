"""Container data operations, hull against docker side by side (alternating runs, medians,
pairwise ratios): `cp` of a 100 MB directory into a running container, `commit` of a
container with 100 MB of changes, and `stats --no-stream` with 50 running containers.

    python -m bench.data_ops [--runs N] [--containers N]   # bench/results/data_ops.json
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import pairwise_ratio, summary, timed, unmount_and_remove, write_result

REPO = Path(__file__).resolve().parent.parent
HULL = str(REPO / ".venv" / "bin" / "hull")
PAYLOAD_FILES = 100        # × 1 MiB of random bytes: nothing compresses it


def _payload(work: Path) -> Path:
    data = work / "payload"
    (data / "sub").mkdir(parents=True)
    for i in range(PAYLOAD_FILES):
        (data / ("sub" if i % 2 else "") / f"f{i}").write_bytes(os.urandom(1 << 20))
    return data


def main(argv: list[str] | None = None) -> int:
    import argparse
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--containers", type=int, default=50)
    p.add_argument("--out", default=str(REPO / "bench" / "results" / "data_ops.json"))
    args = p.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from tests.clients.conftest import Docker, _stop
    work = Path(tempfile.mkdtemp(prefix="hull-bench-data-", dir="/var/lib"))
    work.chmod(0o755)
    samples: dict[str, list[float]] = {}
    try:
        rootfs = work / "rootfs"
        subprocess.run([str(REPO / "scripts" / "busybox-rootfs"), str(rootfs)], check=True)
        tar = work / "busybox.tar"
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tar), "."], check=True)
        payload = _payload(work)
        hull_root = work / "hull"
        env = {**os.environ, "HULL_CGROUP_PARENT": "/hull-bench"}

        def hull(*a: str, **kw: Any) -> subprocess.CompletedProcess[str]:
            return subprocess.run([HULL, "--root", str(hull_root), *a], check=True,
                                  capture_output=True, text=True, env=env, **kw)
        hull("image", "bootstrap")
        docker = Docker(work)

        def dock(*a: str) -> list[str]:
            return ["docker", "-H", f"unix://{docker.sock}", *a]
        try:
            subprocess.run(dock("import", str(tar), "busybox:bench"), check=True,
                           capture_output=True)
            hull("run", "-d", "--name", "target", "busybox", "sleep", "3600")
            subprocess.run(dock("run", "-d", "--name", "target", "--network", "none",
                                "busybox:bench", "sleep", "3600"), check=True,
                           capture_output=True)
            ops = {
                "cp hull": lambda i: timed([HULL, "--root", str(hull_root), "cp",
                                            str(payload), f"target:/cp{i}"], env=env),
                "cp docker": lambda i: timed(dock("cp", str(payload), f"target:/cp{i}")),
                "commit hull": lambda i: _commit(
                    lambda *a: [HULL, "--root", str(hull_root), *a], payload, i, env),
                "commit docker": lambda i: _commit(lambda *a: dock(*a), payload, i, None,
                                                   ["--network", "none"]),
            }
            samples = {k: [] for k in ops}
            names = list(ops)
            for i in range(args.runs + 1):
                order = names[i % len(names):] + names[:i % len(names)]
                for name in order:
                    ms = ops[name](i)
                    if i >= 1:
                        samples[name].append(ms)
            stats = _stats(hull, dock, args.containers, env, hull_root)
        finally:
            _stop(docker.proc)
            subprocess.run([HULL, "--root", str(hull_root), "rm", "-f",
                            *subprocess.run([HULL, "--root", str(hull_root), "ps", "-aq"],
                                            capture_output=True, text=True,
                                            env=env).stdout.split()],
                           capture_output=True, env=env)
    finally:
        unmount_and_remove(work)
    result: dict[str, Any] = {
        "command": f"python -m bench.data_ops --runs {args.runs} --containers "
                   f"{args.containers}",
        "payload": f"{PAYLOAD_FILES} files x 1 MiB of random bytes",
        "results": {k: summary(v) for k, v in samples.items()},
    }
    for op in ("cp", "commit"):
        result["results"][f"ratio {op} hull/docker"] = pairwise_ratio(
            samples[f"{op} hull"], samples[f"{op} docker"])
    result["results"].update(stats)
    write_result(result, args.out)
    return 0


def _commit(cli: Any, payload: Path, i: int, env: dict[str, str] | None,
            extra: list[str] | None = None) -> float:
    """Time `commit` alone: the container with 100 MB of changes is made untimed."""
    name = f"commit{i}"
    subprocess.run(cli("create", "--name", name, *(extra or []), "busybox" if env else
                       "busybox:bench", "true"), check=True, capture_output=True, env=env)
    subprocess.run(cli("cp", str(payload), f"{name}:/data"), check=True, capture_output=True,
                   env=env)
    ms = timed(cli("commit", name, f"committed:{i}"), env=env)
    subprocess.run(cli("rm", name), check=True, capture_output=True, env=env)
    subprocess.run(cli("rmi", f"committed:{i}"), check=False, capture_output=True, env=env)
    return ms


def _stats(hull: Any, dock: Any, n: int, env: dict[str, str], hull_root: Path
           ) -> dict[str, Any]:
    """`stats --no-stream` with n idle containers running, for each engine."""
    for i in range(n):
        hull("run", "-d", "--name", f"idle{i}", "busybox", "sleep", "3600")
        subprocess.run(dock("run", "-d", "--name", f"idle{i}", "--network", "none",
                            "busybox:bench", "sleep", "3600"), check=True,
                       capture_output=True)
    h = [timed([HULL, "--root", str(hull_root), "stats", "--no-stream"], env=env)
         for _ in range(5)]
    d = [timed(dock("stats", "--no-stream")) for _ in range(5)]
    return {f"stats --no-stream, {n} containers, hull": summary(h),
            f"stats --no-stream, {n} containers, docker": summary(d),
            "ratio stats hull/docker": pairwise_ratio(h, d)}


if __name__ == "__main__":
    sys.exit(main())
