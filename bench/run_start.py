"""`run --rm busybox true`: hull against docker and podman, and runc on a prepared bundle,
side by side in one run (rotating order), medians and pairwise ratios.

    python -m bench.run_start [--runs N]          # writes bench/results/run_start.json
"""

from __future__ import annotations

import json
import sys

from bench.common import scratch, timed, write_result
from bench.engines import ENGINES, REPO, Engines
from bench.lifecycle import rotating, table


def main(argv: list[str] | None = None) -> int:
    import argparse
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--out", default=str(REPO / "bench" / "results" / "run_start.json"))
    args = p.parse_args(argv)
    sys.path.insert(0, str(REPO / "src"))
    from hull.runtime.defaults import default_spec
    with scratch("run") as work, Engines(work) as en:
        bundle = work / "bundle"
        bundle.mkdir()
        spec = default_spec(args=["true"], terminal=False)
        spec["root"] = {"path": str(work / "rootfs"), "readonly": True}   # Engines' rootfs
        (bundle / "config.json").write_text(json.dumps(spec))

        def start(e: str, i: int) -> float:
            if e == "runc":
                return timed(["runc", "--root", str(work / "runc-state"), "run", "--bundle",
                              str(bundle), f"b{i}"])
            if e == "hull-cold":   # no engine service running: the command starts one
                en.stop_hull_service()
                e = "hull"
            return timed(en.run_cmd(e, "--rm", en.image(e), "true"), env=en.env(e))
        # "hull" is warm (its service runs from the previous command), as docker's daemon
        samples = rotating(("hull", "hull-cold", "runc", *ENGINES[1:]), args.runs, start)
    write_result({"command": f"python -m bench.run_start --runs {args.runs}",
                  "results": table(samples)}, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
