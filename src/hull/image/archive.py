"""Image archives: `save`/`load` in both formats people exchange, and `import`.

docker-archive (what `docker save` and `podman save` write): manifest.json listing each
image's config file and uncompressed layer tars, plus the legacy `repositories` file.
oci-archive: an OCI image layout (oci-layout, index.json, blobs/sha256/…) in a tar, the
tag in the org.opencontainers.image.ref.name annotation.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
import time

from hull import fastjson
from hull.digest import of_bytes
from hull.errors import InvalidArgument, NotFound
from hull.image import manifest as mf
from hull.image.layer import decompressed, write_stream
from hull.image.progress import Progress, Quiet
from hull.image.reference import Reference, parse
from hull.image.store import Image, ImageStore

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import IO, Any

REF_NAME = "org.opencontainers.image.ref.name"


def _add(tar: tarfile.TarFile, name: str, data: bytes | None = None,
         src: IO[bytes] | None = None, size: int = 0) -> None:
    info = tarfile.TarInfo(name)
    info.mtime = 0
    if data is None and src is None:
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        return
    info.mode = 0o644
    info.size = len(data) if data is not None else size
    tar.addfile(info, io.BytesIO(data) if data is not None else src)


def _uncompressed_layer(store: ImageStore, digest: str) -> tuple[str, str]:
    """A temp file with the layer's tar (decompressed) and its sha256 (the diffID)."""
    fd, path = tempfile.mkstemp(prefix="hull-layer-")
    h = hashlib.sha256()
    with store.content.open(digest) as blob, os.fdopen(fd, "wb") as out:
        reader = decompressed(blob)
        while chunk := reader.read(1 << 20):
            h.update(chunk)
            out.write(chunk)
    return path, "sha256:" + h.hexdigest()


def save(store: ImageStore, names: list[str], out: IO[bytes], fmt: str = "docker-archive") -> None:
    if fmt not in ("docker-archive", "oci-archive"):
        raise InvalidArgument(f"--format {fmt!r}: want docker-archive or oci-archive")
    images: list[tuple[Image, list[str]]] = []
    for name in names:
        for image, tags in _named(store, name):
            images.append((image, tags))
    with write_stream(out) as tar:
        if fmt == "docker-archive":
            _save_docker(store, images, tar)
        else:
            _save_oci(store, images, tar)


def _named(store: ImageStore, name: str) -> list[tuple[Image, list[str]]]:
    """What one name given to save stands for: an ID its image alone; a repository without
    a tag every tag of it (as docker save busybox saves busybox:*); else that tag."""
    hexpart = name.removeprefix("sha256:")
    by_id = next((i for i in store.images() if i.id.removeprefix("sha256:")
                  .startswith(hexpart)), None) if len(hexpart) >= 4 else None
    if by_id is not None:
        return [(by_id, [])]
    bare = parse(name, default_tag=None)
    if not bare.tag and not bare.digest:
        found: dict[str, list[str]] = {}
        for image in store.images():
            for tag in store.tags_of(image.id):
                if tag.rpartition(":")[0] == bare.name:
                    found.setdefault(image.id, []).append(tag)
        if found:
            return [(store.get(i), tags) for i, tags in found.items()]
        try:
            return [(store.resolve(name), [str(parse(name))])]
        except NotFound:   # Docker's save names it as given
            raise NotFound(f"No such image: {name}") from None
    return [(store.resolve(name), [str(parse(name))])]


def _save_docker(store: ImageStore, images: list[tuple[Image, list[str]]],
                 tar: tarfile.TarFile) -> None:
    manifest: list[dict[str, Any]] = []
    repositories: dict[str, dict[str, str]] = {}
    written: set[str] = set()
    for image, tags in images:
        config = store.content.read(image.id)
        config_name = image.id.split(":", 1)[1] + ".json"
        if config_name not in written:
            _add(tar, config_name, config)
            written.add(config_name)
        layers = []
        for desc in store.manifest_of(image).layers:
            path, diff = _uncompressed_layer(store, desc.digest)
            try:
                layer_dir = diff.split(":", 1)[1]
                if layer_dir not in written:
                    _add(tar, layer_dir)
                    _add(tar, f"{layer_dir}/VERSION", b"1.0")
                    with open(path, "rb") as f:
                        _add(tar, f"{layer_dir}/layer.tar", src=f, size=os.path.getsize(path))
                    written.add(layer_dir)
            finally:
                os.unlink(path)
            layers.append(f"{layer_dir}/layer.tar")
        familiar = [parse(t).familiar() for t in tags]
        manifest.append({"Config": config_name, "RepoTags": familiar or None,
                         "Layers": layers})
        for tag in familiar:
            repo, _, t = tag.rpartition(":")
            repositories.setdefault(repo, {})[t] = layers[-1].split("/")[0] if layers else ""
    _add(tar, "manifest.json", fastjson.dumps(manifest).encode())
    _add(tar, "repositories", fastjson.dumps(repositories).encode())


def _save_oci(store: ImageStore, images: list[tuple[Image, list[str]]],
              tar: tarfile.TarFile) -> None:
    _add(tar, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
    _add(tar, "blobs")
    _add(tar, "blobs/sha256")
    written: set[str] = set()
    index: list[dict[str, Any]] = []
    for image, tags in images:
        manifest = store.manifest_of(image)
        for desc in [manifest.config, *manifest.layers]:
            if desc.digest not in written:
                with store.content.open(desc.digest) as f:
                    _add(tar, f"blobs/sha256/{desc.digest.split(':', 1)[1]}", src=f,
                         size=desc.size)
                written.add(desc.digest)
        body = store.content.read(image.manifest)
        if image.manifest not in written:
            _add(tar, f"blobs/sha256/{image.manifest.split(':', 1)[1]}", body)
            written.add(image.manifest)
        names: list[str | None] = list(tags) or [None]
        for tag in names:
            entry: dict[str, Any] = {"mediaType": image.media_type, "digest": image.manifest,
                                     "size": len(body)}
            if tag:
                entry["annotations"] = {REF_NAME: parse(tag).familiar(),
                                        "io.containerd.image.name": tag}
            index.append(entry)
    _add(tar, "index.json", fastjson.dumps({"schemaVersion": 2, "mediaType": mf.OCI_INDEX,
                                            "manifests": index}).encode())


def load(store: ImageStore, src: IO[bytes], progress: Progress | None = None) -> list[str]:
    """Load every image in a docker- or oci-archive; returns "Loaded image: …" lines."""
    progress = progress or Quiet()
    with tempfile.TemporaryDirectory(prefix="hull-load-") as tmp:
        with tarfile.open(fileobj=src, mode="r|*") as tar:
            for member in tar:   # names only, no links or devices: flat files in a temp dir
                name = os.path.normpath(member.name).lstrip("/")
                if name.startswith("..") or not (member.isfile() or member.isdir()):
                    continue
                target = os.path.join(tmp, name)
                if member.isdir():
                    os.makedirs(target, exist_ok=True)
                    continue
                os.makedirs(os.path.dirname(target), exist_ok=True)
                f = tar.extractfile(member)
                assert f is not None
                with open(target, "wb") as out:
                    shutil.copyfileobj(f, out, 1 << 20)
        try:
            if os.path.exists(os.path.join(tmp, "index.json")):
                return _load_oci(store, tmp, progress)
            if os.path.exists(os.path.join(tmp, "manifest.json")):
                return _load_docker(store, tmp, progress)
        finally:
            progress.close()
    raise InvalidArgument("load: neither a docker-archive (manifest.json) nor an OCI layout "
                          "(index.json)")


def _read(path: str, what: str) -> Any:
    try:
        with open(path, "rb") as f:
            return fastjson.loads(f.read())
    except (OSError, ValueError) as e:
        raise InvalidArgument(f"load: {what}: {e}") from None


def _store_file(store: ImageStore, path: str, progress: Progress | None = None,
                label: str = "") -> str:
    w = store.content.writer(f"load-{os.getpid()}-{hashlib.sha256(path.encode()).hexdigest()}")
    if progress:
        progress.start(label, os.path.getsize(path))
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                w.write(chunk)
                if progress:
                    progress.advance(label, len(chunk))
        digest = w.commit()
        if progress:
            progress.done(label, "Loading layer complete")
        return digest
    except BaseException:
        w.abort()
        raise


def _load_docker(store: ImageStore, tmp: str, progress: Progress) -> list[str]:
    lines = []
    for i, entry in enumerate(_read(os.path.join(tmp, "manifest.json"), "manifest.json")):
        config_bytes = _safe_read(tmp, entry.get("Config", ""), f"manifest.json[{i}].Config")
        config = mf.load_json(config_bytes, f"image config {entry.get('Config')}")
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
        layers = []
        for j, layer in enumerate(entry.get("Layers") or []):
            path = _safe_path(tmp, layer, f"manifest.json[{i}].Layers[{j}]")
            digest = _store_file(store, path, progress, layer.split("/")[0][:12])
            with store.content.open(digest) as blob:
                head = blob.read(4)
            media = mf.OCI_LAYER_GZIP if head[:2] == b"\x1f\x8b" else mf.OCI_LAYER
            if media == mf.OCI_LAYER and j < len(diff_ids) and digest != diff_ids[j]:
                raise InvalidArgument(f"load: layer {layer} is {digest}, the config says "
                                      f"{diff_ids[j]}")
            layers.append({"mediaType": media, "digest": digest,
                           "size": store.content.info(digest).size})
        config_digest = store.content.add(config_bytes)
        manifest = {"schemaVersion": 2, "mediaType": mf.OCI_MANIFEST,
                    "config": {"mediaType": mf.OCI_CONFIG, "digest": config_digest,
                               "size": len(config_bytes)}, "layers": layers}
        manifest_digest = store.content.add(fastjson.dumps(manifest).encode())
        tags = entry.get("RepoTags") or []
        image = store.add(manifest_digest, None)
        for tag in tags:
            store.tag(image.id, parse(tag))
            lines.append(f"Loaded image: {tag}")
        if not tags:
            lines.append(f"Loaded image ID: {image.id}")
    return lines


def _load_oci(store: ImageStore, tmp: str, progress: Progress) -> list[str]:
    index = _read(os.path.join(tmp, "index.json"), "index.json")
    lines = []
    for i, raw in enumerate(index.get("manifests") or []):
        digest = str(raw.get("digest", ""))
        body = _safe_read(tmp, f"blobs/sha256/{digest.split(':', 1)[-1]}",
                          f"index.json.manifests[{i}]")
        if of_bytes(body) != digest:
            raise InvalidArgument(f"load: manifest {digest} does not match its digest")
        if mf.media_type_of(mf.load_json(body, digest), digest) in mf.INDEXES:
            chosen = mf.select_platform(body, mf.host_platform(), f"index {digest}")
            digest = chosen.digest
            body = _safe_read(tmp, f"blobs/sha256/{digest.split(':', 1)[1]}", digest)
        manifest = mf.parse_manifest(body, f"manifest {digest}")
        for desc in [manifest.config, *manifest.layers]:
            if not store.content.exists(desc.digest):
                path = _safe_path(tmp, f"blobs/sha256/{desc.digest.split(':', 1)[1]}",
                                  desc.digest)
                got = _store_file(store, path, progress, desc.digest.split(":", 1)[1][:12])
                if got != desc.digest:
                    store.content.delete(got)
                    raise InvalidArgument(f"load: blob {desc.digest} has digest {got}")
        store.content.add(body, digest)
        annotations = raw.get("annotations") or {}
        name = annotations.get("io.containerd.image.name") or annotations.get(REF_NAME)
        ref: Reference | None = None
        if name and ("/" in name or ":" in name or name.isalnum()):
            try:
                ref = parse(name)
            except InvalidArgument:
                ref = None   # a bare tag ("latest") names no repository
        image = store.add(digest, ref)
        lines.append(f"Loaded image: {ref.familiar()}" if ref else f"Loaded image ID: {image.id}")
    return lines


def _safe_path(tmp: str, name: str, what: str) -> str:
    path = os.path.normpath(os.path.join(tmp, name))
    if not path.startswith(tmp + os.sep) or not os.path.isfile(path):
        raise InvalidArgument(f"load: {what}: {name!r} is not in the archive")
    return path


def _safe_read(tmp: str, name: str, what: str) -> bytes:
    with open(_safe_path(tmp, name, what), "rb") as f:
        return f.read()


def import_tarball(store: ImageStore, src: IO[bytes], ref: Reference | None,
                   message: str = "", changes: dict[str, Any] | None = None) -> Image:
    """`docker import`: a filesystem tarball becomes a one-layer image."""
    return add_layer(store, None, src, ref, changes or {}, "hull import", message)


def add_layer(store: ImageStore, base: Image | None, src: IO[bytes], ref: Reference | None,
              config: dict[str, Any], created_by: str, comment: str = "",
              author: str = "") -> Image:
    """A new image: base's layers (none for import) plus the layer tar in src (plain or
    compressed), stored gzipped, with `config` as the image's runtime config."""
    fd, path = tempfile.mkstemp(prefix="hull-layer-")
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as raw:
            reader = decompressed(src)
            while chunk := reader.read(1 << 20):
                h.update(chunk)
                raw.write(chunk)
        diff_id = "sha256:" + h.hexdigest()
        gz_fd, gz_path = tempfile.mkstemp(prefix="hull-layer-gz-")
        try:
            with open(path, "rb") as plain, os.fdopen(gz_fd, "wb") as gz_out, \
                    gzip.GzipFile(fileobj=gz_out, mode="wb", mtime=0) as gz:
                shutil.copyfileobj(plain, gz, 1 << 20)
            layer = _store_file(store, gz_path)
        finally:
            os.unlink(gz_path)
    finally:
        os.unlink(path)
    return new_image(store, base, ref, config, created_by, comment, author,
                     {"mediaType": mf.OCI_LAYER_GZIP, "digest": layer,
                      "size": store.content.info(layer).size}, diff_id)


def store_plain_layer(store: ImageStore, write: Callable[[Any], None]) -> dict[str, Any]:
    """An uncompressed layer written by `write` straight into the content store, as one
    pass over the bytes (commit: Docker's store keeps layers uncompressed too, and they
    are compressed when pushed). Its digest is its diffID."""
    import secrets
    w = store.content.writer(f"layer-{os.getpid()}-{secrets.token_hex(8)}")
    try:
        write(w)
        digest = w.commit()
    except BaseException:
        w.abort()
        raise
    return {"mediaType": mf.OCI_LAYER, "digest": digest,
            "size": store.content.info(digest).size}


def new_image(store: ImageStore, base: Image | None, ref: Reference | None,
              config: dict[str, Any], created_by: str, comment: str, author: str,
              layer: dict[str, Any], diff_id: str) -> Image:
    """The manifest and config of base + one stored layer, tagged ref."""
    platform = mf.host_platform()
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    base_config = store.config(base) if base else {}
    oci_type = {"application/vnd.docker.image.rootfs.diff.tar.gzip": mf.OCI_LAYER_GZIP}
    layers = [{"mediaType": oci_type.get(d.media_type, d.media_type), "digest": d.digest,
               "size": d.size} for d in store.manifest_of(base).layers] if base else []
    history = list(base_config.get("history") or [])
    history.append({"created": created, "created_by": created_by,
                    **({"comment": comment} if comment else {}),
                    **({"author": author} if author else {})})
    image_config = {"created": created,
                    "architecture": base_config.get("architecture", platform["architecture"]),
                    "os": "linux", "config": config,
                    **({"author": author} if author else {}),
                    **({"comment": comment} if comment else {}),   # Docker's image Comment
                    "rootfs": {"type": "layers",
                               "diff_ids": [*(store.diff_ids(base) if base else []), diff_id]},
                    "history": history}
    config_bytes = fastjson.dumps(image_config).encode()
    config_digest = store.content.add(config_bytes)
    manifest = {"schemaVersion": 2, "mediaType": mf.OCI_MANIFEST,
                "config": {"mediaType": mf.OCI_CONFIG, "digest": config_digest,
                           "size": len(config_bytes)},
                "layers": [*layers, layer]}
    digest = store.content.add(fastjson.dumps(manifest).encode())
    image = store.add(digest, None)
    if base is not None and base.id != image.id:
        store.set_parent(image.id, base.id)
    if ref is not None:
        store.tag(image.id, ref)
    return image
