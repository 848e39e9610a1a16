"""OCI and Docker image manifests, indexes and configs; platform selection."""

from __future__ import annotations

import os

from hull import fastjson
from hull.digest import Descriptor
from hull.errors import InvalidArgument, NotFound
from hull.record import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v1+prettyjws")
INDEXES = (OCI_INDEX, DOCKER_LIST)
MANIFESTS = (OCI_MANIFEST, DOCKER_MANIFEST)
ACCEPT = ", ".join([OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST])


@record
class Manifest:
    media_type: str
    config: Descriptor
    layers: list[Descriptor] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)


def load_json(data: bytes, what: str) -> dict[str, Any]:
    try:
        raw = fastjson.loads(data)
    except ValueError as e:
        raise InvalidArgument(f"{what}: malformed JSON: {e}") from None
    if not isinstance(raw, dict):
        raise InvalidArgument(f"{what}: expected a JSON object")
    return raw


def media_type_of(raw: dict[str, Any], what: str) -> str:
    mt = raw.get("mediaType")
    if isinstance(mt, str) and mt:
        return mt
    if raw.get("schemaVersion") == 1:
        return DOCKER_SCHEMA1[0]
    if "manifests" in raw:
        return OCI_INDEX
    if "config" in raw and "layers" in raw:
        return OCI_MANIFEST
    raise InvalidArgument(f"{what}: unknown manifest type")


def parse_manifest(data: bytes, what: str) -> Manifest:
    raw = load_json(data, what)
    mt = media_type_of(raw, what)
    if mt in DOCKER_SCHEMA1:
        raise InvalidArgument(f"{what}: Docker image manifest schema 1 is unsupported "
                              "(deprecated since 2017); push the image again with a "
                              "current client")
    if mt not in MANIFESTS:
        raise InvalidArgument(f"{what}: not an image manifest ({mt})")
    config = Descriptor.from_oci(raw.get("config") or {}, f"{what}.config")
    layers = [Descriptor.from_oci(d, f"{what}.layers[{i}]")
              for i, d in enumerate(raw.get("layers") or [])]
    return Manifest(mt, config, layers, dict(raw.get("annotations") or {}))


def host_platform() -> dict[str, str]:
    machine = os.uname().machine
    arch = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le",
            "s390x": "s390x", "riscv64": "riscv64", "i686": "386"}.get(machine, machine)
    out = {"os": "linux", "architecture": arch}
    if arch == "arm":
        out["variant"] = "v7"
    if arch == "arm64":
        out["variant"] = "v8"
    return out


def parse_platform(text: str | None) -> dict[str, str]:
    if not text:
        return host_platform()
    parts = text.split("/")
    if len(parts) < 2 or len(parts) > 3 or not all(parts):
        raise InvalidArgument(f"--platform {text!r}: want OS/ARCH[/VARIANT]")
    out = {"os": parts[0], "architecture": parts[1]}
    if len(parts) == 3:
        out["variant"] = parts[2]
    return out


def select_platform(data: bytes, want: dict[str, str], what: str) -> Descriptor:
    raw = load_json(data, what)
    entries = [Descriptor.from_oci(d, f"{what}.manifests[{i}]")
               for i, d in enumerate(raw.get("manifests") or [])]
    for desc in entries:
        p = desc.platform or {}
        if p.get("os") != want["os"] or p.get("architecture") != want["architecture"]:
            continue
        if "variant" in want and p.get("variant", want["variant"]) != want["variant"]:
            continue
        return desc
    have = sorted({f"{(d.platform or {}).get('os')}/{(d.platform or {}).get('architecture')}"
                   for d in entries})
    wanted = "/".join(want.values())
    raise NotFound(f"{what}: no image for platform {wanted} (available: "
                   f"{', '.join(have) or 'none'})")


def chain_ids(diff_ids: list[str]) -> list[str]:
    """The identity of each layer stack: chainID(n) = sha256(chainID(n-1) + " " + diffID(n))."""
    import hashlib
    out: list[str] = []
    for diff in diff_ids:
        if not out:
            out.append(diff)
        else:
            out.append("sha256:" + hashlib.sha256(f"{out[-1]} {diff}".encode()).hexdigest())
    return out
