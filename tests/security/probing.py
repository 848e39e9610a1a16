"""Running tests/security/probe.py in a container: the host's python3 inside it (the host's
/usr mounted read-only), for hull's own checks and the comparison with Docker."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import HullCLI

HERE = Path(__file__).resolve().parent
# the host's interpreter and libraries, read-only, and the probe
HOST_PYTHON = ["-v", "/usr:/usr:ro", "-v", "/lib64:/lib64:ro", "-v", "/lib:/lib:ro",
               "-v", f"{HERE}:/probe:ro"]
PROBE = ["/usr/bin/python3", "-I", "/probe/probe.py"]


def need_x86_64() -> None:
    if os.uname().machine != "x86_64":
        pytest.skip("the probe's syscall numbers are x86_64's")


def probe(engine: HullCLI, *flags: str, image: str = "busybox") -> dict[str, Any]:
    """The probe's report from a new container of `engine` (hull or a docker client)."""
    need_x86_64()
    out = engine("run", "--rm", *flags, *HOST_PYTHON, image, *PROBE).stdout
    report: dict[str, Any] = json.loads(out)
    return report


def image_with(engine: HullCLI, tmp_path: Path, tag: str,
               entries: list[tuple[tarfile.TarInfo, bytes | None]],
               changes: tuple[str, ...] = ()) -> str:
    """A busybox image whose filesystem also has `entries` (replacing any of the same
    name), made the way a hostile image would arrive: as a tarball through `import`."""
    base = tmp_path / "busybox.tar"
    if not base.exists():
        cid = engine("create", "busybox").stdout.strip()
        engine("export", "-o", str(base), cid)
        engine("rm", cid)
    replaced = {info.name.strip("/").removeprefix("./") for info, _ in entries}
    tar_path = tmp_path / f"{tag.replace(':', '_').replace('/', '_')}.tar"
    with tarfile.open(base) as src, tarfile.open(tar_path, "w") as dst:
        for member in src:
            if member.name.strip("/").removeprefix("./") in replaced:
                continue
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
        for info, data in entries:
            dst.addfile(info, io.BytesIO(data) if data is not None else None)
    flags = [a for c in changes for a in ("-c", c)]
    engine("import", *flags, str(tar_path), tag)
    return tag


def tar_entry(name: str, kind: bytes = tarfile.REGTYPE, data: bytes | None = None,
              link: str = "", mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname = kind, mode, link
    if data is not None:
        info.size = len(data)
    return info, data
