"""Container data operations, hull against docker side by side (alternating runs, medians,
pairwise ratios): `cp` of a 100 MB directory into a running container, `commit` of a
container with 100 MB of changes, and `stats --no-stream` with 50 running containers.

    python -m bench.data_ops [--runs N] [--containers N]   # bench/results/data_ops.json
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from bench.common import pairwise_ratio, scratch, summary, timed, write_result
from bench.engines import REPO, Engines
from bench.lifecycle import rotating

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
    engines = ("hull", "docker")
    with scratch("data") as work:
        payload = _payload(work)
        with Engines(work, engines) as en:
            for e in engines:
                en.start(e, "-d", "--name", "target", en.image(e), "sleep", "3600")
            ops = {}
            for e in engines:
                ops[f"cp {e}"] = lambda i, e=e: timed(
                    en.cmd(e, "cp", str(payload), f"target:/cp{i}"), env=en.env(e))
                ops[f"commit {e}"] = lambda i, e=e: _commit(en, e, payload, i)
            samples = rotating(tuple(ops), args.runs, lambda name, i: ops[name](i))
            stats = _stats(en, engines, args.containers)
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


def _commit(en: Engines, e: str, payload: Path, i: int) -> float:
    """Time `commit` alone: the container with 100 MB of changes is made untimed."""
    name = f"commit{i}"
    en.run(e, "create", "--name", name, *(["--network", "none"] if e == "docker" else []),
           en.image(e), "true")
    en.run(e, "cp", str(payload), f"{name}:/data")
    ms = timed(en.cmd(e, "commit", name, f"committed:{i}"), env=en.env(e))
    en.run(e, "rm", name)
    en.run(e, "rmi", f"committed:{i}", check=False)
    return ms


def _stats(en: Engines, engines: tuple[str, ...], n: int) -> dict[str, Any]:
    """`stats --no-stream` with n idle containers running, for each engine."""
    for e in engines:
        for _ in range(n):
            en.start(e, "-d", en.image(e), "sleep", "3600")
    samples = {e: [timed(en.cmd(e, "stats", "--no-stream"), env=en.env(e))
                   for _ in range(5)] for e in engines}
    return {**{f"stats --no-stream, {n} containers, {e}": summary(v)
               for e, v in samples.items()},
            "ratio stats hull/docker": pairwise_ratio(samples["hull"], samples["docker"])}


if __name__ == "__main__":
    sys.exit(main())
