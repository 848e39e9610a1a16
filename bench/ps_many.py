"""`ps -a` with many containers: hull against docker and podman, each with the same number
of created containers, side by side (rotating order), medians and pairwise ratios.

    python -m bench.ps_many [--containers N] [--runs N]   # bench/results/ps_many.json
"""

from __future__ import annotations

import sys
from typing import Any

from bench.common import scratch, timed, write_result
from bench.engines import ENGINES, REPO, Engines
from bench.lifecycle import rotating, table


def main(argv: list[str] | None = None) -> int:
    import argparse
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--containers", type=int, default=200)
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--out", default=str(REPO / "bench" / "results" / "ps_many.json"))
    args = p.parse_args(argv)
    with scratch("ps") as work, Engines(work) as en:
        for e in ENGINES:
            for i in range(args.containers):
                en.run(e, "create", *(["--network", "none"] if e == "docker" else []),
                       "--name", f"c{i}", en.image(e), "true")
        samples = rotating(ENGINES, args.runs, lambda e, i: timed(en.cmd(e, "ps", "-a"),
                                                                  env=en.env(e)))
    result: dict[str, Any] = {
        "command": f"python -m bench.ps_many --containers {args.containers} --runs {args.runs}",
        "results": table(samples)}
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
