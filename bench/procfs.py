"""The container's /proc view against Debian's lxcfs, side by side on the same container:
the latency of reading /proc/meminfo (and uptime, cpuinfo) inside it — hull's file, lxcfs's
file bound in next to it, and the kernel's own —, the memory of each server, and what the
view adds to a container's start.

    python -m bench.procfs [--reads 2000] [--runs 15]     # bench/results/procfs.json
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import pairwise_ratio, scratch, summary, timed, write_result
from bench.engines import REPO, pss_kib

HULL = str(REPO / ".venv" / "bin" / "hull")
HOST_PYTHON = ["-v", "/usr:/usr:ro", "-v", "/lib:/lib:ro", "-v", "/lib64:/lib64:ro"]
# run inside the container by the host's python: per-read µs of each file, rounds
# interleaved so both servers see the same conditions
READER = """
import sys, time
files, reads = sys.argv[1].split(","), int(sys.argv[2])
out = {f: [] for f in files}
for _ in range(10):
    for f in files:
        start = time.perf_counter()
        for _ in range(reads // 10):
            with open(f, "rb") as fh:
                fh.read()
        out[f].append((time.perf_counter() - start) / (reads // 10) * 1e6)
print(__import__("json").dumps(out))
"""


def _start_lxcfs(work: Path) -> tuple[subprocess.Popen[bytes], Path]:
    mnt = work / "lxcfs"
    mnt.mkdir()
    proc = subprocess.Popen(["lxcfs", "-f", "-p", str(work / "lxcfs.pid"), str(mnt)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not (mnt / "proc" / "meminfo").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("lxcfs did not start")
        time.sleep(0.05)
    return proc, mnt


def main(argv: list[str] | None = None) -> int:
    import argparse
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reads", type=int, default=2000)
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--out", default=str(REPO / "bench" / "results" / "procfs.json"))
    args = p.parse_args(argv)
    result: dict[str, Any] = {"command": f"python -m bench.procfs --reads {args.reads} "
                                         f"--runs {args.runs}"}
    env = {**os.environ, "HULL_CGROUP_PARENT": "/hull-bench"}
    with scratch("procfs") as work:
        hull = [HULL, "--root", str(work / "root")]
        subprocess.run([*hull, "image", "bootstrap"], check=True, capture_output=True,
                       env=env)
        lxcfs, mnt = _start_lxcfs(work)
        try:
            binds = [a for f in ("meminfo", "uptime", "cpuinfo")
                     for a in ("-v", f"{mnt}/proc/{f}:/lxcfs/{f}:ro")]
            subprocess.run([*hull, "run", "-d", "--name", "view", "-m", "256m", *binds,
                            *HOST_PYTHON, "busybox", "sleep", "3600"], check=True, env=env,
                           capture_output=True)
            subprocess.run([*hull, "run", "-d", "--name", "plain", "-m", "256m",
                            "--proc-view", "host", "busybox", "sleep", "3600"], check=True,
                           env=env, capture_output=True)
            files = ["/proc/meminfo", "/lxcfs/meminfo", "/proc/uptime", "/lxcfs/uptime",
                     "/proc/cpuinfo", "/lxcfs/cpuinfo"]
            out = subprocess.run([*hull, "exec", "view", "/usr/bin/python3", "-I", "-c",
                                  READER, ",".join(files), str(args.reads)], check=True,
                                 env=env, capture_output=True, text=True).stdout
            samples = json.loads(out)
            base = subprocess.run([*hull, "run", "--rm", "--proc-view", "host", *HOST_PYTHON,
                                   "busybox", "/usr/bin/python3", "-I", "-c", READER,
                                   "/proc/meminfo", str(args.reads)], check=True, env=env,
                                  capture_output=True, text=True).stdout
            kernel = json.loads(base)["/proc/meminfo"]
            reads: dict[str, Any] = {}
            for name in ("meminfo", "uptime", "cpuinfo"):
                ours, theirs = samples[f"/proc/{name}"], samples[f"/lxcfs/{name}"]
                reads[name] = {"hull µs": round(statistics.median(ours), 1),
                               "lxcfs µs": round(statistics.median(theirs), 1),
                               "ratio hull/lxcfs": round(statistics.median(
                                   o / t for o, t in zip(ours, theirs, strict=True)), 2)}
            reads["meminfo"]["kernel (host view) µs"] = round(statistics.median(kernel), 1)
            result["read latency (per open+read+close, inside the container)"] = reads
            time.sleep(2)
            service = int((work / "root" / "state" / "service.pid").read_text())
            stat = Path(f"/proc/{service}/stat").read_text()
            keeper = int(stat[stat.rindex(")") + 2:].split()[1])   # the service's parent
            with_view = pss_kib([service, keeper])
            subprocess.run([*hull, "rm", "-f", "view"], check=True, env=env,
                           capture_output=True)
            time.sleep(2)
            result["memory KiB PSS"] = {
                "hull view (service + keeper with the view − without)":
                    with_view - pss_kib([service, keeper]),
                "lxcfs": pss_kib([lxcfs.pid])}
        finally:
            subprocess.run([*hull, "rm", "-f", "view", "plain"], capture_output=True,
                           env=env)
            lxcfs.send_signal(signal.SIGTERM)
            try:
                lxcfs.wait(10)
            except subprocess.TimeoutExpired:
                lxcfs.kill()
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
        with_view, without = [], []
        for i in range(args.runs):   # interleaved, alternating which goes first
            order = [("container", with_view), ("host", without)]
            for mode, into in (order if i % 2 == 0 else order[::-1]):
                into.append(timed([*hull, "run", "--rm", "--proc-view", mode, "busybox",
                                   "true"], env=env))
        result["start"] = {"with the view": summary(with_view),
                           "host view": summary(without),
                           "added ms (median of pairs)": round(statistics.median(
                               a - b for a, b in zip(with_view, without, strict=True)), 1),
                           "ratio": pairwise_ratio(without, with_view)}
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
