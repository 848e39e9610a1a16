"""The registry client's behaviour on the wire, against httpx's mock transport: bearer and
basic challenges, retries of transient failures, clear errors for the rest."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest

from hull.errors import InvalidArgument, NotFound
from hull.image import manifest as mf
from hull.registry.client import Registry, RegistryError, Unreachable
from hull.registry.config import Endpoint

EP = Endpoint("reg.test", "https")


def registry(handler: object, creds: tuple[str, str] | None = None) -> Registry:
    client = httpx.Client(transport=httpx.MockTransport(handler))  # type: ignore[arg-type]
    return Registry(EP, client, creds)


def test_bearer_token_flow() -> None:
    seen = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append((req.url.path, req.headers.get("authorization")))
        if req.url.host == "auth.test":
            assert req.url.params["scope"] == "repository:lib/app:pull"
            assert req.url.params["service"] == "reg"
            return httpx.Response(200, json={"token": "T0K"})
        if req.headers.get("authorization") != "Bearer T0K":
            return httpx.Response(401, headers={"www-authenticate":
                                  'Bearer realm="https://auth.test/token",service="reg"'})
        body = b'{"schemaVersion":2}'
        return httpx.Response(200, content=body, headers={
            "content-type": mf.OCI_MANIFEST,
            "docker-content-digest": "sha256:" + hashlib.sha256(body).hexdigest()})
    body, media_type, _ = registry(handler).manifest("lib/app", "v1", mf.ACCEPT)
    assert media_type == mf.OCI_MANIFEST and body == b'{"schemaVersion":2}'
    assert seen[-1] == ("/v2/lib/app/manifests/v1", "Bearer T0K")


def test_basic_challenge_uses_stored_credentials() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        if not req.headers.get("authorization", "").startswith("Basic "):
            return httpx.Response(401, headers={"www-authenticate": 'Basic realm="r"'})
        return httpx.Response(200)
    registry(handler, ("u", "p")).ping()
    with pytest.raises(RegistryError, match="unauthorized"):
        registry(handler, None).ping()


def test_transient_failures_are_retried() -> None:
    calls = []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) < 3:
            return httpx.Response(503)
        return httpx.Response(200)
    registry(handler).ping()
    assert len(calls) == 3


def test_connection_errors_give_up_clearly() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")
    # Docker's words: 'Get "https://reg.test/v2/": dial tcp reg.test: connect: connection
    # refused', exit 1
    with pytest.raises(Unreachable, match=r'Get "https://reg\.test.*/v2/": dial tcp reg\.test'
                       r".*: connect: connection refused") as caught:
        registry(handler).ping()
    assert caught.value.exit_code == 1


@pytest.mark.parametrize("status,error,text", [
    (404, NotFound, "not found"), (403, RegistryError, "denied"),
    (400, RegistryError, "HTTP 400")])
def test_clear_errors(status: int, error: type[Exception], text: str) -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"errors": [{"code": "X", "message": "why"}]})
    with pytest.raises(error, match=text):
        registry(handler).manifest("a/b", "latest", mf.ACCEPT)


def test_manifest_digest_checked() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"{}", headers={"content-type": mf.OCI_MANIFEST})
    with pytest.raises(RegistryError, match="content has digest"):
        registry(handler).manifest("a/b", "sha256:" + "0" * 64, mf.ACCEPT)


@pytest.mark.parametrize("body,text", [
    (b"{not json", "malformed JSON"),
    (json.dumps({"schemaVersion": 1, "fsLayers": []}).encode(), "schema 1 is unsupported"),
    (json.dumps({"mediaType": mf.OCI_MANIFEST, "config": {"digest": "sha256:x"},
                 "layers": []}).encode(), "invalid digest"),
    (json.dumps({"mediaType": mf.OCI_INDEX, "manifests": []}).encode(), "not an image "
     "manifest")])
def test_malformed_manifests(body: bytes, text: str) -> None:
    with pytest.raises(InvalidArgument, match=text):
        mf.parse_manifest(body, "manifest sha256:abc")


def test_platform_selection() -> None:
    index = json.dumps({"manifests": [
        {"mediaType": mf.OCI_MANIFEST, "digest": "sha256:" + "a" * 64, "size": 1,
         "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
        {"mediaType": mf.OCI_MANIFEST, "digest": "sha256:" + "b" * 64, "size": 1,
         "platform": {"os": "linux", "architecture": "amd64"}}]}).encode()
    assert mf.select_platform(index, {"os": "linux", "architecture": "amd64"}, "i").digest \
        == "sha256:" + "b" * 64
    assert mf.select_platform(index, mf.parse_platform("linux/arm64/v8"), "i").digest \
        == "sha256:" + "a" * 64
    with pytest.raises(NotFound, match="linux/s390x"):
        mf.select_platform(index, mf.parse_platform("linux/s390x"), "i")
