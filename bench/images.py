"""Image benchmarks: pulling the debootstrap multi-layer image from a registry on 127.0.0.1
with hull, podman and docker side by side (alternating, fresh storage each run), then its
`save` to a docker-archive and `load` back; layer
unpack throughput next to `tar -xzf`; mounting a 50-layer image.

    python -m bench.images [--runs N] [--quick]      # writes bench/results/images.json
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import summary, timed

REPO = Path(__file__).resolve().parent.parent
HULL = str(REPO / ".venv" / "bin" / "hull")


def bench_pull(work: Path, runs: int) -> dict[str, Any]:
    sys.path.insert(0, str(REPO))
    from tests.clients.conftest import Docker, Podman
    from tests.images import cached_archive
    from tests.registry import hull_env, run_registry
    archive = cached_archive()
    out: dict[str, Any] = {}
    with run_registry(work / "registry") as registry:
        env = hull_env(work, registry)
        image = f"{registry}/bench/debian:multilayer"
        seed = work / "seed"
        subprocess.run([HULL, "--root", str(seed), "load", "-i", str(archive)], check=True,
                       env=env, capture_output=True)
        subprocess.run([HULL, "--root", str(seed), "tag", "hull-test/debian:multilayer",
                        image], check=True, env=env)
        subprocess.run([HULL, "--root", str(seed), "push", image], check=True, env=env,
                       capture_output=True)
        podman = Podman(work)
        docker = Docker(work)
        try:
            def cli(engine: str, i: int) -> tuple[list[str], dict[str, str] | None]:
                if engine == "hull":
                    return [HULL, "--root", str(work / f"hull-{i}")], env
                if engine == "podman":
                    return ["podman", "--root", f"{podman.dir}/root", "--runroot",
                            f"{podman.dir}/run"], podman.env
                return ["docker", "-H", f"unix://{docker.sock}"], None
            engines = ["hull", "podman", "docker"]
            samples: dict[str, dict[str, list[float]]] = {
                op: {e: [] for e in engines} for op in ("pull", "save", "load")}
            for i in range(runs):
                for engine in engines[i % 3:] + engines[:i % 3]:
                    base, cenv = cli(engine, i)
                    tls = ["--tls-verify=false"] if engine == "podman" else []
                    saved = work / f"saved-{engine}-{i}.tar"
                    samples["pull"][engine].append(
                        timed([*base, "pull", "-q", *tls, image], env=cenv))
                    samples["save"][engine].append(
                        timed([*base, "save", "-o", str(saved), image], env=cenv))
                    subprocess.run([*base, "rmi", "-f", image], env=cenv, check=True,
                                   capture_output=True)
                    samples["load"][engine].append(
                        timed([*base, "load", "-i", str(saved)], env=cenv))
                    subprocess.run([*base, "rmi", "-f", image], env=cenv, check=False,
                                   capture_output=True)
                    if engine != "hull":
                        subprocess.run([*base, "image", "prune", "-af"], env=cenv,
                                       check=False, capture_output=True)
                    saved.unlink()
                    shutil.rmtree(work / f"hull-{i}", ignore_errors=True)
            for op, per_engine in samples.items():
                out[op] = {k: summary(v) for k, v in per_engine.items()}
                for other in ("podman", "docker"):
                    ratios = [h / o for h, o in zip(per_engine["hull"], per_engine[other],
                                                    strict=True)]
                    out[op][f"ratio hull/{other}"] = round(statistics.median(ratios), 2)
        finally:
            podman("rm", "-af", check=False)
            from tests.clients.conftest import _stop
            _stop(docker.proc)
    return out


def bench_unpack(work: Path) -> dict[str, Any]:
    """The biggest layer of the image: hull's safe apply vs tar -xzf, MB/s of tar data."""
    sys.path.insert(0, str(REPO / "src"))
    import gzip
    import tarfile

    from tests.images import cached_archive

    from hull.image.layer import apply_layer
    with tarfile.open(cached_archive()) as tar:
        layers = [m for m in tar if m.name.endswith("layer.tar")]
        biggest = max(layers, key=lambda m: m.size)
        data = tar.extractfile(biggest).read()  # type: ignore[union-attr]
    blob = work / "layer.tar.gz"
    blob.write_bytes(data)
    raw_size = len(gzip.decompress(data))
    results: dict[str, list[float]] = {"hull": [], "tar -xzf": []}
    for i in range(3):
        target = work / f"u-hull-{i}"
        target.mkdir()
        start = time.perf_counter()
        with open(blob, "rb") as f:
            apply_layer(f, str(target))
        results["hull"].append(time.perf_counter() - start)
        target2 = work / f"u-tar-{i}"
        target2.mkdir()
        start = time.perf_counter()
        subprocess.run(["tar", "-xzf", str(blob), "-C", str(target2), "--numeric-owner"],
                       check=True)
        results["tar -xzf"].append(time.perf_counter() - start)
        shutil.rmtree(target)
        shutil.rmtree(target2)
    return {"layer_MB": round(raw_size / 1e6, 1),
            **{f"{k} MB/s": round(raw_size / 1e6 / statistics.median(v), 1)
               for k, v in results.items()}}


def bench_mount_50(work: Path) -> dict[str, Any]:
    sys.path.insert(0, str(REPO / "src"))
    from hull.linux.mounts import mount_all, unmount
    from hull.snapshot.overlay import OverlaySnapshotter
    sn = OverlaySnapshotter(str(work / "snap50"))
    parent = None
    for i in range(50):
        key = f"l{i}"
        sn.prepare(key + "-a", parent)
        Path(sn.upper_dir(key + "-a"), f"f{i}").write_text(str(i))
        sn.commit(key, key + "-a")
        parent = key
    times = []
    for i in range(20):
        mounts = sn.prepare(f"c{i}", parent)
        target = work / f"m{i}"
        target.mkdir()
        start = time.perf_counter()
        mount_all(mounts, str(target))
        times.append((time.perf_counter() - start) * 1000)
        unmount(str(target))
        sn.remove(f"c{i}")
    return {"50-layer rootfs mount": summary(times)}


def main(argv: list[str] | None = None) -> int:
    import argparse
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="no pull/save/load (a smoke test)")
    p.add_argument("--out", default=str(REPO / "bench" / "results" / "images.json"))
    args = p.parse_args(argv)
    # /var/lib, where engines keep their storage (file creation under /var/tmp measured ~3x
    # slower on this machine kind, which would skew every engine)
    work = Path(tempfile.mkdtemp(prefix="hull-bench-img-", dir="/var/lib"))
    work.chmod(0o755)
    os.environ.setdefault("HULL_MIRROR_ONLY", "docker.io")
    try:
        result = {"command": "python -m bench.images" + (" --quick" if args.quick else
                                                          f" --runs {args.runs}"),
                  "mount": bench_mount_50(work), "unpack": bench_unpack(work)}
        if not args.quick:
            result.update(bench_pull(work, args.runs))
    finally:
        subprocess.run(["sh", "-c", f"grep -o ' {work}[^ ]*' /proc/self/mounts | sort -r | "
                        "xargs -r -n1 umount -l"], check=False)
        shutil.rmtree(work, ignore_errors=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
