"""`python -m bench`: every benchmark, hull against runc, docker and podman on this machine
in one go, then bench/results/REPORT.md with tables and plots.

    python -m bench                 # the full run (22–40 minutes here)
    python -m bench --quick         # a smoke run: every suite with tiny counts (CI)
    python -m bench --only run_start,density

Each suite is its own module (bench/<name>.py, also runnable alone) and writes
<results>/<name>.json; the report is made from whatever JSON files are there.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# name, arguments for the full run, arguments for --quick
SUITES = (
    ("runtime_start", ["--runs", "30"], ["--quick"]),
    ("run_start", ["--runs", "15"], ["--runs", "1"]),
    ("lifecycle", ["--runs", "10", "--containers", "100"],
     ["--runs", "1", "--containers", "2"]),
    ("density", ["--counts", "0,10,50"], ["--counts", "0,1"]),
    ("scaling", ["--layers", "1,10,50", "--running", "0,50,200", "--runs", "7"],
     ["--layers", "1,2", "--running", "0,1", "--runs", "1"]),
    ("ps_many", ["--containers", "200", "--runs", "15"], ["--containers", "3", "--runs", "1"]),
    ("flood", ["--seconds", "10", "--runs", "15"], ["--seconds", "1", "--runs", "1"]),
    ("images", ["--runs", "5"], ["--quick"]),
    ("data_ops", ["--runs", "5", "--containers", "50"], ["--runs", "1", "--containers", "2"]),
    ("procfs", ["--reads", "2000", "--runs", "15"], ["--reads", "20", "--runs", "1"]),
    ("network", ["--runs", "15"], ["--runs", "2", "--containers", "2", "--ports", "2",
                                   "--seconds", "1", "--lookups", "2", "--no-docker"]),
    ("build", ["--runs", "10"], ["--quick"]),
    ("api", ["--runs", "15"], ["--quick"]),
    ("startup_profile", ["--runs", "15"], ["--runs", "1"]),
)


def main(argv: list[str] | None = None) -> int:
    import argparse
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny counts: proves it runs")
    p.add_argument("--only", help="comma-separated suite names")
    p.add_argument("--results", default=str(REPO / "bench" / "results"))
    p.add_argument("--no-install", action="store_true",
                   help="skip scripts/install (runc, podman, docker.io, registry, …)")
    args = p.parse_args(argv)
    if not args.no_install:
        subprocess.run([str(REPO / "scripts" / "install")], check=True)
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    wanted = set(args.only.split(",")) if args.only else None
    failed = []
    for name, full, quick in SUITES:
        if wanted is not None and name not in wanted:
            continue
        out = results / (f"{name}.json" if name != "startup_profile" else "startup-profile.md")
        cmd = [sys.executable, "-m", f"bench.{name}", *(quick if args.quick else full),
               "--out", str(out)]
        print(f"== {' '.join(cmd[1:])}", flush=True)
        start = time.monotonic()
        proc = subprocess.run(cmd, cwd=REPO, stdout=subprocess.DEVNULL)
        print(f"   {'ok' if proc.returncode == 0 else 'FAILED'} in "
              f"{time.monotonic() - start:.0f} s", flush=True)
        if proc.returncode != 0:
            failed.append(name)
    from bench.report import write_report
    command = "python -m bench" + (" --quick" if args.quick else "") + \
        (f" --only {args.only}" if args.only else "")
    print(write_report(results, command))
    if failed:
        print(f"failed suites: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
