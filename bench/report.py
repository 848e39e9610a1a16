"""bench/results/REPORT.md from the suites' JSON files: the machine, the versions, the exact
command, a table per suite, PNG plots (matplotlib), and every target from the issues with
the measured value and whether it is met — and by how much it is missed when it is not.

    python -m bench.report [--results DIR]
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def _load(results: Path, name: str) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads((results / f"{name}.json").read_text())
        return data
    except (OSError, ValueError):
        return None


def _version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    return out.strip().splitlines()[0] if out.strip() else "not installed"


def machine() -> list[str]:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "?")
    mem = next((int(line.split()[1]) // 1024 for line in
                Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), 0)
    cgroup = "v2" if Path("/sys/fs/cgroup/cgroup.controllers").exists() else \
        "hybrid (v1 + v2)" if Path("/sys/fs/cgroup/unified").exists() else "v1"
    return [f"- CPU: {cpu}, {os.cpu_count()} CPUs; memory {mem} MiB",
            f"- kernel {platform.release()}, cgroups {cgroup}",
            f"- Python {platform.python_version()}",
            f"- hull {_version([str(REPO / '.venv' / 'bin' / 'hull'), 'version'])}; "
            f"{_version(['runc', '--version'])}; {_version(['docker', '--version'])}; "
            f"{_version(['podman', '--version'])}"]


def _row(cells: list[Any]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    return [_row(header), _row(["---"] * len(header)), *(_row(r) for r in rows), ""]


def _medians(block: dict[str, Any], names: list[str]) -> list[list[Any]]:
    rows = []
    for n in names:
        v = block.get(n)
        if isinstance(v, dict) and "median_ms" in v:
            rows.append([n, v["median_ms"], f"{v['min_ms']}–{v['max_ms']}"])
    return rows


def _ratios(block: dict[str, Any]) -> str:
    return ", ".join(f"{k.removeprefix('ratio ')} **{v}**" for k, v in block.items()
                     if k.startswith("ratio"))


class Plots:
    """PNG charts next to the report; nothing when matplotlib is missing (said so)."""

    def __init__(self, results: Path) -> None:
        self.dir = results / "plots"
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
            self.plt: Any = plt
            self.dir.mkdir(exist_ok=True)
        except ImportError:
            self.plt = None

    def bars(self, name: str, title: str, groups: dict[str, dict[str, float]],
             ylabel: str) -> str:
        if self.plt is None or not groups:
            return ""
        plt = self.plt
        engines = sorted({e for g in groups.values() for e in g},
                         key=lambda e: (e != "hull", e))
        fig, ax = plt.subplots(figsize=(7, 3.5))
        width = 0.8 / len(engines)
        for i, engine in enumerate(engines):
            xs = [j + i * width for j in range(len(groups))]
            ax.bar(xs, [g.get(engine, 0) for g in groups.values()], width, label=engine)
        ax.set_xticks([j + width * (len(engines) - 1) / 2 for j in range(len(groups))],
                      list(groups))
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend()
        fig.tight_layout()
        fig.savefig(self.dir / f"{name}.png", dpi=100)
        plt.close(fig)
        return f"![{title}](plots/{name}.png)\n"

    def lines(self, name: str, title: str, xs: list[str], series: dict[str, list[float]],
              xlabel: str, ylabel: str) -> str:
        if self.plt is None or not xs:
            return ""
        plt = self.plt
        fig, ax = plt.subplots(figsize=(7, 3.5))
        for engine, ys in series.items():
            ax.plot([float(x) for x in xs], ys, marker="o", label=engine)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend()
        fig.tight_layout()
        fig.savefig(self.dir / f"{name}.png", dpi=100)
        plt.close(fig)
        return f"![{title}](plots/{name}.png)\n"


def _target(what: str, target: str, value: float | None, limit: float,
            lower_is_better: bool = True, unit: str = "") -> list[Any]:
    if value is None:
        return [what, target, "not measured", "—"]
    met = value <= limit if lower_is_better else value >= limit
    factor = value / limit if lower_is_better else limit / value if value else float("inf")
    verdict = "met" if met else f"**missed** by {factor:.2f}×"
    return [what, target, f"{value}{unit}", verdict]


def write_report(results: Path, command: str) -> Path:
    plots = Plots(results)
    out = ["# hull benchmarks", "",
           f"Generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `{command}` "
           "(each suite also runs alone: `python -m bench.<suite>`). Engines run side by "
           "side in one run, in rotating order, each on private state; figures are medians "
           "(min–max) and ratios are medians of run-by-run ratios.", "", "## Machine", "",
           *machine(), ""]
    targets: list[list[Any]] = []

    rt = _load(results, "runtime_start")
    if rt:
        r = rt["results"]
        out += ["## OCI runtime start: hull-runtime vs runc (prepared bundle)", "",
                *_table(["", "median ms", "min–max"], _medians(r, list(r))),
                f"`{rt['command']}`", ""]
        targets.append(_target("hull-runtime / runc", "≤ 1.0", r.get("ratio/plain"), 1.0))

    rs = _load(results, "run_start")
    if rs:
        r = rs["results"]
        out += ["## `run --rm busybox true`", "",
                *_table(["engine", "median ms", "min–max"], _medians(r, list(r))),
                _ratios(r), "",
                plots.bars("run_start", "run --rm busybox true",
                           {"start": {k: v["median_ms"] for k, v in r.items()
                                      if isinstance(v, dict)}}, "ms"),
                f"`{rs['command']}`", ""]
        targets.append(_target("hull run (warm) / runc run", "≤ 1.2", r.get("ratio hull/runc"),
                               1.2))
        targets.append(_target("hull run (warm) / docker run", "≤ 0.15",
                               r.get("ratio hull/docker"), 0.15))
        if isinstance(r.get("hull-cold"), dict):   # no engine service running beforehand
            targets.append(_target("hull run, cold (no service yet)", "≤ 110 ms",
                                   r["hull-cold"].get("median_ms"), 110, unit=" ms"))

    life = _load(results, "lifecycle")
    if life:
        out += ["## exec, stop, throughput", ""]
        for op in ("exec", "stop"):
            block = life[op]
            out += [f"`{op}`:", "",
                    *_table(["engine", "median ms", "min–max"], _medians(block, list(block))),
                    _ratios(block), ""]
        out.append(plots.bars("exec_stop", "exec and stop latency",
                              {op: {k: v["median_ms"] for k, v in life[op].items()
                                    if isinstance(v, dict)} for op in ("exec", "stop")},
                              "ms"))
        targets.append(_target("exec / docker", "≤ 0.5", life["exec"].get("ratio hull/docker"),
                               0.5))
        targets.append(_target("stop / docker", "≤ 1.0", life["stop"].get("ratio hull/docker"),
                               1.0))
        tp = life["throughput"]
        levels = [k for k in tp if k.endswith("at a time")]
        if "8 at a time" in tp:
            targets.append(_target("100 × run --rm, 8 at a time", "≥ 40 /s",
                                   tp["8 at a time"].get("hull"), 40,
                                   lower_is_better=False, unit="/s"))
        out += [f"Throughput, {tp['containers']} × `run --rm busybox true` "
                "(containers/s):", "",
                *_table(["parallel", *tp[levels[0]]],
                        [[lv, *tp[lv].values()] for lv in levels]),
                plots.lines("throughput", "throughput", [lv.split()[0] for lv in levels],
                            {e: [tp[lv][e] for lv in levels] for e in tp[levels[0]]},
                            "containers at a time", "containers/s"),
                f"`{life['command']}`", ""]

    dens = _load(results, "density")
    if dens:
        engines = [e for e in ("hull", "docker", "podman") if e in dens]
        counts = [c for c in dens[engines[0]] if c.isdigit()]
        out += ["## Memory: PSS of each engine's own processes", "",
                *_table(["idle containers", *engines],
                        [[c, *(dens[e][c] for e in engines)] for c in counts]),
                *(_table(["", *engines], [["MiB per extra container",
                                           *(dens[e].get("MiB per extra container", "—")
                                             for e in engines)]])),
                plots.lines("density", "host memory of the engine (PSS)", counts,
                            {e: [dens[e][c] for c in counts] for e in engines},
                            "idle containers", "MiB"),
                f"`{dens['command']}`", ""]
        targets.append(_target("memory per idle container", "≤ 0.25 MiB",
                               dens["hull"].get("MiB per extra container"), 0.25,
                               unit=" MiB"))

    sc = _load(results, "scaling")
    if sc:
        out += ["## How start latency grows", ""]
        for key, label in (("by layer count", "image layers"),
                           ("by running containers", "containers already running")):
            block = sc[key]
            xs = list(block)
            engines = list(block[xs[0]]) if xs else []
            out += [f"`run --rm` median ms {key}:", "",
                    *_table([label, *engines], [[x, *block[x].values()] for x in xs]),
                    plots.lines("scaling-" + key.split()[-1], f"start latency {key}", xs,
                                {e: [block[x][e] for x in xs] for e in engines}, label, "ms")]
        out += [f"`{sc['command']}`", ""]

    ps = _load(results, "ps_many")
    if ps:
        r = ps["results"]
        out += ["## `ps -a` with many containers", "",
                *_table(["engine", "median ms", "min–max"], _medians(r, list(r))),
                _ratios(r), "", f"`{ps['command']}`", ""]
        targets.append(_target("ps -a, 200 containers", "≤ 20 ms",
                               (r.get("hull") or {}).get("median_ms"), 20, unit=" ms"))

    fl = _load(results, "flood")
    if fl:
        delays, ps_times = fl["ticker line to its log, ms"], fl["hull ps, ms"]
        out += ["## A container flooding stdout, and the others", "",
                "How late another container's lines reach its log, and `hull ps`, with and "
                "without a container running `yes` into its log (one service supervises "
                "both):", "",
                *_table(["", "quiet", "during the flood"],
                        [["ticker line → log, median / p95 ms",
                          f"{delays['quiet'].get('median_ms')} / "
                          f"{delays['quiet'].get('p95_ms')}",
                          f"{delays['during the flood'].get('median_ms')} / "
                          f"{delays['during the flood'].get('p95_ms')}"],
                         ["hull ps, median ms", ps_times["quiet"]["median_ms"],
                          ps_times["during the flood"]["median_ms"]]]),
                f"The flood's own rate into its log: {json.dumps(fl['flood into its log'])}.",
                "", f"`{fl['command']}`", ""]

    img = _load(results, "images")
    if img:
        out += ["## Images", ""]
        for op in ("pull", "save", "load"):
            if op in img:
                out += [f"`{op}` of the 4-layer debootstrap image (local registry):", "",
                        *_table(["engine", "median ms", "min–max"],
                                _medians(img[op], list(img[op]))), _ratios(img[op]), ""]
        if "pull" in img:
            out.append(plots.bars("images", "pull, save, load",
                                  {op: {k: v["median_ms"] for k, v in img[op].items()
                                        if isinstance(v, dict)} for op in
                                   ("pull", "save", "load") if op in img}, "ms"))
            for other in ("podman", "docker"):
                targets.append(_target(f"pull / {other}", "≤ 0.8",
                                       img["pull"].get(f"ratio hull/{other}"), 0.8))
        out += [f"Layer unpack: {json.dumps(img.get('unpack'))}; "
                f"50-layer mount: {json.dumps(img.get('mount'))}", "",
                f"`{img['command']}`", ""]

    data = _load(results, "data_ops")
    if data:
        r = data["results"]
        rows = _medians(r, [k for k in r if isinstance(r[k], dict)])
        out += ["## cp, commit, stats", "", f"Payload: {data.get('payload')}.", "",
                *_table(["operation", "median ms", "min–max"], rows), _ratios(r), "",
                f"`{data['command']}`", ""]
        targets.append(_target("cp 100 MB / docker", "≤ 1.2", r.get("ratio cp hull/docker"),
                               1.2))
        targets.append(_target("commit 100 MB / docker", "≤ 1.2",
                               r.get("ratio commit hull/docker"), 1.2))
        stats = next((v["median_ms"] for k, v in r.items()
                      if k.startswith("stats") and k.endswith("hull")), None)
        targets.append(_target("stats --no-stream, 50 containers", "< 500 ms", stats, 500,
                               unit=" ms"))

    pf = _load(results, "procfs")
    if pf:
        reads = pf["read latency (per open+read+close, inside the container)"]
        out += ["## The container's /proc view vs lxcfs", "",
                "Per open+read+close inside one container, hull's files and lxcfs's bound "
                "next to them (µs):", "",
                *_table(["file", *reads["meminfo"]],
                        [[f, *(reads[f].get(k, "—") for k in reads["meminfo"])]
                         for f in reads]),
                *_table(["memory KiB PSS", "value"],
                        [[k, v] for k, v in pf["memory KiB PSS"].items()]),
                *_table(["start", "value"],
                        [[k, v["median_ms"] if isinstance(v, dict) else v]
                         for k, v in pf["start"].items()]),
                f"`{pf['command']}`", ""]
        targets.append(_target("/proc/meminfo read / lxcfs", "≤ 2",
                               reads["meminfo"]["ratio hull/lxcfs"], 2))
        mem = pf["memory KiB PSS"]
        hull_kib = next(v for k, v in mem.items() if k.startswith("hull"))
        targets.append(_target("/proc server memory / lxcfs", "≤ 1",
                               round(hull_kib / mem["lxcfs"], 2) if mem["lxcfs"] else None,
                               1))
        targets.append(_target("start added by the /proc view", "≤ 3 ms",
                               pf["start"]["added ms (median of pairs)"], 3, unit=" ms"))
    net = _load(results, "network")
    if net:
        so, fc, fp = net["start_overhead"], net["flat_containers"], net["flat_ports"]
        rows = [["warm run --rm, --network none, median ms", so["none"]["median_ms"]],
                ["warm run --rm, default bridge, median ms", so["bridge"]["median_ms"]],
                ["bridge adds, ms (median difference)", so["added_ms"]],
                [f"run -d on one network: first 10% / last 10% of {fc['containers']}, ms",
                 f"{fc['first']['median_ms']} / {fc['last']['median_ms']}"],
                ["run -d -p: 0 / many ports published already, ms",
                 " / ".join(str(v["median_ms"]) for k, v in fp.items()
                            if k.startswith("with_"))],
                ["service RSS with the ports, KiB", fp["service_rss_kib_with_ports"]],
                ["name lookups right after run -d: failures", f"{net['name_race']['failures']}"
                 f" of {net['name_race']['lookups']}"]]
        for engine, t in (net.get("throughput") or {}).items():
            rows.append([f"TCP {engine}: host → published port / container ↔ container",
                         " / ".join(str(v) for v in t.values())])
        out += ["## Networking", "", *_table(["what", "value"], rows), "",
                f"`{net['command']}`", ""]
        targets.append(_target("bridge added to a warm run", "≤ 3 ms", so["added_ms"], 3,
                               unit=" ms"))
        targets.append(_target("run -d with many ports / none", "≤ 1.2 (flat)",
                               fp["ratio"], 1.2))
        targets.append(_target("run -d, last / first containers on a network",
                               "≤ 1.2 (flat)", round(fc["last"]["median_ms"] /
                                                     fc["first"]["median_ms"], 2), 1.2))
        ratios = (net.get("throughput") or {}).get("ratios") or {}
        if ratios:
            targets.append(_target("published-port TCP / docker", "≥ 2", ratios.get(
                "published_gbit_s"), 2, lower_is_better=False))
            targets.append(_target("container ↔ container TCP / docker", "≥ 1", ratios.get(
                "container_to_container_gbit_s"), 1, lower_is_better=False))
    bd = _load(results, "build")
    if bd:
        out += _build_section(bd, plots, targets)
    api = _load(results, "api")
    if api:
        out += _api_section(api, plots, targets)
    out += ["## Targets", "", *_table(["what", "target", "measured", "verdict"], targets)]
    if plots.plt is None:
        out += ["(matplotlib is not installed: no plots. scripts/install installs it.)", ""]
    profile = results / "startup-profile.md"
    if profile.exists():
        out += [profile.read_text()]
    report = results / "REPORT.md"
    report.write_text("\n".join(line for line in out if line is not None) + "\n")
    return report


def _build_section(bd: dict[str, Any], plots: Plots, targets: list[list[Any]]) -> list[str]:
    """`build`: cold, warm and one-changed-file times per engine, the builders' memory."""
    engines, setup = bd["engines"], bd["setup"]
    cases = {"cold": f"cold: 10 steps, COPY of {setup['cold_files']} files, --no-cache",
             "warm": "warm: the same, every step cached",
             "one_changed_file": f"one file changed in a {setup['context_files']}-file "
                                 "context"}
    rows = [[label, *(f"{bd[c][e]['median_ms']} ({bd[c][e]['min_ms']}–{bd[c][e]['max_ms']})"
                      for e in engines)] for c, label in cases.items()]
    out = ["## Build", "", "Each a whole CLI invocation from spawn to exit, FROM the same "
           "busybox image imported into every engine, `--network none`; docker-buildkit is "
           "dockerd 20.10's built-in BuildKit (DOCKER_BUILDKIT=1), podman builds with "
           "`--layers`.", "", *_table(["median ms (min–max)", *engines], rows),
           *(f"- {label.split(':')[0]}: {_ratios(bd[c])}" for c, label in cases.items()), ""]
    mem = bd.get("memory") or {}
    if mem:
        def mib(v: Any) -> Any:
            return round(v / 1024, 1) if isinstance(v, int) else "—"
        out += ["Builder memory during one cold build (sampled every 5 ms), MiB:", "",
                *_table(["process", "peak RSS", "peak PSS", "peak private (USS)",
                         "RSS growth"],
                        [[name, mib(m.get("peak_rss_kib")), mib(m.get("peak_pss_kib")),
                          mib(m.get("peak_uss_kib")), mib(m.get("rss_growth_kib"))]
                         for name, m in mem.items()])]
    for engine, reason in (bd.get("unavailable") or {}).items():
        out.append(f"- {engine} not measured: {reason}")
    out += ["", plots.bars("build", "image build, end to end",
                           {c: {e: bd[c][e]["median_ms"] for e in engines} for c in cases},
                           "ms"), f"`{bd['command']}`", ""]
    targets.append(_target("build, cold / docker classic", "≤ 0.5",
                           bd["cold"].get("ratio hull/docker"), 0.5))
    targets.append(_target("build, warm (all cached)", "≤ 100 ms",
                           (bd["warm"].get("hull") or {}).get("median_ms"), 100, unit=" ms"))
    targets.append(_target("build, one changed file / docker classic", "≤ 0.3",
                           bd["one_changed_file"].get("ratio hull/docker"), 0.3))
    return out


def _api_section(api: dict[str, Any], plots: Plots, targets: list[list[Any]]) -> list[str]:
    """`api`: docker run through hull's API socket and dockerd's, containers/json with many
    containers, concurrent clients, the service's memory."""
    run, listing = api["run --rm true"], api["GET /containers/json"]
    kept, fresh = listing["kept-alive"], listing["new connection"]
    pings, mem = api["100 concurrent pings"], api["memory"]
    rows = [["`docker run --rm --network none busybox true`, median ms",
             run["hull"]["median_ms"], run["dockerd"]["median_ms"],
             run["ratio hull/dockerd"]],
            [f"GET /containers/json ({listing['containers']} containers), kept-alive, p50 ms",
             kept["hull"]["p50_ms"], kept["dockerd"]["p50_ms"],
             kept["ratio hull/dockerd (p50)"]],
            ["the same, a new connection per request, p50 ms", fresh["hull"]["p50_ms"],
             fresh["dockerd"]["p50_ms"], fresh["ratio hull/dockerd (p50)"]],
            ["100 concurrent GET /_ping: answered 200 / until the last, ms",
             f"{pings['hull']['ok']} / {pings['hull']['all_answered_ms']}",
             f"{pings['dockerd']['ok']} / {pings['dockerd']['all_answered_ms']}", ""],
            ["engine PSS with the API on, MiB", mem["service_pss_mib"],
             mem["dockerd_pss_mib"], ""]]
    out = ["## Docker Engine API", "", f"The same docker command ({api['client']}) against "
           "hull's socket (`hull system service --socket`) and a private dockerd's, in one "
           "run, rotating order; the `system service` command itself holds "
           f"{mem['system_service_command_pss_mib']} MiB PSS.", "",
           *_table(["what", "hull", "dockerd", "hull/dockerd"], rows), "",
           plots.bars("api", "Docker API", {"docker run --rm": {
               "hull": run["hull"]["median_ms"], "dockerd": run["dockerd"]["median_ms"]}},
               "ms"), f"`{api['command']}`", ""]
    targets.append(_target("API: docker run --rm true / dockerd", "≤ 0.5",
                           run["ratio hull/dockerd"], 0.5))
    targets.append(_target("API: GET /containers/json p50 / dockerd", "≤ 0.5",
                           kept["ratio hull/dockerd (p50)"], 0.5))
    targets.append(_target("API: engine service PSS", "≤ 30 MiB", mem["service_pss_mib"],
                           30, unit=" MiB"))
    targets.append(_target("API: 100 concurrent pings without error", "100",
                           pings["hull"]["ok"], 100, lower_is_better=False))
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", default=str(REPO / "bench" / "results"))
    args = p.parse_args(argv)
    print(write_report(Path(args.results), "python -m bench.report"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
