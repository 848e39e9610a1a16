"""A container flooding stdout against everything else the engine service does: how late
another container's lines reach its log, and how long `hull ps` takes, with and without a
flood (`yes` of 100-byte lines, as fast as the service takes them), and the flood's own
rate into its log. One service supervises both, so this is the bound its single loop
gives (it reads at most 64 KiB of one stream per turn).

    python -m bench.flood [--seconds S] [--runs N]      # bench/results/flood.json

A ticker container prints the kernel's uptime every 50 ms (`--proc-view host`, so it is the
host's clock); the benchmark tails its json log and takes, for each line, the uptime when
the line appears minus the uptime in it (10 ms resolution). Only hull: the question is
what one container's flood does to the others under the same service.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import scratch, summary, timed, write_result
from bench.engines import REPO, Engines

LINE = "x" * 99


def _uptime() -> float:
    return float(Path("/proc/uptime").read_text().split()[0])


def _log_delays(log: Path, seconds: float) -> list[float]:
    """ms from the ticker's write to its line in the log, for each line in seconds."""
    delays: list[float] = []
    with open(log) as f:
        f.seek(0, 2)
        deadline = time.monotonic() + seconds
        pending = ""
        while time.monotonic() < deadline:
            chunk = f.read()
            if not chunk:
                time.sleep(0.002)
                continue
            now = _uptime()
            pending += chunk
            *lines, pending = pending.split("\n")
            for line in lines:
                try:
                    written = float(json.loads(line)["log"].split()[0])
                except (ValueError, KeyError, IndexError):
                    continue
                delays.append(max(0.0, (now - written) * 1000))
    return delays


def _ps(en: Engines, runs: int) -> list[float]:
    return [timed(en.cmd("hull", "ps"), env=en.env("hull")) for _ in range(runs)]


def main(argv: list[str] | None = None) -> int:
    import argparse
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--out", default=str(REPO / "bench" / "results" / "flood.json"))
    args = p.parse_args(argv)
    result: dict[str, Any] = {"command": f"python -m bench.flood --seconds {args.seconds:g} "
                                         f"--runs {args.runs}"}
    with scratch("flood") as work, Engines(work, ("hull",)) as en:
        image = en.image("hull")
        en.start("hull", "-d", "--name", "ticker", "--proc-view", "host", image, "sh", "-c",
                 "while :; do cat /proc/uptime; sleep 0.05; done")
        log = Path(en.run("hull", "inspect", "-f", "{{.LogPath}}", "ticker").stdout.strip())
        time.sleep(1)
        quiet_delays = _log_delays(log, args.seconds)
        quiet_ps = _ps(en, args.runs)
        en.start("hull", "-d", "--name", "flood", "--log-opt", "max-size=20g", image,
                 "yes", LINE)   # no rotation within the run: its growth is its rate
        flood_log = Path(en.run("hull", "inspect", "-f", "{{.LogPath}}",
                                "flood").stdout.strip())
        time.sleep(1)
        before, start = _log_bytes(flood_log), time.monotonic()
        flood_delays = _log_delays(log, args.seconds)
        flood_ps = _ps(en, args.runs)
        rate = (_log_bytes(flood_log) - before) / (time.monotonic() - start)
        en.run("hull", "rm", "-f", "flood", "ticker")
    result["ticker line to its log, ms"] = {
        "quiet": _spread(quiet_delays), "during the flood": _spread(flood_delays)}
    result["hull ps, ms"] = {"quiet": summary(quiet_ps), "during the flood": summary(flood_ps)}
    result["flood into its log"] = {
        "MB/s of log written (json)": round(rate / 1e6, 1),
        "lines/s": round(rate / (len(LINE) + 60))}   # ~60 bytes of json around each line
    write_result(result, args.out)
    return 0


def _spread(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {"lines": 0}
    ordered = sorted(samples)
    return {"median_ms": round(statistics.median(ordered), 1),
            "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1 if len(ordered) > 1
                                    else 0], 1),
            "max_ms": round(ordered[-1], 1), "lines": len(ordered)}


def _log_bytes(log: Path) -> int:
    try:
        return log.stat().st_size
    except OSError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
