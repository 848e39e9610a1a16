"""`login` / `logout`: check credentials against the registry, keep them in Docker's
config.json (shared with the docker command)."""

from __future__ import annotations

from hull.registry import auth
from hull.registry.config import load


def login(server: str, user: str, password: str) -> None:
    from hull.image.distribution import _http
    from hull.registry.client import Registry
    host = server.removeprefix("https://").removeprefix("http://").rstrip("/") or "docker.io"
    endpoint = load().upstream(host)
    with _http() as http:
        Registry(endpoint, http, (user, password)).ping()
    auth.store(host, user, password)


def logout(server: str) -> bool:
    host = server.removeprefix("https://").removeprefix("http://").rstrip("/") or "docker.io"
    return auth.forget(host)
