"""Where `hull run --rm busybox true` spends its time: the HULL_TRACE timeline of one run
(client, engine service, start job, runtime), the interpreter's own start next to hull's,
and the slowest imports (`python -X importtime`). Writes results/startup-profile.md,
which the report includes.

    python -m bench.startup_profile [--runs N]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import timed, unmount_and_remove

REPO = Path(__file__).resolve().parent.parent
PYTHON = str(REPO / ".venv" / "bin" / "python")
HULL = str(REPO / ".venv" / "bin" / "hull")


def main(argv: list[str] | None = None) -> int:
    import argparse
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--out", default=str(REPO / "bench" / "results" / "startup-profile.md"))
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="hull-bench-profile-", dir="/var/lib"))
    env = {**os.environ, "HULL_CGROUP_PARENT": "/hull-bench"}
    root = ["--root", str(work / "root")]
    try:
        subprocess.run([HULL, *root, "image", "bootstrap"], check=True, capture_output=True,
                       env=env)
        run = [HULL, *root, "run", "--rm", "busybox", "true"]
        floors = {
            "python -I -c pass (the interpreter alone)": [PYTHON, "-I", "-c", "pass"],
            "hull version (thin client + a round trip to the warm service)":
                [HULL, *root, "version"],
            "hull run --rm busybox true": run}
        medians = {k: statistics.median(timed(c, env=env) for _ in range(args.runs))
                   for k, c in floors.items()}
        start = time.monotonic() * 1000
        traced = subprocess.run(run, env={**env, "HULL_TRACE": "1"}, capture_output=True,
                                text=True)
        end = time.monotonic() * 1000
        marks = sorted((float(line.split()[2]), line.split(None, 3)[3])
                       for line in (traced.stderr + traced.stdout).splitlines()
                       if line.startswith("hull-trace"))
        imports = subprocess.run([PYTHON, "-I", "-X", "importtime", "-c",
                                  f"import sys; sys.path.insert(0, {str(REPO / 'src')!r}); "
                                  "import hull.cli.main as m; m.parser('run')"],
                                 capture_output=True, text=True).stderr
    finally:
        subprocess.run([HULL, *root, "rm", "-f", "-a"], capture_output=True, env=env)
        subprocess.run([HULL, *root, "system", "service", "--stop"], capture_output=True,
                       env=env)
        unmount_and_remove(work)
    rows = []
    for line in imports.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[0].strip().startswith("import time:") and \
                parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))   # (cumulative µs, module)
    rows.sort(reverse=True)
    out = ["## Where the start time goes", "",
           f"Medians of {args.runs} runs (`{' '.join(['python -m bench.startup_profile'])}`):",
           "", "| command | median ms |", "| --- | --- |",
           *(f"| {k} | {v:.1f} |" for k, v in medians.items()), "",
           "One `hull run --rm busybox true` with `HULL_TRACE=1` (ms from the moment the "
           "command was started; the runtime's marks come from the service's start job):",
           "", "| ms | step |", "| --- | --- |",
           f"| 0.0 | `{' '.join(Path(a).name if a == HULL else a for a in run)}` started |",
           *(f"| {t - start:.1f} | {step} |" for t, step in marks),
           f"| {end - start:.1f} | command finished |", "",
           "Slowest imports of the CLI (cumulative µs, `python -X importtime`; paid once, by "
           "the engine service as it starts, or by a command run with HULL_SERVICE=0):", "",
           "| µs | module |", "| --- | --- |",
           *(f"| {us} | `{name.strip()}` |" for us, name in rows[:10]), ""]
    Path(args.out).write_text("\n".join(out) + "\n")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
