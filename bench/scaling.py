"""How start latency grows with work: `run --rm IMAGE true` against the image's layer count
(1, 10, 50) and against the number of containers already running (0, 50, 200), for hull,
docker and podman side by side (rotating order, medians).

    python -m bench.scaling [--layers 1,10,50] [--running 0,50,200] [--runs N]
                                                      # bench/results/scaling.json
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path
from typing import Any

from bench.common import scratch, summary, timed, write_result
from bench.engines import ENGINES, REPO, Engines
from bench.lifecycle import rotating


def layered_archive(base: Path, layers: int, out: Path) -> str:
    """A docker-archive of busybox (the rootfs tar as its first layer) plus layers − 1 small
    layers of one file each; returns its tag."""
    tag = f"layers:{layers}"
    blobs = [base.read_bytes()]
    for i in range(1, layers):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo(f"layer-{i}")
            data = f"{i}\n".encode()
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        blobs.append(buf.getvalue())
    diff_ids = ["sha256:" + hashlib.sha256(b).hexdigest() for b in blobs]
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "config": {"Cmd": ["sh"], "Env": ["PATH=/bin:/usr/bin"]},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids},
                         "history": [{"created_by": f"layer {i}"}
                                     for i in range(layers)]}).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    with tarfile.open(out, "w") as tar:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for i, blob in enumerate(blobs):
            add(f"l{i}/layer.tar", blob)
        add(config_name, config)
        add("manifest.json", json.dumps([{"Config": config_name, "RepoTags": [tag],
                                          "Layers": [f"l{i}/layer.tar"
                                                     for i in range(layers)]}]).encode())
    return tag


def main(argv: list[str] | None = None) -> int:
    import argparse
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--layers", default="1,10,50")
    p.add_argument("--running", default="0,50,200")
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--out", default=str(REPO / "bench" / "results" / "scaling.json"))
    args = p.parse_args(argv)
    result: dict[str, Any] = {"command": f"python -m bench.scaling --layers {args.layers} "
                                         f"--running {args.running} --runs {args.runs}",
                              "unit": "ms, median of run --rm IMAGE true",
                              "by layer count": {}, "by running containers": {}}
    with scratch("scale") as work, Engines(work) as en:
        for n in [int(x) for x in args.layers.split(",")]:
            archive = work / f"layers-{n}.tar"
            tag = layered_archive(work / "busybox.tar", n, archive)
            for e in ENGINES:
                en.run(e, "load", "-i", str(archive))
            image = {e: ("localhost/" if e == "podman" else "") + tag for e in ENGINES}
            samples = rotating(ENGINES, args.runs, lambda e, i, image=image: timed(
                en.run_cmd(e, "--rm", image[e], "true"), env=en.env(e)))
            result["by layer count"][str(n)] = {e: summary(v)["median_ms"]
                                                for e, v in samples.items()}
        running = 0
        for count in [int(x) for x in args.running.split(",")]:
            while running < count:
                for e in ENGINES:
                    en.start(e, "-d", en.image(e), "sleep", "3600")
                running += 1
            samples = rotating(ENGINES, args.runs, lambda e, i: timed(
                en.run_cmd(e, "--rm", en.image(e), "true"), env=en.env(e)))
            result["by running containers"][str(count)] = {
                e: summary(v)["median_ms"] for e, v in samples.items()}
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
