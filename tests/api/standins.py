"""Stand-ins for the public images docker-py's integration tests use (alpine:3.10 is their
TEST_IMG; they also pull alpine:latest and hello-world and build FROM busybox), made from
Debian's busybox-static: the busybox tree of scripts/busybox-rootfs, plus a small layer
that tells the images apart. Nothing is downloaded.

They are pushed to a local registry as docker.io's `library/…` repositories (the registry
is the engines' docker.io mirror), and written as a docker-archive for `POST /images/load`.
Both carry the same config blobs, so an image has the same ID however it arrived.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import platform
import subprocess
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EPOCH = 1_700_000_000   # every file's mtime: the layers are byte-for-byte reproducible
CREATED = "2024-01-01T00:00:00Z"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_V1 = "application/vnd.docker.container.image.v1+json"
LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"


# alpine-baselayout's accounts and directories, as far as tests lean on them (docker-py's
# exec tests run `whoami` as postgres and `pwd` in /var/opt)
ALPINE_PASSWD = """\
root:x:0:0:root:/root:/bin/ash
bin:x:1:1:bin:/bin:/sbin/nologin
daemon:x:2:2:daemon:/sbin:/sbin/nologin
adm:x:3:4:adm:/var/adm:/sbin/nologin
lp:x:4:7:lp:/var/spool/lpd:/sbin/nologin
sync:x:5:0:sync:/sbin:/bin/sync
shutdown:x:6:0:shutdown:/sbin:/sbin/shutdown
halt:x:7:0:halt:/sbin:/sbin/halt
mail:x:8:12:mail:/var/mail:/sbin/nologin
news:x:9:13:news:/usr/lib/news:/sbin/nologin
uucp:x:10:14:uucp:/var/spool/uucppublic:/sbin/nologin
operator:x:11:0:operator:/root:/sbin/nologin
man:x:13:15:man:/usr/man:/sbin/nologin
postmaster:x:14:12:postmaster:/var/mail:/sbin/nologin
cron:x:16:16:cron:/var/spool/cron:/sbin/nologin
ftp:x:21:21::/var/lib/ftp:/sbin/nologin
sshd:x:22:22:sshd:/dev/null:/sbin/nologin
at:x:25:25:at:/var/spool/cron/atjobs:/sbin/nologin
squid:x:31:31:Squid:/var/cache/squid:/sbin/nologin
xfs:x:33:33:X Font Server:/etc/X11/fs:/sbin/nologin
games:x:35:35:games:/usr/games:/sbin/nologin
postgres:x:70:70::/var/lib/postgresql:/bin/sh
cyrus:x:85:12::/usr/cyrus:/sbin/nologin
vpopmail:x:89:89::/var/vpopmail:/sbin/nologin
ntp:x:123:123:NTP:/var/empty:/sbin/nologin
smmsp:x:209:209:smmsp:/var/spool/mqueue:/sbin/nologin
guest:x:405:100:guest:/dev/null:/sbin/nologin
nobody:x:65534:65534:nobody:/:/sbin/nologin
"""
ALPINE_GROUP = """\
root:x:0:root
bin:x:1:root,bin,daemon
daemon:x:2:root,bin,daemon
sys:x:3:root,bin,adm
adm:x:4:root,adm,daemon
tty:x:5:
disk:x:6:root,adm
lp:x:7:lp
mem:x:8:
kmem:x:9:
wheel:x:10:root
floppy:x:11:root
mail:x:12:mail
news:x:13:news
uucp:x:14:uucp
man:x:15:man
cron:x:16:cron
console:x:17:
audio:x:18:
cdrom:x:19:
dialout:x:20:root
ftp:x:21:
sshd:x:22:
input:x:23:
at:x:25:at
tape:x:26:root
video:x:27:root
netdev:x:28:
readproc:x:30:
squid:x:31:squid
xfs:x:33:xfs
kvm:x:34:kvm
games:x:35:
shadow:x:42:
postgres:x:70:
cdrw:x:80:
usb:x:85:
vpopmail:x:89:
users:x:100:games
ntp:x:123:
nofiles:x:200:
smmsp:x:209:smmsp
locate:x:245:
abuild:x:300:
utmp:x:406:
ping:x:999:
nogroup:x:65533:
nobody:x:65534:
"""
ALPINE_DIRS = ("home", "media", "mnt", "opt", "srv", "run", "var/opt", "var/lib", "var/log",
               "var/tmp", "var/cache", "var/spool", "var/empty", "usr/local/bin")


@dataclass(frozen=True)
class Layer:
    tar: bytes      # uncompressed: its sha256 is the diffID
    gz: bytes       # what the registry stores

    @property
    def diff_id(self) -> str:
        return "sha256:" + hashlib.sha256(self.tar).hexdigest()

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.gz).hexdigest()


@dataclass(frozen=True)
class Image:
    name: str       # "alpine:3.10": docker.io/library/alpine:3.10
    layers: tuple[Layer, ...]
    config: bytes

    @property
    def id(self) -> str:
        return "sha256:" + hashlib.sha256(self.config).hexdigest()

    @property
    def repository(self) -> str:
        return "library/" + self.name.split(":")[0]

    @property
    def tag(self) -> str:
        return self.name.split(":")[1]


def _normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = EPOCH
    return info


def _layer(tar_bytes: bytes) -> Layer:
    return Layer(tar_bytes, gzip.compress(tar_bytes, compresslevel=6, mtime=0))


def _tree_layer(root: Path) -> Layer:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for child in sorted(root.iterdir()):
            tar.add(child, arcname=child.name, filter=_normalise)
    return _layer(buf.getvalue())


def _files_layer(files: dict[str, tuple[bytes, int]], dirs: tuple[str, ...] = ()) -> Layer:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        wanted = {*dirs, *(str(Path(n).parent) for n in files)}
        for d in sorted({str(p) for w in wanted for p in (Path(w), *Path(w).parents)} - {"."}):
            info = _normalise(tarfile.TarInfo(d))
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if d == "var/tmp" else 0o755
            tar.addfile(info)
        for name, (data, mode) in sorted(files.items()):
            info = _normalise(tarfile.TarInfo(name))
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return _layer(buf.getvalue())


def _arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(machine, machine)


def _image(name: str, layers: list[Layer], cmd: list[str], what: list[str]) -> Image:
    config = {
        "architecture": _arch(), "os": "linux", "created": CREATED,
        "config": {"Env": [PATH_ENV], "Cmd": cmd},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [{"created": CREATED, "created_by": w} for w in what],
    }
    return Image(name, tuple(layers), json.dumps(config, sort_keys=True).encode())


def build(busybox_tree: Path | None = None) -> list[Image]:
    """busybox:latest, alpine:3.10, alpine:latest and hello-world:latest. alpine's two tags
    are different images (as on Docker Hub): each adds its own /etc/alpine-release."""
    with tempfile.TemporaryDirectory(prefix="hull-standins-") as tmp:
        if busybox_tree is None:
            busybox_tree = Path(tmp) / "rootfs"
            subprocess.run([str(REPO / "scripts" / "busybox-rootfs"), str(busybox_tree)],
                           check=True)
        base = _tree_layer(busybox_tree)
        bb = (busybox_tree / "bin" / "busybox").read_bytes()
    images = [_image("busybox:latest", [base], ["sh"],
                     ["busybox tree from Debian's busybox-static"])]
    for tag, release in (("3.10", "3.10.9"), ("latest", "3.20.0")):
        release_layer = _files_layer({
            "etc/alpine-release": (f"{release}\n".encode(), 0o644),
            "etc/os-release": (f'NAME="hull stand-in for Alpine Linux"\nID=alpine\n'
                               f"VERSION_ID={release}\n".encode(), 0o644),
            "etc/passwd": (ALPINE_PASSWD.encode(), 0o644),
            "etc/group": (ALPINE_GROUP.encode(), 0o644)}, ALPINE_DIRS)
        images.append(_image(f"alpine:{tag}", [base, release_layer], ["/bin/sh"],
                             ["busybox tree from Debian's busybox-static",
                              f"stand-in for alpine {release}"]))
    hello = _files_layer({
        "bin/busybox": (bb, 0o755),
        "hello": (b"#!/bin/busybox sh\necho 'Hello from Docker! (hull stand-in)'\n", 0o755)})
    images.append(_image("hello-world:latest", [hello], ["/hello"],
                         ["stand-in for hello-world"]))
    return images


# -- a registry (Docker Registry HTTP API v2, plain HTTP on 127.0.0.1) ------------------


def _request(url: str, method: str, data: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str]]:
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            resp.read()
            return resp.status, dict(resp.headers)
    except urllib.error.HTTPError as e:
        if method == "HEAD" and e.code == 404:
            return 404, {}
        raise RuntimeError(f"{method} {url}: {e.code} {e.read()[:300]!r}") from None


def _push_blob(host: str, repository: str, digest: str, data: bytes) -> None:
    base = f"http://{host}/v2/{repository}/blobs/"
    if _request(base + digest, "HEAD")[0] == 200:
        return
    _, headers = _request(base + "uploads/", "POST", b"")
    location = urllib.parse.urljoin(f"http://{host}/", headers["Location"])
    sep = "&" if "?" in location else "?"
    _request(f"{location}{sep}digest={urllib.parse.quote(digest)}", "PUT", data,
             {"Content-Type": "application/octet-stream"})


def push(host: str, images: list[Image]) -> None:
    """Push each image as docker.io's library/NAME:TAG would be; the caller must be in the
    registry's network namespace (environment.entered)."""
    for image in images:
        for layer in image.layers:
            _push_blob(host, image.repository, layer.digest, layer.gz)
        config_digest = "sha256:" + hashlib.sha256(image.config).hexdigest()
        _push_blob(host, image.repository, config_digest, image.config)
        manifest = {
            "schemaVersion": 2, "mediaType": MANIFEST_V2,
            "config": {"mediaType": CONFIG_V1, "size": len(image.config),
                       "digest": config_digest},
            "layers": [{"mediaType": LAYER_GZIP, "size": len(layer.gz),
                        "digest": layer.digest} for layer in image.layers],
        }
        _request(f"http://{host}/v2/{image.repository}/manifests/{image.tag}", "PUT",
                 json.dumps(manifest).encode(), {"Content-Type": MANIFEST_V2})


def docker_archive(images: list[Image]) -> bytes:
    """The images as one docker-archive (`docker save` form, uncompressed layers), for
    POST /images/load."""
    buf = io.BytesIO()
    manifest = []
    written: set[str] = set()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        def add(name: str, data: bytes) -> None:
            if name in written:
                return
            written.add(name)
            info = _normalise(tarfile.TarInfo(name))
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
        for image in images:
            config_name = image.id.split(":")[1] + ".json"
            add(config_name, image.config)
            names = []
            for layer in image.layers:
                name = layer.diff_id.split(":")[1] + "/layer.tar"
                add(name, layer.tar)
                names.append(name)
            manifest.append({"Config": config_name, "RepoTags": [image.name],
                             "Layers": names})
        add("manifest.json", json.dumps(manifest).encode())
    return buf.getvalue()
