"""A realistic multi-layer image for tests and benchmarks, from a debootstrap minbase tar:
four layers (base system, /usr/lib, the rest of /usr, and a change layer with a new file,
a modified file and whiteouts), written as a docker-archive with gzip layers — the form
`docker save`, `podman save` and `hull save` exchange."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def rootfs_tar() -> Path:
    out = subprocess.run([str(REPO / "scripts" / "debootstrap-rootfs")], check=True,
                         capture_output=True, text=True).stdout.strip()
    return Path(out)


def _layer_of(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def build_archive(out: Path, tag: str = "hull-test/debian:multilayer") -> list[str]:
    """Write the docker-archive; returns the layers' diffIDs."""
    groups: list[list[tuple[tarfile.TarInfo, bytes | None]]] = [[], [], []]
    with tarfile.open(rootfs_tar()) as src:
        for m in src:
            name = m.name.removeprefix("./")
            data = src.extractfile(m).read() if m.isfile() else None  # type: ignore[union-attr]
            group = 1 if name.startswith("usr/lib") else 2 if name.startswith("usr/") and \
                name != "usr" else 0
            groups[group].append((m, data))
    change: list[tuple[tarfile.TarInfo, bytes | None]] = []
    for name, data in (("etc/hull-test", b"added by the change layer\n"),
                       ("etc/hostname", b"multilayer\n"),
                       ("usr/share/.wh.doc", b""), ("etc/.wh.motd", b"")):
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
        change.append((info, data))
    layers = [_layer_of(g) for g in groups] + [_layer_of(change)]
    diff_ids = ["sha256:" + hashlib.sha256(raw).hexdigest() for raw in layers]
    config = {"architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
              "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                                 "/sbin:/bin"], "Cmd": ["/bin/bash"]},
              "rootfs": {"type": "layers", "diff_ids": diff_ids},
              "history": [{"created": "2026-01-01T00:00:00Z", "created_by": f"layer {i}"}
                          for i in range(len(layers))]}
    config_bytes = json.dumps(config).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    with tarfile.open(out, "w") as tar:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        add(config_name, config_bytes)
        names = []
        for diff, raw in zip(diff_ids, layers, strict=True):
            name = f"{diff.split(':')[1]}/layer.tar"
            add(name, gzip.compress(raw, compresslevel=6, mtime=0))
            names.append(name)
        add("manifest.json", json.dumps([{"Config": config_name, "RepoTags": [tag],
                                          "Layers": names}]).encode())
    return diff_ids


def cached_archive() -> Path:
    cache = Path(os.environ.get("HULL_TEST_CACHE", "/var/cache/hull-test"))
    out = cache / "multilayer-docker-archive.tar"
    if not out.exists():
        tmp = out.with_suffix(".tmp")
        build_archive(tmp)
        tmp.rename(out)
    return out
