"""Networking (issue 17): what the bridge adds to a start, whether setup stays flat with
containers and published ports, TCP throughput through a published port and between
containers, and how soon a new container's name resolves.

    python -m bench.network [--runs N] [--containers N] [--ports N] [--seconds S]

hull runs on the host. docker runs inside a network namespace of its own with its usual
networking (docker0, iptables, docker-proxy): its rules stay in that namespace, so the
host's firewall is never touched; a published port is reached from inside that namespace
(its host side), as hull's is from the host. iperf3 runs in the containers from the host's
/usr, bound read-only.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import pairwise_ratio, scratch, summary, timed, write_result
from bench.engines import REPO, Engines

IPERF_MOUNTS = ["-v", "/usr:/usr:ro", "-v", "/usr/lib:/lib:ro", "-v", "/lib64:/lib64:ro"]
NETNS = "hullbench-docker"


def _start_overhead(e: Engines, runs: int) -> dict[str, Any]:
    """Warm `run --rm busybox true` with the default bridge and with --network none."""
    none, bridge = [], []
    for _ in range(2):
        e.run("hull", "run", "--rm", "busybox", "true")
    for _ in range(runs):   # interleaved, so the pairs share the machine's state
        none.append(timed(e.cmd("hull", "run", "--rm", "--network", "none", "busybox",
                                "true"), env=e.env("hull")))
        bridge.append(timed(e.cmd("hull", "run", "--rm", "busybox", "true"),
                            env=e.env("hull")))
    return {"none": summary(none), "bridge": summary(bridge),
            "added_ms": round(statistics.median(bridge) - statistics.median(none), 1),
            "ratio": pairwise_ratio(bridge, none)}


def _flat_with_containers(e: Engines, count: int) -> dict[str, Any]:
    """`run -d` on one user network as it fills: the k-th container's start time."""
    e.run("hull", "network", "create", "benchnet")
    times = []
    for i in range(count):
        times.append(timed(e.cmd("hull", "run", "-d", "--name", f"n{i}", "--network",
                                 "benchnet", "busybox", "sleep", "3600"), env=e.env("hull")))
    window = max(1, count // 10)
    out = {"first": summary(times[:window]), "last": summary(times[-window:]),
           "containers": count}
    ids = e.run("hull", "ps", "-aq").stdout.split()
    e.run("hull", "rm", "-f", *ids)
    e.run("hull", "network", "rm", "benchnet")
    return out


def _flat_with_ports(e: Engines, ports: int, runs: int) -> dict[str, Any]:
    """Publishing one more port (a container's start) with none and with `ports` already
    published: the firewall holds ports as map elements, so the cost should not move."""
    def one_more() -> list[float]:
        samples = []
        for i in range(runs):
            samples.append(timed(e.cmd("hull", "run", "-d", "--name", f"p{i}", "-p",
                                       f"{40000 + i}:80", "busybox", "sleep", "60"),
                                 env=e.env("hull")))
            e.run("hull", "rm", "-f", f"p{i}")
        return samples
    empty = one_more()
    per = 100
    holders = 0
    for start in range(20000, 20000 + ports, per):
        end = min(start + per, 20000 + ports) - 1
        e.run("hull", "run", "-d", "--name", f"holder{holders}", "-p",
              f"{start}-{end}:{start - 20000 + 1}-{end - 20000 + 1}", "busybox", "sleep",
              "3600")
        holders += 1
    full = one_more()
    memory = _service_rss(e)
    for i in range(holders):
        e.run("hull", "rm", "-f", f"holder{i}")
    return {"with_0": summary(empty), f"with_{ports}": summary(full),
            "ratio": round(statistics.median(full) / statistics.median(empty), 2),
            "service_rss_kib_with_ports": memory}


def _service_rss(e: Engines) -> int:
    pid = int((e.hull_root / "state" / "service.pid").read_text())
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _iperf(client: list[str], seconds: int) -> float:
    """Gbit/s of one iperf3 client run (JSON output)."""
    out = subprocess.run([*client, "-t", str(seconds), "-J"], capture_output=True, text=True,
                         check=True, timeout=seconds + 30).stdout
    return round(json.loads(out)["end"]["sum_received"]["bits_per_second"] / 1e9, 2)


def _throughput_hull(e: Engines, seconds: int) -> dict[str, float]:
    port = 45201
    e.run("hull", "run", "-d", "--name", "iperf", "-p", f"{port}:5201", *IPERF_MOUNTS,
          "busybox", "/usr/bin/iperf3", "-s")
    time.sleep(0.5)
    published = _iperf(["iperf3", "-c", "127.0.0.1", "-p", str(port)], seconds)
    ip = json.loads(e.run("hull", "inspect", "iperf").stdout)[0]["NetworkSettings"][
        "IPAddress"]
    between = _iperf(e.cmd("hull", "run", "--rm", *IPERF_MOUNTS, "busybox",
                           "/usr/bin/iperf3", "-c", ip), seconds)
    e.run("hull", "rm", "-f", "iperf")
    return {"published_gbit_s": published, "container_to_container_gbit_s": between}


def _throughput_docker(work: Path, tar: Path, seconds: int) -> dict[str, float]:
    """docker with its default networking, inside a namespace of its own."""
    subprocess.run(["ip", "netns", "add", NETNS], check=True)
    d = work / "docker-net"
    d.mkdir()
    ns = ["nsenter", f"--net=/run/netns/{NETNS}"]   # ip netns exec would remount /sys
    dk = ["docker", "-H", f"unix://{d}/docker.sock"]
    daemon = [*ns, "dockerd", "--data-root", f"{d}/data", "--exec-root", f"{d}/exec",
              "--host", f"unix://{d}/docker.sock", "--pidfile", f"{d}/docker.pid",
              "--containerd-namespace", "hull-bench", "--containerd-plugins-namespace",
              "hull-bench-plugins", "--cgroup-parent", "/hull-bench-docker"]

    def docker(*args: str) -> str:
        return subprocess.run([*dk, *args], capture_output=True, text=True,
                              check=True).stdout.strip()
    with (d / "dockerd.log").open("w") as log:
        proc = subprocess.Popen(daemon, stdout=log, stderr=subprocess.STDOUT)
        try:
            for _ in range(300):
                if subprocess.run([*dk, "info"], capture_output=True).returncode == 0:
                    break
                time.sleep(0.1)
            subprocess.run([*ns, "ip", "link", "set", "lo", "up"], check=True)
            docker("import", str(tar), "busybox:latest")
            docker("run", "-d", "--name", "iperf", "-p", "45201:5201", *IPERF_MOUNTS,
                   "busybox", "/usr/bin/iperf3", "-s")
            time.sleep(1)
            published = _iperf([*ns, "iperf3", "-c", "127.0.0.1", "-p", "45201"], seconds)
            ip = docker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "iperf")
            between = _iperf([*dk, "run", "--rm", *IPERF_MOUNTS, "busybox",
                              "/usr/bin/iperf3", "-c", ip], seconds)
            docker("rm", "-f", "iperf")
            return {"published_gbit_s": published, "container_to_container_gbit_s": between}
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
            subprocess.run(["ip", "netns", "del", NETNS], check=False)
            for base in Path("/sys/fs/cgroup").iterdir():
                subprocess.run(["rmdir", str(base / "hull-bench-docker")],
                               capture_output=True)


def _name_race(e: Engines, count: int) -> dict[str, Any]:
    """`run -d` then at once `nslookup` of the new name from another container."""
    e.run("hull", "network", "create", "racenet")
    e.run("hull", "run", "-d", "--name", "asker", "--network", "racenet", "busybox", "sleep",
          "3600")
    failures, waits = 0, []
    for i in range(count):
        e.run("hull", "run", "-d", "--name", f"r{i}", "--network", "racenet", "busybox",
              "sleep", "3600")
        start = time.perf_counter()
        asked = e.run("hull", "exec", "asker", "nslookup", f"r{i}", check=False)
        waits.append((time.perf_counter() - start) * 1000)
        if asked.returncode != 0:
            failures += 1
        if i >= 4:
            e.run("hull", "rm", "-f", f"r{i - 4}")
    ids = e.run("hull", "ps", "-aq").stdout.split()
    e.run("hull", "rm", "-f", *ids)
    e.run("hull", "network", "rm", "racenet")
    return {"lookups": count, "failures": failures, "exec_nslookup": summary(waits)}


def main(argv: list[str] | None = None) -> int:
    import argparse
    p = argparse.ArgumentParser(prog="python -m bench.network")
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--containers", type=int, default=200)
    p.add_argument("--ports", type=int, default=1000)
    p.add_argument("--seconds", type=int, default=5)
    p.add_argument("--lookups", type=int, default=100)
    p.add_argument("--no-docker", action="store_true")
    p.add_argument("--out", default=str(REPO / "bench" / "results" / "network.json"))
    args = p.parse_args(argv)
    result: dict[str, Any] = {"suite": "network", "command": "python -m bench.network " +
                              " ".join(argv if argv is not None else sys.argv[1:])}
    with scratch("network") as work, Engines(work, ("hull",)) as e:
        e.hull_env["HULL_RESOLV_CONF"] = str(_local_resolv_conf(work))
        result["start_overhead"] = _start_overhead(e, args.runs)
        result["flat_containers"] = _flat_with_containers(e, args.containers)
        result["flat_ports"] = _flat_with_ports(e, args.ports, max(3, args.runs // 3))
        result["name_race"] = _name_race(e, args.lookups)
        result["throughput"] = {"hull": _throughput_hull(e, args.seconds)}
        if not args.no_docker:
            result["throughput"]["docker"] = _throughput_docker(work, work / "busybox.tar",
                                                                args.seconds)
            t = result["throughput"]
            result["throughput"]["ratios"] = {
                k: round(t["hull"][k] / t["docker"][k], 2) for k in t["hull"]}
    write_result(result, args.out)
    return 0


def _local_resolv_conf(work: Path) -> Path:
    """No benchmark queries the machine's resolver: the containers' upstream is a
    loopback address nothing answers on (names outside the networks are not looked up)."""
    path = work / "resolv.conf"
    path.write_text("nameserver 127.0.0.154\n")
    return path


if __name__ == "__main__":
    sys.exit(main())
