"""The built-in default image: busybox:latest made from Debian's busybox-static, so hull can
run a container on a machine with no registry at all. It is an ordinary image afterwards."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import time

from hull import fastjson
from hull.errors import Unavailable
from hull.image import manifest as mf
from hull.image.reference import parse
from hull.image.store import Image, ImageStore

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def busybox_layer(busybox: str, mtime: int) -> bytes:
    """The layer tar: /bin/busybox, one symlink per applet, /etc/passwd and /etc/group."""
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        def add_dir(name: str, mode: int = 0o755) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, mode, mtime
            tar.addfile(info)

        def add_file(name: str, data: bytes, mode: int = 0o644) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, mtime
            tar.addfile(info, io.BytesIO(data))
        for d in ("bin", "dev", "etc", "home", "proc", "root", "sys", "usr", "var"):
            add_dir(d, 0o700 if d == "root" else 0o755)
        add_dir("tmp", 0o1777)
        with open(busybox, "rb") as f:
            add_file("bin/busybox", f.read(), 0o755)
        for applet in sorted(set(applets) - {"busybox"}):
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname, info.mode, info.mtime = tarfile.SYMTYPE, "busybox", \
                0o777, mtime
            tar.addfile(info)
        add_file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"
                 b"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
        add_file("etc/group", b"root:x:0:\nnogroup:x:65534:\n")
    return buf.getvalue()


def bootstrap_busybox(store: ImageStore, name: str = "busybox:latest") -> Image:
    busybox = shutil.which("busybox")
    if busybox is None or not _is_static(busybox):
        raise Unavailable("image bootstrap: Debian's busybox-static is needed "
                          "(apt-get install busybox-static)")
    mtime = int(os.stat(busybox).st_mtime)
    layer = busybox_layer(busybox, mtime)
    compressed = gzip.compress(layer, mtime=0)
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    platform = mf.host_platform()
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(mtime))
    config = {
        "created": created, "architecture": platform["architecture"], "os": "linux",
        "config": {"Env": [f"PATH={PATH}"], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created, "created_by": f"hull image bootstrap from {busybox}"}],
    }
    if "variant" in platform:
        config["variant"] = platform["variant"]
    config_bytes = fastjson.dumps(config).encode()
    layer_digest = store.content.add(compressed)
    config_digest = store.content.add(config_bytes)
    manifest = {
        "schemaVersion": 2, "mediaType": mf.OCI_MANIFEST,
        "config": {"mediaType": mf.OCI_CONFIG, "digest": config_digest,
                   "size": len(config_bytes)},
        "layers": [{"mediaType": mf.OCI_LAYER_GZIP, "digest": layer_digest,
                    "size": len(compressed)}],
    }
    manifest_digest = store.content.add(fastjson.dumps(manifest).encode())
    # tagged, but with no repo digest: built here, it was never in a registry (Docker's
    # RepoDigests are for images pulled or pushed)
    image = store.add(manifest_digest)
    store.tag(image.id, parse(name))
    return image


def _is_static(path: str) -> bool:
    with open(path, "rb") as f:
        head = f.read(4096)
    return head[:4] == b"\x7fELF" and b"/lib64/ld-linux" not in head and \
        b"ld-linux" not in head
