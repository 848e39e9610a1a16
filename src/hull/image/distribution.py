"""Pull and push: an image between a registry and the local store.

Pull: resolve the reference on the first endpoint that has it (mirrors first), pick the
platform from an index, then fetch config and layers — layers in parallel with bounded
concurrency, each into a resumable ingest and verified against its digest and size — and
only then register and unpack the image. Push: blobs the registry lacks are mounted from
another repository of the same registry when one is known to have them, else uploaded
(monolithic, or in chunks for large blobs); the manifest goes last.
"""

from __future__ import annotations

from hull.digest import Descriptor
from hull.errors import NotFound, Unavailable
from hull.image import manifest as mf
from hull.image.progress import Progress
from hull.image.reference import Reference
from hull.image.store import Image, ImageStore
from hull.registry.client import Registry, _NoRange
from hull.registry.config import RegistryConfig

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    import httpx

    T = TypeVar("T")

PARALLEL_LAYERS = 3
CHUNKED_ABOVE = 32 << 20


def _http() -> httpx.Client:
    """HTTPS verified against the system's CA store (/etc/ssl/certs), as the host's other
    tools do; plain HTTP only where the registry config allows it."""
    import ssl

    import httpx
    return httpx.Client(timeout=httpx.Timeout(30.0, read=300.0), follow_redirects=True,
                        verify=ssl.create_default_context())


def fetch_blob(store: ImageStore, reg: Registry, repo: str, desc: Descriptor,
               progress: Progress | None = None) -> None:
    """Download one blob into the content store, resuming a partial ingest."""
    short = desc.digest.split(":", 1)[1][:12]
    if store.content.exists(desc.digest):
        if progress:
            progress.done(short, "Already exists")
        return
    ref = desc.digest.replace(":", "-")
    store.content.release(ref)     # a writer that died (e.g. a killed pull) left its lock
    writer = store.content.writer(ref)
    if progress:
        progress.start(short, desc.size)
        progress.advance(short, writer.offset)
    try:
        try:
            for chunk in reg.blob(repo, desc.digest, writer.offset):
                writer.write(chunk)
                if progress:
                    progress.advance(short, len(chunk))
        except _NoRange:               # the registry ignored Range: start over
            writer.abort()
            writer = store.content.writer(ref)
            for chunk in reg.blob(repo, desc.digest, 0):
                writer.write(chunk)
        writer.commit(desc.size, desc.digest)
        if progress:
            progress.done(short, "Pull complete")
    except BaseException:
        writer.close()                 # keep what arrived: the next pull resumes it
        store.content.release(ref)
        raise


def _first_answer(registry: str, what: str, config: RegistryConfig,
                  http: httpx.Client | None, ask: Callable[[Registry], T]) -> T:
    """ask() of the registry's endpoints in order (mirrors first) until one answers: only
    "not there" and "not reachable" move on to the next endpoint; an integrity or auth
    error is the answer."""
    endpoints = config.endpoints(registry)
    if not endpoints:
        raise NotFound(f"{what}: registry {registry} is mirror-only and has no mirror "
                       "configured")
    client = http or _http()
    try:
        misses = []
        for endpoint in endpoints:
            try:
                return ask(Registry(endpoint, client))
            except (NotFound, Unavailable) as e:
                misses.append(f"{endpoint.host}: {e}")
        raise NotFound(f"{what}: not found ({'; '.join(misses)})")
    finally:
        if http is None:
            client.close()


def pull(store: ImageStore, ref: Reference, config: RegistryConfig, platform: dict[str, str],
         progress: Progress | None = None, http: httpx.Client | None = None) -> Image:
    progress = progress or Progress()
    return _first_answer(ref.registry, ref.familiar(), config, http,
                         lambda reg: _pull_from(store, reg, ref, platform, progress))


def describe(ref: Reference, config: RegistryConfig, http: httpx.Client | None = None
             ) -> dict[str, Any]:
    """What a pull of ref would resolve to, without pulling (GET /distribution/…/json):
    the manifest's or index's descriptor and the platforms it offers (a single manifest's
    from its config), on the first endpoint that has it, as pull looks."""
    return _first_answer(ref.registry, ref.familiar(), config, http,
                         lambda reg: _describe(reg, ref))


def _describe(reg: Registry, ref: Reference) -> dict[str, Any]:
    repo = ref.repository
    body, media_type, digest = reg.manifest(repo, ref.digest or ref.tag or "latest",
                                            mf.ACCEPT)
    raw = mf.load_json(body, str(ref))
    media_type = media_type or mf.media_type_of(raw, str(ref))
    if media_type in mf.INDEXES:
        platforms = [{k: v for k, v in (m.get("platform") or {}).items() if v}
                     for m in raw.get("manifests") or []]
    else:
        manifest = mf.parse_manifest(body, f"manifest of {ref.familiar()}")
        config = mf.load_json(b"".join(reg.blob(repo, manifest.config.digest)),
                              f"config of {ref.familiar()}")
        platforms = [{k: config[k] for k in ("architecture", "os", "variant")
                      if config.get(k)}]
    return {"Descriptor": {"mediaType": media_type, "digest": digest, "size": len(body)},
            "Platforms": platforms}


def _pull_from(store: ImageStore, reg: Registry, ref: Reference, platform: dict[str, str],
               progress: Progress) -> Image:
    repo = ref.repository
    body, media_type, digest = reg.manifest(repo, ref.digest or ref.tag or "latest",
                                            mf.ACCEPT)
    if media_type in mf.INDEXES or mf.media_type_of(mf.load_json(body, str(ref)),
                                                   str(ref)) in mf.INDEXES:
        chosen = mf.select_platform(body, platform, f"index of {ref.familiar()}")
        body, media_type, digest = reg.manifest(repo, chosen.digest, mf.ACCEPT)
    manifest = mf.parse_manifest(body, f"manifest of {ref.familiar()}")
    progress.line(f"{ref.tag or ref.digest}: Pulling from {repo}")
    fetch_blob(store, reg, repo, manifest.config)
    from concurrent.futures import ThreadPoolExecutor
    try:
        with ThreadPoolExecutor(max_workers=PARALLEL_LAYERS) as pool:
            jobs = [pool.submit(fetch_blob, store, reg, repo, desc, progress)
                    for desc in manifest.layers]
            for job in jobs:
                job.result()
    finally:
        progress.close()
    store.content.add(body, digest)
    image = store.add(digest, ref)
    progress.line(f"Digest: {digest}")
    return image


def push(store: ImageStore, image: Image, ref: Reference, config: RegistryConfig,
         progress: Progress | None = None, http: httpx.Client | None = None,
         chunked_above: int = CHUNKED_ABOVE) -> str:
    progress = progress or Progress()
    client = http or _http()
    try:
        endpoint = config.upstream(ref.registry)   # never push to a mirror
        reg = Registry(endpoint, client)
        repo = ref.repository
        manifest = store.manifest_of(image)
        progress.line(f"The push refers to repository [{ref.name}]")
        sources = _known_sources(store, ref)
        for desc in [*manifest.layers, manifest.config]:
            short = desc.digest.split(":", 1)[1][:12]
            if reg.has_blob(repo, desc.digest):
                progress.done(short, "Layer already exists")
                continue
            mounted = False
            for source in sources:
                if source != repo and reg.mount(repo, desc.digest, source):
                    progress.done(short, f"Mounted from {source}")
                    mounted = True
                    break
            if mounted:
                continue

            progress.start(short, desc.size)

            def chunks(digest: str = desc.digest, short: str = short) -> Iterator[bytes]:
                with store.content.open(digest) as f:
                    while data := f.read(1 << 20):
                        progress.advance(short, len(data))
                        yield data
            reg.upload(repo, desc.digest, desc.size, chunks,
                       chunk_size=(8 << 20) if desc.size > chunked_above else 0)
            progress.done(short, "Pushed")
        progress.close()
        body = store.content.read(image.manifest)
        reg.put_manifest(repo, ref.tag or image.manifest, body, image.media_type)
        progress.line(f"{ref.tag or 'latest'}: digest: {image.manifest} size: {len(body)}")
        return image.manifest
    finally:
        if http is None:
            client.close()


def _known_sources(store: ImageStore, ref: Reference) -> list[str]:
    """Repositories on the same registry that some local image came from or went to."""
    out = []
    for (name,) in store.db.execute("SELECT name FROM repo_digests UNION SELECT name FROM "
                                    "tags").fetchall():
        registry, _, rest = str(name).partition("/")
        repo = rest.split("@")[0].rsplit(":", 1)[0]
        if registry == ref.registry and repo not in out:
            out.append(repo)
    return out


if TYPE_CHECKING:
    from collections.abc import Iterator


def search(term: str, limit: int, config: RegistryConfig, http: httpx.Client | None = None
           ) -> list[dict[str, Any]]:
    """`docker search` against the configured registry: the repositories of its catalog
    whose name contains the term (REGISTRY/TERM searches that registry, else docker.io's
    endpoints: its mirrors first), in Docker's result shape. A registry has no stars,
    descriptions or automated builds: those are 0, "" and false."""
    head, sep, rest = term.partition("/")
    registry, words = (head, rest) if sep and _is_host(head) else ("docker.io", term)
    names = _first_answer(registry, f"search {term}", config, http,
                          lambda reg: reg.catalog())
    out = []
    for name in names:
        shown = name.removeprefix("library/") if registry == "docker.io" else \
            f"{registry}/{name}"
        if words.lower() in name.lower():
            out.append({"name": shown, "description": "", "star_count": 0,
                        "is_official": registry == "docker.io" and name.startswith("library/"),
                        "is_automated": False})
    return out[:limit]


def _is_host(part: str) -> bool:
    return "." in part or ":" in part or part == "localhost"

