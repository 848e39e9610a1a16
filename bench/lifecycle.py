"""Container lifecycle, hull against docker and podman side by side (rotating order,
medians, pairwise ratios): `exec` into a running container, `stop` of a running one, and
throughput — N containers `run --rm` one after another, and with 2, 4, 8 at a time.

    python -m bench.lifecycle [--runs N] [--containers N]   # bench/results/lifecycle.json
"""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.common import pairwise_ratio, scratch, summary, timed, write_result
from bench.engines import ENGINES, REPO, Engines


def rotating(engines: tuple[str, ...], runs: int, measure: Any) -> dict[str, list[float]]:
    """measure(engine, i) for each engine, runs times, in a rotating order (one warm-up)."""
    samples: dict[str, list[float]] = {e: [] for e in engines}
    for i in range(runs + 1):
        order = engines[i % len(engines):] + engines[:i % len(engines)]
        for engine in order:
            ms = measure(engine, i)
            if i:
                samples[engine].append(ms)
    return samples


def table(samples: dict[str, list[float]]) -> dict[str, Any]:
    out: dict[str, Any] = {e: summary(v) for e, v in samples.items()}
    for other in [e for e in samples if e != "hull"]:
        out[f"ratio hull/{other}"] = pairwise_ratio(samples["hull"], samples[other])
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--containers", type=int, default=100)
    p.add_argument("--out", default=str(REPO / "bench" / "results" / "lifecycle.json"))
    args = p.parse_args(argv)
    result: dict[str, Any] = {"command": f"python -m bench.lifecycle --runs {args.runs} "
                                         f"--containers {args.containers}"}
    with scratch("life") as work, Engines(work) as en:
        for e in ENGINES:
            en.start(e, "-d", "--name", "target", en.image(e), "sleep", "3600")
        result["exec"] = table(rotating(ENGINES, args.runs, lambda e, i: timed(
            en.cmd(e, "exec", "target", "true"), env=en.env(e))))

        def stop(e: str, i: int) -> float:
            # --init: PID 1 that passes SIGTERM on, so stop is not its 10 s timeout
            en.start(e, "-d", "--init", "--name", f"s{i}", en.image(e), "sleep", "3600")
            ms = timed(en.cmd(e, "stop", f"s{i}"), env=en.env(e))
            en.run(e, "rm", f"s{i}")
            return ms
        result["stop"] = table(rotating(ENGINES, args.runs, stop))
        result["throughput"] = throughput(en, args.containers)
    write_result(result, args.out)
    return 0


def throughput(en: Engines, n: int) -> dict[str, Any]:
    """Containers per second for n `run --rm busybox true`, sequential and in parallel."""
    out: dict[str, Any] = {}
    for parallel in (1, 2, 4, 8):
        for e in ENGINES:
            cmd = en.run_cmd(e, "--rm", en.image(e), "true")
            start = time.perf_counter()
            env = en.env(e)

            def one(_: int, cmd: list[str] = cmd, env: dict[str, str] | None = env) -> None:
                proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
                if proc.returncode != 0:
                    raise RuntimeError(f"{' '.join(cmd)}: exit {proc.returncode}: "
                                       f"{proc.stderr.strip()}")
            with ThreadPoolExecutor(parallel) as pool:
                list(pool.map(one, range(n)))
            seconds = time.perf_counter() - start
            out.setdefault(f"{parallel} at a time", {})[e] = round(n / seconds, 1)
    return {"containers": n, "unit": "containers/s", **out}


if __name__ == "__main__":
    sys.exit(main())
