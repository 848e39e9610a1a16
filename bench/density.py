"""Host memory per idle container: the proportional set size (PSS) of each engine's own
processes — hull's engine service and keeper; dockerd, its containerd and shims; podman's
conmons — with 0, 10 and 50 idle detached containers (`sleep`), per engine, in one run.

    python -m bench.density [--counts 0,10,50]       # bench/results/density.json
"""

from __future__ import annotations

import sys
import time
from typing import Any

from bench.common import scratch, write_result
from bench.engines import ENGINES, REPO, Engines, pss_kib


def main(argv: list[str] | None = None) -> int:
    import argparse
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--counts", default="0,10,50")
    p.add_argument("--out", default=str(REPO / "bench" / "results" / "density.json"))
    args = p.parse_args(argv)
    counts = [int(c) for c in args.counts.split(",")]
    result: dict[str, Any] = {"command": f"python -m bench.density --counts {args.counts}",
                              "unit": "MiB PSS of the engine's processes"}
    with scratch("density") as work, Engines(work) as en:
        for e in ENGINES:
            running = 0
            for count in counts:
                while running < count:
                    en.start(e, "-d", en.image(e), "sleep", "3600")
                    running += 1
                time.sleep(2)   # let start-up allocations settle
                mib = pss_kib(en.engine_processes(e)) / 1024
                result.setdefault(e, {})[str(count)] = round(mib, 1)
            ids = en.run(e, "ps", "-aq").stdout.split()
            if ids:
                en.run(e, "rm", "-f", *ids)
            low, high = counts[0], counts[-1]
            if high > low:
                result[e]["MiB per extra container"] = round(
                    (result[e][str(high)] - result[e][str(low)]) / (high - low), 2)
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
