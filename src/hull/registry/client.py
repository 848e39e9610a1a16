"""One registry, spoken to over the OCI distribution API (v2).

Authentication follows the challenge: a 401 with `WWW-Authenticate: Basic` is answered with
the stored credentials, one with `Bearer realm=…,service=…,scope=…` by fetching a token from
the realm (with the credentials when there are some). Transient failures (connection
errors, 5xx, 429) are retried with backoff; 401/403/404 become clear errors at once.
"""

from __future__ import annotations

import time

from hull.errors import FailedPrecondition, HullError, NotFound, Unavailable
from hull.registry import auth
from hull.registry.config import Endpoint

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import httpx

RETRIES = 4


class Unreachable(FailedPrecondition):
    """No connection to the registry: worded as Docker's daemon words it (`Get "URL": dial
    tcp HOST: connect: connection refused`), exit 1."""

    def __init__(self, method: str, url: str, host: str, error: BaseException) -> None:
        reason = str(error) or type(error).__name__
        if "refused" in reason.lower():
            reason = "connect: connection refused"
        super().__init__(f'{method.title()} "{url}": dial tcp {host}: {reason}')


class RegistryError(HullError):
    pass


class Registry:
    def __init__(self, endpoint: Endpoint, http: httpx.Client,
                 credentials: tuple[str, str] | None = None) -> None:
        self.endpoint = endpoint
        self.http = http
        self.credentials = credentials if credentials is not None else \
            auth.credentials(endpoint.host)
        self._tokens: dict[str, str] = {}    # scope -> bearer token
        self._basic = False

    # ---- transport ------------------------------------------------------------------------

    def request(self, method: str, path: str, scope: str, *, headers: dict[str, str] | None
                = None, ok: tuple[int, ...] = (200,), stream: bool = False,
                **kw: object) -> httpx.Response:
        import httpx
        url = path if path.startswith("http") else f"{self.endpoint.base}{path}"
        delay = 0.2
        for attempt in range(RETRIES):
            hdrs = dict(headers or {})
            self._authorize(hdrs, scope)
            try:
                req = self.http.build_request(method, url, headers=hdrs, **kw)  # type: ignore[arg-type]
                resp = self.http.send(req, stream=stream)
            except httpx.TransportError as e:
                if attempt == RETRIES - 1:
                    raise Unreachable(method, url, self.endpoint.host, e) from None
                time.sleep(delay)
                delay *= 2
                continue
            if resp.status_code == 401 and attempt < RETRIES - 1 and \
                    self._answer(resp, scope):
                resp.close()
                continue
            if resp.status_code in ok:
                return resp
            if resp.status_code in (429, 500, 502, 503, 504) and attempt < RETRIES - 1:
                resp.close()
                time.sleep(delay)
                delay *= 2
                continue
            self._fail(resp, method, url)
        raise Unavailable(f"registry {self.endpoint.host}: gave up after {RETRIES} attempts")

    def _authorize(self, headers: dict[str, str], scope: str) -> None:
        token = self._tokens.get(scope)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        elif self._basic and self.credentials:
            import base64
            raw = f"{self.credentials[0]}:{self.credentials[1]}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()

    def _answer(self, resp: httpx.Response, scope: str) -> bool:
        scheme, params = auth.parse_challenge(resp.headers.get("www-authenticate", ""))
        if scheme == "basic":
            if self._basic or not self.credentials:
                return False
            self._basic = True
            return True
        if scheme == "bearer" and "realm" in params and scope not in self._tokens:
            query = {"service": params.get("service", "")}
            query["scope"] = scope or params.get("scope", "")
            basic = self.credentials
            r = self.http.get(params["realm"], params={k: v for k, v in query.items() if v},
                              auth=basic if basic else None)
            if r.status_code != 200:
                raise RegistryError(f"registry {self.endpoint.host}: token request to "
                                    f"{params['realm']} failed ({r.status_code})")
            body = r.json()
            self._tokens[scope] = body.get("token") or body.get("access_token") or ""
            return bool(self._tokens[scope])
        return False

    def _fail(self, resp: httpx.Response, method: str, url: str) -> None:
        try:
            errors = resp.json().get("errors") or []
            detail = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors)
        except Exception:
            detail = resp.text[:200].strip()
        finally:
            resp.close()
        where = f"{method} {url}"
        if resp.status_code == 404:
            raise NotFound(f"{where}: not found" + (f" ({detail})" if detail else ""))
        if resp.status_code in (401, 403):
            what = "unauthorized" if resp.status_code == 401 else "denied"
            raise RegistryError(f"{where}: {what}: {detail or 'authentication required'} "
                                "(try hull login)")
        raise RegistryError(f"{where}: HTTP {resp.status_code}" +
                            (f": {detail}" if detail else ""))

    # ---- the API ----------------------------------------------------------------------------

    def ping(self) -> None:
        self.request("GET", "/v2/", "", ok=(200,))

    def catalog(self, limit: int = 1000) -> list[str]:
        """The repositories the registry lists (GET /v2/_catalog), at most limit."""
        resp = self.request("GET", f"/v2/_catalog?n={limit}", "registry:catalog:*")
        try:
            names = resp.json().get("repositories") or []
        finally:
            resp.close()
        return [str(n) for n in names]

    def manifest(self, repo: str, reference: str, accept: str) -> tuple[bytes, str, str]:
        """(body, media type, digest) of a manifest or index."""
        resp = self.request("GET", f"/v2/{repo}/manifests/{reference}",
                            f"repository:{repo}:pull", headers={"Accept": accept})
        from hull.digest import of_bytes
        body = resp.content
        digest = of_bytes(body)
        sent = resp.headers.get("docker-content-digest")
        if reference.startswith("sha256:") and digest != reference:
            raise RegistryError(f"manifest {repo}@{reference}: content has digest {digest}")
        if sent and sent != digest and not reference.startswith("sha256:"):
            raise RegistryError(f"manifest {repo}:{reference}: registry says {sent}, content "
                                f"is {digest}")
        mt = resp.headers.get("content-type", "").split(";")[0].strip()
        return body, mt, digest

    def blob(self, repo: str, digest: str, offset: int = 0) -> Iterator[bytes]:
        """The blob's bytes from offset on (a Range request when resuming)."""
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        resp = self.request("GET", f"/v2/{repo}/blobs/{digest}", f"repository:{repo}:pull",
                            headers=headers, ok=(200, 206), stream=True)
        try:
            if offset and resp.status_code == 200:
                raise _NoRange()
            yield from resp.iter_bytes(1 << 20)
        finally:
            resp.close()

    def has_blob(self, repo: str, digest: str) -> bool:
        try:
            self.request("HEAD", f"/v2/{repo}/blobs/{digest}", f"repository:{repo}:pull,push")
            return True
        except NotFound:
            return False

    def mount(self, repo: str, digest: str, source_repo: str) -> bool:
        """Cross-repository blob mount: True if the registry linked it without an upload."""
        resp = self.request("POST", f"/v2/{repo}/blobs/uploads/?mount={digest}&from="
                            f"{source_repo}", f"repository:{repo}:pull,push "
                            f"repository:{source_repo}:pull", ok=(201, 202))
        resp.close()
        return resp.status_code == 201

    def upload(self, repo: str, digest: str, size: int,
               chunks: Callable[[], Iterator[bytes]], chunk_size: int = 0) -> None:
        """Monolithic (one PUT) or, with chunk_size, chunked (PATCH per chunk, PUT)."""
        scope = f"repository:{repo}:pull,push"
        resp = self.request("POST", f"/v2/{repo}/blobs/uploads/", scope, ok=(202,))
        location = self._location(resp)
        resp.close()
        if chunk_size:
            start = 0
            for chunk in _rechunk(chunks(), chunk_size):
                resp = self.request("PATCH", location, scope, ok=(202,), content=chunk,
                                    headers={"Content-Type": "application/octet-stream",
                                             "Content-Range": f"{start}-{start + len(chunk) - 1}",
                                             "Content-Length": str(len(chunk))})
                location = self._location(resp)
                resp.close()
                start += len(chunk)
            body: object = b""
        else:
            body = b"".join(chunks()) if size < (64 << 20) else chunks()
        sep = "&" if "?" in location else "?"
        resp = self.request("PUT", f"{location}{sep}digest={digest}", scope, ok=(201,),
                            content=body, headers={"Content-Type": "application/octet-stream"})
        resp.close()

    def _location(self, resp: httpx.Response) -> str:
        loc = str(resp.headers.get("location", ""))
        if loc.startswith("/"):
            loc = f"{self.endpoint.base}{loc}"
        if not loc:
            raise RegistryError(f"registry {self.endpoint.host}: upload without a Location")
        return loc

    def put_manifest(self, repo: str, reference: str, body: bytes, media_type: str) -> None:
        resp = self.request("PUT", f"/v2/{repo}/manifests/{reference}",
                            f"repository:{repo}:pull,push", ok=(201, 202), content=body,
                            headers={"Content-Type": media_type})
        resp.close()


class _NoRange(Exception):
    """The registry ignored the Range header: the caller restarts from zero."""


def _rechunk(chunks: Iterator[bytes], size: int) -> Iterator[bytes]:
    buf = b""
    for c in chunks:
        buf += c
        while len(buf) >= size:
            yield buf[:size]
            buf = buf[size:]
    if buf:
        yield buf
