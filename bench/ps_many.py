"""`ps -a` with many containers: hull against docker and podman, each holding the same
number of created containers, side by side in one run (rotating order), medians.

    python -m bench.ps_many [--containers 200] [--runs 15]   # writes bench/results/ps_many.json
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import pairwise_ratio, summary, timed, unmount_and_remove, write_result

REPO = Path(__file__).resolve().parent.parent
HULL = str(REPO / ".venv" / "bin" / "hull")


def main(argv: list[str] | None = None) -> int:
    import argparse
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--containers", type=int, default=200)
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--out", default=str(REPO / "bench" / "results" / "ps_many.json"))
    args = p.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from tests.clients.conftest import Docker, Podman, _stop
    work = Path(tempfile.mkdtemp(prefix="hull-bench-ps-", dir="/var/lib"))
    work.chmod(0o755)
    samples: dict[str, list[float]] = {}
    try:
        rootfs = work / "rootfs"
        subprocess.run([str(REPO / "scripts" / "busybox-rootfs"), str(rootfs)], check=True)
        tar = work / "busybox.tar"
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tar), "."], check=True)
        hull = [HULL, "--root", str(work / "hull")]
        subprocess.run([*hull, "image", "bootstrap"], check=True, capture_output=True)
        podman = Podman(work)
        podman("import", str(tar), "localhost/busybox:latest")
        docker = Docker(work)
        dock = ["docker", "-H", f"unix://{docker.sock}"]
        try:
            docker("import", str(tar), "busybox:bench")
            for i in range(args.containers):
                subprocess.run([*hull, "create", "--pull", "never", "busybox", "true"],
                               check=True, capture_output=True)
                podman("create", "--name", f"c{i}", "localhost/busybox", "true")
                subprocess.run([*dock, "create", "--network", "none", "--name", f"c{i}",
                                "busybox:bench", "true"], check=True, capture_output=True)
            engines = {
                "hull": lambda: timed([*hull, "ps", "-a"]),
                "docker": lambda: timed([*dock, "ps", "-a"]),
                "podman": lambda: timed(["podman", "--root", f"{podman.dir}/root",
                                         "--runroot", f"{podman.dir}/run", "ps", "-a"],
                                        env=podman.env),
            }
            samples = {k: [] for k in engines}
            names = list(engines)
            for i in range(args.runs + 1):
                for name in names[i % 3:] + names[:i % 3]:
                    ms = engines[name]()
                    if i:
                        samples[name].append(ms)
        finally:
            _stop(docker.proc)
            podman("rm", "-af", check=False)
    finally:
        unmount_and_remove(work)
    result: dict[str, Any] = {
        "command": f"python -m bench.ps_many --containers {args.containers} --runs {args.runs}",
        "results": {k: summary(v) for k, v in samples.items()}}
    for other in ("docker", "podman"):
        result["results"][f"ratio hull/{other}"] = pairwise_ratio(samples["hull"],
                                                                  samples[other])
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
