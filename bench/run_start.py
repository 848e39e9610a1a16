"""`run --rm busybox true`: hull against docker and podman, and runc on a prepared bundle,
side by side in one run (rotating order), medians and pairwise ratios.

    python -m bench.run_start [--runs N]          # writes bench/results/run_start.json
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import pairwise_ratio, timed, unmount_and_remove, write_result

REPO = Path(__file__).resolve().parent.parent
HULL = str(REPO / ".venv" / "bin" / "hull")



def main(argv: list[str] | None = None) -> int:
    import argparse
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--out", default=str(REPO / "bench" / "results" / "run_start.json"))
    args = p.parse_args(argv)
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "src"))
    from tests.clients.conftest import Docker, Podman, _stop
    work = Path(tempfile.mkdtemp(prefix="hull-bench-run-", dir="/var/lib"))
    work.chmod(0o755)
    try:
        rootfs = work / "rootfs"
        subprocess.run([str(REPO / "scripts" / "busybox-rootfs"), str(rootfs)], check=True)
        tar = work / "busybox.tar"
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tar), "."], check=True)
        from hull.runtime.defaults import default_spec
        bundle = work / "bundle"
        bundle.mkdir()
        spec = default_spec(args=["true"], terminal=False)
        spec["root"] = {"path": str(rootfs), "readonly": True}
        (bundle / "config.json").write_text(json.dumps(spec))
        hull_root = work / "hull"
        subprocess.run([HULL, "--root", str(hull_root), "image", "bootstrap"], check=True,
                       capture_output=True)
        podman = Podman(work)
        podman("import", str(tar), "localhost/busybox:latest")
        docker = Docker(work)
        try:
            docker("import", str(tar), "busybox:bench")
            engines = {
                "hull": lambda i: timed([HULL, "--root", str(hull_root), "run", "--rm",
                                         "busybox", "true"]),
                "runc": lambda i: timed(["runc", "--root", str(work / "runc-state"), "run",
                                         "--bundle", str(bundle), f"b{i}"]),
                "docker": lambda i: timed(["docker", "-H", f"unix://{docker.sock}", "run",
                                           "--rm", "--network", "none", "busybox:bench",
                                           "true"]),
                "podman": lambda i: timed(["podman", "--root", f"{podman.dir}/root",
                                           "--runroot", f"{podman.dir}/run", "--runtime",
                                           "runc", "run", "--rm", "localhost/busybox",
                                           "true"], env=podman.env),
            }
            samples: dict[str, list[float]] = {k: [] for k in engines}
            names = list(engines)
            for i in range(args.runs + 2):
                order = names[i % len(names):] + names[:i % len(names)]
                for name in order:
                    ms = engines[name](i)
                    if i >= 2:
                        samples[name].append(ms)
        finally:
            _stop(docker.proc)
            podman("rm", "-af", check=False)
    finally:
        unmount_and_remove(work)
    result: dict[str, Any] = {"command": f"python -m bench.run_start --runs {args.runs}",
                              "results": {k: {"median_ms": round(statistics.median(v), 1),
                                              "min_ms": round(min(v), 1),
                                              "max_ms": round(max(v), 1)}
                                          for k, v in samples.items()}}
    for other in ("runc", "docker", "podman"):
        result["results"][f"ratio hull/{other}"] = pairwise_ratio(samples["hull"],
                                                                  samples[other])
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
