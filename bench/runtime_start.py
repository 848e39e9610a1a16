"""Container start latency of hull-runtime against runc on the same bundle, side by side.

    python -m bench.runtime_start [--runs N] [--quick] [--out FILE]

Both runtimes run the same busybox bundle (`true` as the process) in alternating order,
with and without a typical resource set (cpu quota, memory limit, pids limit). Reported:
median, min and max wall time of a whole `run` (create + start + wait + delete) and the
ratio of medians hull/runc taken pair by pair. Nothing here is asserted: it only measures.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
HULL_RUNTIME = REPO / ".venv" / "bin" / "hull-runtime"
RESOURCES = {"cpu": {"quota": 50000, "period": 100000}, "memory": {"limit": 64 << 20},
             "pids": {"limit": 100}}


def make_bundle(root: Path, resources: dict[str, Any] | None) -> Path:
    sys.path.insert(0, str(REPO / "src"))
    from hull.runtime.defaults import default_spec
    bundle = root / ("bundle-res" if resources else "bundle")
    bundle.mkdir()
    spec = default_spec(args=["true"], terminal=False)
    spec["root"] = {"path": str(root / "rootfs"), "readonly": True}
    if resources:
        spec["linux"]["resources"].update(resources)
    (bundle / "config.json").write_text(json.dumps(spec))
    return bundle


def time_run(binary: str, state: Path, bundle: Path, cid: str) -> float:
    start = time.perf_counter()
    subprocess.run([binary, "--root", str(state), "run", "--bundle", str(bundle), cid],
                   check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    return (time.perf_counter() - start) * 1000


def time_create(binary: str, state: Path, bundle: Path, cid: str) -> float:
    """`create` alone (the cgroup and its resources are set up here); delete is not timed."""
    start = time.perf_counter()
    subprocess.run([binary, "--root", str(state), "create", "--bundle", str(bundle), cid],
                   check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    elapsed = (time.perf_counter() - start) * 1000
    subprocess.run([binary, "--root", str(state), "delete", "--force", cid], check=True)
    return elapsed


def summary(samples: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(samples), 2), "min_ms": round(min(samples), 2),
            "max_ms": round(max(samples), 2), "runs": len(samples)}


def main(argv: list[str] | None = None) -> int:
    import argparse
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--quick", action="store_true", help="3 runs: a smoke test, not a figure")
    p.add_argument("--out", default=str(REPO / "bench" / "results" / "runtime_start.json"))
    args = p.parse_args(argv)
    runs = 3 if args.quick else args.runs
    runc = shutil.which("runc")
    if runc is None:
        print("runc is not installed (scripts/install installs it)", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="hull-bench-"))
    try:
        subprocess.run([str(REPO / "scripts" / "busybox-rootfs"), str(work / "rootfs")],
                       check=True)
        plain = make_bundle(work, None)
        limited = make_bundle(work, RESOURCES)
        engines = {"hull-runtime": str(HULL_RUNTIME), "runc": runc}
        samples: dict[str, list[float]] = {}
        for i in range(runs + 2):            # two warm-up rounds are dropped
            for variant, bundle in (("plain", plain), ("resources", limited)):
                order = list(engines.items())
                if i % 2:
                    order.reverse()           # alternate who goes first
                for name, binary in order:
                    ms = time_run(binary, work / f"state-{name}", bundle, f"b{i}-{variant}")
                    created = time_create(binary, work / f"state-{name}", bundle,
                                          f"c{i}-{variant}")
                    if i >= 2:
                        samples.setdefault(f"{name}/{variant}", []).append(ms)
                        samples.setdefault(f"{name}/create-{variant}", []).append(created)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result: dict[str, Any] = {
        "command": "python -m bench.runtime_start" + (" --quick" if args.quick else
                                                       f" --runs {runs}"),
        "machine": {"kernel": platform.release(), "cpus": os.cpu_count(),
                    "python": platform.python_version()},
        "versions": {"runc": subprocess.run([runc, "--version"], capture_output=True,
                                            text=True).stdout.splitlines()[0]},
        "results": {k: summary(v) for k, v in samples.items()},
    }
    for variant in ("plain", "resources"):
        pairs = zip(samples[f"hull-runtime/{variant}"], samples[f"runc/{variant}"], strict=True)
        result["results"][f"ratio/{variant}"] = round(
            statistics.median(h / r for h, r in pairs), 2)
    for name in engines:
        cost = [r - p for r, p in zip(samples[f"{name}/create-resources"],
                                      samples[f"{name}/create-plain"], strict=True)]
        result["results"][f"{name}/create: resources cost ms"] = round(
            statistics.median(cost), 2)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"| {runs} runs each | median ms | min–max ms |")
    print("|---|---|---|")
    for key, val in result["results"].items():
        if isinstance(val, dict):
            print(f"| {key} | {val['median_ms']} | {val['min_ms']}–{val['max_ms']} |")
    for key, val in result["results"].items():
        if not isinstance(val, dict):
            print(f"{key}: {val}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
